"""An embedder with one model for queries and another for documents (DPR)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keytokens.embedders.base import Embedder, Role, check_role, check_texts
from keytokens.errors import ShapeError


class DualEmbedder:
    """Routes ``role="query"`` to one embedder and ``role="document"`` to another."""

    def __init__(self, *, query: Embedder, document: Embedder, name: str) -> None:
        if query.dim != document.dim:
            raise ShapeError(f"query embedder has {query.dim} dimensions, document embedder {document.dim}")
        self.query, self.document, self.name = query, document, name

    @property
    def dim(self) -> int:
        """Shared embedding size."""
        return self.query.dim

    def encode(
        self,
        texts: Sequence[str],
        *,
        role: Role = "document",
        batch_size: int | None = None,
        show_progress: bool = False,
    ) -> np.ndarray:
        """Encode with the embedder for ``role``."""
        target = self.query if check_role(role) == "query" else self.document
        return target.encode(check_texts(texts), role=role, batch_size=batch_size, show_progress=show_progress)
