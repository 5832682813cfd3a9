"""Model and index caches: named at start-up, loaded lazily, once, whatever the concurrency."""

from __future__ import annotations

import threading
import time

import pytest

from keytokens.errors import InputError, UnknownNameError
from keytokens.server import IndexCache, ModelCache, parse_index
from keytokens.server.indexes import index_summary
from keytokens.store import StoreError
from tests.server.fakes import FRUIT_TEXTS, PRESETS, fake_explorer, fake_lens


def test_concurrent_first_requests_load_a_model_once():
    loads = []

    def slow_load(preset):
        loads.append(preset.name)
        time.sleep(0.2)
        return fake_lens(preset)

    cache = ModelCache(PRESETS, load=slow_load, reference_texts=FRUIT_TEXTS)
    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.get("tiny"))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == ["tiny"]
    assert len({id(g) for g in got}) == 1


def test_each_model_runs_under_its_own_lock():
    explorer = fake_explorer()
    served = explorer.models.get("tiny")
    other = explorer.models.get("tiny-instruct")
    assert served.lock is not other.lock
    done = threading.Event()
    with served.lock:  # a request on "tiny" waits while another holds its model
        worker = threading.Thread(target=lambda: (explorer.read("tiny", ["apple"], k=1), done.set()))
        worker.start()
        assert not done.wait(0.2)
        explorer.read("tiny-instruct", ["apple"], k=1)  # another model is free
    worker.join(5)
    assert done.is_set()


def test_only_start_up_presets_exist():
    cache = ModelCache(PRESETS, load=fake_lens)
    with pytest.raises(UnknownNameError, match=r"unknown preset 'minilm'; this server serves \['tiny'"):
        cache.get("minilm")
    with pytest.raises(ValueError, match="unique"):
        ModelCache([PRESETS[0], PRESETS[0]], load=fake_lens)


def test_backbones_get_their_first_component_at_load():
    cache = ModelCache(PRESETS, load=fake_lens, reference_texts=FRUIT_TEXTS)
    assert cache.get("tiny").spectrum is None
    backbone = cache.get("tiny-backbone")
    assert backbone.spectrum.components.shape == (1, 14) and backbone.mean_coefficient > 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [("fruit", "must be NAME=DIR"), ("=dir", "must be letters"), ("a b=dir", "must be letters"), ("x=", "NAME=DIR")],
)
def test_parse_index_refuses_malformed_specs(spec, message):
    with pytest.raises(InputError, match=message):
        parse_index(spec)


def test_parse_index():
    name, path = parse_index("sci.fact=indexes/scifact")
    assert name == "sci.fact" and path.as_posix() == "indexes/scifact"


def test_index_summary_checks_the_folder(tmp_path, index_dir):
    assert index_summary(index_dir) == {"model": "tiny", "n_docs": 4, "k": 3, "weighting": "relu"}
    with pytest.raises(StoreError, match="is not a folder"):
        index_summary(tmp_path / "missing")
    with pytest.raises(StoreError, match=r"has no meta\.json"):
        index_summary(tmp_path)


def test_index_summary_refuses_another_kind_of_store(tmp_path):
    import numpy as np

    from keytokens import store

    store.save(tmp_path / "dense", kind="dense-index", schema_version=1, arrays={"x": np.zeros(2)}, meta={})
    with pytest.raises(InputError, match="holds a dense-index"):
        index_summary(tmp_path / "dense")


def test_index_cache_opens_lazily_once(index_dir):
    opened = []

    def load(path):
        from keytokens.server import open_sparse_index

        opened.append(path)
        return open_sparse_index(path)

    cache = IndexCache({"fruit": index_dir}, load=load)
    assert opened == []
    assert cache.get("fruit") is cache.get("fruit")
    assert opened == [index_dir]
    with pytest.raises(UnknownNameError, match="unknown index 'other'"):
        cache.get("other")
    with pytest.raises(UnknownNameError, match="start it with --index NAME=DIR"):
        IndexCache({}).get("other")
