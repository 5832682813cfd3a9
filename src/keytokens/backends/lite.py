"""Milvus Lite's quirks, handled where a ``.db`` path is opened.

- Opening a path that does not exist creates an empty database there: searching a mistyped path
  must say so instead (:func:`check_exists`).
- Milvus Lite creates a collection as a folder ``<db>/collections/<name>`` and writes its
  ``schema.json`` after; a process killed in between leaves a folder that is no collection
  (``has_collection`` is false) but blocks creating one ("File exists"), even with ``--force``.
  :func:`clear_half_made` removes such folders, which hold no data.
- The embedded server runs in this process and logs every call it refuses (gRPC's "Method not
  implemented", pymilvus's RPC errors) with tracebacks, though keytokens turns each failure that
  matters into one clear error: :func:`quiet` keeps those loggers to critical messages.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from keytokens.errors import InputError

logger = logging.getLogger(__name__)

#: File Milvus Lite writes last when it creates a collection.
SCHEMA_FILE = "schema.json"
#: Loggers of the embedded engine that report, with tracebacks, what keytokens reports in one line.
NOISY_LOGGERS = ("grpc._server", "milvus_lite", "pymilvus")


def check_exists(uri: str) -> None:
    """Refuse a Milvus Lite path that does not exist (opening it would create an empty database).

    Raises:
        InputError: ``no Milvus Lite database at …``.
    """
    if not Path(uri).exists():
        raise InputError(
            f"no Milvus Lite database at {uri!r}; build one with `keytokens index --backend milvus --uri {uri}`"
        )


def clear_half_made(uri: str, names: tuple[str, ...]) -> list[str]:
    """Remove the folders of collections whose creation was interrupted (no ``schema.json``).

    Only folders of the default database named in ``names`` are touched; a folder with a schema
    is a collection and is left alone.

    Returns:
        The names whose leftover folder was removed.
    """
    root = Path(uri) / "collections"
    removed = []
    for name in names:
        folder = root / name
        if folder.is_dir() and not (folder / SCHEMA_FILE).exists():
            shutil.rmtree(folder)
            logger.info("removed the half-made collection folder %s (its creation was interrupted)", folder)
            removed.append(name)
    return removed


def quiet() -> None:
    """Keep the embedded engine's own loggers (:data:`NOISY_LOGGERS`) to critical messages."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


__all__ = ["NOISY_LOGGERS", "SCHEMA_FILE", "check_exists", "clear_half_made", "quiet"]
