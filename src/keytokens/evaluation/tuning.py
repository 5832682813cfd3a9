"""Choosing a recipe on train qrels: a staged search over every retrieval setting.

``tune(datasets, lens)`` scores each candidate on the judged queries of the given splits (train qrels:
never test or dev) and keeps the best by the mean metric over the datasets, one stage at a time:

1. ``lexical``: term normalisation × BM25 ``k1`` × ``b`` on the documents' own tokens;
2. ``expansion``: no expansion, or the top-K aligned tokens of the model's head or of a head fitted on
   the corpus, for each K of the grid;
3. ``dense``: the dense similarity (cosine or dot);
4. ``fusion``: normalised-score interpolation at every weight of the grid (pure sparse and pure dense
   included, so on the tuning data the hybrid is never below its better side) and reciprocal-rank fusion.

The model runs once per corpus and once per query set (both cached); every candidate after that is
numpy and scipy over those embeddings. Several datasets make one choice for all (the ``default`` recipe
is chosen this way on SciFact and NFCorpus train); one dataset tunes a recipe for one's own data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from keytokens.errors import InputError
from keytokens.evaluation.beir import BeirDataset
from keytokens.evaluation.runner import evaluate
from keytokens.ranking import SearchResults
from keytokens.retrieval.recipes import FusionConfig, Recipe, get_recipe
from keytokens.sparse.expansion import ExpansionConfig
from keytokens.sparse.lexical import LexicalConfig, LexicalIndexConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TuningGrid:
    """The candidates of each stage.

    Attributes:
        normalize: term normalisations (:data:`~keytokens.sparse.lexical.NORMALIZATIONS`).
        k1: BM25 saturations.
        b: BM25 length normalisations.
        expansion_heads: expansion heads (``model``, ``fitted``); no expansion is always a candidate.
        expansion_k: aligned tokens per document.
        l2: ridge strengths of a fitted head.
        similarity: dense similarities.
        fusion_weights: sparse weights ``w`` of interpolation (dense gets ``1 − w``).
    """

    normalize: tuple[str, ...] = ("none", "surface", "stem")
    k1: tuple[float, ...] = (0.9, 1.2)
    b: tuple[float, ...] = (0.4, 0.75)
    expansion_heads: tuple[str, ...] = ("model", "fitted")
    expansion_k: tuple[int, ...] = (4, 8, 16, 32)
    l2: tuple[float, ...] = (1.0,)
    similarity: tuple[str, ...] = ("cosine", "dot")
    fusion_weights: tuple[float, ...] = tuple(round(w, 2) for w in np.linspace(0.0, 1.0, 11))

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {name: list(getattr(self, name)) for name in self.__slots__}


#: A small grid for quick runs and tests.
QUICK_GRID = TuningGrid(
    normalize=("none", "surface"), k1=(0.9,), b=(0.4,), expansion_k=(8,), similarity=("cosine",),
    fusion_weights=(0.0, 0.3, 0.5, 0.7, 1.0),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Trial:
    """One candidate's scores.

    Attributes:
        stage: ``lexical``, ``expansion``, ``dense`` or ``fusion``.
        system: ``sparse``, ``dense`` or ``hybrid``.
        recipe: the candidate's settings (:meth:`Recipe.to_dict`).
        scores: dataset name → the metric on its tuning split.
        mean: the mean over datasets (what is maximised).
    """

    stage: str
    system: str
    recipe: dict
    scores: dict[str, float]
    mean: float

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "stage": self.stage,
            "system": self.system,
            "recipe": self.recipe,
            "scores": self.scores,
            "mean": self.mean,
        }


@dataclass(frozen=True, slots=True)
class TuningResult:
    """What :func:`tune` chose and every candidate it scored.

    Attributes:
        recipe: the chosen recipe (its ``provenance`` says how it was chosen).
        metric: the metric maximised.
        datasets: ``name/split`` of each tuning dataset.
        trials: every candidate, in the order scored.
        seconds: wall time.
    """

    recipe: Recipe
    metric: str
    datasets: tuple[str, ...]
    trials: tuple[Trial, ...]
    seconds: float
    grid: dict = field(default_factory=dict)

    def best(self, stage: str) -> Trial:
        """The best candidate of a stage."""
        return max((t for t in self.trials if t.stage == stage), key=lambda t: t.mean)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "recipe": self.recipe.to_dict(),
            "metric": self.metric,
            "datasets": list(self.datasets),
            "grid": self.grid,
            "seconds": round(self.seconds, 2),
            "trials": [t.to_dict() for t in self.trials],
        }


class _Stored:
    """A retriever replaying stored results of known queries (fusion candidates reuse both sides' runs)."""

    def __init__(self, queries: Sequence[str], results: SearchResults, name: str) -> None:
        self.rows = {q: i for i, q in enumerate(queries)}
        self.results = results
        self.name = name

    def search(self, queries: Sequence[str], *, k: int) -> SearchResults:
        rows = [self.rows[q] for q in queries]
        return SearchResults(
            doc_ids=tuple(self.results.doc_ids[r][:k] for r in rows),
            scores=tuple(self.results.scores[r][:k] for r in rows),
        )


class _Context:
    """One tuning dataset: its embeddings, tokens and runs, computed once and shared by every candidate."""

    def __init__(self, dataset: BeirDataset, lens, *, cache, show_progress: bool, depth: int) -> None:
        from keytokens.evaluation.systems import query_embedder
        from keytokens.sparse.corpus import encode_corpus_embeddings, lens_settings
        from keytokens.sparse.tokenizer import tokenize

        self.dataset, self.lens, self.depth = dataset, lens, depth
        self.name = f"{dataset.name}/{dataset.split}"
        self.embeddings = encode_corpus_embeddings(
            lens.embedder, dataset.doc_texts, role="document", cache=cache, settings=lens_settings(lens),
            show_progress=show_progress,
        )  # fmt: skip
        self.tokens = tokenize(lens.vocabulary.tokenizer, list(dataset.doc_texts))
        self.query_embedder = query_embedder(lens, dataset.query_texts, cache=cache)
        self._maps: dict[str, np.ndarray] = {}
        self._expansions: dict[tuple, np.ndarray] = {}
        self.runs: dict[str, SearchResults] = {}

    def token_map(self, normalize: str) -> np.ndarray:
        from keytokens.sparse.lexical import token_map

        if normalize not in self._maps:
            self._maps[normalize] = token_map(self.lens.vocabulary, normalize)
        return self._maps[normalize]

    def expansion(self, config: ExpansionConfig, k_max: int) -> np.ndarray:
        """``(n, K)`` expansion token ids; the top ``k_max`` are computed once per head and sliced."""
        from keytokens.sparse.expansion import expansion_tokens

        key = (config.head, config.l2, config.centering)
        if key not in self._expansions:
            full = ExpansionConfig(head=config.head, k=k_max, l2=config.l2, centering=config.centering)
            self._expansions[key], _ = expansion_tokens(self.lens, self.embeddings, self.dataset.doc_texts, full)
        return self._expansions[key][:, : config.k]

    def sparse_run(self, documents: LexicalIndexConfig, k_max: int) -> tuple[float, SearchResults]:
        from keytokens.retrieval import SparseRetriever
        from keytokens.sparse.corpus import index_info
        from keytokens.sparse.index import SparseIndex
        from keytokens.sparse.lexical import lexical_vectors, map_tokens
        from keytokens.sparse.queries import QueryConfig

        mapping = self.token_map(documents.lexical.normalize)
        terms = map_tokens(self.tokens, mapping)
        expansion = None
        if documents.expansion.enabled:
            expansion = mapping[self.expansion(documents.expansion, k_max)]
        vectors = lexical_vectors(
            terms, vocab_size=self.lens.head.vocab_size, config=documents.lexical, expansion=expansion
        )
        index = SparseIndex.build(
            vectors, self.dataset.doc_ids, info=index_info(self.lens, documents), token_map=mapping
        )
        retriever = SparseRetriever.from_lens(index, self.lens, query=QueryConfig(weights="one"))
        return self._score(retriever)

    def dense_run(self, similarity: str) -> tuple[float, SearchResults]:
        from keytokens.retrieval import DenseIndex, DenseRetriever

        index = DenseIndex.build(self.embeddings, self.dataset.doc_ids, model=self.lens.name, similarity=similarity)
        return self._score(DenseRetriever(index, self.query_embedder, name="dense"))

    def hybrid_score(self, fusion: FusionConfig) -> float:
        from keytokens.retrieval import HybridRetriever

        queries = list(self.dataset.query_texts)
        parts = [_Stored(queries, self.runs[side], side) for side in ("sparse", "dense")]
        hybrid = HybridRetriever(parts, fusion=fusion.method, weights=fusion.weights, depth=fusion.depth)
        return self._score(hybrid)[0]

    def _score(self, retriever) -> tuple[float, SearchResults]:
        result = evaluate(retriever, self.dataset, depth=self.depth)
        ids = tuple(tuple(d for d, _ in result.run.get(q, ())) for q in self.dataset.query_ids)
        scores = tuple(
            np.asarray([s for _, s in result.run.get(q, ())], dtype=np.float32) for q in self.dataset.query_ids
        )
        return result.metrics[_METRIC], SearchResults(doc_ids=ids, scores=scores)


_METRIC = "ndcg@10"


def tune(
    datasets: Sequence[BeirDataset],
    lens,
    *,
    grid: TuningGrid | None = None,
    name: str = "tuned",
    cache=True,
    show_progress: bool = False,
    on_trial: Callable[[Trial], None] | None = None,
) -> TuningResult:
    """Choose the recipe that maximises mean nDCG@10 over ``datasets`` (their judged queries).

    Args:
        datasets: tuning splits (train qrels), one or several.
        lens: the model.
        grid: the candidates (default :class:`TuningGrid`).
        name: the chosen recipe's name.
        cache: the corpus-encoding cache.
        show_progress: progress bars while encoding.
        on_trial: called with each scored candidate (progress reporting).

    Raises:
        InputError: no dataset, or a dataset with no judged query.
    """
    grid = grid or TuningGrid()
    if not datasets:
        raise InputError("tune needs at least one dataset split with judgments")
    for ds in datasets:
        if not ds.query_ids or not any(ds.qrels.get(q) for q in ds.query_ids):
            raise InputError(f"{ds.name} split {ds.split!r} has no judged query; tune on a split with qrels (train)")
    start = time.perf_counter()
    contexts = [_Context(ds, lens, cache=cache, show_progress=show_progress, depth=100) for ds in datasets]
    search = _Search(contexts, grid, on_trial)
    base = get_recipe("lexical").replace(name=name, model=lens.name, description="")
    base = search.lexical(base)
    base = search.expansion(base)
    base = search.dense(base)
    base, hybrid = search.fusion(base)
    provenance = {
        "chosen_by": "keytokens tune",
        "metric": _METRIC,
        "datasets": [c.name for c in contexts],
        "sparse": _best_mean(search.trials, "expansion"),
        "dense": _best_mean(search.trials, "dense"),
        "hybrid": hybrid,
    }
    return TuningResult(
        recipe=base.replace(tokenizer=_fingerprint(lens), provenance=provenance),
        metric=_METRIC,
        datasets=tuple(c.name for c in contexts),
        trials=tuple(search.trials),
        seconds=time.perf_counter() - start,
        grid=grid.to_dict(),
    )


class _Search:
    """The stages of :func:`tune`; each returns the recipe with its stage's best setting."""

    def __init__(self, contexts: list[_Context], grid: TuningGrid, on_trial) -> None:
        self.contexts, self.grid, self.on_trial = contexts, grid, on_trial
        self.trials: list[Trial] = []
        self.k_max = max(grid.expansion_k) if grid.expansion_k else 1

    def record(self, stage: str, system: str, recipe: Recipe, scores: dict[str, float]) -> Trial:
        trial = Trial(stage, system, recipe.to_dict(), scores, float(np.mean(list(scores.values()))))
        self.trials.append(trial)
        if self.on_trial is not None:
            self.on_trial(trial)
        return trial

    def _sparse(self, stage: str, candidates: list[LexicalIndexConfig], base: Recipe) -> Recipe:
        best, best_runs, best_mean = base, {}, -1.0
        for documents in candidates:
            recipe = base.replace(documents=documents)
            runs = {c.name: c.sparse_run(documents, self.k_max) for c in self.contexts}
            trial = self.record(stage, "sparse", recipe, {n: s for n, (s, _) in runs.items()})
            if trial.mean > best_mean:
                best, best_runs, best_mean = recipe, {n: r for n, (_, r) in runs.items()}, trial.mean
        for c in self.contexts:
            c.runs["sparse"] = best_runs[c.name]
        return best

    def lexical(self, base: Recipe) -> Recipe:
        g, none = self.grid, ExpansionConfig(head="none", k=0)
        candidates = [
            LexicalIndexConfig(LexicalConfig(k1=k1, b=b, normalize=norm), none)
            for norm in g.normalize for k1 in g.k1 for b in g.b
        ]  # fmt: skip
        return self._sparse("lexical", candidates, base)

    def expansion(self, base: Recipe) -> Recipe:
        g, lexical = self.grid, base.documents.lexical
        candidates = [base.documents] + [
            LexicalIndexConfig(lexical, ExpansionConfig(head=head, k=k, l2=l2))
            for head in g.expansion_heads for k in g.expansion_k for l2 in (g.l2 if head == "fitted" else (1.0,))
        ]  # fmt: skip
        return self._sparse("expansion", candidates, base)

    def dense(self, base: Recipe) -> Recipe:
        best, best_runs, best_mean = base, {}, -1.0
        for similarity in self.grid.similarity:
            recipe = base.replace(similarity=similarity)
            runs = {c.name: c.dense_run(similarity) for c in self.contexts}
            trial = self.record("dense", "dense", recipe, {n: s for n, (s, _) in runs.items()})
            if trial.mean > best_mean:
                best, best_runs, best_mean = recipe, {n: r for n, (_, r) in runs.items()}, trial.mean
        for c in self.contexts:
            c.runs["dense"] = best_runs[c.name]
        return best

    def fusion(self, base: Recipe) -> tuple[Recipe, float]:
        fusions = [FusionConfig("interpolation", (w, round(1.0 - w, 2))) for w in self.grid.fusion_weights]
        fusions.append(FusionConfig("rrf", (1.0, 1.0)))
        best, best_mean = base, -1.0
        for fusion in fusions:
            recipe = base.replace(fusion=fusion)
            trial = self.record("fusion", "hybrid", recipe, {c.name: c.hybrid_score(fusion) for c in self.contexts})
            if trial.mean > best_mean:
                best, best_mean = recipe, trial.mean
        return best, best_mean


def _best_mean(trials: list[Trial], stage: str) -> float:
    return max(t.mean for t in trials if t.stage == stage)


def _fingerprint(lens) -> str:
    from keytokens.sparse.tokenizer import tokenizer_fingerprint

    return tokenizer_fingerprint(lens.vocabulary.tokenizer)


__all__ = ["QUICK_GRID", "Trial", "TuningGrid", "TuningResult", "tune"]
