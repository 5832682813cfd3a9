"""The ``Lens``: an embedder, its vocabulary head and vocabulary, ready to read texts as tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from keytokens.embedders import Embedder, Preset, Role, check_texts
from keytokens.heads import VocabHead
from keytokens.lens.aligned import AlignedTokens, aligned_tokens
from keytokens.lens.vocabulary import Vocabulary


@dataclass(frozen=True)
class Lens:
    """Reads texts as their aligned tokens.

    Attributes:
        embedder: text → ``(n, d)`` embeddings.
        head: ``(n, d)`` → ``(n, |V|)`` logits.
        vocabulary: renders and classifies the head's token ids.
        name: label for reports.
        preset: the configuration it came from, when loaded by name.
    """

    embedder: Embedder
    head: VocabHead
    vocabulary: Vocabulary
    name: str
    preset: Preset | None = None

    @classmethod
    def load(
        cls,
        name_or_path: str,
        *,
        head: str | None = None,
        pooling: str | None = None,
        batch_size: int | None = None,
        max_length: int | None = None,
    ) -> Lens:
        """Load a preset, hub id or local path (imports torch).

        Args:
            name_or_path: preset name (``keytokens models`` lists them), hub id or folder.
            head: override the head: ``lm``, ``embeddings`` or ``SOURCE:KIND``.
            pooling: override the pooling.
            batch_size: texts per forward pass.
            max_length: cap on input tokens.
        """
        from keytokens.embedders.loading import load_model, preset_for

        loaded = load_model(
            preset_for(name_or_path, head=head, pooling=pooling), batch_size=batch_size, max_length=max_length
        )
        vocab = Vocabulary.from_tokenizer(loaded.tokenizer, size=loaded.head.vocab_size)
        return cls(loaded.embedder, loaded.head, vocab, name=loaded.preset.name, preset=loaded.preset)

    def encode(self, texts: str | Sequence[str], *, role: Role = "document", show_progress: bool = False) -> np.ndarray:
        """``(n, d) float32`` embeddings of ``texts`` (one string is one text: ``(1, d)``)."""
        return self.embedder.encode(check_texts(texts), role=role, show_progress=show_progress)

    def aligned_tokens(
        self,
        texts: str | Sequence[str],
        *,
        k: int = 10,
        role: Role = "document",
        token_filter: str = "all",
        show_progress: bool = False,
    ) -> AlignedTokens:
        """Embed ``texts`` and return their top-``k`` aligned tokens (one string is one text)."""
        texts = check_texts(texts)
        emb = self.encode(texts, role=role, show_progress=show_progress)
        return aligned_tokens(emb, self.head, self.vocabulary, k=k, token_filter=token_filter, texts=tuple(texts))
