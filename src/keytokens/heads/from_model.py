"""Take a vocabulary head from a model already loaded in memory (torch ``nn.Module``).

Architecture-specific surgery sits here and in :mod:`keytokens.heads.checkpoint`, nowhere else.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from keytokens.errors import InputError
from keytokens.heads.base import LinearHead, Transform


def _array(tensor: Any) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()


def output_head(model: Any, *, name: str) -> LinearHead:
    """The model's own LM head (``get_output_embeddings``), with its bias if it has one.

    Raises:
        InputError: the model has no output embeddings (a bare encoder).
    """
    out = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if out is None:
        raise InputError(
            f"model {name!r} has no LM head; use head='embeddings' (tied input embeddings) or a "
            "checkpoint head such as 'bert-base-uncased:mlm-bert'"
        )
    bias = getattr(out, "bias", None)
    head = getattr(model, "cls", None) or getattr(model, "lm_head", None)
    transform = _mlm_transform(head) if head is not None else None
    return LinearHead(
        weight=_array(out.weight),
        bias=_array(bias) if bias is not None else None,
        transform=transform,
        name=f"{name}:lm",
        meta={"source": name, "kind": "lm"},
    )


def input_embeddings_head(model: Any, *, name: str) -> LinearHead:
    """The model's input token embeddings used as a tied head (``z = E h``)."""
    emb = model.get_input_embeddings()
    return LinearHead(
        weight=_array(emb.weight),
        name=f"{name}:embeddings",
        meta={"source": name, "kind": "embeddings"},
    )


def _mlm_transform(head: Any) -> Transform | None:
    """BERT's ``cls.predictions.transform`` or MPNet's ``lm_head`` dense + LayerNorm."""
    predictions = getattr(head, "predictions", None)
    if predictions is not None:  # BERT: cls.predictions.transform.{dense,LayerNorm}
        t = predictions.transform
        dense, norm = t.dense, t.LayerNorm
    elif hasattr(head, "dense") and hasattr(head, "layer_norm"):  # MPNet/RoBERTa lm_head
        dense, norm = head.dense, head.layer_norm
    else:
        return None
    return Transform(
        weight=_array(dense.weight),
        bias=_array(dense.bias),
        ln_weight=_array(norm.weight),
        ln_bias=_array(norm.bias),
        eps=float(norm.eps),
    )


def through_linear_layers(head: LinearHead, layers: list[tuple[np.ndarray, np.ndarray | None]]) -> LinearHead:
    """``head`` read through the inverse of linear layers that follow the state it reads.

    A sentence-transformers pipeline such as EmbeddingGemma's maps the pooled state ``p`` (the space
    the tied embeddings read) through bias-free linear layers ``y = M p / |M p|`` with
    ``M = W_k … W_1``. Then ``E M⁺ y = E p / |M p|``: the logits of the pooled state, scaled by a
    positive number per text, so the same tokens rank first.

    Args:
        head: a head that reads the pooled state (no transform, ``d_in`` columns).
        layers: the ``(weight (out, in), bias)`` of each layer, in the order they apply.

    Raises:
        InputError: a layer has a bias (a normalised output could not be inverted) or the sizes do
            not chain.
    """
    if head.transform is not None:
        raise InputError(f"head {head.name!r} has an MLM transform; only a plain linear head can be composed")
    m = np.eye(head.hidden_size)
    for i, (weight, bias) in enumerate(layers):
        if bias is not None and np.any(bias):
            raise InputError(f"layer {i} after pooling has a bias; only bias-free linear layers can be inverted")
        if weight.shape[1] != m.shape[0]:
            raise InputError(f"layer {i} after pooling takes {weight.shape[1]} inputs, expected {m.shape[0]}")
        m = weight.astype(np.float64) @ m  # (out, d_in)
    inverse = np.linalg.pinv(m).astype(np.float32)  # (d_in, out)
    return LinearHead(
        weight=head.weight @ inverse,  # (|V|, out)
        bias=head.bias,
        name=f"{head.name}-through-dense",
        meta={**head.meta, "through_layers": len(layers), "condition_number": float(np.linalg.cond(m))},
    )
