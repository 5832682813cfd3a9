"""Markdown for the retrieval benchmark: result tables, the issue's targets, chosen configurations, tuning evidence."""

from __future__ import annotations

from collections import defaultdict

from _common import md_cell

RATIO_TARGET = 0.90
FITTED_RATIO_TARGET = 0.95
SPEEDUP_TARGET = 50.0
TITLE = "# Retrieval: aligned-token sparse vs dense, hybrid, BM25 and SPLADE"


def tuning_protocol() -> dict:
    """The tuning grid, as recorded in ``retrieval_tuning.json``."""
    import retrieval as r

    return {
        "split": "train qrels of each dataset; the report split is never used for a choice",
        "metric": "nDCG@10 (ties: the first in grid order)",
        "A-grid": {k: list(v) for k, v in r.GRID.items()},
        "B-k": {"k": list(r.K_SWEEP), "rule": f"smallest K within {r.K_TOLERANCE:.0%} of the best K's nDCG@10"},
        "C-qexp": {"expansion": list(r.M_SWEEP), "query_weights": list(r.GRID["query_weights"])},
        "D-dense": {"similarity": list(r.DENSE_SIMILARITIES)},
        "E-hybrid": {"fusions": [[f, list(w)] for f, w in r.FUSIONS], "rrf_k": r.RRF_K},
    }


def _f(value, digits: int = 3) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:
            return "nan"
        if abs(value) < 10:
            return f"{value:.{digits}f}"
        return f"{value:.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    return md_cell(value)


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_f(c) if not isinstance(c, str) else md_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def results_tables(rows: list[dict]) -> list[str]:
    header = [
        "model",
        "system",
        "nDCG@10",
        "Recall@100",
        "MRR@10",
        "nDCG × dense",
        "nDCG × BM25",
        "p50 ms",
        "p95 ms",
        "index build s",
        "+ forward pass s",
        "bytes/doc",
        "nnz/doc",
    ]
    lines = []
    by_dataset = defaultdict(list)
    for row in rows:
        if row["dataset"] != "synthetic-1m":
            by_dataset[(row["dataset"], row["split"])].append(row)
    for (dataset, split), group in by_dataset.items():
        lines += [f"### {dataset} ({split}, {group[0].get('n_queries', '?')} queries)", ""]
        cells = [
            [
                r["model"],
                r["system"],
                r["ndcg@10"],
                r["recall@100"],
                r.get("mrr@10"),
                r.get("sparse_dense_ratio"),
                r.get("ndcg_over_bm25"),
                r["query_ms_p50"],
                r["query_ms_p95"],
                r.get("index_build_s"),
                r.get("corpus_encode_s"),
                r["index_bytes_per_doc"],
                r.get("nnz_per_doc"),
            ]
            for r in group
        ]
        lines += _table(header, cells)
    return lines


def _find(rows, dataset, model, system):
    return next((r for r in rows if (r["dataset"], r["model"], r["system"]) == (dataset, model, system)), None)


def targets(rows: list[dict]) -> list[str]:
    """The issue's targets, met or missed and by how much."""
    lines = ["## Targets", ""]
    cells = []
    datasets = list(dict.fromkeys(r["dataset"] for r in rows if r["dataset"] != "synthetic-1m"))
    for dataset in datasets:
        bm25 = _find(rows, dataset, "bm25s", "bm25")
        sparse_rows = [r for r in rows if r["dataset"] == dataset and r["system"] == "sparse"]
        for sparse in sparse_rows:
            dense = _find(rows, dataset, sparse["model"], "dense")
            if dense:
                ratio = sparse["ndcg@10"] / dense["ndcg@10"]
                need = RATIO_TARGET * dense["ndcg@10"] - sparse["ndcg@10"]
                verdict = "met" if ratio >= RATIO_TARGET else f"missed: {need:.3f} nDCG@10 short"
                cells.append([dataset, sparse["model"], "sparse ≥ 0.90 × dense", f"{ratio:.3f} × dense", verdict])
                speed = dense["query_ms_p50"] / sparse["query_ms_p50"]
                verdict = "met" if speed >= SPEEDUP_TARGET else f"missed: {SPEEDUP_TARGET / speed:.1f}× too slow"
                cells.append([dataset, sparse["model"], "sparse ≥ 50× faster than dense", f"{speed:.1f}×", verdict])
            if bm25:
                lat = sparse["query_ms_p50"] / bm25["query_ms_p50"]
                native = bm25.get("bm25s_native_query_ms_p50")
                extra = f" (bm25s native retrieve: {sparse['query_ms_p50'] / native:.2f}×)" if native else ""
                verdict = "met" if lat <= 1 else f"missed: {lat:.2f}× bm25s's p50"
                cells.append([dataset, sparse["model"], "sparse p50 ≤ bm25s p50", f"{lat:.2f}×{extra}", verdict])
        cells += fitted_targets(rows, dataset, bm25)
        if bm25 and sparse_rows:
            best = max(sparse_rows, key=lambda r: r["ndcg@10"])
            gap = best["ndcg@10"] - bm25["ndcg@10"]
            verdict = "met" if gap >= 0 else f"missed by {-gap:.3f} nDCG@10"
            text = f"{best['model']} {best['ndcg@10']:.3f} vs BM25 {bm25['ndcg@10']:.3f}"
            cells.append([dataset, best["model"], "best embedder's sparse ≥ BM25", text, verdict])
    lines += _table(["dataset", "model", "target", "measured", "verdict"], cells)
    return lines


def fitted_targets(rows: list[dict], dataset: str, bm25: dict | None) -> list[list[str]]:
    """Issue 4's goals for fitted-head models: sparse ≥ 0.95 × dense and ≥ BM25; hybrid above dense and BM25."""
    cells = []
    for sparse in [r for r in rows if r["dataset"] == dataset and r["system"] == "sparse"]:
        if not sparse["model"].endswith("+fitted"):
            continue
        model = sparse["model"]
        dense, hybrid = _find(rows, dataset, model, "dense"), _find(rows, dataset, model, "hybrid")
        if dense:
            ratio = sparse["ndcg@10"] / dense["ndcg@10"]
            verdict = "met" if ratio >= FITTED_RATIO_TARGET else f"missed by {FITTED_RATIO_TARGET - ratio:.3f} × dense"
            cells.append([dataset, model, "sparse ≥ 0.95 × dense (issue 4)", f"{ratio:.3f} × dense", verdict])
        if bm25:
            gap = sparse["ndcg@10"] - bm25["ndcg@10"]
            verdict = "met" if gap >= 0 else f"missed by {-gap:.3f} nDCG@10"
            text = f"{sparse['ndcg@10']:.3f} vs BM25 {bm25['ndcg@10']:.3f}"
            cells.append([dataset, model, "sparse ≥ BM25 (issue 4)", text, verdict])
        if hybrid and dense and bm25:
            bar = max(dense["ndcg@10"], bm25["ndcg@10"])
            verdict = "met" if hybrid["ndcg@10"] > bar else f"missed by {bar - hybrid['ndcg@10']:.3f} nDCG@10"
            text = f"{hybrid['ndcg@10']:.3f} vs dense {dense['ndcg@10']:.3f}, BM25 {bm25['ndcg@10']:.3f}"
            cells.append([dataset, model, "hybrid > dense and > BM25 (issue 4)", text, verdict])
    return cells


def chosen_table(tuning: dict) -> list[str]:
    header = ["dataset", "model", "head", "K", "weighting", "centering", "own tokens", "query weights", "M (qexp)"]
    header += ["qexp query weights", "dense similarity", "fusion"]
    cells = []
    for dataset, models in tuning.items():
        for model, result in models.items():
            c, h = result["chosen"], result.get("chosen_head")
            head = f"ridge, {h['target']} target, λ {h['l2']}, fitted on the documents indexed" if h else "its own"
            fusion = f"{c['fusion']} {c['fusion_weights']}"
            cells.append([dataset, model, head, str(c["k"]), c["weighting"], c["centering"], str(c["keep_own_tokens"])])
            cells[-1] += [c["query_weights"], str(c["expansion"]), c["qexp_query_weights"], c["similarity"], fusion]
    return ["## Chosen configurations (train qrels)", "", *_table(header, cells)]


def aligned_only_table(rows: list[dict], tuning: dict) -> list[str]:
    """The paper's recipe without the document's own tokens, chosen on train, on the report split."""
    cells = []
    for dataset, models in tuning.items():
        for model, result in models.items():
            r = result.get("report_aligned_only")
            if not r:
                continue
            dense = _find(rows, dataset, model, "dense")
            ratio = r["ndcg@10"] / dense["ndcg@10"] if dense else None
            config = f"K {r['k']}, {r['weighting']}, centering {r['centering']}, {r['query_weights']} queries"
            cells.append([dataset, r["split"], model, config, r["ndcg@10"], r["recall@100"], ratio, r["nnz_per_doc"]])
    if not cells:
        return []
    header = ["dataset", "split", "model", "configuration (chosen on train)", "nDCG@10", "Recall@100", "× dense"]
    header.append("nnz/doc")
    intro = (
        "Sparse with aligned tokens only (no own tokens kept: the recipe as PAPER.md §4 reconstructs it), "
        "tokenizer-only queries; the best such configuration on train, evaluated once on the report split."
    )
    return ["## Aligned tokens only", "", intro, "", *_table(header, cells)]


def head_table(tuning: dict) -> list[str]:
    """Fitted-head models: the stage-0 choice of the head's target and ridge strength."""
    cells = []
    for dataset, models in tuning.items():
        for model, result in models.items():
            chosen = result.get("chosen_head")
            for r in result.get("head_rows", []):
                picked = "chosen" if (r["head_target"], r["head_l2"]) == (chosen["target"], chosen["l2"]) else ""
                cells.append([dataset, model, r["head_target"], r["head_l2"], r["ndcg@10"], r["recall@100"], picked])
    if not cells:
        return []
    intro = (
        "`MODEL+fitted`: the model's embeddings read through a linear head fitted by ridge regression on the "
        "**documents being indexed** (their embeddings → their own token distribution; no labels, no queries). "
        "Stage 0 picks the target and λ on the train qrels, each probed with aligned tokens only (K 256, relu, "
        "IDF queries); stages A–E then tune the index as for every model. How these heads fare on corpora they "
        "were not fitted on: `fitted_heads.md`."
    )
    header = ["dataset", "model", "target", "λ", "train nDCG@10", "train Recall@100", ""]
    return ["## Fitted heads (stage 0)", "", intro, "", *_table(header, cells)]


def _grid_pivot(rows: list[dict]) -> list[str]:
    """Stage A: best train nDCG@10 per centering × weighting, without and with the document's own tokens."""
    best: dict = {}
    for r in rows:
        key = (r["centering"], r["weighting"], r["keep_own_tokens"])
        if key not in best or r["ndcg@10"] > best[key]["ndcg@10"]:
            best[key] = r
    cells = []
    for centering, weighting in dict.fromkeys((c, w) for c, w, _ in best):
        row = [centering, weighting]
        for own in (False, True):
            r = best.get((centering, weighting, own))
            row.append("" if r is None else f"{r['ndcg@10']:.3f} (K {r['k']}, {r['query_weights']})")
        cells.append(row)
    return _table(["centering", "weighting", "aligned tokens only", "+ own tokens"], cells)


def tuning_tables(tuning: dict) -> list[str]:
    lines = ["## Tuning evidence (train qrels, nDCG@10)", ""]
    for dataset, models in tuning.items():
        for model, result in models.items():
            rows = result["rows"]
            stage = defaultdict(list)
            for r in rows:
                stage[r["stage"]].append(r)
            n = len(rows)
            lines += [f"### {dataset} / {model} ({n} evaluations on {rows[0]['split']})", ""]
            lines += ["Stage A (K = 128), best over query weights:", "", *_grid_pivot(stage["A-grid"])]
            for name, title in (("B-k", "Stage B, K sweep of the best"), ("B-k-aligned", "K sweep, aligned only")):
                first = stage[name][0] if stage[name] else None
                if first is None:
                    continue
                what = f"{first['weighting']}, centering {first['centering']}, own tokens {first['keep_own_tokens']}"
                k_cells = [[str(r["k"]), r["ndcg@10"], r["recall@100"], r["nnz_per_doc"]] for r in stage[name]]
                header = ["K", "nDCG@10", "Recall@100", "nnz/doc"]
                lines += [f"{title} ({what}, {first['query_weights']} queries):", "", *_table(header, k_cells)]
            qexp = stage["C-qexp"]
            m_cells = [[str(r["expansion"]), r["query_weights"], r["ndcg@10"], r["recall@100"]] for r in qexp]
            m_header = ["M", "query weights", "nDCG@10", "Recall@100"]
            lines += ["Stage C, query expansion:", "", *_table(m_header, m_cells)]
            d_cells = [["dense", r["similarity"], r["ndcg@10"], r["recall@100"]] for r in stage["D-dense"]]
            d_cells += [
                ["hybrid", f"{r['fusion']} {r['fusion_weights']}", r["ndcg@10"], r["recall@100"]]
                for r in stage["E-hybrid"]
            ]
            lines += ["Stages D and E, dense similarity and fusion:", ""]
            lines += _table(["system", "setting", "nDCG@10", "Recall@100"], d_cells)
    return lines


def synthetic(rows: list[dict]) -> list[str]:
    found = [r for r in rows if r["dataset"] == "synthetic-1m"]
    if not found:
        return []
    r = found[0]
    text = (
        f"{r['n_docs']:,} documents, {r['nnz_per_doc']:.1f} non-zeros each on average "
        f"({r['docs_below_target_nnz']:,} below {r['nnz_target']}), vocabulary {r['vocab_size']:,}, "
        f"Zipf exponent {r['zipf_exponent']}; queries draw {r['query_tokens_drawn']} tokens from the same "
        f"distribution (IDF weights), top-{r['k']}, one query per call."
    )
    build = [
        [
            r["generate_s"],
            r["index_build_s"],
            r["build_peak_traced_bytes"] / 2**20,
            r["process_peak_rss_bytes"] / 2**20,
            r["index_bytes"] / 2**20,
            r["index_bytes_per_doc"],
        ]
    ]
    header = ["generate s", "build s", "build peak MiB (tracemalloc)", "process peak RSS MiB", "index MiB", "bytes/doc"]
    queries = [
        [name, r[f"{p}query_ms_p50"], r[f"{p}query_ms_p95"], r[f"{p}postings_touched_p50"]]
        for name, p in (("Zipf-drawn tokens", ""), ("uniformly drawn tokens", "uniform_"))
    ]
    q_header = ["queries", "p50 ms", "p95 ms", "postings touched p50"]
    return ["## Synthetic 1M-document index", "", text, "", *_table(header, build), *_table(q_header, queries)]


def notes(rows: list[dict]) -> list[str]:
    ctx = next((r.get("context") for r in rows if r.get("context")), None) or {}
    m = ctx.get("machine", {})
    return [
        "## How the numbers are made",
        "",
        "- Quality: keytokens.evaluation.evaluate (pytrec-eval; nDCG@10 = trec_eval `ndcg_cut.10`, MRR@10 on the run "
        "cut at 10), depth 100, every judged query of the split counted. Query embeddings for scoring are computed "
        "once (cached) and served to the same retrievers; the latency runs go through the model.",
        "- Latency: one `search([query], k=100)` call per query over the report split's queries (up to 300), after "
        "10 warm-up queries; includes tokenization, the model forward pass where the system needs one (dense, "
        "sparse+qexp, hybrid, splade), scoring and top-100. The `sparse` row never runs the model. Each query is "
        "timed in 3 passes and its fastest is kept, so preemption by other jobs on this shared 2-core machine stays "
        "out of the percentiles; the first pass's own p50/p95 are in the JSON (`query_ms_p50_first_pass`).",
        "- Index build s: from computed embeddings (projection through the head, top-K, CSC postings; dense: array "
        "prep; BM25: tokenizing, stemming and indexing). `+ forward pass s` is the corpus forward pass, estimated "
        "from a timed random sample of 128 documents (the corpus embeddings themselves are cached).",
        "- Bytes/doc: the arrays a search reads (postings, weights, ids, centering; dense: the float32 matrix; "
        "BM25: bm25s's score matrix); tokenizers and vocabularies are not counted.",
        f"- Machine: {m.get('platform')}, {m.get('cpus_usable')} usable CPUs shared with other work (the load average "
        "before and after each latency run is in the JSON), torch threads "
        f"{m.get('torch_threads')}. Command: `{ctx.get('command')}`; git {ctx.get('git')}.",
        "",
    ]


def render(rows: list[dict], tuning: dict) -> str:
    lines = [TITLE, "", "Written by `bench/retrieval.py`; rows in `retrieval.json`, tuning in `retrieval_tuning.json`."]
    lines += ["", "## Results (report splits)", "", *results_tables(rows), *targets(rows), *chosen_table(tuning)]
    lines += aligned_only_table(rows, tuning)
    lines += head_table(tuning)
    lines += [*synthetic(rows), *tuning_tables(tuning), *notes(rows)]
    return "\n".join(lines)
