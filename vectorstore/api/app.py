"""The vector API as a FastAPI app. The server, not the client, decides whose data a
request may touch: the tenant filter and the regions come from the API key, and
nothing in a request body can widen them. Deny by default: every route names the
roles it admits. Errors are `application/problem+json` and say what to do.

What lies outside the index (documents in the lake, deletes, lineage, usage) is
reached through a `Backend` the composition root provides, so this layer does not
depend on the pipeline above it.

    models.py      request and response bodies (the OpenAPI schema)
    problems.py    errors as problem details, and their OpenAPI entries
    middleware.py  body limit, metrics and the access log, for every request
    docs.py        /docs and /redoc with their assets served from here (offline)
"""

# No `from __future__ import annotations`: FastAPI must see the dependencies made inside
# create_app as objects, not as strings it cannot resolve.
import asyncio
import email.message
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from governance.errors import ResidencyError
from governance.keys import ApiKey, KeyStore
from governance.ledger import UsageEntry, apportion
from governance.quotas import QuotaBook
from governance.residency import ResidencyPolicy
from ingest.limits import Limits
from ingest.parsers import file_format
from transforms.tokens import token_counter
from vectorstore.api.docs import mount_docs
from vectorstore.api.middleware import ANSWER_READ, REQUEST_ID, BodyLimit, RequestLog
from vectorstore.api.models import (
    PERIOD_PATTERN,
    Citation,
    ContextRequest,
    ContextResponse,
    DeletionResponse,
    DocumentIn,
    DocumentResponse,
    DocumentsRequest,
    FieldError,
    IngestionResponse,
    SearchHit,
    SearchRequest,
    SearchResponse,
    UsageResponse,
)
from vectorstore.api.problems import (
    BUDGET,
    COMMON,
    GONE,
    JSON_BODY,
    NOT_FOUND,
    NOT_READY,
    ApiProblem,
    invalid,
    problem,
    summary,
    unsupported_media_type,
)
from vectorstore.api.ratelimit import RateLimiter
from vectorstore.api.telemetry import Telemetry
from vectorstore.context import build_context
from vectorstore.embedder import Embedder
from vectorstore.index import VectorIndex
from vectorstore.modes import MAX_OFFSET
from vectorstore.search import Result, search

log = logging.getLogger(__name__)
T = TypeVar("T")

def accepted(status: str) -> dict[int | str, dict[str, Any]]:
    """A 202 whose `Location` header names where to poll the request."""
    return {202: {"headers": {"Location": {"description": f"{status}: poll it", "schema": {"type": "string"}}}}}


DELETE_ACCEPTED = accepted("the delete request's status, `/v1/deletions/{request_id}`")
DOCUMENTS_ACCEPTED = accepted("the request's status, `/v1/ingestions/{request_id}`")
# A file's media type -> the parser its name's suffix must pick (ingest.parsers.FORMATS).
MEDIA_TYPES = {"text/plain": "text", "text/markdown": "markdown", "text/html": "html", "application/xhtml+xml": "html",
               "application/xml": "xml", "text/xml": "xml", "application/pdf": "pdf", "text/csv": "csv",
               "application/json": "json", "application/x-ndjson": "jsonl", "application/jsonl": "jsonl",
               "application/zip": "zip", "application/gzip": "gzip"}


@dataclass(frozen=True)
class ApiLimits:
    max_body_bytes: int = 64 * 1024
    max_top_k: int = 100
    max_query_chars: int = 2_000
    max_token_budget: int = 8_192
    rate_per_s: float = 50.0  # per key; 0 turns the limit off
    burst: int = 100
    timeout_s: float = 10.0


class Backend(Protocol):
    """What the API needs beyond the index: the factory provides it."""

    index: VectorIndex
    embedder: Embedder
    policy: ResidencyPolicy  # which region a jurisdiction's documents go to
    limits: Limits  # what one file may be
    quotas: QuotaBook  # each tenant's quotas
    month_spend: Callable[[str], float]  # a tenant's cost this month, for its monthly_budget
    quarantined: Callable[[], dict[tuple[str, str], int]]  # (kind, tenant) -> quarantined so far

    def document(self, tenant: str, document_id: str) -> dict[str, Any] | None: ...
    def held_elsewhere(self, tenant: str, item_id: str) -> bool: ...
    def delete_document(self, tenant: str, document_id: str, actor: str = "") -> dict[str, Any] | None: ...
    def deletion(self, tenant: str, request_id: str) -> dict[str, Any] | None: ...
    def submit_documents(self, tenant: str, jurisdiction: str, documents: list[tuple[str, bytes]],
                         actor: str = "") -> dict[str, Any]: ...
    def ingestion(self, tenant: str, request_id: str) -> dict[str, Any] | None: ...
    def lineage(self, tenant: str, item_id: str, regions: Collection[str]) -> dict[str, Any] | None: ...
    # None: the tenant was never metered; ValueError: a period that is no real day, week or month.
    def usage(self, tenant: str | None, period: str) -> dict[str, Any] | None: ...
    def ready(self) -> dict[str, str]: ...
    def meter(self, entry: UsageEntry) -> None: ...


def is_json(content_type: str) -> bool:
    """application/json or application/*+json, with any parameters (FastAPI parses the same)."""
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def actor(key: ApiKey, request: Request) -> str:
    """Who asked, for the audit log: the key and the address the request came from."""
    return f"key:{key.key_id} from {request.client.host if request.client else 'an unknown address'}"


async def json_body(request: Request) -> None:
    """A body sent as anything but JSON gets 415 naming the header: curl -d alone sends a form."""
    content_type = request.headers.get("content-type", "")
    if await request.body() and not is_json(content_type):
        raise unsupported_media_type(content_type)


def create_app(backend: Backend, keys: KeyStore, limits: ApiLimits | None = None,
               request_log: RequestLog | None = None) -> FastAPI:
    limits = limits or ApiLimits()
    telemetry = Telemetry(backend.quarantined)
    limiter = RateLimiter(limits.rate_per_s, limits.burst)
    tenant_limiter = RateLimiter(0, 1)  # each tenant's query quota, all its keys together
    counter = token_counter(backend.embedder.model_path)
    bearer = HTTPBearer(auto_error=False, description="an API key from `aifactory keys create`")
    # FastAPI's /docs and /redoc load their assets from a CDN; mount_docs serves them from here.
    app = FastAPI(title="AI factory vector API", version="1.0.0", docs_url=None, redoc_url=None,
                  description="Tenant-scoped, residency-aware search and RAG context over the factory's index.")
    mount_docs(app)

    @app.exception_handler(ApiProblem)
    async def on_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail, request.url.path, exc.headers, exc.errors)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = "no such route; see /docs for the API" if exc.status_code == 404 else str(exc.detail)
        if exc.status_code == 400:
            detail = f"{exc.detail}: the body must be a JSON object in UTF-8; see /docs for the schema"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route's methods; a path can have several routes.
            allowed = sorted({m for r in app.routes if isinstance(r, APIRoute)
                              and r.matches(request.scope)[0] == Match.PARTIAL for m in (r.methods or ())})
            # No route but a mount (the docs' static files, GET and HEAD only) matches: keep what it said.
            headers["Allow"] = ", ".join(allowed) or headers.get("Allow", "GET, HEAD")
            detail = f"{request.method} is not served here; allowed: {headers['Allow']}"
        return problem(exc.status_code, "Not found" if exc.status_code == 404 else "HTTP error", detail,
                       request.url.path, headers)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return invalid(exc.errors(), request.url.path)

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return problem(500, "Internal error", "the server failed on this request; it is logged, try again",
                       request.url.path)

    def caller(operation: str) -> Callable[..., ApiKey]:
        """The key of a request that may do `operation` (its role and scopes, governance.keys.OPERATIONS)."""
        def check(request: Request,
                  creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> ApiKey:
            token = creds.credentials if creds else request.headers.get("x-api-key", "")
            if not token:
                telemetry.auth_failures.labels("missing").inc()
                raise ApiProblem(401, "Missing API key", "send `Authorization: Bearer <key>`; "
                                 "`aifactory keys create` makes one", {"WWW-Authenticate": "Bearer"})
            key = keys.verify(token)
            if key is None:
                telemetry.auth_failures.labels("unknown").inc()
                raise ApiProblem(401, "Unknown API key", "the key is not known; check it was copied whole",
                                 {"WWW-Authenticate": "Bearer"})
            if key.revoked:
                telemetry.auth_failures.labels("revoked").inc()
                raise ApiProblem(401, "Revoked API key", f"key {key.key_id} was revoked on {key.revoked_at}; "
                                 "ask the operator for a new one", {"WWW-Authenticate": "Bearer"})
            if key.expired():
                telemetry.auth_failures.labels("expired").inc()
                raise ApiProblem(401, "Expired API key", f"key {key.key_id} expired on {key.expires_at}; ask the "
                                 "operator to extend it (`aifactory keys update KEY --expires 90d`) or for a new "
                                 "one", {"WWW-Authenticate": "Bearer"})
            request.state.tenant, request.state.key_id = key.tenant, key.key_id  # for the access log
            request.state.regions = sorted(key.regions)  # egress: what the answer may hold
            telemetry.seen(key.tenant)
            if refused := key.refusal(operation):
                telemetry.auth_failures.labels("forbidden").inc()
                raise ApiProblem(403, "Operation not allowed", refused)
            wait = limiter.allow(key.key_id)
            if wait:
                raise ApiProblem(429, "Rate limit exceeded", f"more than {limits.rate_per_s:g} requests per second "
                                 f"for key {key.key_id}; retry after {wait:.2f} s",
                                 {"Retry-After": str(max(1, round(wait)))})
            return key
        return check

    def tenant_key(key: ApiKey) -> ApiKey:
        if key.tenant == "*":
            raise ApiProblem(403, "Operator key", "an operator key (tenant '*') reads usage only; use a key of "
                             "the tenant whose data you want")
        return key

    async def within(fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.wait_for(run_in_threadpool(fn, *args), limits.timeout_s)
        except TimeoutError:
            raise ApiProblem(504, "Timed out", f"the request took longer than {limits.timeout_s:g} s; "
                             "ask for fewer results or a narrower filter") from None

    def check_limits(text: str, **counts: tuple[int, int]) -> None:
        """This server's limits (the schema states the defaults; a server may be set tighter), every
        field beyond them in one 422. `counts`: field -> (value, most allowed)."""
        errors: list[FieldError] = []
        if len(text) > limits.max_query_chars:
            errors.append(FieldError(loc=["body", "query"], type="string_too_long",
                                     msg=f"the query has {len(text)} characters, more than "
                                         f"{limits.max_query_chars}; shorten it"))
        if not text.strip():
            errors.append(FieldError(loc=["body", "query"], type="string_pattern_mismatch",
                                     msg="the query is only whitespace; ask a question"))
        errors += [FieldError(loc=["body", name], type="less_than_equal", msg=f"{name} is at most {most}, got {value}")
                   for name, (value, most) in counts.items() if value > most]
        if errors:
            raise ApiProblem(422, "Invalid request", summary(errors), errors=errors)

    def run_search(key: ApiKey, body: SearchRequest | ContextRequest, top_k: int, vectors: bool,
                   **paging: Any) -> list[Result]:
        # The tenant and the regions come from the key: Filters has no tenant field.
        return search(backend.index, backend.embedder, body.query, tenant=key.tenant, top_k=top_k, mode=body.mode,
                      include_quarantined=body.include_quarantined, filters=body.filters.given(),
                      exclude=body.exclude.given(), regions=set(key.regions), with_vectors=vectors, **paging)

    async def not_found(key: ApiKey, item_id: str, title: str, detail: str) -> ApiProblem:
        """The 404 of an id the key's tenant does not hold; an id another tenant holds is counted
        as a probe (the answer is the same, so it tells the caller nothing)."""
        if await within(backend.held_elsewhere, key.tenant, item_id):
            telemetry.probes.labels(key.tenant).inc()
            log.warning("key %s of tenant %s asked for an id another tenant holds", key.key_id, key.tenant)
        return ApiProblem(404, title, detail)

    def within_quota(key: ApiKey) -> None:
        """429 when the tenant used its queries_per_second quota (quotas.yaml, read again when it changes)."""
        quota = backend.quotas.for_tenant(key.tenant)
        if quota.monthly_budget is not None:
            spent = backend.month_spend(key.tenant)
            if spent >= quota.monthly_budget:
                raise ApiProblem(402, "Budget spent", f"tenant {key.tenant} has spent its monthly_budget "
                                 f"({quota.monthly_budget:g}; {spent:.6g} this month by the price book); ask the "
                                 "operator to raise it, or wait for the next month (UTC)")
        if not quota.queries_per_second:
            return
        wait = tenant_limiter.allow(key.tenant, quota.queries_per_second, quota.burst)
        if wait:
            raise ApiProblem(429, "Quota exceeded", f"tenant {key.tenant} used its quota queries_per_second "
                             f"({quota.queries_per_second:g} per second, burst {quota.burst}) across all its keys; "
                             f"retry after {wait:.2f} s, or ask the operator to raise the quota",
                             {"Retry-After": str(max(1, math.ceil(wait)))})

    def searched(key: ApiKey) -> list[str]:
        """The regions a search with `key` touched: its regions that hold a collection."""
        return sorted(set(key.regions) & set(backend.index.regions())) or sorted(key.regions)[:1]

    def meter(key: ApiKey, event: str, tokens: Mapping[str, int], queries: int = 1) -> None:
        """One entry per region: `tokens` by the region that used them (each region's price applies)."""
        ANSWER_READ.get({"regions": []})["regions"] = sorted(tokens)  # the regions this answer came from
        for region, n in tokens.items():
            backend.meter(UsageEntry(run_id=f"api-{key.key_id}", tenant=key.tenant, event=event, region=region,
                                     queries=queries, tokens=n, model=backend.embedder.fingerprint.id,
                                     request_id=REQUEST_ID.get()))

    @app.post("/v1/search", response_model=SearchResponse, responses={**COMMON, **JSON_BODY, **BUDGET},
              tags=["search"],
              dependencies=[Depends(json_body)])
    async def post_search(body: SearchRequest,
                          key: Annotated[ApiKey, Depends(caller("search"))]) -> SearchResponse:
        """The top chunks of the key's tenant for a query, in the key's regions, with citations.
        Each hit's `score_kind` says what its `score` is: `rrf` in hybrid mode (the default), `cosine` in dense."""
        tenant_key(key)
        check_limits(body.query, top_k=(body.top_k, limits.max_top_k))
        within_quota(key)
        started = time.perf_counter()
        results = await within(partial(run_search, key, body, body.top_k, False, offset=body.offset,
                                       score_threshold=body.score_threshold))
        hits = [SearchHit(rank=r.rank, score=r.score, score_kind=r.score_kind, point_id=r.point_id, text=r.text,
                          citation=Citation(document_id=r.document_id, title=r.title, source_uri=r.source_uri,
                                            page=r.page, section=r.section),
                          also_in=[Citation(**{k: v for k, v in d.items() if v is not None}) for d in r.also_in],
                          quarantined=r.quarantined, screening=r.screening, screening_reasons=r.screening_reasons,
                          release=r.release, lineage=r.lineage)
                for r in results]
        telemetry.hits.labels("/v1/search", key.tenant).inc(len(hits))
        meter(key, "query", dict.fromkeys(searched(key), counter.count(body.query)))
        more = body.offset + len(hits) if len(hits) == body.top_k and body.offset + body.top_k <= MAX_OFFSET else None
        return SearchResponse(hits=hits, next_offset=more, took_ms=round((time.perf_counter() - started) * 1000, 3))

    @app.post("/v1/rag/context", response_model=ContextResponse, responses={**COMMON, **JSON_BODY, **BUDGET},
              tags=["search"], dependencies=[Depends(json_body)])
    async def post_context(body: ContextRequest,
                           key: Annotated[ApiKey, Depends(caller("context"))]) -> ContextResponse:
        """A deduplicated, diversified (MMR) context block within a token budget, with numbered citations.
        Takes `query` as /v1/search does; `question`, its old name, is still accepted (deprecated)."""
        tenant_key(key)
        check_limits(body.query, candidates=(body.candidates, limits.max_top_k),
                     token_budget=(body.token_budget, limits.max_token_budget))
        within_quota(key)

        def build() -> Any:
            results = run_search(key, body, body.candidates, True)
            return build_context(backend.embedder.embed_query(body.query), results, body.token_budget,
                                 counter.count, lam=1.0 - body.diversity)

        ctx = await within(build)
        telemetry.hits.labels("/v1/rag/context", key.tenant).inc(len(ctx.citations))
        regions = searched(key)
        meter(key, "query", dict.fromkeys(regions, counter.count(body.query)))
        # Context tokens go to the regions their chunks came from, in proportion to the citations.
        cited = Counter(str((c.get("lineage") or {}).get("region") or regions[0]) for c in ctx.citations)
        meter(key, "rag_context", apportion(ctx.tokens, cited or Counter(regions[:1])), queries=0)
        return ContextResponse(context=ctx.text, citations=ctx.citations, tokens=ctx.tokens,
                               token_budget=body.token_budget, candidates=ctx.candidates, left_out=ctx.left_out)

    @app.get("/v1/documents/{document_id:path}", response_model=DocumentResponse,
             responses={**COMMON, **NOT_FOUND}, tags=["documents"])
    async def get_document(document_id: str,
                           key: Annotated[ApiKey, Depends(caller("documents:read"))]) -> DocumentResponse:
        """A document of the key's tenant: its latest version, state, and how many chunks and points it has."""
        doc = await within(backend.document, tenant_key(key).tenant, document_id)
        if doc is None or doc["region"] not in key.regions:
            raise await not_found(key, document_id, "No such document", f"tenant {key.tenant} has no document "
                                  f"{document_id!r} in the regions this key may read")
        return DocumentResponse(**doc)

    @app.delete("/v1/documents/{document_id:path}", response_model=DeletionResponse, status_code=202,
                responses={**DELETE_ACCEPTED, **COMMON, **NOT_FOUND, **GONE}, tags=["documents"])
    async def delete_document(document_id: str, request: Request, response: Response,
                              key: Annotated[ApiKey, Depends(caller("documents:delete"))]) -> DeletionResponse:
        """Publish a delete event for the document; poll `Location` (also `status_url`) until the state is
        complete. Asked again while that request is pending, it answers with the same request; once the
        document is deleted, with 410."""
        doc = await within(backend.document, tenant_key(key).tenant, document_id)
        if doc is None or doc["region"] not in key.regions:
            raise await not_found(key, document_id, "No such document",
                                  f"tenant {key.tenant} has no live document {document_id!r}")
        if doc["state"] != "live":
            raise ApiProblem(410, "Document already deleted",
                             f"document {document_id!r} of tenant {key.tenant} is already deleted (version "
                             f"{doc['version']}, {doc['event_time']}); there is nothing left to delete")
        ticket = await within(backend.delete_document, key.tenant, document_id, actor(key, request))
        if ticket is None:
            raise ApiProblem(404, "No such document", f"tenant {key.tenant} has no live document {document_id!r}")
        response.headers["Location"] = ticket["status_url"]
        return DeletionResponse(**ticket)

    @app.get("/v1/deletions/{request_id}", response_model=DeletionResponse,
             responses={**COMMON, **NOT_FOUND}, tags=["documents"])
    async def get_deletion(request_id: str,
                           key: Annotated[ApiKey, Depends(caller("documents:delete"))]) -> DeletionResponse:
        """Where a delete request stands: pending, complete (gone from the lake's view and the index), or failed."""
        ticket = await within(backend.deletion, tenant_key(key).tenant, request_id)
        if ticket is None:
            raise ApiProblem(404, "No such delete request", f"tenant {key.tenant} made no request {request_id!r}")
        return DeletionResponse(**ticket)

    def jurisdiction_of(key: ApiKey, given: str | None) -> str:
        """The documents' jurisdiction: as given, or the one whose home region the key has; its home
        region must be one of the key's."""
        policy = backend.policy
        if given is None:
            homes = sorted(j for j, spec in policy.jurisdictions.items() if spec.home in key.regions)
            if len(homes) == 1:
                return homes[0]
            error = FieldError(loc=["body", "jurisdiction"], type="missing",
                               msg=f"say which jurisdiction the documents are of: one of {', '.join(homes) or 'none'} "
                                   f"(key {key.key_id} has the regions {', '.join(key.regions)})")
            raise ApiProblem(422, "Invalid request", summary([error]), errors=[error])
        try:
            jurisdiction = policy.canonical(given)
        except ResidencyError:
            error = FieldError(loc=["body", "jurisdiction"], type="enum",
                               msg=f"jurisdiction {given!r} is not in the residency policy; known: "
                                   f"{', '.join(sorted(policy.jurisdictions)) or 'none'}")
            raise ApiProblem(422, "Invalid request", summary([error]), errors=[error]) from None
        region = policy.home_region(jurisdiction)
        if region not in key.regions:
            raise ApiProblem(403, "Region not allowed", f"documents of jurisdiction {jurisdiction} are stored in "
                             f"region {region}, and key {key.key_id} may use only {', '.join(key.regions)}; use a "
                             "key of that region")
        return jurisdiction

    def check_documents(documents: list[DocumentIn]) -> list[tuple[str, bytes]]:
        """The documents' bytes, or one 422 naming every document at fault and what to do."""
        errors: list[FieldError] = []
        files: list[tuple[str, bytes]] = []
        seen: set[str] = set()
        per_file = backend.limits
        for i, doc in enumerate(documents):
            loc: list[str | int] = ["body", "documents", i]
            data = doc.data()
            fmt, declared = file_format(doc.name), MEDIA_TYPES.get((doc.media_type or "").split(";")[0].strip())
            if doc.name in seen:
                errors.append(FieldError(loc=[*loc, "name"], type="value_error",
                                         msg=f"document {doc.name!r} is sent twice; send each name once"))
            elif len(data) > per_file.max_file_bytes:
                errors.append(FieldError(loc=loc, type="too_long", msg=f"document {doc.name!r} has {len(data):,} "
                                         f"bytes, more than {per_file.max_file_bytes:,} (max_file_bytes); split it"))
            elif doc.text is not None and len(doc.text) > per_file.max_text_chars:
                errors.append(FieldError(loc=[*loc, "text"], type="string_too_long",
                                         msg=f"document {doc.name!r} has {len(doc.text):,} characters, more than "
                                             f"{per_file.max_text_chars:,} (max_text_chars); split it"))
            elif declared is not None and fmt != declared:
                errors.append(FieldError(loc=[*loc, "media_type"], type="value_error",
                                         msg=f"document {doc.name!r} is {doc.media_type}, but its name's suffix "
                                             f"picks the {fmt or 'no'} parser; name it with the suffix of its type"))
            seen.add(doc.name)
            files.append((doc.name, data))
        if errors:
            raise ApiProblem(422, "Invalid request", summary(errors), errors=errors)
        return files

    @app.post("/v1/documents", response_model=IngestionResponse, status_code=202,
              responses={**DOCUMENTS_ACCEPTED, **COMMON, **JSON_BODY}, tags=["documents"],
              dependencies=[Depends(json_body)])
    async def post_documents(body: DocumentsRequest, request: Request, response: Response,
                             key: Annotated[ApiKey, Depends(caller("documents:write"))]) -> IngestionResponse:
        """Send documents of the key's tenant into the factory, as a folder's files would go: each `name` is
        a path under the tenant's API folder, its id `<tenant>:<name>`; the same name sent again is a new
        version of that document (the same text again: unchanged). The documents are stored (fsync) before
        the 202; poll `Location` (also `status_url`) until the state is complete or failed: it then lists each
        document's events, chunks, or the reason it was dead-lettered. Limits: the body (`MAX_BODY_BYTES`)
        and per file `AIFACTORY_LIMIT_*` (max_file_bytes, max_text_chars)."""
        tenant_key(key)
        jurisdiction = jurisdiction_of(key, body.jurisdiction)
        files = check_documents(body.documents)
        ticket = await within(backend.submit_documents, key.tenant, jurisdiction, files, actor(key, request))
        response.headers["Location"] = ticket["status_url"]
        return IngestionResponse(**ticket)

    @app.get("/v1/ingestions/{request_id}", response_model=IngestionResponse,
             responses={**COMMON, **NOT_FOUND}, tags=["documents"])
    async def get_ingestion(request_id: str,
                            key: Annotated[ApiKey, Depends(caller("documents:write"))]) -> IngestionResponse:
        """Where a document request stands: pending, running, complete (each document published, unchanged,
        held or dead-lettered with its reason, and the events and chunks made) or failed (with what to do)."""
        ticket = await within(backend.ingestion, tenant_key(key).tenant, request_id)
        if ticket is None:
            raise ApiProblem(404, "No such document request", f"tenant {key.tenant} made no request {request_id!r}")
        return IngestionResponse(**ticket)

    @app.get("/v1/lineage/{item_id:path}", responses={**COMMON, **NOT_FOUND}, tags=["governance"])
    async def get_lineage(item_id: str,
                          key: Annotated[ApiKey, Depends(caller("lineage"))]) -> dict[str, Any]:
        """The chain from a point or document back to its source, and forward to what was derived from it.
        An item outside the key's regions is not found, exactly as one that does not exist."""
        trace = await within(backend.lineage, tenant_key(key).tenant, item_id, key.regions)
        if trace is None:
            raise await not_found(key, item_id, "Nothing to trace", f"tenant {key.tenant} has no document or "
                                  f"point {item_id!r} in the regions this key may read")
        return trace

    @app.get("/v1/usage", response_model=UsageResponse, responses={**COMMON, **NOT_FOUND}, tags=["governance"])
    async def get_usage(key: Annotated[ApiKey, Depends(caller("usage"))], tenant: str | None = None,
                        period: Annotated[str | None, Query(pattern=PERIOD_PATTERN, description=(
                            "YYYY-MM, YYYY-MM-DD, YYYY-Www or all; the current month when left out"))] = None
                        ) -> UsageResponse:
        """Metered usage per tenant and region over a period, priced by the named price book. A tenant's
        admin key sees its own; an operator key (tenant '*') sees all, or one with `tenant`."""
        if key.tenant != "*" and tenant not in (None, key.tenant):
            raise ApiProblem(403, "Other tenant", f"key {key.key_id} may read the usage of {key.tenant} only")
        who = tenant if key.tenant == "*" else key.tenant
        try:
            report = await within(backend.usage, who, period or datetime.now(UTC).strftime("%Y-%m"))
        except ValueError as exc:
            raise ApiProblem(422, "Invalid request", f"query parameter period: {exc}") from None
        if report is None:
            raise ApiProblem(404, "No such tenant", f"tenant {who!r} has no metered usage; check the name")
        return UsageResponse.model_validate(report)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses=NOT_READY)
    async def readyz() -> Response:
        """The broker and the index are reachable."""
        checks = await run_in_threadpool(backend.ready)
        ok = all(v == "ok" for v in checks.values())
        if ok:
            return JSONResponse({"status": "ok", "checks": checks})
        failing = ", ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok")
        return problem(503, "Not ready", f"{failing}; see the server log", "/readyz")

    @app.get("/metrics", tags=["operations"], response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **COMMON})
    async def metrics(key: Annotated[ApiKey, Depends(caller("metrics"))]) -> Response:
        """Prometheus metrics: request latency histograms, requests, errors and hits, per route and tenant.
        Needs an admin key, sent by the scraper as a bearer token: an operator key (tenant '*') sees every
        tenant, a tenant's admin key only its own series."""
        body = telemetry.render(None if key.tenant == "*" else key.tenant)
        return Response(body, media_type="text/plain; version=0.0.4")

    # Outermost: it sizes the body, meters and logs every request, refused ones included.
    def egress(tenant: str, key_id: str, request_id: str, regions: list[str], size: int) -> None:
        """An answer's bytes, billed as egress to the regions it read (split evenly)."""
        for region, n in apportion(size, dict.fromkeys(regions or [""], 1)).items():
            backend.meter(UsageEntry(run_id=f"api-{key_id}", tenant=tenant, event="egress", region=region, bytes=n,
                                     request_id=request_id))

    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes, telemetry=telemetry, request_log=request_log,
                       on_egress=egress)
    app.state.telemetry = telemetry
    return app

