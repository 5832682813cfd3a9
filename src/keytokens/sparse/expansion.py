"""Document expansion by aligned tokens: the top-K tokens of a document's embedding through a head.

PAPER.md §1: the top tokens of ``E_g h`` are the key tokens of a text. Added to the document's own
tokens (:mod:`keytokens.sparse.lexical`), they give recall for key words the text does not contain.
The head is one of :data:`EXPANSION_HEADS`: the model's own (its LM head or tied input embeddings), or
a ridge head fitted on the very documents being indexed (``fitted``; no labels, seconds). A fitted
head partly memorises each document's own tokens (the ridge fit stores them): its expansion both
reinforces words the document has and adds new ones; :func:`expansion_stats` says how much of each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from keytokens.errors import UnknownNameError

#: Where expansion tokens come from; error messages list exactly these.
EXPANSION_HEADS: Mapping[str, str] = {
    "none": "no expansion: the document's own tokens only",
    "model": "the model's own head (LM head, MLM head or tied input embeddings)",
    "fitted": "a ridge head fitted at index time on the corpus's embeddings → their TF-IDF (no labels)",
}


@dataclass(frozen=True, slots=True)
class ExpansionConfig:
    """Which aligned tokens expand a document.

    Attributes:
        head: key of :data:`EXPANSION_HEADS`.
        k: aligned tokens added per document (``K``); 0 with ``head == "none"``.
        l2: ridge strength of a fitted head.
        centering: removed from embeddings before the head (``none``, ``mean``, ``pc1``; fitted on the corpus).
    """

    head: str = "fitted"
    k: int = 8
    l2: float = 1.0
    centering: str = "none"

    def __post_init__(self) -> None:
        from keytokens.sparse.centering import get_centering

        if self.head not in EXPANSION_HEADS:
            raise UnknownNameError(f"unknown expansion head {self.head!r}; expected one of {sorted(EXPANSION_HEADS)}")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 0:
            raise ValueError(f"expansion k must be a non-negative integer; got {self.k!r}")
        if (self.head == "none") != (self.k == 0):
            raise ValueError(f"expansion head {self.head!r} with k={self.k}: use head 'none' exactly when k is 0")
        if isinstance(self.l2, bool) or not isinstance(self.l2, int | float) or not self.l2 > 0:
            raise ValueError(f"l2 must be a positive number; got {self.l2!r}")
        get_centering(self.centering)

    @property
    def enabled(self) -> bool:
        """Whether documents are expanded at all."""
        return self.k > 0

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"head": self.head, "k": self.k, "l2": self.l2, "centering": self.centering}

    @classmethod
    def from_dict(cls, data: Mapping) -> ExpansionConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(
            head=str(data["head"]),
            k=int(data["k"]),
            l2=float(data.get("l2", 1.0)),
            centering=str(data.get("centering", "none")),
        )


def expansion_head(lens, embeddings: np.ndarray, texts: Sequence[str], config: ExpansionConfig):
    """The head whose top tokens expand the documents (fitted on ``embeddings`` and ``texts`` when ``fitted``)."""
    if config.head == "model":
        return lens.head
    from keytokens.heads import FitConfig, TargetSpec, fit_head

    return fit_head(
        embeddings,
        list(texts),
        lens.vocabulary,
        embedder=lens.name,
        target=TargetSpec(kind="tfidf"),
        config=FitConfig(method="ridge", l2=config.l2),
        texts_source="the indexed corpus",
    )


def expansion_tokens(
    lens, embeddings: np.ndarray, texts: Sequence[str], config: ExpansionConfig
) -> tuple[np.ndarray, str]:
    """``((n, K) int64 token ids, head name)``: each document's top-K content tokens, best first.

    Only content tokens (two or more letters or digits, not stopwords, not special) are candidates:
    an expansion by ``the`` or ``,`` would only add noise.

    Raises:
        ValueError: ``K`` exceeds the content tokens.
    """
    from keytokens.heads import topk
    from keytokens.sparse.centering import Centering

    if not config.enabled:
        return np.zeros((len(embeddings), 0), dtype=np.int64), "none"
    head = expansion_head(lens, embeddings, texts, config)
    emb = Centering.fit(config.centering, embeddings).apply(np.asarray(embeddings, dtype=np.float32))
    ids, _ = topk(head, emb, config.k, mask=np.asarray(lens.vocabulary.content, dtype=bool))
    return ids, head.name


def expansion_stats(expansion: np.ndarray, own_terms: Sequence[np.ndarray], mapping: np.ndarray) -> dict:
    """How many expansion tokens a document already has (reinforced) and how many are new to it."""
    if expansion.size == 0:
        return {"per_doc": 0, "new_share": None}
    new = 0
    for row, own in zip(expansion, own_terms, strict=True):
        new += int(np.count_nonzero(~np.isin(mapping[row], own)))
    return {"per_doc": int(expansion.shape[1]), "new_share": round(new / expansion.size, 4)}


__all__ = ["EXPANSION_HEADS", "ExpansionConfig", "expansion_head", "expansion_stats", "expansion_tokens"]
