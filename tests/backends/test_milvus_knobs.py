import dataclasses

import pytest

from keytokens.backends import CollectionInfo, MilvusIndex
from keytokens.backends.collection import SPARSE_ALGOS
from keytokens.errors import InputError
from keytokens.sparse import Centering, SparseIndex
from tests.backends.fixtures import assert_same_ranking, random_corpus, random_info, random_queries


def test_knobs_are_checked_recorded_and_default_for_old_records():
    info = random_info()
    assert info.sparse_algo == "DAAT_MAXSCORE" and info.dim_max_score_ratio is None
    assert info.sparse_search_params() == {"metric_type": "IP", "params": {}}
    tuned = dataclasses.replace(info, sparse_algo="TAAT_NAIVE", dim_max_score_ratio=0.9)
    assert tuned.sparse_search_params() == {"metric_type": "IP", "params": {"dim_max_score_ratio": 0.9}}
    assert CollectionInfo.from_dict(tuned.to_dict()) == tuned
    old = {k: v for k, v in info.to_dict().items() if k not in ("sparse_algo", "dim_max_score_ratio")}
    assert CollectionInfo.from_dict(old) == info  # recorded before the knobs: Milvus's defaults
    with pytest.raises(InputError, match=r"unknown Milvus sparse algorithm 'BMW'; expected one of \['DAAT_MAXSCORE'"):
        dataclasses.replace(info, sparse_algo="BMW")
    for bad in (0.2, 1.5, True, "1"):
        with pytest.raises(InputError, match=r"dim_max_score_ratio must be None or in \[0.5, 1.3\]"):
            dataclasses.replace(info, dim_max_score_ratio=bad)


@pytest.mark.parametrize("algo", SPARSE_ALGOS)
def test_every_algorithm_gives_the_exact_top10_and_is_recorded(milvus_uri, algo):
    # a ratio above 1 only loosens Milvus's pruning bounds: still the exact top 10
    info = dataclasses.replace(random_info(), sparse_algo=algo, dim_max_score_ratio=1.2)
    ids, vectors, embeddings = random_corpus(300)
    index = MilvusIndex.create(milvus_uri, "docs", info)
    index.write([(ids, vectors, embeddings)], centering=Centering())
    opened = MilvusIndex.open(milvus_uri, "docs")
    assert opened.info.sparse_algo == algo and opened.info.dim_max_score_ratio == 1.2
    queries, _ = random_queries(30)
    assert_same_ranking(
        opened.search_sparse(queries, k=10), SparseIndex.build(vectors, ids, info=info.index).search(queries, k=10)
    )
    other = "TAAT_NAIVE" if algo != "TAAT_NAIVE" else "DAAT_WAND"
    with pytest.raises(InputError, match=rf"sparse_algo '{algo}' vs '{other}'"):
        MilvusIndex.create(milvus_uri, "docs", dataclasses.replace(info, sparse_algo=other))
