"""Atomic, versioned persistence: a folder of ``.npy`` arrays plus ``meta.json``.

A store is written to a temporary folder beside its destination and renamed into place, so a
crash leaves either the old folder or the new one, never half of one. ``meta.json`` records what
the folder is (``kind``), the layout version (``schema_version``), the library version that wrote
it, every array's shape and dtype, and the caller's settings. Loading checks all of that and
memory-maps the arrays; nothing is ever pickled.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from keytokens._version import __version__
from keytokens.errors import InputError

META_FILE = "meta.json"


class StoreError(InputError):
    """A stored folder is missing, incomplete, damaged, or of another kind or version."""


@dataclass(frozen=True, slots=True)
class Stored:
    """What :func:`load` read back.

    Attributes:
        path: the folder.
        kind: what the folder holds (``sparse-index``, ``dense-index`` …).
        schema_version: layout version it was written with.
        library_version: the keytokens version that wrote it.
        meta: the caller's settings, as saved.
        arrays: name → array (``np.memmap`` when loaded with ``mmap=True``).
    """

    path: Path
    kind: str
    schema_version: int
    library_version: str
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]

    def to_dict(self) -> dict:
        """JSON-ready summary (array shapes and dtypes, not their values)."""
        return {
            "path": str(self.path),
            "kind": self.kind,
            "schema_version": self.schema_version,
            "library_version": self.library_version,
            "meta": self.meta,
            "arrays": {n: {"shape": list(a.shape), "dtype": str(a.dtype)} for n, a in self.arrays.items()},
        }


def save(
    path: str | Path,
    *,
    kind: str,
    schema_version: int,
    arrays: Mapping[str, np.ndarray],
    meta: Mapping[str, Any],
    extra: Callable[[Path], None] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``arrays`` and ``meta`` to the folder ``path`` atomically.

    Args:
        path: destination folder; its parent is created if needed.
        kind: what the folder holds; :func:`load` refuses any other kind.
        schema_version: layout version; :func:`load` refuses any other version.
        arrays: name → array, each saved as ``<name>.npy`` (object arrays are refused).
        meta: JSON-serialisable settings saved under ``meta`` in ``meta.json``.
        extra: called with the temporary folder to write further files (a tokenizer) before the rename.
        overwrite: replace an existing store of the same kind; a folder that is not a store is never replaced.

    Returns:
        The destination folder.

    Raises:
        StoreError: ``path`` exists and ``overwrite`` is false, or it is a folder this module did not write.
        ValueError: an array has dtype ``object`` or a name that is not a plain file name.
    """
    dest = Path(path)
    check_destination(dest, kind=kind, overwrite=overwrite)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        files = {}
        for name, arr in arrays.items():
            arr = np.asarray(arr)
            if arr.dtype == object or not name or Path(name).name != name:
                raise ValueError(
                    f"array {name!r} cannot be stored (dtype {arr.dtype}); expected a plain name and dtype"
                )
            np.save(tmp / f"{name}.npy", arr, allow_pickle=False)
            files[name] = {"shape": list(arr.shape), "dtype": arr.dtype.str}
        if extra is not None:
            extra(tmp)
        document = {
            "kind": kind,
            "schema_version": schema_version,
            "keytokens_version": __version__,
            "arrays": files,
            "meta": dict(meta),
        }
        (tmp / META_FILE).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        _replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def check_destination(path: str | Path, *, kind: str, overwrite: bool) -> None:
    """Refuse early a destination :func:`save` would refuse (before hours of encoding, not after).

    Raises:
        StoreError: ``path`` is a file, a non-empty folder without ``overwrite``, or a folder of another kind.
    """
    dest = Path(path)
    if not dest.exists():
        return
    if not dest.is_dir():
        raise StoreError(f"{str(dest)!r} exists and is not a folder")
    if not any(dest.iterdir()):
        return
    if not overwrite:
        raise StoreError(f"{str(dest)!r} already exists; choose another folder or allow overwriting")
    try:
        found = json.loads((dest / META_FILE).read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        found = None
    if found != kind:
        raise StoreError(f"{str(dest)!r} is not a keytokens {kind}; refusing to replace a folder it did not write")


def _replace(tmp: Path, dest: Path) -> None:
    """Rename ``tmp`` to ``dest``; an old ``dest`` is moved aside first and removed after."""
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        os.replace(dest, old / dest.name)
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, dest)


def read_meta(path: str | Path) -> dict[str, Any]:
    """Read and check the ``meta.json`` of a store without opening its arrays.

    Raises:
        StoreError: no folder, no ``meta.json`` (an incomplete write or not a store), or damaged JSON.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise StoreError(f"{str(folder)!r} is not a folder")
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        raise StoreError(f"{str(folder)!r} has no {META_FILE}: it is incomplete or not a keytokens store")
    try:
        document = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(f"{str(meta_path)!r} is damaged: {exc}") from None
    required = ("kind", "schema_version", "keytokens_version", "arrays", "meta")
    if not isinstance(document, dict) or any(key not in document for key in required):
        raise StoreError(f"{str(meta_path)!r} is damaged: expected the keys {list(required)}")
    problem = _layout_problem(document)
    if problem is not None:
        raise StoreError(f"{str(meta_path)!r} is damaged: {problem}")
    return document


def _layout_problem(document: dict) -> str | None:
    """What is of the wrong type in a ``meta.json``'s own fields (the caller's ``meta`` is checked by the caller)."""
    from keytokens.jsonfields import FieldError, get_dict, get_int, get_list, get_str

    try:
        get_str(document, "kind"), get_int(document, "schema_version"), get_str(document, "keytokens_version")
        get_dict(document, "meta")
        for name, spec in get_dict(document, "arrays").items():
            shape = get_list(spec, "shape")
            if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
                return f"array {name!r} has shape {shape}; expected non-negative integers"
            get_str(spec, "dtype")
    except FieldError as exc:
        return str(exc)
    return None


def load(path: str | Path, *, kind: str, schema_version: int, mmap: bool = True) -> Stored:
    """Open a store written by :func:`save`, checking kind, version and every array.

    Args:
        path: the folder.
        kind: the kind expected.
        schema_version: the layout version this code reads.
        mmap: memory-map the arrays (read-only) instead of reading them into memory.

    Raises:
        StoreError: missing or damaged files, another kind, another schema version, or an array whose
            shape or dtype differs from what ``meta.json`` recorded.
    """
    folder = Path(path)
    document = read_meta(folder)
    if document["kind"] != kind:
        raise StoreError(f"{str(folder)!r} holds a {document['kind']}, not a {kind}")
    if document["schema_version"] != schema_version:
        raise StoreError(
            f"{str(folder)!r} was written with {kind} schema version {document['schema_version']} "
            f"(keytokens {document['keytokens_version']}); this keytokens {__version__} reads version "
            f"{schema_version}: rebuild it"
        )
    arrays = {name: _load_array(folder, name, spec, mmap) for name, spec in document["arrays"].items()}
    return Stored(
        path=folder,
        kind=kind,
        schema_version=schema_version,
        library_version=str(document["keytokens_version"]),
        meta=document["meta"],
        arrays=arrays,
    )


def _load_array(folder: Path, name: str, spec: Mapping[str, Any], mmap: bool) -> np.ndarray:
    file = folder / f"{name}.npy"
    if not file.is_file():
        raise StoreError(f"{str(folder)!r} is incomplete: {file.name} is missing")
    try:
        arr = np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise StoreError(f"{str(file)!r} is damaged: {exc}") from None
    if list(arr.shape) != list(spec.get("shape", [])) or arr.dtype.str != spec.get("dtype"):
        raise StoreError(
            f"{str(file)!r} is damaged: shape {list(arr.shape)} dtype {arr.dtype.str}, "
            f"but {META_FILE} recorded shape {spec.get('shape')} dtype {spec.get('dtype')}"
        )
    return arr


__all__ = ["META_FILE", "StoreError", "Stored", "check_destination", "load", "read_meta", "save"]
