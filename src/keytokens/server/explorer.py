"""What the explorer does, independent of the web framework: read texts as tokens, compare, search.

Each operation checks its input and raises :mod:`keytokens.errors` for anything a user got wrong; the
web layer (:mod:`keytokens.server.app`) only turns those into HTTP answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from keytokens.embedders import Role, check_texts
from keytokens.embedders.base import check_role
from keytokens.errors import InputError
from keytokens.interpret.compare import Comparison, compare
from keytokens.interpret.instructions import Instruction, default_format, encode, preset_instructions
from keytokens.lens import AlignedTokens, aligned_tokens
from keytokens.server.indexes import IndexCache
from keytokens.server.models import ModelCache, ServedModel
from keytokens.spectral import adjust


@dataclass(frozen=True, slots=True)
class Reading:
    """Texts read as tokens under one setting.

    Attributes:
        preset: the preset.
        aligned: the texts' top-``k`` aligned tokens.
        embeddings: ``(n, d) float32`` the embeddings the tokens were read from (after any adjustment).
        instruction: the instruction used (``None``: the role's own; ``""``: none).
        lam: λ of the adjustment ``h + λ u_1`` (0: none).
    """

    preset: str
    aligned: AlignedTokens
    embeddings: np.ndarray
    instruction: str | None
    lam: float

    def to_dict(self) -> dict:
        """JSON-ready form (without the embeddings)."""
        return {"preset": self.preset, "instruction": self.instruction, "lam": self.lam, **self.aligned.to_dict()}


class Explorer:
    """The operations behind the page and its API.

    Args:
        models: the served presets.
        indexes: the served indexes.
        instructions: instructions offered for every preset that takes instructions (beside each
            preset's own per-role instructions).
    """

    def __init__(self, models: ModelCache, indexes: IndexCache, *, instructions: Sequence[Instruction] = ()) -> None:
        self.models = models
        self.indexes = indexes
        self.instructions = tuple(instructions)

    def presets(self) -> list[dict]:
        """One summary per served preset (loaded ones say more: instructions, λ range)."""
        return [self.preset_summary(name) for name in self.models.names]

    def preset_summary(self, name: str) -> dict:
        """What the page needs to know of preset ``name`` (loads nothing)."""
        preset = self.models.preset(name)
        loaded = self.models.is_loaded(name)
        if loaded:
            served = self.models.get(name)
            takes = served.accepts_instructions
            own = preset_instructions(served.lens)
            placed = served.lens.embedder.prompt.instruction_format if takes else None
        else:
            takes = preset.document_model is None
            own = tuple(Instruction(r, t) for r, t in preset.prompt.instructions.items() if t.strip())
            placed = default_format(preset.prompt) if takes else None
        offered = [{**i.to_dict(), "source": "preset"} for i in own]
        if takes:
            offered += [{**i.to_dict(), "source": "server"} for i in self.instructions]
        return {
            "name": name,
            "family": preset.family,
            "model": preset.model,
            "note": preset.note,
            "accepts_instructions": takes,
            "instructions": offered,
            "instruction_format": placed,
            "lambda_adjustment": preset.family == "backbone",
            "loaded": loaded,
        }

    def spectrum(self, name: str) -> dict:
        """The first-component summary of a backbone preset (loads it).

        Raises:
            InputError: the preset is not a backbone.
        """
        served = self._backbone(name)
        mean = float(served.mean_coefficient or 0.0)
        scale = max(abs(mean), 1e-6)
        return {
            "preset": name,
            "n_texts": len(self.models.reference_texts),
            "mean_coefficient": mean,
            "lambda_min": round(-2.0 * scale, 3),
            "lambda_max": round(1.0 * scale, 3),
            "lambda_step": round(scale / 100.0, 4),
        }

    def _backbone(self, name: str) -> ServedModel:
        preset = self.models.preset(name)
        if preset.family != "backbone":
            raise InputError(
                f"the λ adjustment h + λ u1 applies to backbone presets; {name!r} is an {preset.family} "
                f"(backbones served: {[n for n in self.models.names if self.models.preset(n).family == 'backbone']})"
            )
        return self.models.get(name)

    def read(
        self,
        preset: str,
        texts: Sequence[str],
        *,
        k: int = 10,
        role: Role = "document",
        token_filter: str = "all",
        instruction: str | None = None,
        lam: float = 0.0,
    ) -> Reading:
        """Read ``texts`` through ``preset`` as their top-``k`` aligned tokens.

        Args:
            preset: a served preset.
            texts: the texts.
            k: tokens per text.
            role: ``query`` or ``document``.
            token_filter: ``all``, ``no-special`` or ``content``.
            instruction: ``None`` keeps the role's own instruction, ``""`` reads without one, any other
                text replaces it.
            lam: λ of ``h + λ u_1`` (backbones only; 0 leaves the embeddings as they are).

        Raises:
            UnknownNameError: the preset is not served.
            InputError: empty texts, bad role, an instruction for a model without instructions, or λ ≠ 0
                for a preset that is not a backbone.
        """
        texts = check_texts(texts)
        if not texts:
            raise InputError("give at least one text")
        check_role(role)
        if not np.isfinite(lam):
            raise InputError(f"λ must be finite; got {lam}")
        served = self._backbone(preset) if lam else self.models.get(preset)
        with served.lock:
            emb = encode(served.lens, texts, role=role, instruction=instruction)
        if lam:
            emb = adjust(emb, served.spectrum, lam)
        lens = served.lens
        aligned = aligned_tokens(emb, lens.head, lens.vocabulary, k=k, token_filter=token_filter, texts=tuple(texts))
        return Reading(preset, aligned, emb, instruction, float(lam))

    def compare(self, preset: str, first: str, second: str, **settings) -> Comparison:
        """Two texts' cosine and their shared and distinct aligned tokens (settings as :meth:`read`)."""
        reading = self.read(preset, [first, second], **settings)
        return compare(reading.embeddings, reading.aligned)

    def index_summaries(self) -> list[dict]:
        """One summary per served index."""
        return [{"name": n, **self.indexes.summary(n)} for n in self.indexes.names]

    def search(self, index: str, query: str, *, k: int = 10, explain: bool = True) -> dict:
        """The ``k`` best documents of ``query`` and, for each, the tokens that matched.

        Raises:
            UnknownNameError: the index is not served.
            EmptyTextError: the query is empty.
        """
        (query,) = check_texts([query])
        served = self.indexes.get(index)
        with served.lock:
            results = served.searcher.search([query], k=k)
            hits = []
            for doc_id, score in results.hits(0):
                matches = served.searcher.explain(query, doc_id).to_dict()["matches"] if explain else None
                snippet = getattr(getattr(served.searcher, "index", None), "snippet", None)
                text = snippet(doc_id) if snippet is not None else None
                hits.append({"id": doc_id, "score": score, "snippet": text, "matches": matches})
        return {"index": index, "query": query, "k": k, "hits": hits}


__all__ = ["Explorer", "Reading"]
