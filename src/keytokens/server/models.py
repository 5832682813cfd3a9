"""The models a server may open: named at start-up, loaded lazily once, each behind its own lock.

A request names a preset; only the presets given at start-up exist for it (never a path). The first
request for a preset loads it (other requests for it wait on the same load); inference then runs in
the web framework's threadpool, one call at a time per model, since a torch module and its tokenizer
are not made to be shared between threads.

For a backbone (``family == "backbone"``) the first principal component ``u_1`` of its embeddings of
:data:`REFERENCE_TEXTS` is computed when it loads, for the adjustment ``h + λ u_1`` (PAPER.md §3).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from keytokens.embedders import Preset
from keytokens.errors import UnknownNameError
from keytokens.interpret.instructions import accepts_instructions, instructable
from keytokens.lens import Lens
from keytokens.spectral import Spectrum, principal_components

logger = logging.getLogger(__name__)

#: Fixed sentences whose backbone embeddings give the first component ``u_1`` (varied topics and forms).
REFERENCE_TEXTS: tuple[str, ...] = (
    "a europe for all",
    "YMCA in South Australia",
    "I like apple and banana",
    "The stock market fell sharply after the announcement.",
    "She plays the violin in the city orchestra.",
    "How do I reset my password?",
    "The recipe needs two cups of flour and an egg.",
    "Heavy rain is expected across the north tomorrow.",
    "The team won the championship in extra time.",
    "Photosynthesis turns light into chemical energy.",
    "He forgot his keys at the office again.",
    "The museum opens at nine on weekdays.",
    "A new vaccine reduced hospital admissions by half.",
    "Our flight to Tokyo was delayed by three hours.",
    "The novel follows a family across three generations.",
    "Install the package with pip and restart the kernel.",
    "The court ruled that the contract was void.",
    "Wolves were reintroduced to the national park.",
    "This phone's battery lasts two full days.",
    "The committee will vote on the budget next week.",
    "Children learn languages faster than adults.",
    "The bridge was closed for repairs in March.",
    "I do not like waiting in long queues.",
    "Mount Everest is the highest mountain on Earth.",
    "The film won three awards at the festival.",
    "Please send the report before Friday.",
    "The chef opened a small restaurant by the sea.",
    "Electric cars are getting cheaper every year.",
    "The river flooded the village last spring.",
    "Quantum computers use qubits instead of bits.",
    "My grandmother grows tomatoes in her garden.",
    "The orchestra played Beethoven's fifth symphony.",
)


@dataclass(frozen=True, slots=True)
class ServedModel:
    """A loaded lens with what the server needs beside it.

    Attributes:
        lens: the lens (with an instruction format fit for added instructions, when it takes them).
        lock: held while the model runs.
        spectrum: first component of the backbone's embeddings of the reference texts (backbones only).
        mean_coefficient: mean ``h·u_1`` over the reference texts: ``λ = −mean_coefficient`` removes the
            first component on average (backbones only).
    """

    lens: Lens
    lock: threading.Lock
    spectrum: Spectrum | None = None
    mean_coefficient: float | None = None

    @property
    def accepts_instructions(self) -> bool:
        """Whether ``encode`` takes an instruction."""
        return accepts_instructions(self.lens)


def first_component(lens: Lens, texts: Sequence[str]) -> tuple[Spectrum, float]:
    """``u_1`` of ``lens``'s embeddings of ``texts`` (uncentred SVD, as the paper) and the mean ``h·u_1``."""
    h = lens.encode(texts)
    spectrum = principal_components(h, n_components=1)
    return spectrum, float((h @ spectrum.first).mean())


class ModelCache:
    """The presets a server serves, each loaded on first use and kept.

    Args:
        presets: the presets named at start-up (unique names).
        load: builds a lens from a preset (``Lens.load`` by name in production; a fake in tests).
        reference_texts: texts whose backbone embeddings give ``u_1``.
    """

    def __init__(
        self,
        presets: Sequence[Preset],
        *,
        load: Callable[[Preset], Lens],
        reference_texts: Sequence[str] = REFERENCE_TEXTS,
    ) -> None:
        self._presets = {p.name: p for p in presets}
        if len(self._presets) != len(presets):
            raise ValueError(f"preset names must be unique; got {[p.name for p in presets]}")
        self._load = load
        self._reference = tuple(reference_texts)
        self._loaded: dict[str, ServedModel] = {}
        self._loading = {name: threading.Lock() for name in self._presets}

    @property
    def names(self) -> tuple[str, ...]:
        """The served preset names, in start-up order."""
        return tuple(self._presets)

    @property
    def reference_texts(self) -> tuple[str, ...]:
        """The texts whose backbone embeddings give ``u_1``."""
        return self._reference

    def preset(self, name: str) -> Preset:
        """The served preset called ``name``.

        Raises:
            UnknownNameError: naming the served presets.
        """
        try:
            return self._presets[name]
        except KeyError:
            raise UnknownNameError(f"unknown preset {name!r}; this server serves {list(self._presets)}") from None

    def is_loaded(self, name: str) -> bool:
        """Whether ``name`` has been loaded."""
        return name in self._loaded

    def get(self, name: str) -> ServedModel:
        """The loaded model ``name``, loading it on first use (concurrent callers wait for one load).

        Raises:
            UnknownNameError: not served.
            ModelNotAvailableError: its weights cannot be found offline.
        """
        preset = self.preset(name)
        served = self._loaded.get(name)
        if served is not None:
            return served
        with self._loading[name]:
            served = self._loaded.get(name)
            if served is None:
                served = self._open(preset)
                self._loaded[name] = served
        return served

    def _open(self, preset: Preset) -> ServedModel:
        logger.info("loading %s", preset.name)
        lens = self._load(preset)
        if accepts_instructions(lens):
            lens = instructable(lens)
        if preset.family != "backbone":
            return ServedModel(lens, threading.Lock())
        spectrum, mean = first_component(lens, self._reference)
        logger.info("%s: u1 from %d reference texts, mean h·u1 = %.3f", preset.name, len(self._reference), mean)
        return ServedModel(lens, threading.Lock(), spectrum=spectrum, mean_coefficient=mean)


__all__ = ["REFERENCE_TEXTS", "ModelCache", "ServedModel", "first_component"]
