"""Request and response bodies of the vector API; the OpenAPI schema comes from these."""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    model_validator,
)

from vectorstore.filters import MAX_VALUES, parse
from vectorstore.modes import DEFAULT_MODE, MAX_OFFSET, Mode, ScoreKind


def _number(value: Any) -> Any:
    # JSON Schema's integer: 5 and 5.0, not "5" or true (which pydantic would coerce).
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a JSON number")
    return value


Int = Annotated[int, BeforeValidator(_number)]
Number = Annotated[float, BeforeValidator(_number)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Values = Annotated[list[str], Field(min_length=1, max_length=MAX_VALUES)]
Keyword = str | Values


class Range(Strict):
    """A range of numbers: any of the bounds."""

    gte: Number | None = None
    gt: Number | None = None
    lte: Number | None = None
    lt: Number | None = None


def _text(value: Any) -> Any:
    # A time is ISO 8601 text, not a number of seconds (which pydantic would take).
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date or time, e.g. 2026-01-31 or 2026-01-31T12:00:00Z")
    return value


# ISO 8601; a date is its midnight, and a time without a zone is UTC.
Time = Annotated[datetime | date, BeforeValidator(_text)]


class TimeRange(Strict):
    """A range of times, ISO 8601 (`2026-01-31` is its midnight UTC): any of the bounds."""

    gte: Time | None = None
    gt: Time | None = None
    lte: Time | None = None
    lt: Time | None = None


class Exclusions(Strict):
    """What hits must not be: a value, or a list of values (any of them excludes)."""

    document_id: Keyword | None = None
    jurisdiction: Keyword | None = None
    region: Keyword | None = None
    section: Keyword | None = None
    source_uri: Keyword | None = None
    title: Keyword | None = None
    chunk_id: Keyword | None = None
    event_id: Keyword | None = None

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}

    @model_validator(mode="after")
    def _valid(self) -> Any:
        parse(self.given())  # a FilterError is a ValueError: a 422 naming the key
        return self


class Filters(Exclusions):
    """What hits must be: a value, a list (any of them), or a range on `page`, `chunk_no`,
    `version` and `event_time`. The tenant is not a key: it comes from the API key."""

    page: Int | Range | None = None
    chunk_no: Int | Range | None = None
    version: Int | Range | None = None
    event_time: Time | TimeRange | None = None

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump(mode="json", exclude_none=True).items() if v not in (None, {})}


# The schema states the default limits; a server configured tighter answers 422 beyond them.
def query_field() -> Any:
    return Field(min_length=1, max_length=2_000, pattern=r"\S", description="the question or keywords")


def mode_field() -> Any:
    return Field(DEFAULT_MODE, description="hybrid (the default): dense vectors and BM25 keywords, fused by "
                 "reciprocal rank, chunks holding an exact identifier of the query (an order number, a code) "
                 "first; dense: vectors only; keyword: BM25 only")


SCORE = ("how well the hit matches; read it with `score_kind`, higher is better. `cosine` (mode dense): the "
         "cosine similarity of the query and the chunk, -1 to 1. `bm25` (mode keyword): the BM25 score, 0 and "
         "up. `rrf` (mode hybrid): the reciprocal rank fusion of the dense and the BM25 ranking, the sum of "
         "1/(60 + rank) over both, so at most about 0.03; it orders the hits of one answer and is not a "
         "similarity. `exact+rrf` (mode hybrid): the chunk holds exact identifiers of the query (codes, order "
         "numbers): 1 per identifier held, plus its `rrf` value")
SCORE_KIND = ("what `score` is: `cosine` in dense mode, `bm25` in keyword mode, `rrf` (fused rank) in hybrid "
              "mode, `exact+rrf` for a hybrid hit holding exact identifiers of the query")


class SearchRequest(Strict):
    query: str = query_field()
    top_k: Int = Field(5, ge=1, le=100, description="how many hits")
    offset: Int = Field(0, ge=0, le=MAX_OFFSET, description="skip this many hits: the next page is at `next_offset`")
    score_threshold: StrictFloat | None = Field(None, description="leave out hits scoring under this, in the "
                                                "mode's `score_kind`")
    mode: Mode = mode_field()
    filters: Filters = Field(default_factory=Filters)
    exclude: Exclusions = Field(default_factory=Exclusions)
    include_quarantined: StrictBool = Field(False, description="also return chunks quarantined as prompt injection")


class Citation(BaseModel):
    document_id: str
    title: str
    source_uri: str
    page: int | None = None
    section: str = ""


class SearchHit(BaseModel):
    rank: int
    score: float = Field(description=SCORE)
    score_kind: ScoreKind = Field(description=SCORE_KIND)
    point_id: str
    text: str
    citation: Citation
    also_in: list[Citation] = Field(default_factory=list,
                                    description="other documents holding the same passage (same words), folded "
                                                "into this point; cite them too")
    quarantined: bool
    screening: str = Field("clear", description="clear; quarantined (returned only with include_quarantined); or "
                                                "released: quarantined by the screener, released by a reviewer")
    screening_reasons: list[str]
    release: dict[str, str] | None = Field(None, description="a released chunk's review: by, reason, at")
    lineage: dict[str, Any]


class SearchResponse(BaseModel):
    hits: list[SearchHit]
    next_offset: int | None = Field(None, description="the `offset` of the next page; null when this page was "
                                    "the last")
    took_ms: float


def _query_or_question(schema: dict[str, Any]) -> None:
    # The model renames `question` before validating; the schema offers both, one at a time.
    props = schema["properties"]
    props["question"] = {**props["query"], "title": "Question", "deprecated": True,
                         "description": "deprecated alias of `query`, still accepted; send `query`"}
    schema["required"] = [f for f in schema.get("required", []) if f != "query"]
    if not schema["required"]:
        del schema["required"]
    schema["oneOf"] = [{"title": "query", "required": ["query"]},
                       {"title": "question (deprecated)", "required": ["question"]}]


class ContextRequest(Strict):
    """`query` as in /v1/search; `question`, its old name, is still accepted (not both with different values)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_query_or_question)

    query: str = query_field()
    token_budget: Int = Field(1024, ge=16, le=8_192,
                              description="most tokens (the model's tokenizer) the context may hold")
    candidates: Int = Field(20, ge=1, le=100, description="how many search hits MMR chooses from")
    mode: Mode = mode_field()
    filters: Filters = Field(default_factory=Filters)
    exclude: Exclusions = Field(default_factory=Exclusions)
    include_quarantined: StrictBool = False  # 0 is not false
    diversity: StrictFloat = Field(0.3, ge=0.0, le=1.0, description="0 ranks by relevance only, 1 by novelty only")

    @model_validator(mode="before")
    @classmethod
    def _question_is_query(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "question" not in data:
            return data
        data = dict(data)
        question = data.pop("question")
        if "query" in data and data["query"] != question:
            raise ValueError("send `query` only: `question` is its deprecated alias, and this body gives both "
                             "with different values")
        data.setdefault("query", question)
        return data


class ContextCitation(BaseModel):
    n: int
    document_id: str
    title: str
    source_uri: str
    page: int | None = None
    section: str = ""
    point_id: str
    score: float = Field(description=SCORE)
    score_kind: ScoreKind = Field(description=SCORE_KIND)
    quarantined: bool
    lineage: dict[str, Any]
    truncated: bool = Field(False, description="the chunk did not fit whole: its leading sentences are in the "
                                               "context, cut at a sentence and marked with …")


class ContextResponse(BaseModel):
    context: str
    citations: list[ContextCitation]
    tokens: int
    token_budget: int
    candidates: int
    left_out: dict[str, int]


class DocumentResponse(BaseModel):
    document_id: str
    tenant: str
    version: int
    state: Literal["live", "deleted"]
    title: str
    source_uri: str
    jurisdiction: str
    region: str
    event_id: str
    event_time: str
    chunks: int
    points: int


class DeletionResponse(BaseModel):
    request_id: str
    document_id: str
    state: Literal["pending", "complete", "failed"]
    detail: str = ""
    points_deleted: int = 0
    requested_at: str
    completed_at: str = ""
    status_url: str


def document_name(name: str) -> str:
    """A document's name is a relative path, as under a folder: no '..', no absolute path."""
    parts = name.split("/")
    if name.startswith("/") or "\\" in name:
        problem = "is absolute or uses '\\'; give a relative path with '/' between folders, such as 'hr/leave.md'"
    elif any(p in ("", ".", "..") for p in parts):
        problem = "has an empty, '.' or '..' part; give a path within your documents, such as 'hr/leave.md'"
    elif any(p.startswith(".") for p in parts):
        problem = "has a hidden part (starting with '.'), which a folder scan skips; rename it"
    elif "#" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        problem = "holds '#' or a control character; '#' marks the records of a file in document ids"
    elif any(len(p.encode()) > 255 for p in parts):
        problem = "has a part longer than 255 bytes, more than a file name may be; shorten it"
    else:
        return name
    raise ValueError(f"name {name!r} {problem}")


def _text_or_file(schema: dict[str, Any]) -> None:
    schema["oneOf"] = [{"title": "text", "required": ["name", "text"]},
                       {"title": "file", "required": ["name", "content_base64"]}]


class DocumentIn(Strict):
    """One document: `name` and its `text`, or `name` and a file's bytes as `content_base64`. The
    name's suffix picks the parser, as in a folder (.md, .txt, .html, .pdf, .csv, .json, .jsonl, .zip, ...)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_text_or_file)

    name: Annotated[str, AfterValidator(document_name)] = Field(
        min_length=1, max_length=1024, description="a relative path such as `hr/leave.md`: the document id is "
        "`<tenant>:<name>`, so sending the same name again makes a new version of the same document")
    text: str | None = Field(None, description="the document's text, stored as UTF-8 under `name`")
    content_base64: str | None = Field(None, description="a file's bytes in standard base64 (RFC 4648)")
    media_type: str | None = Field(None, max_length=255, description="the file's type, e.g. `application/pdf`; "
                                   "when given it must agree with the suffix of `name`")

    @model_validator(mode="after")
    def _one_body(self) -> DocumentIn:
        if (self.text is None) == (self.content_base64 is None):
            raise ValueError(f"document {self.name!r}: send exactly one of `text` or `content_base64`")
        if self.media_type is not None and self.content_base64 is None:
            raise ValueError(f"document {self.name!r}: `media_type` goes with `content_base64`; text needs none")
        if self.content_base64 is not None:
            try:
                base64.b64decode(self.content_base64, validate=True)
            except binascii.Error as exc:
                raise ValueError(f"document {self.name!r}: content_base64 is not valid base64 ({exc}); encode the "
                                 "file's bytes with standard base64, e.g. `base64 -w0 FILE`") from None
        return self

    def data(self) -> bytes:
        """The document's bytes, as they are stored under its name."""
        if self.content_base64 is not None:
            return base64.b64decode(self.content_base64, validate=True)
        return (self.text or "").encode("utf-8")


def _at_least_one(documents: list[DocumentIn]) -> list[DocumentIn]:
    if not documents:
        raise ValueError("the list is empty; send at least one document, {name, text} or {name, content_base64}")
    return documents


class DocumentsRequest(Strict):
    """Documents for the key's tenant (the tenant comes from the key, never from the body)."""

    documents: Annotated[list[DocumentIn], AfterValidator(_at_least_one)] = Field(
        json_schema_extra={"minItems": 1}, description="one or more documents; each name once")
    jurisdiction: str | None = Field(None, max_length=64, description="the jurisdiction of the documents (e.g. "
                                     "`EU`), which decides their region; may be left out when exactly one "
                                     "jurisdiction's home region is among the key's regions")


class IngestedEvent(BaseModel):
    document_id: str = Field(description="the file's id, with `#part` for a record or archive entry")
    event_id: str
    version: int
    op: Literal["upsert", "delete"]
    chunks: int = Field(description="chunks of this event in the lake")
    reason: str = Field("", description="why the event was dead-lettered in the transforms, if it was")


class IngestedDocument(BaseModel):
    name: str
    document_id: str = Field(description="`<tenant>:<name>` (personal data in the name hashed, as in a folder)")
    state: Literal["pending", "published", "unchanged", "held", "dead_lettered"]
    reason: str = Field("", description="why a document was not published, and what to do")
    events: list[IngestedEvent] = Field(default_factory=list, description="the events published for it (for "
                                        "`unchanged`, those of the version now live); empty until the scan")


class IngestionResponse(BaseModel):
    """A document request: pending (staged, durable), running, complete or failed. Event ids are known
    once the worker has scanned the documents: until then `documents` names the ids they will have."""

    request_id: str
    state: Literal["pending", "running", "complete", "failed"]
    detail: str = Field("", description="why the request failed, and what to do")
    jurisdiction: str
    documents: list[IngestedDocument]
    published: int = Field(0, description="documents with a new version")
    unchanged: int = Field(0, description="documents whose text equals their live version")
    held: int = Field(0, description="documents held back by a delete request")
    dead_lettered: int = Field(0, description="documents that failed, each with its reason")
    chunks: int = Field(0, description="chunks of the events published")
    event_ids: list[str] = Field(default_factory=list, description="the events this request published")
    run_id: str = Field("", description="the pipeline run that carried it out: its metering is under this id")
    requested_at: str
    started_at: str = ""
    completed_at: str = ""
    status_url: str


class FieldError(BaseModel):
    """One reason a request is invalid."""

    loc: list[str | int] = Field(description="where: `body`, `query` or `path`, then the field names")
    msg: str
    type: str = Field(description="pydantic's error type, e.g. `missing`, `string_too_short`")


class Problem(BaseModel):
    """RFC 9457 problem details; a 422 adds `errors`, every field at fault (which `detail` also names)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str = ""
    errors: list[FieldError] = Field(default_factory=list, description="validation problems only: each error")


# The shape of a period; the calendar (no 30 February, no week 53 in most years) is checked by the server.
PERIOD_PATTERN = (r"^(all|\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?|\d{4}-W(0[1-9]|[1-4]\d|5[0-3]))$")


class UsageLine(BaseModel):
    """One tenant's use in one region over the period, and its cost by component."""

    tenant: str
    region: str = Field(description="the region used; empty only on entries metered before queries had one")
    documents: int
    bytes_ingested: int
    chunks: int
    texts_embedded: int
    tokens_embedded: int
    gpu_seconds: float
    cpu_seconds: float
    vectors_stored: int
    gb_months: float
    queries: int = Field(description="searches of this region's collection (a key that reads two regions "
                                     "searches two)")
    query_tokens: int
    context_tokens: int
    egress_bytes: int = Field(0, description="bytes of the API's answers that read this region")
    energy_wh: float = Field(0.0, description="estimated: device power x embedding seconds")
    co2e_g: float = Field(0.0, description="estimated: that energy at the region's carbon intensity")
    cost: dict[str, float] = Field(
        description="embedding_tokens, embedding_compute, storage, queries, rag_context, egress")
    total: float


class PriceBookInfo(BaseModel):
    """The named, versioned price book the costs were computed with, and its rates."""

    name: str
    version: str
    source: str
    currency: str
    default: dict[str, float]
    regions: dict[str, dict[str, float]]


class EmbeddingTotals(BaseModel):
    texts: int
    tokens: int
    compute_seconds: float
    devices: list[str]


class DailyTokens(BaseModel):
    day: date
    tenant: str
    tokens: float


class UsageResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    period: str
    from_: date = Field(alias="from", description="first day of the period")
    to: date = Field(description="the day after the period (end exclusive)")
    currency: str
    price_book: PriceBookInfo
    quotas: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="per tenant with a quota: its limits and ingest_tokens_today")
    lines: list[UsageLine]
    daily_tokens: list[DailyTokens]
    total: float
    tenants: dict[str, EmbeddingTotals] = Field(description="all-time embedding totals per tenant")
