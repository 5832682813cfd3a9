"""EmbeddingGemma through its tied embeddings by dot product vs by cosine, raw vs centred (issue 12's scratch check).

The ``embeddinggemma`` head ranks tokens by ``e_v · p`` (``p`` the pooled state before the Dense layers).
By cosine it ranks them by ``e_v · p / ‖e_v‖`` instead: the head's rows divided by the norms of the input
embeddings. Centring removes the mean of all STS-B test embeddings. Scores the four alignment
definitions on the first ``--limit`` unique STS-B test sentences (embeddings from ``bench/alignment.py``'s
cache; the mean is taken over all of them) and writes ``results/gemma/cosine.json`` and ``cosine.md``.

    .venv/bin/python bench/gemma_cosine.py [--limit 500]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from _common import RESULTS, md_cell, write_atomic, write_json
from alignment import EXAMPLES, K, embeddings_for


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=500, help="sentences scored (default: %(default)s)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS / "gemma")
    args = parser.parse_args(argv)

    import numpy as np

    from keytokens import Lens, aligned_tokens, alignment_scores
    from keytokens.datasets import load_texts

    texts = load_texts("sts-b")
    lens = Lens.load("embeddinggemma")
    emb, _, _ = embeddings_for(lens, "embeddinggemma", "sts-b", texts)
    norms = np.linalg.norm(lens.embedder.transformer.get_input_embeddings().weight.detach().numpy(), axis=1)
    cosine = dataclasses.replace(lens.head, weight=lens.head.weight / np.maximum(norms, 1e-12)[:, None])
    mean = emb.mean(axis=0)
    scored, example_emb = texts[: args.limit], lens.encode(list(EXAMPLES))
    rows, examples = [], {}
    for head_name, head in (("dot", lens.head), ("cosine", cosine)):
        for centring, shift in (("raw", 0.0), ("centred", mean)):
            name = f"{head_name}, {centring}"
            for s in alignment_scores(emb[: args.limit] - shift, scored, head, lens.vocabulary, k=K):
                rows.append({"variant": name, "definition": s.definition, "hit": s.hit, "lar": s.lar, "gar": s.gar})
            found = aligned_tokens(example_emb - shift, head, lens.vocabulary, k=K, token_filter="content")
            examples[name] = [list(t) for t in found.tokens]
            print(f"[gemma-cosine] {name}: paper Hit@{K} {rows[-4]['hit']:.3f}", flush=True)
    write_json(args.out_dir / "cosine.json", {"n_texts": len(scored), "rows": rows, "examples": examples})
    lines = [f"# embeddinggemma: dot vs cosine head, raw vs centred (first {len(scored)} STS-B test sentences)", ""]
    lines += [f"| variant | definition | Hit@{K} | LAR | GAR |", "|---|---|---|---|---|"]
    lines += [
        "| " + " | ".join(md_cell(r[c]) for c in ("variant", "definition", "hit", "lar", "gar")) + " |" for r in rows
    ]
    for i, text in enumerate(EXAMPLES):
        lines += ["", f"**{text}** (content tokens)", "", "| variant | tokens |", "|---|---|"]
        lines += [f"| {name} | {md_cell(' '.join(ex[i]))} |" for name, ex in examples.items()]
    write_atomic(args.out_dir / "cosine.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
