"""Recipes: every retrieval setting in one frozen, named, serialisable record.

A recipe fixes the document side of the sparse index (own tokens with BM25 impacts plus aligned-token
expansion, or aligned tokens only as in the paper), the queries (tokenizer only, or plus the query's
aligned tokens), the dense similarity and the hybrid fusion. :data:`RECIPES` holds the named ones;
``default`` is the recipe that won on the *train* qrels of SciFact and NFCorpus together
(``bench/retrieval.py`` → ``bench/results/retrieval_tuning.json``): one default for every dataset,
chosen without test or dev labels. ``keytokens tune`` finds the best recipe for one's own train qrels
and saves it as a JSON file that ``index``, ``eval``, ``search`` and ``serve`` take with ``--recipe``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from keytokens._version import __version__
from keytokens.errors import InputError, UnknownNameError
from keytokens.retrieval.dense import get_similarity
from keytokens.retrieval.hybrid import get_fusion
from keytokens.sparse.documents import SparseConfig
from keytokens.sparse.expansion import ExpansionConfig
from keytokens.sparse.index import document_config
from keytokens.sparse.lexical import LexicalConfig, LexicalIndexConfig
from keytokens.sparse.queries import QueryConfig

KIND = "keytokens-recipe"
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class FusionConfig:
    """How a hybrid fuses the sparse and the dense ranking.

    Attributes:
        method: key of :data:`~keytokens.retrieval.hybrid.FUSIONS` (``interpolation`` of min-max normalised
            scores, or ``rrf``).
        weights: ``(sparse, dense)`` weights, non-negative, not both 0.
        depth: documents taken from each side before fusing.
    """

    method: str = "interpolation"
    weights: tuple[float, float] = (0.5, 0.5)
    depth: int = 100

    def __post_init__(self) -> None:
        get_fusion(self.method)
        weights = tuple(self.weights)
        if len(weights) != 2 or any(isinstance(w, bool) or not isinstance(w, int | float) for w in weights):
            raise ValueError(f"fusion weights must be two numbers (sparse, dense); got {self.weights!r}")
        if any(w < 0 or w != w for w in weights) or sum(weights) <= 0:
            raise ValueError(f"fusion weights must be non-negative and not both 0; got {self.weights!r}")
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 1:
            raise ValueError(f"fusion depth must be a positive integer; got {self.depth!r}")
        object.__setattr__(self, "weights", tuple(float(w) for w in weights))

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"method": self.method, "weights": list(self.weights), "depth": self.depth}

    @classmethod
    def from_dict(cls, data: Mapping) -> FusionConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(method=str(data["method"]), weights=tuple(data["weights"]), depth=int(data.get("depth", 100)))


def parse_fusion_weights(text: str) -> tuple[float, float]:
    """``"0.35,0.65"`` → ``(0.35, 0.65)`` (sparse, dense).

    Raises:
        InputError: not two comma-separated non-negative numbers.
    """
    parts = [p.strip() for p in str(text).split(",")]
    try:
        weights = tuple(float(p) for p in parts)
    except ValueError:
        raise InputError(
            f"fusion weights {text!r} do not parse; expected two numbers 'SPARSE,DENSE', e.g. 0.3,0.7"
        ) from None
    if len(weights) != 2 or any(w < 0 or w != w or w == float("inf") for w in weights) or sum(weights) <= 0:
        raise InputError(f"fusion weights {text!r}: expected two non-negative numbers 'SPARSE,DENSE', not both 0")
    return weights  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Recipe:
    """Every retrieval setting.

    Attributes:
        name: label (``default``, ``paper`` … or a tuned recipe's name).
        documents: the sparse index's document side.
        query: query weights and query expansion ``M`` (0: tokenizer only, no model run).
        fusion: the hybrid's fusion.
        similarity: the dense similarity (``cosine`` or ``dot``).
        head: a head override for the lens (``lm``, ``embeddings``, ``SOURCE:KIND`` or a fitted-head folder).
        model: the model a tuned recipe was chosen for (None: any).
        tokenizer: that model's tokenizer fingerprint (None: any).
        description: what it is, for people.
        provenance: how it was chosen (dataset, split, metric, score), recorded by ``tune``.
    """

    name: str
    documents: SparseConfig | LexicalIndexConfig
    query: QueryConfig = field(default_factory=lambda: QueryConfig(weights="one"))
    fusion: FusionConfig = field(default_factory=FusionConfig)
    similarity: str = "cosine"
    head: str | None = None
    model: str | None = None
    tokenizer: str | None = None
    description: str = ""
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"a recipe needs a name; got {self.name!r}")
        get_similarity(self.similarity)
        if self.head is not None and not isinstance(self.head, str):
            raise ValueError(f"head must be a string; got {self.head!r}")

    @property
    def lexical(self) -> bool:
        """Whether the sparse side indexes own tokens with BM25 impacts (else aligned tokens only)."""
        return isinstance(self.documents, LexicalIndexConfig)

    def replace(self, **changes) -> Recipe:
        """A copy with some settings changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "name": self.name,
            "documents": self.documents.to_dict(),
            "query": self.query.to_dict(),
            "fusion": self.fusion.to_dict(),
            "similarity": self.similarity,
            "head": self.head,
            "model": self.model,
            "tokenizer": self.tokenizer,
            "description": self.description,
            "provenance": dict(self.provenance),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Recipe:
        """Inverse of :meth:`to_dict`."""
        query = data.get("query", {})
        return cls(
            name=str(data["name"]),
            documents=document_config(data["documents"]),
            query=QueryConfig(weights=str(query.get("weights", "one")), expansion=int(query.get("expansion", 0))),
            fusion=FusionConfig.from_dict(data.get("fusion", {"method": "interpolation", "weights": [0.5, 0.5]})),
            similarity=str(data.get("similarity", "cosine")),
            head=data.get("head"),
            model=data.get("model"),
            tokenizer=data.get("tokenizer"),
            description=str(data.get("description", "")),
            provenance=dict(data.get("provenance") or {}),
        )

    def save(self, path: str | Path) -> Path:
        """Write the recipe as JSON, atomically (temporary file, then rename)."""
        dest = Path(path)
        if dest.is_dir():
            raise InputError(f"{str(dest)!r} is a folder; give a file name for the recipe, e.g. recipe.json")
        dest.parent.mkdir(parents=True, exist_ok=True)
        document = {"kind": KIND, "schema_version": SCHEMA_VERSION, "keytokens_version": __version__}
        text = json.dumps({**document, "recipe": self.to_dict()}, indent=2, allow_nan=False) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest

    @classmethod
    def load(cls, path: str | Path) -> Recipe:
        """Read a recipe file written by :meth:`save`.

        Raises:
            InputError: no such file, not JSON, not a recipe, another schema version, bad settings, or a head
                folder that does not exist.
        """
        file = Path(path)
        if not file.is_file():
            raise InputError(f"no recipe file at {str(file)!r}; expected a JSON file written by `keytokens tune`")
        try:
            document = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"recipe {str(file)!r} is not valid JSON: {exc}") from None
        if (
            not isinstance(document, dict)
            or document.get("kind") != KIND
            or not isinstance(document.get("recipe"), dict)
        ):
            raise InputError(f"{str(file)!r} is not a keytokens recipe (expected kind {KIND!r} and a 'recipe' object)")
        if document.get("schema_version") != SCHEMA_VERSION:
            raise InputError(
                f"recipe {str(file)!r} has schema version {document.get('schema_version')!r}; this keytokens "
                f"{__version__} reads version {SCHEMA_VERSION}: tune it again"
            )
        try:
            recipe = cls.from_dict(document["recipe"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"recipe {str(file)!r} is damaged: {exc}") from None
        recipe.check_head()
        return recipe

    def check_head(self) -> None:
        """Refuse a head that names a folder that does not exist.

        Raises:
            InputError: naming the folder.
        """
        head = self.head
        if head and head not in ("lm", "embeddings") and ":" not in head and not Path(head).is_dir():
            raise InputError(f"recipe {self.name!r} names the head folder {head!r}, which does not exist")

    def check_model(self, model: str, tokenizer: str) -> None:
        """Refuse a tuned recipe for another model or tokenizer.

        Raises:
            InputError: naming both models (or both tokenizer fingerprints).
        """
        if self.model is not None and self.model != model:
            raise InputError(
                f"recipe {self.name!r} was tuned for model {self.model!r}, not {model!r}; tune it for {model!r}"
            )
        if self.tokenizer is not None and self.tokenizer != tokenizer:
            raise InputError(
                f"recipe {self.name!r} was tuned with tokenizer {self.tokenizer}, but {model!r} has tokenizer "
                f"{tokenizer}; tune it again"
            )


#: Chosen by ``tune`` on SciFact + NFCorpus train with MiniLM (``bench/results/retrieval_tuning.json``):
#: BM25 k1 1.2, b 0.75 over stemmed terms; a fitted head's top 4 tokens; cosine; interpolation 0.5/0.5.
_OWN = LexicalConfig(k1=1.2, b=0.75, normalize="stem")
_HYBRID = FusionConfig("interpolation", (0.5, 0.5))

#: The named recipes. ``default`` is chosen on train qrels only (see the module docstring); the others
#: share its lexical part and fusion and differ in what expands the documents (the ablation).
RECIPES: Mapping[str, Recipe] = {
    "paper": Recipe(
        "paper",
        SparseConfig(k=256, weighting="log1p-relu", centering="pc1"),
        query=QueryConfig(weights="idf"),
        fusion=_HYBRID,
        description="the paper's method: each document is its top-K aligned tokens only; queries by the tokenizer",
    ),
    "lexical": Recipe(
        "lexical",
        LexicalIndexConfig(_OWN, ExpansionConfig(head="none", k=0)),
        fusion=_HYBRID,
        description="documents' own tokens with BM25 impacts (no model in the sparse side)",
    ),
    "expanded-model": Recipe(
        "expanded-model",
        LexicalIndexConfig(_OWN, ExpansionConfig(head="model", k=16)),
        fusion=_HYBRID,
        description="own tokens with BM25 impacts + each document's top-16 aligned tokens of the model's own head",
    ),
    "expanded": Recipe(
        "expanded",
        LexicalIndexConfig(_OWN, ExpansionConfig(head="fitted", k=4, l2=1.0)),
        fusion=_HYBRID,
        description="own tokens with BM25 impacts + top-4 aligned tokens of a head fitted on the corpus at index time",
    ),
}
RECIPES = {
    **RECIPES,
    "default": RECIPES["expanded"].replace(name="default", description="chosen on SciFact + NFCorpus train: "
                                           + RECIPES["expanded"].description),
}  # fmt: skip
DEFAULT_RECIPE = "default"


def get_recipe(name_or_path: str | Path | None) -> Recipe:
    """A named recipe (:data:`RECIPES`) or a recipe file.

    Raises:
        UnknownNameError: neither a recipe name nor a file, listing the names.
        InputError: a bad recipe file.
    """
    if name_or_path is None:
        return RECIPES[DEFAULT_RECIPE]
    key = str(name_or_path)
    if key in RECIPES:
        return RECIPES[key]
    if key.endswith(".json") or Path(key).exists():
        return Recipe.load(key)
    raise UnknownNameError(f"unknown recipe {key!r}; expected one of {sorted(RECIPES)} or a recipe .json file")


__all__ = [
    "DEFAULT_RECIPE",
    "KIND",
    "RECIPES",
    "SCHEMA_VERSION",
    "FusionConfig",
    "Recipe",
    "get_recipe",
    "parse_fusion_weights",
]
