"""Target token distributions for fitting a vocabulary head: one sparse row per text (PAPER.md §6).

Text2Token trains ``softmax(E_g h)`` to match a distribution over the vocabulary built from the text's
own meaningful tokens (data-driven) and from a model's predictions (model-derived). Here those
distributions are the targets a :class:`~keytokens.heads.fitted.FittedHead` is fitted to:

* ``tf``: the text's own tokens, weighted by their counts;
* ``tfidf``: counts times the BM25 IDF over the fitting texts, so tokens every text has weigh little;
* ``model``: the softmax of an existing head (the backbone's, say) over its top-``n`` tokens;
* ``mix``: ``α · tfidf + (1 − α) · model``.

Special tokens are never targets; ``drop_stopwords`` also drops every token that is not a content
token of the vocabulary (stopwords, punctuation, single characters). Each row is normalised to sum
to 1; a text left with no token is an all-zero row. Targets are ``(n, |V|)`` CSR: a dense
``n × |V|`` matrix (5k texts × 50k tokens = 1 GB) is never built.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from keytokens.errors import InputError, ShapeError, UnknownNameError
from keytokens.heads.base import VocabHead, topk
from keytokens.jsonfields import get_bool, get_float, get_int, get_str
from keytokens.texts import as_texts


class TargetVocabulary(Protocol):
    """What targets need of a vocabulary; :class:`keytokens.lens.Vocabulary` is one."""

    tokenizer: object
    special: np.ndarray
    content: np.ndarray

    @property
    def size(self) -> int:
        """``|V|``."""
        ...

    def token_ids(self, texts: Sequence[str], *, add_special_tokens: bool = False) -> list[np.ndarray]:
        """Each text's own token ids."""
        ...


def tokenizer_fingerprint(tokenizer) -> str:
    """``sha256`` of the tokenizer's vocabulary (token → id, added tokens included), as 16 hex digits.

    A head's rows, a target's columns and an index's columns are token ids: they only mean something
    for one vocabulary, which this fingerprint names.
    """
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: (item[1], item[0]))
    return hashlib.sha256(json.dumps(vocab).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """Which target distribution a head is fitted to.

    Attributes:
        kind: key of :data:`TARGETS` (``tf``, ``tfidf``, ``model``, ``mix``).
        drop_stopwords: keep only content tokens (no stopwords, punctuation or one-character tokens).
        top_n: tokens kept of a model-derived distribution (keeps targets sparse), renormalised.
        mix: ``α``, the weight of the data-driven (``tfidf``) part of ``mix`` targets, in ``[0, 1]``.
        temperature: softmax temperature of model-derived targets.
    """

    kind: str = "tfidf"
    drop_stopwords: bool = False
    top_n: int = 64
    mix: float = 0.5
    temperature: float = 1.0

    def __post_init__(self) -> None:
        get_target(self.kind)
        if not isinstance(self.top_n, int) or self.top_n < 1:
            raise ValueError(f"top_n must be a positive integer; got {self.top_n!r}")
        if not 0.0 <= self.mix <= 1.0:
            raise ValueError(f"mix must be in [0, 1]; got {self.mix!r}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive; got {self.temperature!r}")

    @property
    def needs_head(self) -> bool:
        """Whether building these targets reads a source head's predictions."""
        return self.kind in ("model", "mix")

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "drop_stopwords": self.drop_stopwords,
            "top_n": self.top_n,
            "mix": self.mix,
            "temperature": self.temperature,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> TargetSpec:
        """Inverse of :meth:`to_dict`.

        Raises:
            FieldError: a field is missing or of the wrong type.
        """
        return cls(
            kind=get_str(data, "kind"),
            drop_stopwords=get_bool(data, "drop_stopwords"),
            top_n=get_int(data, "top_n", minimum=1),
            mix=get_float(data, "mix"),
            temperature=get_float(data, "temperature"),
        )


@dataclass(frozen=True, slots=True)
class TargetInputs:
    """What a target builder reads.

    Attributes:
        token_ids: each text's own token ids (no special tokens added), ``n`` arrays.
        allowed: ``(|V|,) bool``, the tokens that may be targets.
        embeddings: ``(n, d)`` embeddings, for model-derived targets.
        head: the head whose softmax gives model-derived targets.
    """

    token_ids: Sequence[np.ndarray]
    allowed: np.ndarray
    embeddings: np.ndarray | None = None
    head: VocabHead | None = None

    @property
    def vocab_size(self) -> int:
        """``|V|``."""
        return int(self.allowed.shape[0])


def bm25_idf(df: np.ndarray, n_texts: int) -> np.ndarray:
    """BM25's ``log(1 + (N − df + 0.5) / (df + 0.5))`` (Robertson & Zaragoza 2009), never negative.

    The same formula weighs query tokens in :mod:`keytokens.sparse.queries`, so a token weighs alike
    in the targets a head learns and in the queries that search its index.
    """
    df = np.asarray(df, dtype=np.float64)
    return np.log1p((n_texts - df + 0.5) / (df + 0.5))


def _counts(inputs: TargetInputs) -> sp.csr_matrix:
    """``(n, |V|)`` counts of each text's allowed own tokens."""
    indptr, cols = [0], []
    for ids in inputs.token_ids:
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[(ids >= 0) & (ids < inputs.vocab_size)]
        ids = ids[inputs.allowed[ids]]
        cols.append(ids)
        indptr.append(indptr[-1] + len(ids))
    col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    counts = sp.csr_matrix(
        (np.ones(len(col), dtype=np.float64), col, np.asarray(indptr, dtype=np.int64)),
        shape=(len(inputs.token_ids), inputs.vocab_size),
    )
    counts.sum_duplicates()  # repeated tokens become counts
    return counts


def normalise_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Scale each row to sum 1 (all-zero rows stay zero); returns float32 CSR with sorted indices."""
    csr = sp.csr_matrix(matrix, dtype=np.float64)
    sums = np.asarray(csr.sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    out = sp.csr_matrix(sp.diags(scale) @ csr, dtype=np.float32)
    out.eliminate_zeros()
    out.sort_indices()
    return out


def tf_targets(spec: TargetSpec, inputs: TargetInputs) -> sp.csr_matrix:
    """The text's own tokens weighted by their counts."""
    return normalise_rows(_counts(inputs))


def tfidf_targets(spec: TargetSpec, inputs: TargetInputs) -> sp.csr_matrix:
    """The text's own tokens weighted by count × BM25 IDF over the fitting texts."""
    counts = _counts(inputs)
    df = np.bincount(counts.indices, minlength=inputs.vocab_size)
    return normalise_rows(counts @ sp.diags(bm25_idf(df, counts.shape[0])))


def model_targets(spec: TargetSpec, inputs: TargetInputs) -> sp.csr_matrix:
    """``softmax(head(h) / T)`` over the head's top-``n`` allowed tokens, renormalised over those ``n``.

    Raises:
        InputError: no embeddings or head were given.
        ShapeError: the head's vocabulary differs from the targets'.
    """
    if inputs.embeddings is None or inputs.head is None:
        raise InputError(f"{spec.kind!r} targets need the embeddings and a source head")
    if inputs.head.vocab_size != inputs.vocab_size:
        raise ShapeError(f"source head has {inputs.head.vocab_size} tokens; the vocabulary has {inputs.vocab_size}")
    n = len(inputs.embeddings)
    top_n = min(spec.top_n, int(inputs.allowed.sum()))
    ids, logits = topk(inputs.head, inputs.embeddings, top_n, mask=inputs.allowed)
    z = logits.astype(np.float64) / spec.temperature  # (n, top_n), best first
    p = np.exp(z - z[:, :1])
    p /= p.sum(axis=1, keepdims=True)
    rows = np.repeat(np.arange(n), top_n)
    matrix = sp.csr_matrix((p.ravel(), (rows, ids.ravel())), shape=(n, inputs.vocab_size))
    return normalise_rows(matrix)


def mix_targets(spec: TargetSpec, inputs: TargetInputs) -> sp.csr_matrix:
    """``α · tfidf + (1 − α) · model``; a text with no own token takes the model's row alone."""
    data = tfidf_targets(spec, inputs)
    model = model_targets(spec, inputs)
    empty = np.diff(data.indptr) == 0
    alpha = np.where(empty, 0.0, spec.mix)
    return normalise_rows(sp.diags(alpha) @ data + sp.diags(1.0 - alpha) @ model)


#: One registry of target kinds; :class:`TargetSpec` and error messages use exactly these names.
TARGETS: Mapping[str, Callable[[TargetSpec, TargetInputs], sp.csr_matrix]] = {
    "tf": tf_targets,
    "tfidf": tfidf_targets,
    "model": model_targets,
    "mix": mix_targets,
}


def get_target(kind: str) -> Callable[[TargetSpec, TargetInputs], sp.csr_matrix]:
    """The target builder called ``kind``.

    Raises:
        UnknownNameError: naming the registered target kinds.
    """
    try:
        return TARGETS[kind]
    except KeyError:
        raise UnknownNameError(f"unknown target {kind!r}; expected one of {sorted(TARGETS)}") from None


def allowed_tokens(vocabulary: TargetVocabulary, *, drop_stopwords: bool) -> np.ndarray:
    """``(|V|,) bool``: content tokens when dropping stopwords, else every non-special token."""
    mask = vocabulary.content if drop_stopwords else ~vocabulary.special
    return np.asarray(mask, dtype=bool)


def build_targets(
    spec: TargetSpec,
    texts: Sequence[str],
    vocabulary: TargetVocabulary,
    *,
    embeddings: np.ndarray | None = None,
    head: VocabHead | None = None,
) -> sp.csr_matrix:
    """``(n, |V|) float32`` CSR target distributions of ``texts``, each row summing to 1 (or empty).

    Args:
        spec: which targets.
        texts: the ``n`` texts.
        vocabulary: the tokenizer's vocabulary (ids, special and content masks).
        embeddings: ``(n, d)`` embeddings of the texts, for model-derived targets.
        head: the source head of model-derived targets.

    Raises:
        InputError: model-derived targets without embeddings or head, or ``n`` differs between inputs.
    """
    texts = as_texts(texts)
    if embeddings is not None and len(embeddings) != len(texts):
        raise InputError(f"{len(embeddings)} embeddings for {len(texts)} texts; expected one embedding per text")
    # model-derived targets read no text: skip tokenizing (seconds for a corpus)
    own = vocabulary.token_ids(texts) if spec.kind != "model" else [np.zeros(0, np.int64)] * len(texts)
    inputs = TargetInputs(
        token_ids=own,
        allowed=allowed_tokens(vocabulary, drop_stopwords=spec.drop_stopwords),
        embeddings=embeddings,
        head=head,
    )
    return get_target(spec.kind)(spec, inputs)


__all__ = [
    "TARGETS",
    "TargetInputs",
    "TargetSpec",
    "TargetVocabulary",
    "bm25_idf",
    "build_targets",
    "get_target",
    "model_targets",
    "normalise_rows",
    "tf_targets",
    "tfidf_targets",
    "tokenizer_fingerprint",
]
