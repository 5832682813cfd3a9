"""Instructions: the same texts read under several instructions, and the tokens each one moves.

PAPER.md §5: an instruction-following embedder aligns a text with different tokens under different
instructions (topic words without one, sentiment words under a sentiment instruction). For each
instruction this module measures overlap@k with the no-instruction tokens and counts the tokens
gained and lost most often.

Instructions reach the model through the preset's :class:`~keytokens.embedders.PromptSpec`:
``instruction_format`` places them before the prompt template. A preset without instructions of its
own has the bare format ``{instruction}``; it gets :data:`DEFAULT_FORMAT`, which leaves a space between
the instruction and the template (``Focus on sentiment. This sentence : "…" means in one word:"``).
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from keytokens.embedders import PromptSpec, Role, check_texts
from keytokens.errors import InputError
from keytokens.lens import AlignedTokens, Lens, aligned_tokens
from keytokens.strings import check_unicode

#: Format for presets whose prompt has no instructions of its own (bare ``{instruction}``).
DEFAULT_FORMAT = "{instruction} "
#: Name of the no-instruction reading every instruction is compared with.
BASELINE = "none"
#: Texts read when none are given: each has a topic and a sentiment an instruction can pull apart.
EXAMPLE_TEXTS = (
    "The new phone has a stunning screen but the battery dies by noon.",
    "I loved every minute of this film; the acting was superb.",
    "The hotel room was dirty and the staff were rude.",
    "Stocks rallied after the central bank cut interest rates.",
    "The soup was cold and tasteless, a real disappointment.",
    "Our team finally won the league after ten years of waiting!",
    "The museum's new exhibition on ancient Egypt opens on Friday.",
    "This laptop is fast, light and worth every penny.",
    "Heavy traffic made me miss my flight to Berlin.",
    "The novel is beautifully written but far too long.",
    "Scientists discovered a new species of frog in the rainforest.",
    "The customer service line kept me on hold for an hour.",
)


@dataclass(frozen=True, slots=True)
class Instruction:
    """A named instruction.

    Attributes:
        name: short label (``sentiment``); letters, digits, ``-``, ``_`` and ``.``.
        text: the instruction itself (``Classify the sentiment of the review.``).
    """

    name: str
    text: str

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "-_." for c in self.name):
            raise InputError(f"instruction name {self.name!r} must be non-empty letters, digits, '-', '_' or '.'")
        if self.name == BASELINE:
            raise InputError(f"{BASELINE!r} names the no-instruction reading; choose another instruction name")
        if not self.text.strip():
            raise InputError(f"instruction {self.name!r} is empty")
        check_unicode(self.text, f"instruction {self.name!r}")

    @classmethod
    def parse(cls, spec: str) -> Instruction:
        """Parse ``NAME=TEXT`` (``sentiment=Classify the sentiment of the text.``).

        Raises:
            InputError: no ``=``, or an empty or malformed name or text.
        """
        name, sep, text = spec.partition("=")
        if not sep:
            raise InputError(f"instruction {spec!r} must be NAME=TEXT, e.g. 'sentiment=Classify the sentiment.'")
        return cls(name.strip(), text.strip())

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"name": self.name, "text": self.text}


def preset_instructions(lens: Lens) -> tuple[Instruction, ...]:
    """The per-role instructions of the lens's prompt, named by role (``query``, ``document``)."""
    prompt = getattr(lens.embedder, "prompt", None)
    items = getattr(prompt, "instructions", {}) or {}
    return tuple(Instruction(role, text) for role, text in items.items() if text.strip())


def accepts_instructions(lens: Lens) -> bool:
    """Whether the lens's embedder has a prompt and its ``encode`` takes ``instruction=``."""
    embedder = lens.embedder
    if getattr(embedder, "prompt", None) is None:
        return False
    try:
        return "instruction" in inspect.signature(embedder.encode).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False


def default_format(prompt: PromptSpec) -> str:
    """The prompt's own instruction format, or :data:`DEFAULT_FORMAT` when it has none of its own.

    A prompt with instructions keeps its format even when bare (SGPT's ``[``/``{`` brackets, E5's
    ``query: `` are meant to touch the text): an instruction added to it must end with its own space.
    """
    bare = prompt.instruction_format == "{instruction}" and not prompt.instructions
    return DEFAULT_FORMAT if bare else prompt.instruction_format


def instructable(lens: Lens, instruction_format: str | None = None) -> Lens:
    """The lens with an instruction format fit for adding instructions.

    Args:
        lens: the lens; its embedder must accept instructions.
        instruction_format: how an instruction is placed, with ``{instruction}``; default: the prompt's
            own when it has instructions or a format of its own, else :data:`DEFAULT_FORMAT`.

    Returns:
        A lens sharing the model, whose embedder is a shallow copy with the new prompt (the original is
        left as it was).

    Raises:
        InputError: the embedder takes no instructions, or the format lacks ``{instruction}``.
    """
    if not accepts_instructions(lens):
        raise InputError(f"{lens.name!r} does not take instructions (its embedder has no instruction prompt)")
    prompt = lens.embedder.prompt
    instruction_format = instruction_format or default_format(prompt)
    if "{instruction}" not in instruction_format:
        raise InputError(f"instruction format {instruction_format!r} must contain '{{instruction}}'")
    if instruction_format == prompt.instruction_format:
        return lens
    embedder = copy.copy(lens.embedder)
    embedder.prompt = dataclasses.replace(prompt, instruction_format=instruction_format)
    return dataclasses.replace(lens, embedder=embedder)


def encode(lens: Lens, texts: Sequence[str], *, role: Role = "document", instruction: str | None = None) -> np.ndarray:
    """``(n, d) float32`` embeddings of ``texts`` under ``instruction``.

    Args:
        lens: the lens.
        texts: the texts.
        role: ``query`` or ``document``.
        instruction: ``None`` keeps the role's own instruction (if any); ``""`` reads without any
            instruction; any other text replaces the role's instruction.

    Raises:
        InputError: an instruction is given but the embedder takes none.
        EmptyTextError: a text is empty.
    """
    if instruction is None:
        return lens.encode(texts, role=role)
    if not accepts_instructions(lens):
        if not instruction:
            return lens.encode(texts, role=role)
        raise InputError(f"{lens.name!r} does not take instructions (its embedder has no instruction prompt)")
    return lens.embedder.encode(check_texts(texts), role=role, instruction=instruction)


@dataclass(frozen=True, slots=True)
class InstructionEffect:
    """How one instruction moved the aligned tokens of a set of texts.

    Attributes:
        instruction: the instruction.
        overlap: ``(n_texts,) float32``, ``|top-k ∩ top-k without instruction| / k`` per text.
        gained: ``(token, count)`` of the tokens that entered a text's top-``k`` most often, most first.
        lost: ``(token, count)`` of the tokens that left a text's top-``k`` most often, most first.
        tokens: each text's top-``k`` tokens under the instruction.
    """

    instruction: Instruction
    overlap: np.ndarray
    gained: tuple[tuple[str, int], ...]
    lost: tuple[tuple[str, int], ...]
    tokens: tuple[tuple[str, ...], ...]

    @property
    def mean_overlap(self) -> float:
        """Mean overlap@k over the texts."""
        return float(self.overlap.mean()) if self.overlap.size else 0.0

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            **self.instruction.to_dict(),
            "overlap": self.mean_overlap,
            "overlap_per_text": self.overlap.tolist(),
            "gained": [{"token": t, "count": c} for t, c in self.gained],
            "lost": [{"token": t, "count": c} for t, c in self.lost],
            "tokens": [list(row) for row in self.tokens],
        }


@dataclass(frozen=True, slots=True)
class InstructionReport:
    """The texts under no instruction and under each instruction.

    Attributes:
        model: the lens's name.
        k: tokens per text (overlap@k).
        role: role the texts were encoded as.
        token_filter: which tokens could be aligned (``all``, ``no-special``, ``content``).
        instruction_format: how the instructions were placed before the prompt.
        texts: the texts.
        baseline: each text's top-``k`` tokens without an instruction.
        effects: one per instruction, in the order given.
    """

    model: str
    k: int
    role: str
    token_filter: str
    instruction_format: str
    texts: tuple[str, ...]
    baseline: tuple[tuple[str, ...], ...]
    effects: tuple[InstructionEffect, ...]

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "model": self.model,
            "k": self.k,
            "role": self.role,
            "token_filter": self.token_filter,
            "instruction_format": self.instruction_format,
            "texts": list(self.texts),
            "baseline": [list(row) for row in self.baseline],
            "instructions": [e.to_dict() for e in self.effects],
        }


def _top(counter: Counter, n: int) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:n])


def instruction_effect(
    instruction: Instruction, base: AlignedTokens, under: AlignedTokens, *, top: int = 10
) -> InstructionEffect:
    """Overlap@k and the tokens gained and lost between two readings of the same texts.

    Args:
        instruction: the instruction behind ``under``.
        base: the aligned tokens without the instruction.
        under: the aligned tokens with it (same texts, same ``k``).
        top: gained and lost tokens to keep.

    Raises:
        ValueError: the two readings differ in shape.
    """
    if base.token_ids.shape != under.token_ids.shape:
        raise ValueError(f"readings of shapes {base.token_ids.shape} and {under.token_ids.shape} cannot be compared")
    k = base.token_ids.shape[1]
    overlap, gained, lost = [], Counter(), Counter()
    for row in range(len(base)):
        before = dict(zip(base.token_ids[row].tolist(), base.tokens[row], strict=True))
        after = dict(zip(under.token_ids[row].tolist(), under.tokens[row], strict=True))
        overlap.append(len(before.keys() & after.keys()) / k if k else 0.0)
        gained.update(after[i] for i in after.keys() - before.keys())
        lost.update(before[i] for i in before.keys() - after.keys())
    return InstructionEffect(
        instruction=instruction,
        overlap=np.asarray(overlap, dtype=np.float32),
        gained=_top(gained, top),
        lost=_top(lost, top),
        tokens=under.tokens,
    )


def instruction_analysis(
    lens: Lens,
    texts: Sequence[str],
    instructions: Sequence[Instruction],
    *,
    k: int = 10,
    role: Role = "document",
    token_filter: str = "all",
    instruction_format: str | None = None,
    top: int = 10,
) -> InstructionReport:
    """Read ``texts`` without an instruction and under each instruction (PAPER.md §5).

    Args:
        lens: the lens; its embedder must accept instructions.
        texts: the texts.
        instructions: the instructions, with unique names.
        k: tokens per text; overlap is overlap@k.
        role: the role the texts are encoded as.
        token_filter: ``all``, ``no-special`` or ``content``.
        instruction_format: see :func:`instructable`.
        top: gained and lost tokens kept per instruction.

    Raises:
        InputError: no instruction, repeated names, or an embedder without instructions.
        EmptyTextError: a text is empty.
    """
    texts = check_texts(texts)
    if not texts:
        raise InputError("give at least one text")
    if not instructions:
        raise InputError("give at least one instruction (NAME=TEXT), or use a preset with instructions of its own")
    names = [i.name for i in instructions]
    if len(set(names)) != len(names):
        raise InputError(f"instruction names must be unique; got {names}")
    lens = instructable(lens, instruction_format)

    def read(instruction: str) -> AlignedTokens:
        emb = encode(lens, texts, role=role, instruction=instruction)
        return aligned_tokens(emb, lens.head, lens.vocabulary, k=k, token_filter=token_filter, texts=tuple(texts))

    base = read("")
    effects = tuple(instruction_effect(i, base, read(i.text), top=top) for i in instructions)
    return InstructionReport(
        model=lens.name,
        k=k,
        role=role,
        token_filter=token_filter,
        instruction_format=lens.embedder.prompt.instruction_format,
        texts=tuple(texts),
        baseline=base.tokens,
        effects=effects,
    )


__all__ = [
    "BASELINE",
    "DEFAULT_FORMAT",
    "EXAMPLE_TEXTS",
    "Instruction",
    "InstructionEffect",
    "InstructionReport",
    "accepts_instructions",
    "default_format",
    "encode",
    "instructable",
    "instruction_analysis",
    "instruction_effect",
    "preset_instructions",
]
