import sys

import numpy as np
import pytest
import scipy.sparse as sp

from keytokens.errors import InputError, MissingDependencyError, UnknownNameError
from keytokens.sparse import IndexInfo, SparseConfig, SparseIndex
from keytokens.sparse.engines import ENGINES, engine_params, parse_options

# Nothing here needs the engines extra: options are checked, and a missing package is named, without it.


def _index():
    matrix = sp.csr_matrix(np.eye(4, 6, dtype=np.float32))
    info = IndexInfo("hand", "none", "0" * 16, 6, SparseConfig(k=1))
    return SparseIndex.build(matrix, [f"d{i}" for i in range(4)], info=info)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"heap_factor": 0.0}, r"heap_factor must be in \(0.0, 1.0\]; got 0.0"),
        ({"heap_factor": 1.5}, r"heap_factor must be in \(0.0, 1.0\]"),
        ({"summary_energy": -0.1}, "summary_energy must be in"),
        ({"n_postings": 0}, r"n_postings must be in \[1, ∞\)"),
        ({"n_postings": 2.5}, "n_postings must be an integer"),
        ({"query_cut": -1}, "query_cut must be in"),
        ({"heap": 0.5}, "unknown engine option 'heap'; expected one of"),
    ],
)
def test_knobs_out_of_range_are_refused(options, message):
    with pytest.raises(InputError, match=message):
        engine_params("seismic", options)


def test_unknown_engine_lists_the_engines():
    with pytest.raises(UnknownNameError, match=r"unknown engine 'pisa'; expected one of \['exact', 'seismic'\]"):
        _index().with_engine("pisa")
    assert sorted(ENGINES) == ["exact", "seismic"]


def test_parse_options_types_and_errors():
    assert parse_options("seismic", ["heap_factor=0.9", "query-cut=8"]) == {"heap_factor": 0.9, "query_cut": 8}
    with pytest.raises(InputError, match="not KEY=VALUE"):
        parse_options("seismic", ["heap_factor"])
    with pytest.raises(InputError, match="query_cut must be int; got 'x'"):
        parse_options("seismic", ["query_cut=x"])
    with pytest.raises(InputError, match="unknown exact engine option 'heap_factor'"):
        parse_options("exact", ["heap_factor=1"])


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "seismic", None)  # import seismic now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"keytokens\[engines\]"):
        _index().with_engine("seismic")
