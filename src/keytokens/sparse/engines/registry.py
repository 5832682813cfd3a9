"""The engines by name, their options, and their persistence beside a sparse index.

A non-exact engine is saved as a sub-store ``engine/`` of the index folder (written inside the index's
temporary folder, so index and engine appear together or not at all): ``meta.json`` records the engine,
its knobs, the engine package's version, a fingerprint of the matrix it was built from and the sha256
of each file. Loading refuses another matrix, other build knobs and a file whose digest changed.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import scipy.sparse as sp

from keytokens import store
from keytokens.errors import InputError, UnknownNameError
from keytokens.sparse.engines.base import (
    Engine,
    build_settings,
    file_digest,
    matrix_fingerprint,
    params_from_dict,
    search_fields,
)
from keytokens.sparse.engines.exact import ExactEngine, ExactParams
from keytokens.sparse.engines.seismic import SeismicEngine, SeismicParams

KIND = "sparse-engine"
SCHEMA_VERSION = 1
FOLDER = "engine"

#: name → (engine class, its params class, the PyPI package it runs on or None).
ENGINES: Mapping[str, tuple[type, type, str | None]] = {
    "exact": (ExactEngine, ExactParams, None),
    "seismic": (SeismicEngine, SeismicParams, "pyseismic-lsr"),
}


def engine_params(name: str, options: Mapping[str, object] | None = None):
    """The knobs of engine ``name``: defaults, with ``options`` (knob → value) applied.

    Raises:
        UnknownNameError: no such engine (listing the engines).
        ValueError: an unknown knob (listing the knobs) or a value out of range.
    """
    return params_from_dict(_entry(name)[1], dict(options or {}))


def parse_options(name: str, pairs: Sequence[str]) -> dict[str, object]:
    """``["heap_factor=0.9", …]`` (as typed on a command line) → knob → value of the knob's type.

    Raises:
        UnknownNameError: no such engine.
        ValueError: not ``KEY=VALUE``, an unknown knob, or a value that is not of the knob's type.
    """
    fields = {f.name: f for f in dataclasses.fields(_entry(name)[1])}
    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise InputError(f"engine option {pair!r} is not KEY=VALUE")
        if key not in fields:
            raise InputError(f"unknown {name} engine option {key!r}; expected one of {sorted(fields)}")
        kind = type(fields[key].default)
        try:
            options[key] = kind(text.strip())
        except ValueError:
            raise InputError(f"engine option {key} must be {kind.__name__}; got {text!r}") from None
    return options


def build_engine(name: str, matrix: sp.csc_matrix, options: Mapping[str, object] | None = None) -> Engine:
    """Build engine ``name`` over the index's matrix.

    Raises:
        UnknownNameError: no such engine.
        ValueError: bad knobs.
        MissingDependencyError: the engine's package is not installed (naming the extra ``engines``).
    """
    cls, _, _ = _entry(name)
    return cls.build(matrix, engine_params(name, options))


def configure(engine: Engine, options: Mapping[str, object]) -> Engine:
    """``engine`` with other search knobs; other build knobs need a rebuild.

    Raises:
        ValueError: a build knob differs from the engine's, or a knob is unknown or out of range.
    """
    if not options:
        return engine
    params = engine_params(engine.name, {**engine.params.to_dict(), **options})
    if build_settings(params) != build_settings(engine.params):
        changed = sorted(k for k in options if k not in search_fields(params))
        raise InputError(
            f"{changed} change how the {engine.name} engine is built; only {sorted(search_fields(params))} "
            "can change on a built engine: rebuild the index with those options"
        )
    return engine.with_params(params)


def save_engine(engine: Engine, folder: Path, matrix: sp.csc_matrix) -> None:
    """Write ``engine`` as the sub-store ``folder/engine`` (nothing for the exact engine)."""
    if engine.name == "exact":
        return

    start = time.perf_counter()
    dest = Path(folder) / FOLDER
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{FOLDER}.files-", dir=dest.parent))
    try:
        files = engine.save(staging)
        meta = {"engine": engine.name, "params": engine.params.to_dict(), "package": _package(engine.name)}
        meta["matrix"] = matrix_fingerprint(matrix)
        meta["files"] = {n: {"bytes": p.stat().st_size, "sha256": file_digest(p)} for n, p in files.items()}
        meta["save_seconds"] = round(time.perf_counter() - start, 3)
        store.save(dest, kind=KIND, schema_version=SCHEMA_VERSION, arrays={}, meta=meta, extra=_move(files))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def stored_engine(folder: Path) -> str:
    """Name of the engine saved with the index at ``folder`` (``exact`` when none is)."""
    sub = Path(folder) / FOLDER
    if not sub.exists():
        return "exact"
    return str(store.read_meta(sub)["meta"].get("engine", "?"))


def load_engine(
    folder: Path,
    matrix: sp.csc_matrix,
    *,
    name: str | None = None,
    options: Mapping[str, object] | None = None,
    verify: bool = True,
) -> Engine:
    """Open the engine saved with the index at ``folder``; ``name`` ``exact`` always works.

    Args:
        folder: the index folder.
        matrix: the index's matrix (the engine must have been built from it).
        name: the engine expected (default: whichever was saved).
        options: knobs expected; search knobs are applied, build knobs must equal the saved ones.
        verify: check each file's sha256 (a full read of the file).

    Raises:
        StoreError: another engine was saved, or it was built from another matrix or with other build
            knobs, or its files are missing or damaged.
    """
    saved = stored_engine(folder)
    name = name or saved
    _entry(name)
    if name == "exact":
        return ExactEngine(matrix, engine_params("exact", options))
    where = str(Path(folder))
    if saved != name:
        raise store.StoreError(f"the index at {where!r} was built with the {saved} engine, not {name}: rebuild it")
    stored = store.load(Path(folder) / FOLDER, kind=KIND, schema_version=SCHEMA_VERSION)
    meta = stored.meta
    if meta.get("matrix") != matrix_fingerprint(matrix):
        raise store.StoreError(f"the {name} engine at {where!r} was built from another matrix: rebuild the index")
    try:
        params = engine_params(name, meta["params"])
    except (KeyError, ValueError) as exc:
        raise store.StoreError(f"the {name} engine at {where!r} is damaged: {exc}") from None
    requested = engine_params(name, {**params.to_dict(), **(options or {})})
    if build_settings(requested) != build_settings(params):
        raise store.StoreError(
            f"the {name} engine at {where!r} was built with {build_settings(params)}, not "
            f"{build_settings(requested)}: rebuild the index with those options"
        )
    _check_files(stored.path, meta, verify=verify)
    cls, _, _ = _entry(name)
    return cls.load(stored.path, matrix, requested)


def _check_files(folder: Path, meta: dict, *, verify: bool) -> None:
    files = meta.get("files")
    if not isinstance(files, dict) or not files:
        raise store.StoreError(f"{str(folder)!r} is incomplete: meta.json lists no engine files")
    for name, spec in files.items():
        path = folder / name
        if not path.is_file():
            raise store.StoreError(f"{str(folder)!r} is incomplete: {name} is missing")
        if path.stat().st_size != spec.get("bytes") or (verify and file_digest(path) != spec.get("sha256")):
            raise store.StoreError(f"{str(path)!r} is damaged: its size or sha256 differs from meta.json's")


def _move(files: dict[str, Path]):
    """An ``extra`` for :func:`store.save` moving the engine's files into the store being written."""

    def move(tmp: Path) -> None:
        for name, path in files.items():
            shutil.move(path, tmp / name)

    return move


def _package(name: str) -> dict | None:
    package = _entry(name)[2]
    if package is None:
        return None
    try:
        return {"name": package, "version": version(package)}
    except PackageNotFoundError:
        return {"name": package, "version": None}


def _entry(name: str) -> tuple[type, type, str | None]:
    try:
        return ENGINES[name]
    except KeyError:
        raise UnknownNameError(f"unknown engine {name!r}; expected one of {sorted(ENGINES)}") from None


__all__ = [
    "ENGINES",
    "FOLDER",
    "KIND",
    "build_engine",
    "configure",
    "engine_params",
    "load_engine",
    "parse_options",
    "save_engine",
    "stored_engine",
]
