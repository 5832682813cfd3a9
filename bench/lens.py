"""Throughput of the token lens: encode + vocabulary projection + top-k, per offline model.

For each model, on the first ``--n-texts`` unique STS-B test sentences:

- ``texts_per_s``: texts per second of the whole path (``lens.encode`` batched, then
  ``keytokens.heads.topk`` with k = 10 on the embeddings, batched);
- ``projection_share``: time of the projection plus top-k (with the default filter's mask, as
  ``keytokens tokens`` runs it) divided by the time of the forward pass (``encode``), target < 5 %;
  ``projection_share_of_total`` divides by encode + projection instead; ``_unmasked`` and
  ``_content_mask``: the same without a mask and with the content filter's mask;
- one-at-a-time projection latency (``topk`` on one embedding at a time), in ms per text;
- model load time, measured apart from everything else.

Every timed step is warmed up first. Writes ``results/lens.json`` (a list of rows) and
``results/lens.md``, both atomically.

    .venv/bin/python bench/lens.py [--models minilm smollm2 smollm2-eol] [--n-texts 512] [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from pathlib import Path

from _common import RESULTS, machine_info, md_cell, write_atomic, write_json

MODELS = ("minilm", "smollm2", "smollm2-eol")
K = 10
TARGET_SHARE = 0.05


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def bench_model(name: str, texts: list[str], *, repeats: int, n_single: int, warmup: int) -> dict:
    import numpy as np

    from keytokens import Lens
    from keytokens.heads import DEFAULT_CHUNK_SIZE, topk
    from keytokens.lens.aligned import token_mask

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    lens, load_s = _timed(Lens.load, name)
    head = lens.head

    # warm-up: the first pass over a set of lengths is several times slower (kernel and allocator
    # set-up per input shape), so by default the whole set is encoded once before timing
    warm_texts = texts if warmup < 0 else texts[: max(warmup, 1)]
    warm_emb, cold_s = _timed(lens.encode, warm_texts)
    topk(head, warm_emb, K)
    for row in warm_emb[:4]:
        topk(head, row[None, :], K, mask=token_mask(lens.vocabulary, "all"))

    emb, encode_s = _timed(lens.encode, texts)
    encode_runs = [encode_s]
    for _ in range(repeats - 1):
        encode_runs.append(_timed(lens.encode, texts)[1])
    encode_s = statistics.median(encode_runs)

    # the projection as `keytokens tokens` runs it: the default filter's mask (placeholders never
    # aligned) and only the allowed rows projected; then unmasked, and with the content filter
    mask = token_mask(lens.vocabulary, "all")
    project_runs = []
    ids = None
    for _ in range(max(repeats, 5)):
        (ids, _scores), seconds = _timed(topk, head, emb, K, mask=mask)
        project_runs.append(seconds)
    project_s = statistics.median(project_runs)
    unmasked_s = statistics.median(_timed(topk, head, emb, K)[1] for _ in range(max(repeats, 5)))
    content = lens.vocabulary.content
    topk(head, emb[:4], K, mask=content)
    content_s = statistics.median(_timed(topk, head, emb, K, mask=content)[1] for _ in range(max(repeats, 5)))

    single_ms, single_ids = [], []
    for row in emb[:n_single]:
        (row_ids, _), seconds = _timed(topk, head, row[None, :], K, mask=mask)
        single_ms.append(1000 * seconds)
        single_ids.append(row_ids[0])
    matches = bool(np.array_equal(np.stack(single_ids), ids[:n_single])) if single_ids else None

    n = len(texts)
    batch_size = getattr(lens.embedder, "batch_size", None)
    n_tokens = [len(t) for t in lens.vocabulary.token_ids(texts)]
    row = {
        "model": name,
        "n_texts": n,
        "texts_per_s": n / (encode_s + project_s),
        "projection_share": project_s / encode_s,
        "projection_share_of_total": project_s / (encode_s + project_s),
        "projection_share_ok": project_s / encode_s < TARGET_SHARE,
        "projection_share_unmasked": unmasked_s / encode_s,
        "projection_share_content_mask": content_s / encode_s,
        "projected_tokens": int(head.vocab_size if mask is None else mask.sum()),
        "content_tokens": int(content.sum()),
        "encode_texts_per_s": n / encode_s,
        "load_s": load_s,
        "encode_s": encode_s,
        "encode_runs_s": encode_runs,
        "encode_warmup_s": cold_s,
        "n_warmup": len(warm_texts),
        "project_s": project_s,
        "project_runs_s": project_runs,
        "project_ms_per_text_batched": 1000 * project_s / n,
        "project_single_ms_median": statistics.median(single_ms) if single_ms else None,
        "project_single_ms_mean": statistics.fmean(single_ms) if single_ms else None,
        "project_single_ms_p90": float(np.percentile(single_ms, 90)) if single_ms else None,
        "n_single": len(single_ms),
        "single_matches_batched": matches,
        "k": K,
        "chunk_size": DEFAULT_CHUNK_SIZE,
        "batch_size": batch_size,
        "hidden_size": head.hidden_size,
        "vocab_size": head.vocab_size,
        "head": head.name,
        "mean_text_tokens": statistics.fmean(n_tokens),
        "loadavg_1m_before": load_before,
        "loadavg_1m_after": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "machine": machine_info(),
    }
    del lens, emb, warm_emb
    gc.collect()
    return row


def render_markdown(rows: list[dict], *, dataset: str) -> str:
    cols = [
        ("model", "model"),
        ("n_texts", "texts"),
        ("texts_per_s", "texts/s (encode+top-k)"),
        ("encode_texts_per_s", "texts/s (encode)"),
        ("projection_share", "projection / forward"),
        ("projection_share_unmasked", "unmasked"),
        ("projection_share_content_mask", "content mask"),
        ("projected_tokens", "tokens projected"),
        ("project_ms_per_text_batched", "projection ms/text (batched)"),
        ("project_single_ms_median", "projection ms/text (one at a time, median)"),
        ("load_s", "load s"),
        ("loadavg_1m_after", "load avg (1 min)"),
        ("batch_size", "batch"),
        ("vocab_size", "|V|"),
        ("hidden_size", "d"),
    ]
    lines = [
        "# Token lens throughput",
        "",
        f"{dataset}; k = {K}; projection = `keytokens.heads.topk` on the computed embeddings with the default "
        "filter's mask (placeholder tokens never aligned: only the other rows are projected), as `keytokens tokens` "
        "runs it; `unmasked` projects every row, `content mask` only content tokens (sparse expansion's mask) "
        f"(batched, chunk {rows[0]['chunk_size'] if rows else '?'}); after a warm-up, encode time = median of "
        f"{len(rows[0]['encode_runs_s']) if rows else '?'} runs, projection time = median of "
        f"{len(rows[0]['project_runs_s']) if rows else '?'}; projection share = projection time / encode time, "
        f"target < {TARGET_SHARE:.0%}; texts/s counts both. Model load time is measured apart. The load average, "
        "taken after each model, shows whether other work shared the CPUs.",
        "",
        "| " + " | ".join(md_cell(title) for _, title in cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for row in rows:
        cells = []
        for key, _ in cols:
            value = row[key]
            if key == "projection_share":
                cells.append(f"{100 * value:.2f} %" + ("" if row["projection_share_ok"] else " (over target)"))
            elif key.startswith("projection_share"):
                cells.append(f"{100 * value:.2f} %")
            elif isinstance(value, float):
                cells.append(f"{value:.3f}" if value < 10 else f"{value:.1f}")
            else:
                cells.append(md_cell(value))
        lines.append("| " + " | ".join(cells) + " |")
    if rows:
        m = rows[0]["machine"]
        blas = ", ".join(
            f"{b.get('internal_api')} {b.get('version')} ({b.get('num_threads')} threads)" for b in m["blas"]
        )
        lines += [
            "",
            f"Machine: {m['platform']}, {m['cpu_count']} CPUs ({m['cpus_usable']} usable); "
            f"torch {m.get('torch')} with {m.get('torch_threads')} threads; numpy {m['numpy']}, BLAS: {blas}.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), help="preset names (default: %(default)s)")
    parser.add_argument("--n-texts", type=int, default=512, help="first N unique STS-B test sentences")
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="where lens.json and lens.md go")
    parser.add_argument("--repeats", type=int, default=3, help="timed encode runs per model (median taken)")
    parser.add_argument("--n-single", type=int, default=128, help="texts for the one-at-a-time latency")
    parser.add_argument("--warmup", type=int, default=-1, help="texts encoded before timing (-1: all of them)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch's own, one per core)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from keytokens.datasets import load_texts

    texts = load_texts("sts-b", limit=args.n_texts)
    dataset = f"first {len(texts)} unique STS-B test sentences"
    rows = []
    for name in args.models:
        print(f"[lens] {name}: {dataset}", flush=True)
        row = bench_model(name, texts, repeats=max(args.repeats, 1), n_single=args.n_single, warmup=args.warmup)
        print(
            f"[lens] {name}: {row['texts_per_s']:.1f} texts/s, projection share {100 * row['projection_share']:.2f} %, "
            f"one-at-a-time projection {row['project_single_ms_median']:.2f} ms, load {row['load_s']:.1f} s",
            flush=True,
        )
        rows.append(row)
    write_json(args.out_dir / "lens.json", rows)
    write_atomic(args.out_dir / "lens.md", render_markdown(rows, dataset=dataset))
    print(f"[lens] wrote {args.out_dir / 'lens.json'} and {args.out_dir / 'lens.md'}")


if __name__ == "__main__":
    main()
