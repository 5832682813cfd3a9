"""Tiny random-initialised models and tokenizers built offline from configs (no network).

Every causal architecture of the preset registry (GPT-Neo, OPT, Llama, Mistral, Qwen2, Qwen3) and
the encoders (BERT, MPNet, DPR) get a 2-layer model of width 32 and a tokenizer trained here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

SENTENCES = [
    'This sentence : "The quick brown fox jumps over the lazy dog." means in one word:"',
    "A text is worth several tokens, and the key tokens carry its meaning.",
    "Embeddings from large language models align with the tokens of the text.",
    "Given a web search query, retrieve relevant passages that answer the query.",
    "Instruct: find the documents\nQuery: the lazy dog sleeps in the sun",
]

#: Rows of every tiny causal model's head; at least the tokenizer's size (Qwen2's tokenizer class
#: adds ``<|endoftext|>`` to the 300 trained tokens), like the padded vocabularies of real models.
CAUSAL_VOCAB = 304
HIDDEN = 32
PAD, BOS, EOS = 0, 1, 2


def bpe_tokenizer():
    """A byte-level BPE tokenizer (300 tokens) that prepends ``<s>``, like Llama's; fast, with offsets."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(SENTENCES, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", BOS)]
    )
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


def word_tokenizer(specials: tuple[str, ...]):
    """A lower-casing word-level tokenizer adding ``[CLS] … [SEP]``, like BERT's.

    Args:
        specials: ``[PAD]``, ``[UNK]``, ``[CLS]``, ``[SEP]`` and ``[MASK]`` in the order of their ids
            (MPNet needs ``[PAD]`` at id 1, its hard-coded padding index).
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    pre = pre_tokenizers.BertPreTokenizer()
    words = sorted({w for s in SENTENCES for w, _ in pre.pre_tokenize_str(s.lower())} | {"means", "[", "]"})
    vocab = {t: i for i, t in enumerate([*specials, *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre
    tok.add_special_tokens(list(specials))
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
MPNET_SPECIALS = ("[CLS]", "[PAD]", "[SEP]", "[UNK]", "[MASK]")


def _causal_configs() -> dict[str, Callable[[], object]]:
    import transformers as tf

    ids = {"pad_token_id": PAD, "bos_token_id": BOS, "eos_token_id": EOS, "vocab_size": CAUSAL_VOCAB}
    rope = {
        "hidden_size": HIDDEN,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 128,
        **ids,
    }
    opt = {"hidden_size": HIDDEN, "num_hidden_layers": 2, "num_attention_heads": 4, "ffn_dim": 64, **ids}
    return {
        "gpt-neo": lambda: tf.GPTNeoConfig(
            hidden_size=HIDDEN,
            num_layers=2,
            num_heads=4,
            intermediate_size=64,
            attention_types=[[["global", "local"], 1]],
            window_size=16,
            max_position_embeddings=128,
            **ids,
        ),
        "opt": lambda: tf.OPTConfig(word_embed_proj_dim=HIDDEN, max_position_embeddings=128, **opt),
        # OPT-350m's layout: outputs projected to a smaller word_embed_proj_dim before the head.
        "opt-proj": lambda: tf.OPTConfig(word_embed_proj_dim=16, max_position_embeddings=128, **opt),
        "llama": lambda: tf.LlamaConfig(tie_word_embeddings=False, **rope),
        "mistral": lambda: tf.MistralConfig(sliding_window=None, tie_word_embeddings=False, **rope),
        "qwen2": lambda: tf.Qwen2Config(tie_word_embeddings=False, **rope),
        "qwen3": lambda: tf.Qwen3Config(head_dim=8, tie_word_embeddings=True, **rope),
        # Gemma 3 270M's layout: tied head, scaled input embeddings, sliding and full attention layers.
        "gemma3": lambda: tf.Gemma3TextConfig(**gemma3_kwargs(), final_logit_softcapping=None, **rope),
    }


def gemma3_kwargs() -> dict:
    """The Gemma 3 specifics of the tiny Gemma configs (width and depth come from the caller)."""
    return {
        "head_dim": 8,
        "tie_word_embeddings": True,
        "sliding_window": 4,
        "layer_types": ["sliding_attention", "full_attention"],
        "query_pre_attn_scalar": 8,
    }


CAUSAL_ARCHS = ("gpt-neo", "opt", "opt-proj", "llama", "mistral", "qwen2", "qwen3", "gemma3")

#: Archs whose head is the input embedding matrix (no ``lm_head.weight`` in the checkpoint).
TIED = {
    "gpt-neo": True,
    "opt": True,
    "opt-proj": True,
    "llama": False,
    "mistral": False,
    "qwen2": False,
    "qwen3": True,
    "gemma3": True,
}

#: The tensor each causal checkpoint keeps its input embeddings in.
EMBEDDING_TENSOR = {
    "gpt-neo": "transformer.wte.weight",
    "opt": "model.decoder.embed_tokens.weight",
    "opt-proj": "model.decoder.embed_tokens.weight",
    "llama": "model.embed_tokens.weight",
    "mistral": "model.embed_tokens.weight",
    "qwen2": "model.embed_tokens.weight",
    "qwen3": "model.embed_tokens.weight",
    "gemma3": "model.embed_tokens.weight",
}


def causal_model(arch: str, *, seed: int = 0):
    """A tiny ``*ForCausalLM`` for ``arch`` in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(_causal_configs()[arch]()).eval()


def save_torch_bin(model, folder: Path, *, shards: int = 1) -> Path:
    """Write ``model`` as ``pytorch_model.bin`` (or ``shards`` files plus their index) and its config."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(folder)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if shards == 1:
        torch.save(state, folder / "pytorch_model.bin")
        return folder
    names = sorted(state)
    weight_map = {}
    for i in range(shards):
        filename = f"pytorch_model-{i + 1:05d}-of-{shards:05d}.bin"
        part = {n: state[n] for n in names[i::shards]}
        torch.save(part, folder / filename)
        weight_map.update(dict.fromkeys(part, filename))
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return folder


def embedding_gemma_folder(folder: Path, tokenizer, *, seed: int = 0) -> Path:
    """A tiny EmbeddingGemma-style sentence-transformers folder (no network).

    Gemma 3 text model with bidirectional attention (width 32) → mean pooling → Dense 32→64 →
    Dense 64→32 (bias-free, identity activation, as EmbeddingGemma's) → Normalize.
    """
    import tempfile

    import torch
    import transformers as tf
    from sentence_transformers import SentenceTransformer, models

    config = tf.Gemma3TextConfig(
        hidden_size=HIDDEN,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        pad_token_id=PAD,
        bos_token_id=BOS,
        eos_token_id=EOS,
        vocab_size=CAUSAL_VOCAB,
        use_bidirectional_attention=True,
        architectures=["Gemma3TextModel"],
        **gemma3_kwargs(),
    )
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as hf:
        tf.Gemma3TextModel(config).eval().save_pretrained(hf)
        tokenizer.save_pretrained(hf)
        modules = [
            models.Transformer(hf),
            models.Pooling(HIDDEN, pooling_mode="mean"),
            models.Dense(HIDDEN, 2 * HIDDEN, bias=False, activation_function=torch.nn.Identity()),
            models.Dense(2 * HIDDEN, HIDDEN, bias=False, activation_function=torch.nn.Identity()),
            models.Normalize(),
        ]
        SentenceTransformer(modules=modules, device="cpu").save(str(folder))
    return folder
