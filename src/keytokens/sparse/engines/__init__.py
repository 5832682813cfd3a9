"""Search engines of the sparse index: exact (scipy, the reference) and Seismic (approximate, fast)."""

from keytokens.sparse.engines.base import Engine
from keytokens.sparse.engines.exact import ExactEngine, ExactParams
from keytokens.sparse.engines.registry import (
    ENGINES,
    build_engine,
    configure,
    engine_params,
    load_engine,
    parse_options,
    save_engine,
    stored_engine,
)
from keytokens.sparse.engines.seismic import SeismicEngine, SeismicParams

__all__ = [
    "ENGINES",
    "Engine",
    "ExactEngine",
    "ExactParams",
    "SeismicEngine",
    "SeismicParams",
    "build_engine",
    "configure",
    "engine_params",
    "load_engine",
    "parse_options",
    "save_engine",
    "stored_engine",
]
