"""Top-k of vocabulary logits: ``heads.base.top_k_rows`` (group-max bound) vs a per-row ``argpartition``.

    OMP_NUM_THREADS=1 .venv/bin/python bench/topk.py

Logits are MiniLM's head applied to the embeddings of the first 256 unique STS-B test sentences
(``(256, 30522)`` float32, one chunk of ``heads.topk``), k = 10 and 64; each method's time is the
fastest of 7 runs, in the same process, alternating. The projection (matrix product) is timed
alongside for scale, and the matrix product in float32, bfloat16 and float16 (torch, one thread:
half precision only pays on CPUs with AVX512-BF16/FP16 or AMX). Writes bench/results/topk.json and topk.md.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine_info, write_atomic, write_json

RUNS = 7


def argpartition_top_k(logits: np.ndarray, k: int):
    """What ``heads.topk`` did before: partial sort, then sort the k (ties at the cut: any of them)."""
    part = np.argpartition(-logits, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(logits, part, axis=1)
    order = np.lexsort((part, -values), axis=1)
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(values, order, axis=1)


def fastest(fn) -> float:
    best = np.inf
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return 1000 * best


def main() -> None:
    from keytokens.datasets import load_texts
    from keytokens.heads.base import top_k_rows
    from keytokens.lens import Lens

    lens = Lens.load("minilm")
    texts = load_texts("sts-b", limit=256)
    logits = lens.head.project(lens.encode(texts, role="document"))
    rows = []
    for k in (10, 64):
        same = np.array_equal(top_k_rows(logits, k)[1], argpartition_top_k(logits, k)[1])
        row = {"k": k, "shape": list(logits.shape), "same_scores": bool(same),
               "argpartition_ms": fastest(lambda k=k: argpartition_top_k(logits, k)),
               "group_max_ms": fastest(lambda k=k: top_k_rows(logits, k))}  # fmt: skip
        rows.append(row)
        print(f"[topk] {row}", flush=True)
    emb = lens.encode(texts, role="document")
    project_ms = fastest(lambda: lens.head.project(emb))
    half = half_precision(emb, lens.head.weight)
    result = {"command": "python bench/topk.py", "machine": machine_info(), "load_average": list(os.getloadavg()),
              "texts": len(texts), "project_ms": project_ms, "matmul_ms_by_dtype": half, "rows": rows}  # fmt: skip
    md = ["# Top-k of MiniLM's vocabulary logits", "", f"Command: `{result['command']}`; load average "
          f"{result['load_average']}; {len(texts)} STS-B sentences, logits {logits.shape}; projection "
          f"(matrix product) {project_ms:.1f} ms for all of them.", "",
          "| k | argpartition ms | group-max ms | speed-up | same scores |", "|---|---|---|---|---|"]  # fmt: skip
    tail = ["", "Matrix product (embeddings @ Wᵀ) in torch, one thread, by dtype (ms): "
            + ", ".join(f"{k} {v:.1f}" for k, v in half.items())
            + f"; CPU capability {half_capability()}."]  # fmt: skip
    for r in rows:
        speedup = r["argpartition_ms"] / r["group_max_ms"]
        cells = [r["k"], f"{r['argpartition_ms']:.1f}", f"{r['group_max_ms']:.1f}", f"{speedup:.1f}×", r["same_scores"]]
        md.append("| " + " | ".join(map(str, cells)) + " |")
    md += tail
    write_json(RESULTS / "topk.json", result)
    write_atomic(RESULTS / "topk.md", "\n".join(md) + "\n")
    print("\n".join(md))


def half_precision(emb: np.ndarray, weight: np.ndarray) -> dict:
    """The projection's matrix product in float32, bfloat16 and float16 (torch, one thread)."""
    import torch

    torch.set_num_threads(1)
    h, w = torch.from_numpy(np.ascontiguousarray(emb)), torch.from_numpy(np.ascontiguousarray(weight))
    out = {}
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        a, b = h.to(dtype), w.to(dtype)
        out[str(dtype).removeprefix("torch.")] = fastest(lambda a=a, b=b: a @ b.T)
    return out


def half_capability() -> str:
    import torch

    return torch.backends.cpu.get_cpu_capability()


if __name__ == "__main__":
    main()
