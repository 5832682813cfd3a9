"""Atomic, versioned persistence: a folder of ``.npy`` arrays plus ``meta.json``.

A store is written to a temporary folder beside its destination and swapped into place by a
:class:`~keytokens.commit.Transaction` (one writer at a time, several folders all or none), so a
crash leaves either the old folder or the new one, never half of one. ``meta.json`` records what
the folder is (``kind``), the layout version (``schema_version``), the library version that wrote
it, every array's shape, dtype and checksum, and the caller's settings. Loading checks all of that
but the checksums and memory-maps the arrays; :func:`verify` reads everything and checks the
checksums. Nothing is ever pickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from keytokens._version import __version__
from keytokens.commit import LockedError, StoreError, Transaction, absolute, check_parents, recover_for_reading

META_FILE = "meta.json"
#: The checksum recorded for every file of a store (``hashlib.blake2b``, 32-byte digest).
CHECKSUM = "blake2b"


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
    transaction: Transaction | None = None,
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
        transaction: stage the store in this :func:`store_transaction` (which already checked ``path``),
            committed with the transaction's other stores; by default it is committed at once.

    Returns:
        The destination folder.

    Raises:
        StoreError: ``path`` exists and ``overwrite`` is false, or it is a folder this module did not write.
        LockedError: another process writes ``path``.
        ValueError: an array has dtype ``object`` or a name that is not a plain file name.
    """
    dest = Path(path)
    if transaction is None:
        with store_transaction({dest: kind}, overwrite=overwrite) as own:
            _write(own.stage(dest), kind=kind, schema_version=schema_version, arrays=arrays, meta=meta, extra=extra)
        return dest
    if absolute(dest) not in transaction.destinations:
        raise ValueError(f"{str(dest)!r} is not a destination of the transaction")
    _write(transaction.stage(dest), kind=kind, schema_version=schema_version, arrays=arrays, meta=meta, extra=extra)
    return dest


@contextlib.contextmanager
def store_transaction(destinations: Mapping[str | Path, str], *, overwrite: bool) -> Iterator[Transaction]:
    """Lock and check every destination (folder → kind) now; commit what was saved into it on exit.

    Use it around long work so a bad or busy destination is refused before the work, and so several
    stores (a sparse and a dense index) replace their folders all or none::

        with store_transaction({out: "sparse-index", dense: "dense-index"}, overwrite=force) as tx:
            ...  # hours of encoding
            sparse.save(out, transaction=tx)
            dense.save(dense, transaction=tx)

    Raises:
        LockedError: another process writes a destination.
        StoreError: a destination is refused (see :func:`check_destination`).
    """
    with Transaction(destinations) as tx:
        for dest, kind in destinations.items():
            check_destination(dest, kind=kind, overwrite=overwrite)
        yield tx


def _write(tmp: Path, *, kind, schema_version, arrays, meta, extra) -> None:
    files = {}
    for name, arr in arrays.items():
        arr = np.asarray(arr)
        if arr.dtype == object or not name or Path(name).name != name:
            raise ValueError(f"array {name!r} cannot be stored (dtype {arr.dtype}); expected a plain name and dtype")
        np.save(tmp / f"{name}.npy", arr, allow_pickle=False)
        files[name] = {"shape": list(arr.shape), "dtype": arr.dtype.str, CHECKSUM: _digest(tmp / f"{name}.npy")}
    if extra is not None:
        extra(tmp)
    top = {tmp / f"{name}.npy" for name in files}
    others = sorted(p for p in tmp.rglob("*") if p.is_file() and p not in top)
    document = {
        "kind": kind,
        "schema_version": schema_version,
        "keytokens_version": __version__,
        "arrays": files,
        "files": {p.relative_to(tmp).as_posix(): {CHECKSUM: _digest(p)} for p in others},
        "meta": dict(meta),
    }
    (tmp / META_FILE).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def _digest(file: Path) -> str:
    digest = hashlib.blake2b(digest_size=32)
    with open(file, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def check_destination(path: str | Path, *, kind: str, overwrite: bool) -> None:
    """Refuse early a destination :func:`save` would refuse (before hours of encoding, not after).

    Raises:
        StoreError: ``path`` is a file, a non-empty folder without ``overwrite``, a folder of another kind, or
            a parent is a file or not writable.
    """
    dest = Path(path)
    check_parents(dest)
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


def read_meta(path: str | Path) -> dict[str, Any]:
    """Read and check the ``meta.json`` of a store without opening its arrays.

    Raises:
        StoreError: no folder, no ``meta.json`` (an incomplete write or not a store), or damaged JSON.
    """
    folder = Path(path)
    recover_for_reading(folder)
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


@dataclass(frozen=True, slots=True)
class Verification:
    """What :func:`verify` found.

    Attributes:
        path: the folder.
        kind: what it holds.
        checked: files whose checksum matched.
        damaged: ``file: what is wrong`` for each file missing, unreadable or whose checksum differs.
        has_checksums: whether the store recorded checksums (stores written before keytokens recorded
            them have none; only their shapes and dtypes are checked).
    """

    path: Path
    kind: str
    checked: tuple[str, ...]
    damaged: tuple[str, ...]
    has_checksums: bool

    @property
    def ok(self) -> bool:
        """No damage found."""
        return not self.damaged

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "path": str(self.path),
            "kind": self.kind,
            "ok": self.ok,
            "checksums": self.has_checksums,
            "checked": list(self.checked),
            "damaged": list(self.damaged),
        }


def verify(path: str | Path) -> Verification:
    """Read every file of a store and compare it with the checksums ``meta.json`` recorded.

    Raises:
        StoreError: no store at ``path`` (no folder, no or damaged ``meta.json``).
    """
    folder = Path(path)
    document = read_meta(folder)
    arrays, files = document["arrays"], document.get("files") or {}
    if not isinstance(arrays, dict) or not isinstance(files, dict):
        raise StoreError(f"{str(folder / META_FILE)!r} is damaged: 'arrays' and 'files' must be objects")
    recorded = {f"{n}.npy": spec for n, spec in arrays.items()}
    recorded.update(files)
    checked, damaged, has_checksums = [], [], False
    for name, spec in recorded.items():
        file = folder / name
        if not isinstance(spec, dict):
            damaged.append(f"{name}: {META_FILE} holds no description of it")
            continue
        if name.endswith(".npy") and name[:-4] in arrays:
            try:
                _load_array(folder, name[:-4], spec, mmap=True)
            except StoreError as exc:
                damaged.append(f"{name}: {exc}")
                continue
        expected = spec.get(CHECKSUM)
        if expected is None:
            continue
        has_checksums = True
        try:
            found = _digest(file)
        except OSError as exc:
            damaged.append(f"{name}: cannot be read ({exc.strerror or exc})")
            continue
        (checked if found == expected else damaged).append(name if found == expected else f"{name}: checksum differs")
    return Verification(folder, str(document["kind"]), tuple(checked), tuple(damaged), has_checksums)


__all__ = [
    "CHECKSUM",
    "META_FILE",
    "LockedError",
    "StoreError",
    "Stored",
    "Verification",
    "check_destination",
    "load",
    "read_meta",
    "save",
    "store_transaction",
    "verify",
]
