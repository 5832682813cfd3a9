"""Fitted vocabulary heads in the benchmarks (issue 4): which head, fitted on which texts.

A fitted-head model ``BASE+fitted`` is the base model's embedder read through a :class:`FittedHead`
fitted (ridge, no labels) from the base model's embeddings of the *documents being indexed* to their
own token distributions. That is legitimate (no qrels are used) but it is in-corpus; the
generalisation benchmark (``bench/fitted_heads.py``) fits on other texts and says which is which.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SUFFIX = "+fitted"
#: Stage 0 of tuning fitted-head models: the head's target and ridge strength, chosen on train qrels.
HEAD_GRID = {"target": ("tf", "tfidf"), "l2": (0.01, 0.1, 1.0)}
#: The sparse configuration stage 0 evaluates each head with (the paper's recipe: aligned tokens only).
HEAD_PROBE = {"k": 256, "weighting": "relu", "centering": "none", "keep_own_tokens": False, "query_weights": "idf"}
HEAD_DEFAULT = {"target": "tfidf", "l2": 0.1, "fit": "ridge", "texts": "corpus"}
SOURCES = ("heads/fitted.py", "heads/fitting.py", "heads/targets.py")


def base_model(model: str) -> str:
    """``minilm+fitted`` → ``minilm``; a plain model name is its own base."""
    return model.removesuffix(SUFFIX)


def is_fitted(model: str) -> bool:
    return model.endswith(SUFFIX)


def sources_fingerprint() -> str:
    """sha256 of the fitting code (12 hex digits): cached rows of fitted-head models depend on it."""
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update(name.encode() + b"\0" + (ROOT / "src" / "keytokens" / name).read_bytes())
    return digest.hexdigest()[:12]


def head_candidates() -> list[dict]:
    return [{**HEAD_DEFAULT, "target": target, "l2": l2} for target in HEAD_GRID["target"] for l2 in HEAD_GRID["l2"]]


def fit(lens, embeddings: np.ndarray, texts: Sequence[str], params: dict, *, texts_source: str):
    """A :class:`FittedHead` for ``lens``'s embedder and tokenizer, fitted on ``(embeddings, texts)``."""
    from keytokens.heads import FitConfig, TargetSpec, fit_head

    return fit_head(
        embeddings,
        list(texts),
        lens.vocabulary,
        embedder=lens.name,
        target=TargetSpec(kind=params["target"]),
        config=FitConfig(method=params.get("fit", "ridge"), l2=float(params["l2"])),
        texts_source=texts_source,
    )


def with_fitted_head(run, params: dict, *, texts_source: str):
    """A copy of a base :class:`ModelRun` whose lens reads through a head fitted on its corpus."""
    head = fit(run.lens, run.doc_emb, run.doc_texts, params, texts_source=texts_source)
    lens = dataclasses.replace(run.lens, head=head)
    cached = dataclasses.replace(run.cached, head=head)
    return dataclasses.replace(
        run,
        name=run.name + SUFFIX,
        lens=lens,
        cached=cached,
        indexes={},
        head_params={**params, "sources": sources_fingerprint()},
    )
