"""Prompts: how a text is wrapped before it reaches the model, per role.

A :class:`PromptSpec` holds a template with one ``{text}`` slot (PromptEOL, PromptBERT) and an
optional instruction per role, inserted through ``instruction_format`` (e5-mistral, gte-Qwen2,
Qwen3-Embedding, GritLM). Text and instruction are kept apart so that truncation shortens the text,
never the prompt, and so that pooling can skip the instruction tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keytokens.embedders.base import Role, check_role
from keytokens.errors import InputError
from keytokens.strings import check_unicode

PROMPT_EOL = 'This sentence : "{text}" means in one word:"'
PROMPT_BERT = 'This sentence : "{text}" means [MASK] .'


@dataclass(frozen=True, slots=True)
class FormattedText:
    """A text inside its prompt: ``prefix + text + suffix``.

    Attributes:
        prefix: everything before the text (instruction and template head).
        text: the text itself.
        suffix: everything after the text (template tail).
    """

    prefix: str
    text: str
    suffix: str

    @property
    def full(self) -> str:
        """The string the tokenizer sees."""
        return self.prefix + self.text + self.suffix


@dataclass(frozen=True, slots=True)
class PromptSpec:
    """How texts are wrapped for one model.

    Attributes:
        template: a string with exactly one ``{text}``.
        instructions: per-role instruction text (``{"query": "Given a claim, ..."}``).
        instruction_format: how an instruction is prepended, with ``{instruction}``.
        append_eos: append the tokenizer's EOS id after the text (e5-mistral, gte-Qwen2).
        pool_text_only: pool over the text's own tokens only, not the instruction or template
            (GritLM, LLM2Vec).
    """

    template: str = "{text}"
    instructions: dict[str, str] = field(default_factory=dict)
    instruction_format: str = "{instruction}"
    append_eos: bool = False
    pool_text_only: bool = False

    def __post_init__(self) -> None:
        if self.template.count("{text}") != 1:
            raise InputError(f"template must contain '{{text}}' exactly once; got {self.template!r}")
        if self.instructions and "{instruction}" not in self.instruction_format:
            raise InputError("instruction_format must contain '{instruction}'")
        for role in self.instructions:
            check_role(role)
        check_unicode(self.template, "the prompt template")
        check_unicode(self.instruction_format, "the instruction format")
        for role, instruction in self.instructions.items():
            check_unicode(instruction, f"the {role} instruction")

    def format(self, text: str, role: Role, instruction: str | None = None) -> FormattedText:
        """Wrap ``text`` for ``role``; ``instruction`` overrides the role's default."""
        head, tail = self.template.split("{text}")
        instruction = (
            self.instructions.get(role) if instruction is None else check_unicode(instruction, "the instruction")
        )
        prefix = head
        if instruction:
            prefix = self.instruction_format.replace("{instruction}", instruction) + head
        return FormattedText(prefix=prefix, text=text, suffix=tail)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "template": self.template,
            "instructions": dict(self.instructions),
            "instruction_format": self.instruction_format,
            "append_eos": self.append_eos,
            "pool_text_only": self.pool_text_only,
        }
