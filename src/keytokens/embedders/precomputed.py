"""Precomputed embeddings from a ``.npy`` file, looked up by text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from keytokens.embedders.base import Role, as_texts, check_role, check_texts
from keytokens.errors import InputError, ShapeError
from keytokens.heads.base import check_finite


def load_embeddings(path: str | Path, *, dim: int | None = None) -> np.ndarray:
    """Load ``(n, d)`` float embeddings from ``.npy`` as float32 (memory-mapped).

    Raises:
        InputError: the file is missing or not a valid ``.npy``, or a row holds NaN or Inf (naming the row).
        ShapeError: the array is not 2-D floating point, or its ``d`` differs from ``dim``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"embeddings file {str(path)!r} does not exist")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"{str(path)!r} is not a valid .npy file: {exc}") from None
    if not isinstance(arr, np.ndarray):  # np.load opens a .npz archive instead of failing
        arr.close()
        raise InputError(f"{str(path)!r} is a .npz archive, not a .npy file; save one (n, d) array with numpy.save")
    if arr.ndim != 2:
        raise ShapeError(f"{str(path)!r} holds an array of shape {arr.shape}; expected (n, d)")
    if not np.issubdtype(arr.dtype, np.floating):
        raise ShapeError(f"{str(path)!r} has dtype {arr.dtype}; expected float16, float32 or float64")
    if dim is not None and arr.shape[1] != dim:
        raise ShapeError(f"{str(path)!r} has embedding size {arr.shape[1]}; expected {dim}")
    check_finite(arr, what=f"{str(path)!r}:")
    with np.errstate(over="ignore"):  # float64 values beyond float32's range become Inf: refused just below
        emb = np.asarray(arr, dtype=np.float32)
    check_finite(emb, what=f"{str(path)!r} (as float32):")
    return emb


class PrecomputedEmbedder:
    """Serves rows of a precomputed matrix; ``texts[i]`` names row ``i``.

    Args:
        embeddings: ``(n, d)`` array.
        texts: the ``n`` texts the rows embed, in order.
        name: a label for reports.
    """

    def __init__(self, embeddings: np.ndarray, texts: str | Sequence[str], *, name: str = "precomputed") -> None:
        texts = as_texts(texts)
        if len(texts) != len(embeddings):
            raise ShapeError(f"{len(texts)} texts for {len(embeddings)} embedding rows; expected equal counts")
        self.embeddings = np.asarray(embeddings, dtype=np.float32)
        check_finite(self.embeddings)
        self._rows = {t: i for i, t in enumerate(texts)}
        self.name = name

    @property
    def dim(self) -> int:
        """``d``."""
        return int(self.embeddings.shape[1])

    def encode(
        self,
        texts: Sequence[str],
        *,
        role: Role = "document",
        batch_size: int | None = None,
        show_progress: bool = False,
    ) -> np.ndarray:
        """Return the stored rows of ``texts``.

        Raises:
            InputError: a text has no stored embedding.
        """
        check_role(role)
        texts = check_texts(texts)
        missing = [t for t in texts if t not in self._rows]
        if missing:
            raise InputError(f"{len(missing)} texts have no precomputed embedding, e.g. {missing[0][:60]!r}")
        return self.embeddings[[self._rows[t] for t in texts]]


class WithPrecomputed:
    """An embedder that serves known texts from precomputed rows and encodes any other text.

    Used for a dataset's queries: they are encoded once (and cached like a corpus), so an evaluation or
    a tuning grid searches them many times without running the model again.

    Args:
        embedder: the real embedder, for texts not precomputed.
        embeddings: ``(n, d)`` rows of ``texts`` (for ``role``).
        texts: the texts the rows embed.
        role: the role the rows were encoded with; other roles always go to ``embedder``.
    """

    def __init__(self, embedder, embeddings: np.ndarray, texts: Sequence[str], *, role: Role = "query") -> None:
        self.inner = embedder
        self.known = PrecomputedEmbedder(embeddings, texts, name=embedder.name)
        self.role = role
        self.name = embedder.name

    @property
    def dim(self) -> int:
        """``d``."""
        return self.inner.dim

    def encode(
        self,
        texts: Sequence[str],
        *,
        role: Role = "document",
        batch_size: int | None = None,
        show_progress: bool = False,
    ) -> np.ndarray:
        """Rows of known texts; the model for the rest."""
        texts = check_texts(texts)
        if role == self.role and all(t in self.known._rows for t in texts):
            return self.known.encode(texts, role=role)
        return self.inner.encode(texts, role=role, batch_size=batch_size, show_progress=show_progress)
