"""The vector API as a new user meets it in the first hour, over real HTTP: the README's
curl examples work as written, a form-encoded body says which header to send, every
invalid field is named at once, the two query routes speak alike, a score says what
kind it is, /docs and /redoc load nothing from a CDN, and every request leaves one
access-log line without its key."""

from __future__ import annotations

import json
import logging
import re
import shlex
import shutil
import subprocess
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from pipeline.settings import PROJECT_ROOT
from tests.integration.conftest import ApiWorld

pytestmark = pytest.mark.integration

README = PROJECT_ROOT / "README.md"
QUESTION = "How long is parental leave in Germany?"


def post(world: ApiWorld, path: str, body: Any, key: str = "helio-eu/reader", **headers: str) -> httpx.Response:
    return httpx.post(world.url + path, json=body, headers={**world.auth(key), **headers}, timeout=60)


# --- the README's curl examples -----------------------------------------------------------


def readme_curls() -> list[str]:
    """The curl commands of the README's section on the HTTP API, continuation lines joined."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## The HTTP API", 1)[1].split("\n## ", 1)[0]
    commands, current = [], ""
    for line in section.splitlines():
        stripped = line.strip()
        if not current and not stripped.startswith("curl "):
            continue
        current += " " + stripped.removesuffix("\\")
        if not stripped.endswith("\\"):
            commands.append(current.strip())
            current = ""
    return commands


def run_curl(argv: list[str]) -> tuple[int, str]:
    """(status, body) of a curl command line: by curl when it is installed, else the same request by httpx."""
    if shutil.which("curl"):
        # --noproxy: a proxy in the environment must not carry a loopback request.
        out = subprocess.run([*argv, "--noproxy", "*", "-w", "\n%{http_code}"], capture_output=True, text=True,
                             timeout=60, check=True).stdout
        body, _, status = out.rpartition("\n")
        return int(status), body
    headers: dict[str, str] = {}
    data, url, args = None, "", iter(argv[1:])
    for arg in args:
        if arg == "-H":
            name, _, value = next(args).partition(":")
            headers[name.strip()] = value.strip()
        elif arg in ("-d", "--data"):
            data = next(args)
        elif not arg.startswith("-"):
            url = arg if "://" in arg else "http://" + arg
    r = httpx.request("POST" if data is not None else "GET", url, content=data, headers=headers, timeout=60)
    return r.status_code, r.text


def test_the_readmes_curl_examples_work_as_written(api_world: ApiWorld) -> None:
    commands = readme_curls()
    assert commands, "the README's HTTP API section has no curl example"
    token = api_world.tokens["helio-eu/reader"]
    for command in commands:
        argv = shlex.split(command.replace("localhost:8000", api_world.url).replace("$KEY", token))
        status, body = run_curl(argv)
        assert status == 200, f"{command}\n-> {status} {body}"
        assert json.loads(body), command


# --- wrong content type ---------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", None])
def test_a_json_body_without_the_json_content_type_gets_415_naming_the_header(
        api_world: ApiWorld, content_type: str | None) -> None:
    headers = {**api_world.auth("helio-eu/reader"), **({"Content-Type": content_type} if content_type else {})}
    for path in ("/v1/search", "/v1/rag/context"):
        r = httpx.post(api_world.url + path, content=json.dumps({"query": QUESTION}), headers=headers, timeout=60)
        assert r.status_code == 415, f"{path} {content_type}: {r.status_code} {r.text}"
        assert r.headers["content-type"] == "application/problem+json"
        assert "-H 'Content-Type: application/json'" in r.json()["detail"], r.text
    charset = post(api_world, "/v1/search", {"query": QUESTION}, **{"Content-Type": "application/json; charset=utf-8"})
    assert charset.status_code == 200, charset.text


# --- validation errors ----------------------------------------------------------------------


def test_every_validation_error_is_reported(api_world: ApiWorld) -> None:
    r = post(api_world, "/v1/search", {"query": "", "top_k": 0, "mode": "sparse", "filters": {"tenant": "x"}})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == 422 and problem["title"] and problem["type"]
    locs = [".".join(map(str, e["loc"])) for e in problem["errors"]]
    assert sorted(locs) == ["body.filters.tenant", "body.mode", "body.query", "body.top_k"], problem
    assert all(e["msg"] and e["type"] for e in problem["errors"])
    for loc in locs:
        assert loc in problem["detail"], f"{loc} missing from: {problem['detail']}"


# --- one vocabulary for both routes -------------------------------------------------------


def test_rag_context_takes_query_like_search_and_question_as_an_alias(api_world: ApiWorld) -> None:
    by_query = post(api_world, "/v1/rag/context", {"query": QUESTION, "token_budget": 300})
    assert by_query.status_code == 200, by_query.text
    by_alias = post(api_world, "/v1/rag/context", {"question": QUESTION, "token_budget": 300})
    assert by_alias.status_code == 200 and by_alias.json()["context"] == by_query.json()["context"]
    same = post(api_world, "/v1/rag/context", {"query": QUESTION, "question": QUESTION, "token_budget": 300})
    assert same.status_code == 200, same.text
    both = post(api_world, "/v1/rag/context", {"query": QUESTION, "question": "remote work"})
    assert both.status_code == 422 and "question" in both.json()["detail"], both.text
    neither = post(api_world, "/v1/rag/context", {"token_budget": 300})
    assert neither.status_code == 422 and "body.query" in neither.json()["detail"], neither.text
    schema = httpx.get(api_world.url + "/openapi.json").json()["components"]["schemas"]["ContextRequest"]
    assert "query" in schema["properties"] and schema["properties"]["question"].get("deprecated") is True


def test_both_routes_default_to_the_same_mode_and_say_what_a_score_is(api_world: ApiWorld) -> None:
    from vectorstore.modes import DEFAULT_MODE, score_kind

    schemas = httpx.get(api_world.url + "/openapi.json").json()["components"]["schemas"]
    assert schemas["SearchRequest"]["properties"]["mode"]["default"] == DEFAULT_MODE
    assert schemas["ContextRequest"]["properties"]["mode"]["default"] == DEFAULT_MODE
    for model in ("SearchHit", "ContextCitation"):
        score = schemas[model]["properties"]["score"]["description"]
        assert "cosine" in score and "rrf" in score.lower(), score
    hits = post(api_world, "/v1/search", {"query": QUESTION}).json()["hits"]
    citations = post(api_world, "/v1/rag/context", {"query": QUESTION}).json()["citations"]
    assert hits and citations
    assert {h["score_kind"] for h in hits} == {c["score_kind"] for c in citations} == {score_kind(DEFAULT_MODE)}
    for mode, kind in (("dense", "cosine"), ("hybrid", "rrf")):
        hits = post(api_world, "/v1/search", {"query": QUESTION, "mode": mode}).json()["hits"]
        assert hits and {h["score_kind"] for h in hits} == {kind}, mode
        if kind == "cosine":
            assert all(-1.0 <= h["score"] <= 1.0 for h in hits)


# --- /docs and /redoc offline ---------------------------------------------------------------


class Assets(HTMLParser):
    """The URLs a page loads: scripts, stylesheets and icons, and any absolute URL in its inline script."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.urls.append(a["src"] or "")
        if tag == "link" and a.get("href"):
            self.urls.append(a["href"] or "")
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.urls += re.findall(r"""["'](https?://[^"']+|//[^"']+)["']""", data)


CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_every_asset_from_the_server_itself(api_world: ApiWorld, page: str) -> None:
    r = httpx.get(api_world.url + page, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    parser = Assets()
    parser.feed(r.text)
    assert any(u.endswith(".js") for u in parser.urls), parser.urls
    for url in parser.urls:
        assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url} from elsewhere"
        asset = httpx.get(api_world.url + url, timeout=30)
        assert asset.status_code == 200 and asset.content, url
        suffix = url[url.rfind("."):]
        assert CONTENT_TYPES[suffix] in asset.headers["content-type"], (url, asset.headers["content-type"])
    assert "/openapi.json" in r.text
    # What the page's scripts ask for at run time (ReDoc's logo from cdn.redoc.ly) the browser refuses.
    assert "default-src 'self'" in r.headers["content-security-policy"]


# --- access log -----------------------------------------------------------------------------


def test_each_request_leaves_one_access_line_without_the_key(api_world: ApiWorld,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aifactory.access")
    token = api_world.tokens["helio-eu/reader"]
    key_id = api_world.keys.verify(token).key_id  # type: ignore[union-attr]
    secret_query = "parental leave in Bavaria"
    assert post(api_world, "/v1/search", {"query": secret_query}).status_code == 200
    assert httpx.get(api_world.url + "/v1/no-such-route", timeout=30).status_code == 404
    lines = [r for r in caplog.records if r.name == "aifactory.access"]
    search = [r for r in lines if "/v1/search" in r.getMessage()]
    missing = [r for r in lines if "/v1/no-such-route" in r.getMessage()]
    assert len(search) == 1 and len(missing) == 1, [r.getMessage() for r in lines]
    text = search[0].getMessage()
    for part in ("POST", "/v1/search", "200", "helio-eu", key_id, "ms"):
        assert part in text, f"{part!r} not in {text!r}"
    assert "404" in missing[0].getMessage()
    fields = getattr(search[0], "access", {})  # the same fields, for a structured handler
    assert fields["status"] == 200 and fields["tenant"] == "helio-eu" and fields["key_id"] == key_id, fields
    for r in lines:
        assert token not in r.getMessage() and secret_query not in r.getMessage()
        assert token not in json.dumps(getattr(r, "access", {}))
