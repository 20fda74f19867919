"""Errors of the vector API as RFC 9457 problem details (`application/problem+json`),
and their entries in the OpenAPI document.

    ApiProblem          raised anywhere in a request; answered as a Problem
    invalid(...)        a RequestValidationError as one 422 naming every field at fault
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi.responses import JSONResponse

from vectorstore.api.models import FieldError, Problem

PROBLEM = "application/problem+json"
JSON = "application/json"
SCHEMA_HINT = "see /docs for the schema"


class ApiProblem(Exception):
    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None,
                 errors: Sequence[FieldError] = ()) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.headers = status, title, detail, headers or {}
        self.errors = list(errors)


def problem(status: int, title: str, detail: str, instance: str = "",
            headers: Mapping[str, str] | None = None, errors: Sequence[FieldError] = ()) -> JSONResponse:
    body = Problem(title=title, status=status, detail=detail, instance=instance, errors=list(errors))
    # `errors` belongs to validation problems only; the others leave it out rather than send [].
    return JSONResponse(body.model_dump(exclude=None if errors else {"errors"}), status_code=status,
                        media_type=PROBLEM, headers=dict(headers or {}))


def field_errors(raw: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    """pydantic's errors without their `input`, which may echo a secret or the whole body."""
    return [FieldError(loc=list(e.get("loc", ())), msg=str(e.get("msg", "invalid")), type=str(e.get("type", "")))
            for e in raw]


def summary(errors: Sequence[FieldError]) -> str:
    """'2 errors: body.top_k: ...; body.mode: ...; see /docs for the schema'."""
    parts = "; ".join(f"{'.'.join(map(str, e.loc)) or 'request'}: {e.msg}" for e in errors)
    count = f"{len(errors)} errors: " if len(errors) > 1 else ""
    return f"{count}{parts}; {SCHEMA_HINT}"


def invalid(raw: Iterable[Mapping[str, Any]], instance: str) -> JSONResponse:
    errors = field_errors(raw) or [FieldError(loc=[], msg="invalid request", type="value_error")]
    return problem(422, "Invalid request", summary(errors), instance, errors=errors)


def unsupported_media_type(content_type: str) -> ApiProblem:
    sent = f"Content-Type: {content_type}" if content_type else "no Content-Type"
    return ApiProblem(415, "Unsupported media type",
                      f"the body must be JSON sent with `Content-Type: {JSON}`, and this request has {sent}; "
                      f"with curl, add -H 'Content-Type: {JSON}' (-d alone sends "
                      "application/x-www-form-urlencoded)")


def _doc(what: str) -> dict[str, Any]:
    # `model` puts Problem into the components; the content names the media type actually sent.
    return {"description": what, "model": Problem,
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


COMMON: dict[int | str, dict[str, Any]] = {
    400: _doc("the body is not JSON"), 401: _doc("no key, a wrong key, or a revoked key"),
    403: _doc("the key's role may not do this"),
    413: _doc("the request body is too large"),
    422: _doc("the request is not valid: `errors` lists every field at fault"),
    429: _doc("too many requests for this key"), 504: _doc("the request took too long")}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _doc("no such item for this key's tenant")}
GONE: dict[int | str, dict[str, Any]] = {410: _doc("the document is already deleted")}
JSON_BODY: dict[int | str, dict[str, Any]] = {
    415: _doc("the body was not sent as `Content-Type: application/json`")}
NOT_READY: dict[int | str, dict[str, Any]] = {503: _doc("a dependency is not reachable")}
BUDGET: dict[int | str, dict[str, Any]] = {402: _doc("the tenant's monthly budget is spent (the quota file)")}
