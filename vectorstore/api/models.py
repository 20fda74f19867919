"""Request and response bodies of the vector API; the OpenAPI schema comes from these."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictFloat, model_validator

from vectorstore.modes import DEFAULT_MODE, Mode, ScoreKind


def _number(value: Any) -> Any:
    # JSON Schema's integer: 5 and 5.0, not "5" or true (which pydantic would coerce).
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a JSON number")
    return value


Int = Annotated[int, BeforeValidator(_number)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Filters(Strict):
    """Exact matches on payload keys. The tenant is not one: it comes from the key."""

    document_id: str | None = None
    jurisdiction: str | None = None
    region: str | None = None
    section: str | None = None
    source_uri: str | None = None
    title: str | None = None
    chunk_id: str | None = None
    event_id: str | None = None

    def given(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


# The schema states the default limits; a server configured tighter answers 422 beyond them.
def query_field() -> Any:
    return Field(min_length=1, max_length=2_000, pattern=r"\S", description="the question or keywords")


def mode_field() -> Any:
    return Field(DEFAULT_MODE, description="hybrid (the default): dense vectors and BM25 keywords, fused by "
                 "reciprocal rank; dense: vectors only")


SCORE = ("how well the hit matches; read it with `score_kind`, higher is better. `cosine` (mode dense): the "
         "cosine similarity of the query and the chunk, -1 to 1. `rrf` (mode hybrid): the reciprocal rank "
         "fusion of the dense and the BM25 ranking, the sum of 1/(60 + rank) over both, so at most about 0.03; "
         "it orders the hits of one answer and is not a similarity")
SCORE_KIND = "what `score` is: `cosine` in dense mode, `rrf` (fused rank) in hybrid mode"


class SearchRequest(Strict):
    query: str = query_field()
    top_k: Int = Field(5, ge=1, le=100, description="how many hits")
    mode: Mode = mode_field()
    filters: Filters = Field(default_factory=Filters)
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
    screening_reasons: list[str]
    lineage: dict[str, Any]


class SearchResponse(BaseModel):
    hits: list[SearchHit]
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
