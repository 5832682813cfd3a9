"""Request and response models of the explorer's JSON API (pydantic; they make its OpenAPI schema).

Requests are validated strictly (no coercion between JSON types) and bounded: :data:`MAX_TEXTS` texts
of at most :data:`MAX_TEXT_CHARS` characters, ``k``
at most :data:`MAX_K`, and a body of at most :data:`MAX_BODY_BYTES`; unknown fields are refused.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from keytokens.embedders import ROLES
from keytokens.lens import TOKEN_FILTERS

MAX_TEXTS = 16
MAX_TEXT_CHARS = 2000
MAX_INSTRUCTION_CHARS = 1000
MAX_K = 100
MAX_LAMBDA = 1e4
MAX_NAME_CHARS = 200
MAX_BODY_BYTES = 256 * 1024


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("text is empty or whitespace only")
    return text


Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_not_blank)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
RoleName = Literal[ROLES]  # type: ignore[valid-type]
TokenFilter = Literal[TOKEN_FILTERS]  # type: ignore[valid-type]


class _Request(BaseModel):
    # strict: JSON types are not coerced ("k": true is not k = 1, "explain": "no" is not a bool)
    model_config = ConfigDict(extra="forbid", strict=True)


class ReadSettings(_Request):
    """How texts are read: tokens per text, role, token filter, instruction and λ."""

    preset: Name = Field(description="a preset the server was started with")
    k: int = Field(10, ge=1, le=MAX_K, description="aligned tokens per text")
    role: RoleName = Field("document", description="encode as a query or a document (selects prompts)")
    token_filter: TokenFilter = Field("all", description="all tokens, all but special tokens, or content tokens")
    instruction: str | None = Field(
        None,
        max_length=MAX_INSTRUCTION_CHARS,
        description="null: the role's own instruction; empty: no instruction; text: this instruction",
    )
    lam: float = Field(
        0.0,
        ge=-MAX_LAMBDA,
        le=MAX_LAMBDA,
        allow_inf_nan=False,
        description="λ of the first-component adjustment h + λ u1 (backbone presets only)",
    )


class TokensRequest(ReadSettings):
    """Texts to read as their top-k aligned tokens."""

    texts: list[Text] = Field(min_length=1, max_length=MAX_TEXTS, description="the texts")


class CompareRequest(ReadSettings):
    """Two texts to compare."""

    texts: list[Text] = Field(min_length=2, max_length=2, description="exactly two texts")


class SearchRequest(_Request):
    """A query for a served index."""

    index: Name = Field(description="an index the server was started with")
    query: Text = Field(description="the query")
    k: int = Field(10, ge=1, le=MAX_K, description="documents to return")
    explain: bool = Field(True, description="list the matched tokens of each hit")


class Token(BaseModel):
    """One aligned token."""

    id: int
    token: str = Field(description="readable form")
    raw: str | None = Field(None, description="the tokenizer's own string")
    score: float = Field(description="logit (E_g h)_id")


class TextTokens(BaseModel):
    """A text and its aligned tokens, best first."""

    text: str | None
    tokens: list[Token]


class TokensResponse(BaseModel):
    """Texts read as tokens."""

    preset: str
    instruction: str | None
    lam: float
    results: list[TextTokens]


class CompareResponse(BaseModel):
    """Two texts compared."""

    preset: str
    texts: list[str]
    cosine: float = Field(description="cosine similarity of the two embeddings")
    jaccard: float = Field(description="|shared| / |union| of the two token lists")
    tokens: list[list[Token]]
    shared: list[str]
    only_first: list[str]
    only_second: list[str]


class InstructionInfo(BaseModel):
    """An instruction offered for a preset."""

    name: str
    text: str
    source: Literal["preset", "server"]


class PresetInfo(BaseModel):
    """A served preset."""

    name: str
    family: str
    model: str
    note: str
    accepts_instructions: bool
    instructions: list[InstructionInfo]
    instruction_format: str | None = Field(description="how an instruction is placed before the prompt")
    lambda_adjustment: bool = Field(description="whether λ applies (backbone presets)")
    loaded: bool


class Limits(BaseModel):
    """The bounds every request must keep."""

    max_texts: int = MAX_TEXTS
    max_text_chars: int = MAX_TEXT_CHARS
    max_instruction_chars: int = MAX_INSTRUCTION_CHARS
    max_k: int = MAX_K
    max_body_bytes: int = MAX_BODY_BYTES


class PresetsResponse(BaseModel):
    """The served presets and the request limits."""

    presets: list[PresetInfo]
    limits: Limits


class SpectrumResponse(BaseModel):
    """A backbone's first component and the λ range the page offers."""

    preset: str
    n_texts: int = Field(description="reference texts u1 was computed from")
    mean_coefficient: float = Field(description="mean h·u1; λ = −mean removes the first component on average")
    lambda_min: float
    lambda_max: float
    lambda_step: float


class IndexInfo(BaseModel):
    """A served index."""

    name: str
    model: str | None
    n_docs: int | None
    k: int | None
    weighting: str | None


class IndexesResponse(BaseModel):
    """The served indexes."""

    indexes: list[IndexInfo]


class Match(BaseModel):
    """A token shared by query and document, and what it contributed."""

    id: int
    token: str | None
    query_weight: float
    doc_weight: float
    contribution: float


class Hit(BaseModel):
    """One ranked document."""

    id: str
    score: float
    snippet: str | None = Field(None, description="the start of the document's text, when the index keeps it")
    matches: list[Match] | None


class SearchResponse(BaseModel):
    """Ranked documents of a query."""

    index: str
    query: str
    k: int
    hits: list[Hit]


class ErrorResponse(BaseModel):
    """Every error: one clear message."""

    detail: str


class Health(BaseModel):
    """The server is up."""

    status: Literal["ok"] = "ok"
    version: str


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_INSTRUCTION_CHARS",
    "MAX_K",
    "MAX_TEXTS",
    "MAX_TEXT_CHARS",
    "CompareRequest",
    "CompareResponse",
    "ErrorResponse",
    "Health",
    "IndexesResponse",
    "Limits",
    "PresetsResponse",
    "SearchRequest",
    "SearchResponse",
    "SpectrumResponse",
    "TokensRequest",
    "TokensResponse",
]
