"""Committing folders: one writer per destination, several folders replaced all or none.

A :class:`Transaction` holds, for each destination ``X``, an exclusive lock (``.X.lock`` beside it,
an ``flock`` the kernel drops when its process dies, so a crashed writer never blocks the next
one; the lock file names the writer's pid for messages). New folders are written to temporaries
``.X.tmp-*`` beside their destinations; nothing at ``X`` changes until every one is complete. Then
a journal ``.X.commit`` naming every (destination, temporary) pair is written beside each
destination, and each temporary is swapped with its destination in one atomic
``renameat2(RENAME_EXCHANGE)`` (Linux; elsewhere two renames, the old folder moved aside to
``.X.old-*`` first). Once a journal exists the commit is decided: a crash after that point is
finished on the next write or load of any of the destinations (:func:`recover`), which also
removes the leftovers of a crash before it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from keytokens.errors import InputError

logger = logging.getLogger(__name__)

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_held: dict[str, list] = {}  # lock file → [fd, depth]: a process may re-enter its own lock
_held_guard = threading.Lock()


class StoreError(InputError):
    """A stored folder is missing, incomplete, damaged, of another kind or version, or being written."""


class LockedError(StoreError):
    """Another live process is writing the destination."""


def absolute(path: str | Path) -> Path:
    """``path`` made absolute and normalised (``.`` and ``..`` removed; symbolic links kept)."""
    return Path(os.path.abspath(path))


def lock_file(dest: Path) -> Path:
    """``.X.lock`` beside ``X``."""
    return dest.parent / f".{dest.name}.lock"


def journal_file(dest: Path) -> Path:
    """``.X.commit`` beside ``X``: present only while (or if a crash interrupted) a commit."""
    return dest.parent / f".{dest.name}.commit"


def _checkpoint(step: str) -> None:
    """Called between the steps of a commit; a seam where tests inject crashes (kill -9)."""


@contextlib.contextmanager
def locked(dest: str | Path) -> Iterator[None]:
    """Hold the writer's lock of ``dest`` (re-entrant within a process).

    Raises:
        LockedError: another live process holds it.
    """
    path = lock_file(absolute(dest))
    key = str(path)
    with _held_guard:
        if key in _held:
            _held[key][1] += 1
            entered = True
        else:
            entered = False
    if not entered:
        fd = _acquire(path, Path(dest))
        with _held_guard:
            _held[key] = [fd, 1]
    try:
        yield
    finally:
        with _held_guard:
            _held[key][1] -= 1
            last = _held[key][1] == 0
            fd = _held.pop(key)[0] if last else None
        if fd is not None:
            with contextlib.suppress(OSError):
                path.unlink()  # while still holding the lock: the next writer re-checks the inode
            os.close(fd)


def _acquire(path: Path, dest: Path) -> int:
    import fcntl

    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _owner(fd)
            os.close(fd)
            raise LockedError(
                f"{str(dest)!r} is being written by another keytokens process ({owner}); "
                "wait for it to finish or choose another folder"
            ) from None
        try:
            same = os.fstat(fd).st_ino == path.stat().st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the previous holder removed the file after we opened it: lock the new one
            os.close(fd)
            continue
        previous = _owner(fd)
        if previous != "unknown pid":
            logger.warning("a keytokens process (%s) died while writing %s; recovering", previous, dest)
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()})
        os.ftruncate(fd, 0)
        os.pwrite(fd, record.encode("utf-8"), 0)
        return fd


def _owner(fd: int) -> str:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {int(data['pid'])} on {data.get('host', '?')}"
    except (OSError, ValueError, KeyError, TypeError):
        return "unknown pid"


def check_parents(dest: Path) -> None:
    """Refuse a destination whose parent cannot be a folder (a file on the way) or cannot be written.

    Raises:
        StoreError: naming the offending path.
    """
    for ancestor in dest.absolute().parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise StoreError(f"cannot write {str(dest)!r}: {str(ancestor)!r} is a file, not a folder")
            if not os.access(ancestor, os.W_OK | os.X_OK):
                raise StoreError(f"cannot write {str(dest)!r}: no permission to write in {str(ancestor)!r}")
            return


class Transaction:
    """Write several destination folders so that all or none of them change.

    Use as a context manager: entering locks every destination (and finishes a crashed commit
    found there); :meth:`stage` hands out a temporary folder to fill; leaving without an error
    commits every staged folder, leaving with one removes them and changes nothing.

    Args:
        destinations: the folders to replace.

    Raises:
        LockedError: another process writes one of them.
        StoreError: a parent is a file or not writable, or a crashed commit cannot be finished.
    """

    def __init__(self, destinations: Iterable[str | Path]) -> None:
        self.destinations = tuple(dict.fromkeys(absolute(d) for d in destinations))
        self._staged: dict[Path, Path] = {}
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Transaction:
        try:
            for dest in sorted(self.destinations, key=str):  # one order everywhere: no lock cycles
                check_parents(dest)
                dest.parent.mkdir(parents=True, exist_ok=True)
                self._stack.enter_context(locked(dest))
            for dest in self.destinations:
                recover(dest)
        except BaseException:
            self._stack.close()
            raise
        return self

    def stage(self, dest: str | Path) -> Path:
        """A new empty temporary folder that will replace ``dest`` when the transaction commits."""
        dest = absolute(dest)
        if dest not in self.destinations:
            known = [str(d) for d in self.destinations]
            raise ValueError(f"{str(dest)!r} is not a destination of this transaction ({known})")
        if dest in self._staged:
            shutil.rmtree(self._staged.pop(dest), ignore_errors=True)
        self._staged[dest] = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
        return self._staged[dest]

    def __exit__(self, kind, exc, tb) -> None:
        try:
            if kind is None:
                self.commit()
            else:
                for tmp in self._staged.values():
                    shutil.rmtree(tmp, ignore_errors=True)
        finally:
            self._stack.close()

    def commit(self) -> None:
        """Replace each staged destination (called on leaving the ``with`` block)."""
        if not self._staged:
            return
        txid = uuid.uuid4().hex[:12]
        entries = [
            {
                "dest": str(dest),
                "staged": str(tmp),
                "old": str(dest.parent / f".{dest.name}.old-{txid}"),
                "inode": tmp.stat().st_ino,
            }
            for dest, tmp in self._staged.items()
        ]
        for tmp in self._staged.values():
            _sync_tree(tmp)
        _checkpoint("staged")
        with _signals_deferred():
            for dest in self._staged:
                _write_json(journal_file(dest), {"txid": txid, "entries": entries})
            _checkpoint("journaled")
            _finish(entries)
        self._staged.clear()


def recover(dest: str | Path) -> bool:
    """Finish a commit a crash interrupted at ``dest`` and remove leftovers; the caller holds the lock.

    Returns:
        Whether a journal was found and finished.

    Raises:
        StoreError: the journal is damaged or the new folder it names is gone.
        LockedError: another destination of the same commit is being written by another process.
    """
    dest = absolute(dest)
    journal = journal_file(dest)
    finished = False
    if journal.is_file():
        try:
            entries = json.loads(journal.read_text())["entries"]
            others = [Path(e["dest"]) for e in entries]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"the commit journal {str(journal)!r} is damaged ({exc}); remove it by hand") from None
        with contextlib.ExitStack() as stack:
            for other in sorted(others, key=str):
                stack.enter_context(locked(other))
            logger.warning("finishing the commit a crash interrupted at %s", dest)
            _finish(entries)
        finished = True
    _remove_leftovers(dest)
    return finished


def recover_for_reading(dest: str | Path) -> None:
    """Before reading ``dest``: finish a crashed commit there, unless its writer is still alive.

    Raises:
        StoreError: ``dest`` is missing because a live writer is replacing it, or the crash cannot be
            repaired from here (no permission).
    """
    dest = absolute(dest)
    if not journal_file(dest).is_file():
        return
    try:
        with locked(dest):
            recover(dest)
    except LockedError as exc:
        if not dest.exists():
            raise StoreError(f"{str(dest)!r} is being replaced right now ({exc}); try again in a moment") from None
    except OSError as exc:
        raise StoreError(
            f"{str(dest)!r} was left mid-commit by a crash and cannot be repaired here ({exc}); "
            "re-run the command that wrote it"
        ) from None


def _finish(entries: list[dict]) -> None:
    """Roll a decided commit forward: place every new folder, then remove the old ones and the journals."""
    for i, entry in enumerate(entries):
        _place(entry)
        _checkpoint(f"placed-{i}")
    for entry in entries:
        for leftover in (entry["staged"], entry["old"]):
            shutil.rmtree(leftover, ignore_errors=True)
    _checkpoint("cleaned")
    for entry in entries:
        with contextlib.suppress(FileNotFoundError):
            journal_file(Path(entry["dest"])).unlink()
    for parent in {str(Path(e["dest"]).parent) for e in entries}:
        _sync_dir(Path(parent))


def _place(entry: dict) -> None:
    dest, staged, old = Path(entry["dest"]), Path(entry["staged"]), Path(entry["old"])
    if _inode(dest) == entry["inode"]:
        return  # already in place
    if _inode(staged) != entry["inode"]:
        raise StoreError(
            f"cannot finish the interrupted commit of {str(dest)!r}: its new version {str(staged)!r} is gone"
        )
    if dest.exists() and not _exchange(staged, dest):
        os.replace(dest, old)
        _checkpoint("moved-aside")
    if not dest.exists():
        os.replace(staged, dest)


def _remove_leftovers(dest: Path) -> None:
    """Remove temporaries of an interrupted write (no journal names them any more)."""
    prefixes = (f".{dest.name}.tmp-", f".{dest.name}.old-")
    leftovers = [p for p in dest.parent.iterdir() if p.name.startswith(prefixes)] if dest.parent.is_dir() else []
    olds = [p for p in leftovers if p.name.startswith(prefixes[1])]
    if not dest.exists() and olds:
        raise StoreError(
            f"{str(dest)!r} is missing, but {str(olds[0])!r} holds a previous version left by an interrupted "
            f"write (of an older keytokens): move it back to {str(dest)!r} or remove it"
        )
    for p in leftovers:
        shutil.rmtree(p, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); ``False`` where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return False
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if func(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def _write_json(path: Path, document: dict) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(document, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _sync_dir(path.parent)


def _sync_tree(folder: Path) -> None:
    """Flush every file of ``folder``, so a power cut after the rename cannot leave empty files."""
    for root, _, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _sync_dir(Path(root))


def _sync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the renames are done (a kill -9 is left to :func:`recover`)."""
    signals = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    except (AttributeError, OSError, ValueError):
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


__all__ = [
    "LockedError",
    "StoreError",
    "Transaction",
    "absolute",
    "check_parents",
    "journal_file",
    "lock_file",
    "locked",
    "recover",
    "recover_for_reading",
]
