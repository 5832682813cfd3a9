"""The web explorer (``keytokens serve``): presets and indexes named at start-up, read through a page and an API.

The framework-free parts are re-exported here; the FastAPI app is :func:`keytokens.server.app.create_app`
(``pip install 'keytokens[serve]'``).
"""

from keytokens.server.explorer import Explorer, Reading
from keytokens.server.indexes import IndexCache, Searcher, ServedIndex, open_sparse_index, parse_index
from keytokens.server.models import REFERENCE_TEXTS, ModelCache, ServedModel

__all__ = [
    "REFERENCE_TEXTS",
    "Explorer",
    "IndexCache",
    "ModelCache",
    "Reading",
    "Searcher",
    "ServedIndex",
    "ServedModel",
    "open_sparse_index",
    "parse_index",
]
