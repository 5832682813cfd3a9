"""A tiny BEIR dataset on disk: each query names the fruit of exactly one document."""

from __future__ import annotations

import json
from pathlib import Path

#: A tiny BEIR dataset: each query names the fruit of exactly one document.
CORPUS = [
    {"_id": "d1", "title": "Apple", "text": "apple pie apple tree"},
    {"_id": "d2", "title": "", "text": "banana juice yellow"},
    {"_id": "d3", "title": "Cherry", "text": "red cherry pie"},
    {"_id": "d4", "text": "date tree fruit"},
]
QUERIES = [
    {"_id": "q1", "text": "apple tree"},
    {"_id": "q2", "text": "yellow banana"},
    {"_id": "q3", "text": "cherry"},
    {"_id": "q9", "text": "never judged"},
]
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t2\n"


def write_beir(folder: Path, *, corpus=CORPUS, queries=QUERIES, qrels=QRELS, split="test") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus))
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / f"{split}.tsv").write_text(qrels)
    return folder
