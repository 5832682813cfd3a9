"""A vocabulary head fitted on unlabelled text: ``z = W h + b`` learned from (embedding, text) pairs.

Where an embedder has no head that fits its space (or none at all), a linear head fitted to target
token distributions (:mod:`keytokens.heads.targets`, Text2Token's targets, PAPER.md §6) makes its
embeddings readable as tokens. The result is a :class:`~keytokens.heads.base.VocabHead`: aligned
tokens, alignment metrics, sparse indexes and the spectral analysis take it like any other head.

It is saved with :mod:`keytokens.store` (``weight.npy``, ``bias.npy`` and ``meta.json`` recording the
embedder, the tokenizer's fingerprint, the target, the fit and the number of texts) and refuses, when
loaded for a model, an embedder, tokenizer or embedding size other than the ones it was fitted for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keytokens import store
from keytokens.errors import InputError, ShapeError
from keytokens.heads.base import LinearHead, VocabHead
from keytokens.heads.fitting import FitConfig, check_finite, get_fit
from keytokens.heads.targets import TargetSpec, TargetVocabulary, build_targets, tokenizer_fingerprint
from keytokens.jsonfields import get_dict, get_float, get_int, get_optional_str, get_str
from keytokens.texts import as_texts

logger = logging.getLogger(__name__)

KIND = "fitted-head"
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class FitInfo:
    """What a head was fitted for and how; saved in ``meta.json`` and checked when it is loaded.

    Attributes:
        embedder: the embedder's name (preset name, hub id or path).
        embedder_model: the embedder's model id, another name it is known by.
        tokenizer: fingerprint of the tokenizer (:func:`~keytokens.heads.targets.tokenizer_fingerprint`).
        tokenizer_name: the tokenizer's ``name_or_path``, for messages.
        target: the target distributions.
        fit: the fit and its regularisation.
        n_texts: texts the head was fitted on (those with a non-empty target).
        texts: where the texts came from (a file or set name), to tell in-corpus from transferred heads.
        seconds: wall time of the fit (targets and solve, not the encoding).
    """

    embedder: str
    tokenizer: str
    target: TargetSpec
    fit: FitConfig
    n_texts: int
    embedder_model: str | None = None
    tokenizer_name: str | None = None
    texts: str | None = None
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.n_texts < 1:
            raise ValueError(f"n_texts must be positive; got {self.n_texts}")

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "embedder": self.embedder,
            "embedder_model": self.embedder_model,
            "tokenizer": self.tokenizer,
            "tokenizer_name": self.tokenizer_name,
            "target": self.target.to_dict(),
            "fit": self.fit.to_dict(),
            "n_texts": self.n_texts,
            "texts": self.texts,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> FitInfo:
        """Inverse of :meth:`to_dict`.

        Raises:
            FieldError: a field is missing or of the wrong type.
        """
        return cls(
            embedder=get_str(data, "embedder"),
            embedder_model=get_optional_str(data, "embedder_model"),
            tokenizer=get_str(data, "tokenizer"),
            tokenizer_name=get_optional_str(data, "tokenizer_name"),
            target=TargetSpec.from_dict(get_dict(data, "target")),
            fit=FitConfig.from_dict(get_dict(data, "fit")),
            n_texts=get_int(data, "n_texts", minimum=1),
            texts=get_optional_str(data, "texts"),
            seconds=get_float(data, "seconds") if "seconds" in data else 0.0,
        )


@dataclass(frozen=True, slots=True)
class FittedHead:
    """A linear vocabulary head ``z = W h + b`` fitted to target token distributions.

    Attributes:
        weight: ``(|V|, d) float32`` matrix ``W``.
        bias: ``(|V|,) float32`` bias ``b`` (zeros when fitted without centring).
        info: what it was fitted for and how.
        name: label for reports and index metadata.
    """

    weight: np.ndarray
    bias: np.ndarray
    info: FitInfo
    name: str = "fitted"

    def __post_init__(self) -> None:
        if self.bias is None:
            raise ShapeError("a fitted head needs its bias (zeros when fitted without centring)")
        self._linear()  # checks the shapes

    def _linear(self) -> LinearHead:
        return LinearHead(self.weight, self.bias, name=self.name)

    @property
    def hidden_size(self) -> int:
        """``d``."""
        return int(self.weight.shape[1])

    @property
    def vocab_size(self) -> int:
        """``|V|``."""
        return int(self.weight.shape[0])

    def project(self, embeddings: np.ndarray) -> np.ndarray:
        """Return ``(n, |V|) float32`` logits ``W h + b``.

        Raises:
            ShapeError: the embeddings are not ``(n, d)`` with this head's ``d``.
        """
        return self._linear().project(embeddings)

    def to_dict(self) -> dict:
        """JSON-ready summary (sizes and provenance, not the arrays)."""
        return {
            "name": self.name,
            "hidden_size": self.hidden_size,
            "vocab_size": self.vocab_size,
            **self.info.to_dict(),
        }

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the head to the folder ``path`` atomically (:func:`keytokens.store.save`)."""
        arrays = {"weight": np.asarray(self.weight, np.float32), "bias": np.asarray(self.bias, np.float32)}
        return store.save(
            path, kind=KIND, schema_version=SCHEMA_VERSION, arrays=arrays, meta=self.to_dict(), overwrite=overwrite
        )

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        tokenizer: object | None = None,
        hidden_size: int | None = None,
        embedder: Sequence[str] = (),
        mmap: bool = True,
    ) -> FittedHead:
        """Read a head written by :meth:`save`, refusing one fitted for another model.

        Args:
            path: the folder.
            tokenizer: the tokenizer it will be used with; its fingerprint must match.
            hidden_size: the embedding size it will read; must match ``d``.
            embedder: names the embedder it will read is known by (preset name, model id); one must
                match the recorded embedder or model. Empty: not checked.
            mmap: memory-map the weight instead of reading it into memory.

        Raises:
            StoreError: not a fitted head, another schema version, or damaged files.
            InputError: fitted for another embedder or tokenizer (both named).
            ShapeError: fitted for another embedding size.
        """
        stored = store.load(path, kind=KIND, schema_version=SCHEMA_VERSION, mmap=mmap)
        try:
            head = cls(
                weight=np.asarray(stored.arrays["weight"]),
                bias=np.asarray(stored.arrays["bias"]),
                info=FitInfo.from_dict(stored.meta),
                name=get_str(stored.meta, "name") if "name" in stored.meta else f"fitted:{Path(path).name}",
            )
        except (KeyError, ValueError) as exc:  # FieldError, ShapeError and unknown names are ValueErrors
            raise store.StoreError(f"{str(path)!r} is damaged: {exc}") from None
        head.check_compatible(tokenizer=tokenizer, hidden_size=hidden_size, embedder=embedder, where=str(path))
        return head

    def check_compatible(
        self,
        *,
        tokenizer: object | None = None,
        hidden_size: int | None = None,
        embedder: Sequence[str] = (),
        where: str | None = None,
    ) -> None:
        """Refuse an embedder, tokenizer or embedding size other than the ones the head was fitted for.

        Raises:
            InputError: another embedder or tokenizer, naming both.
            ShapeError: another embedding size, naming both.
        """
        label = f"fitted head {where or self.name!r}"
        recorded = {self.info.embedder, self.info.embedder_model} - {None}
        if embedder and not recorded & set(embedder):
            raise InputError(
                f"{label} was fitted for embedder {self.info.embedder!r}, not {embedder[0]!r}; "
                "fit a head for this embedder (keytokens fit-head)"
            )
        if tokenizer is not None:
            found = tokenizer_fingerprint(tokenizer)
            if found != self.info.tokenizer:
                name = getattr(tokenizer, "name_or_path", None) or type(tokenizer).__name__
                raise InputError(
                    f"{label} was fitted for tokenizer {self.info.tokenizer_name!r} "
                    f"(fingerprint {self.info.tokenizer}), not {name!r} (fingerprint {found}); its token ids differ"
                )
        if hidden_size is not None and hidden_size != self.hidden_size:
            raise ShapeError(
                f"{label} reads {self.hidden_size}-dimensional embeddings, but the embedder gives {hidden_size}"
            )


def fit_head(
    embeddings: np.ndarray,
    texts: Sequence[str],
    vocabulary: TargetVocabulary,
    *,
    embedder: str,
    target: TargetSpec | None = None,
    config: FitConfig | None = None,
    source_head: VocabHead | None = None,
    embedder_model: str | None = None,
    texts_source: str | None = None,
    name: str | None = None,
) -> FittedHead:
    """Fit a head from ``(n, d)`` embeddings of ``texts`` to their target token distributions.

    Args:
        embeddings: ``(n, d)`` embeddings, one per text.
        texts: the ``n`` texts (their own tokens are the data-driven targets).
        vocabulary: the tokenizer's vocabulary (:class:`keytokens.lens.Vocabulary`); ``|V|`` columns.
        embedder: name of the embedder that made ``embeddings``, recorded and checked on load.
        target: the targets (default: TF-IDF of the text's own non-special tokens).
        config: the fit (default: ridge, ``λ = 0.1``, with a bias).
        source_head: the head whose softmax gives model-derived targets (``model``, ``mix``).
        embedder_model: the embedder's model id, recorded as another accepted name.
        texts_source: where the texts came from, recorded.
        name: the head's label (default ``EMBEDDER:fitted-TARGET-FIT``).

    Raises:
        InputError: embeddings and texts differ in number, non-finite embeddings, no text with a target
            token, model-derived targets without a source head, or too few texts without ``l2``.
    """
    target = target or TargetSpec()
    config = config or FitConfig()
    texts = as_texts(texts)
    if len(embeddings) != len(texts):
        raise InputError(f"{len(embeddings)} embeddings for {len(texts)} texts; expected one embedding per text")
    if target.needs_head and source_head is None:
        raise InputError(f"{target.kind!r} targets need a source head (the model's own head, for instance)")
    embeddings = np.asarray(embeddings)
    if embeddings.ndim != 2:
        raise ShapeError(f"embeddings must be (n, d); got shape {embeddings.shape}")
    check_finite(embeddings)
    start = time.perf_counter()
    targets = build_targets(target, texts, vocabulary, embeddings=embeddings, head=source_head)
    keep = np.diff(targets.indptr) > 0
    if not keep.any():
        raise InputError("no text has a token to fit (every target is empty); check the texts and the target")
    if not keep.all():
        logger.warning("%d of %d texts have no target token and are left out", int((~keep).sum()), len(keep))
    weight, bias = get_fit(config.method)(embeddings[keep], targets[keep], config)
    tokenizer = vocabulary.tokenizer
    info = FitInfo(
        embedder=embedder,
        embedder_model=embedder_model,
        tokenizer=tokenizer_fingerprint(tokenizer),
        tokenizer_name=getattr(tokenizer, "name_or_path", None) or type(tokenizer).__name__,
        target=target,
        fit=config,
        n_texts=int(keep.sum()),
        texts=texts_source,
        seconds=time.perf_counter() - start,
    )
    logger.info("fitted a %s head on %d texts in %.1f s", config.method, info.n_texts, info.seconds)
    return FittedHead(weight, bias, info, name=name or f"{embedder}:fitted-{target.kind}-{config.method}")


def is_fitted_head(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a saved fitted head (reads only its ``meta.json``)."""
    try:
        return store.read_meta(path)["kind"] == KIND
    except store.StoreError:
        return False


__all__ = ["KIND", "SCHEMA_VERSION", "FitInfo", "FittedHead", "fit_head", "is_fitted_head"]
