"""BEIR-format retrieval datasets: ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.

Every problem names its file and line: malformed JSON, missing fields, duplicate ids, empty texts,
qrels that point at unknown queries or documents ("dangling"), an empty corpus. With
``strict=False`` dangling and repeated judgments are dropped and listed in ``problems`` instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from keytokens.datasets import _lines
from keytokens.errors import InputError
from keytokens.strings import check_doc_id, check_unicode

logger = logging.getLogger(__name__)

#: How many offending ids an error message quotes.
_EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class BeirDataset:
    """One split of a BEIR dataset.

    Attributes:
        name: the folder's name.
        split: the qrels split (``test``, ``dev``, ``train``).
        doc_ids: ``n_docs`` document ids in file order.
        doc_texts: ``n_docs`` texts, ``title + " " + text`` as BEIR's own evaluation builds them.
        query_ids: ids of the queries judged in this split, in ``queries.jsonl`` order.
        query_texts: their texts.
        qrels: query id → document id → graded relevance (integers; > 0 is relevant).
        problems: what ``strict=False`` dropped, one line each.
    """

    name: str
    split: str
    doc_ids: tuple[str, ...]
    doc_texts: tuple[str, ...]
    query_ids: tuple[str, ...]
    query_texts: tuple[str, ...]
    qrels: Mapping[str, Mapping[str, int]]
    problems: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.doc_ids) != len(self.doc_texts) or len(self.query_ids) != len(self.query_texts):
            raise ValueError("ids and texts must pair up")

    def to_dict(self) -> dict:
        """JSON-ready summary (counts, not texts)."""
        return {
            "name": self.name,
            "split": self.split,
            "n_docs": len(self.doc_ids),
            "n_queries": len(self.query_ids),
            "n_judgments": sum(len(v) for v in self.qrels.values()),
            "problems": list(self.problems),
        }


def _objects(path: Path) -> Iterator[tuple[int, dict]]:
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        yield lineno, obj


def _field(path: Path, lineno: int, obj: dict, key: str, *, required: bool = True) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and key == "_id":
        return str(value)
    if not isinstance(value, str):
        found = "missing" if key not in obj else f"a {type(value).__name__}"
        raise InputError(f"{path}:{lineno}: field {key!r} is {found}; expected a string")
    return value


def read_corpus(path: str | Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Document ids and texts (``title + " " + text``) of a ``corpus.jsonl``.

    Raises:
        InputError: a malformed line, a missing ``_id`` or ``text``, a repeated id, an empty document,
            or an empty corpus; each names the file and line.
    """
    path = Path(path)
    ids: dict[str, int] = {}
    texts = []
    for lineno, obj in _objects(path):
        doc_id = check_doc_id(_field(path, lineno, obj, "_id"), f"{path}:{lineno}")
        parts = (_field(path, lineno, obj, "title", required=False), _field(path, lineno, obj, "text"))
        text = " ".join(p.strip() for p in parts if p.strip())
        if doc_id in ids:
            raise InputError(f"{path}:{lineno}: duplicate document id {doc_id!r} (first on line {ids[doc_id]})")
        if not text.strip():
            raise InputError(f"{path}:{lineno}: document {doc_id!r} has an empty title and text")
        check_unicode(text, f"{path}:{lineno}: the text of {doc_id!r}")
        ids[doc_id] = lineno
        texts.append(text.strip())
    if not ids:
        raise InputError(f"{path}: the corpus holds no documents")
    return tuple(ids), tuple(texts)


def read_queries(path: str | Path) -> dict[str, str]:
    """Query id → text of a ``queries.jsonl``.

    Raises:
        InputError: a malformed line, a missing ``_id`` or ``text``, a repeated id or an empty query.
    """
    path = Path(path)
    queries: dict[str, str] = {}
    lines: dict[str, int] = {}
    for lineno, obj in _objects(path):
        qid = check_doc_id(_field(path, lineno, obj, "_id"), f"{path}:{lineno}", kind="query")
        text = check_unicode(_field(path, lineno, obj, "text"), f"{path}:{lineno}: query {qid!r}")
        if qid in queries:
            raise InputError(f"{path}:{lineno}: duplicate query id {qid!r} (first on line {lines[qid]})")
        if not text.strip():
            raise InputError(f"{path}:{lineno}: query {qid!r} is empty")
        queries[qid], lines[qid] = text, lineno
    return queries


def read_qrels(path: str | Path, *, strict: bool = True) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Judgments of a ``query-id<TAB>corpus-id<TAB>score`` file (header optional).

    Returns:
        ``(qrels, problems)``: query → document → score, and the repeated judgments dropped.

    Raises:
        InputError: a malformed line, a non-integer score, or (when ``strict``) a repeated judgment.
    """
    path = Path(path)
    qrels: dict[str, dict[str, int]] = {}
    problems = []
    for lineno, line in _lines(path):
        cols = line.split("\t")
        if not line.strip() or (lineno == 1 and cols[0].strip().lower() in ("query-id", "query_id", "qid")):
            continue
        if len(cols) == 4:  # TREC qrels: qid iteration docid score
            cols = [cols[0], cols[2], cols[3]]
        if len(cols) != 3:
            raise InputError(f"{path}:{lineno}: expected 'query-id<TAB>corpus-id<TAB>score', got {len(cols)} columns")
        qid, doc, raw = (c.strip() for c in cols)
        try:
            score = int(raw)
        except ValueError:
            raise InputError(f"{path}:{lineno}: score {raw!r} is not an integer") from None
        if doc in qrels.get(qid, {}):
            message = f"{path}:{lineno}: query {qid!r} judges document {doc!r} twice"
            if strict:
                raise InputError(message)
            problems.append(message + "; kept the first")
            continue
        qrels.setdefault(qid, {})[doc] = score
    return qrels, problems


def _dangling(qrels: dict, queries: Mapping, docs: set, path: Path, strict: bool) -> list[str]:
    """Drop (or refuse) judgments whose query or document is unknown."""
    problems = []
    bad_queries = [q for q in qrels if q not in queries]
    bad_docs = sorted({d for judged in qrels.values() for d in judged if d not in docs})
    checks = (("queries missing from queries.jsonl", bad_queries), ("documents missing from the corpus", bad_docs))
    for kind, bad in checks:
        if bad:
            problems.append(f"{path}: qrels name {len(bad)} {kind}, e.g. {bad[:_EXAMPLES]}")
    if problems and strict:
        raise InputError("; ".join(problems) + " (load with strict=False to drop those judgments)")
    problems = [p + "; dropped" for p in problems]
    for q in bad_queries:
        del qrels[q]
    bad_doc_set = set(bad_docs)
    for q in list(qrels):
        qrels[q] = {d: s for d, s in qrels[q].items() if d not in bad_doc_set}
        if not qrels[q]:
            del qrels[q]
    return problems


def load_beir(path: str | Path, *, split: str = "test", strict: bool = True) -> BeirDataset:
    """Load one split of a BEIR-format folder, keeping the queries judged in that split.

    Args:
        path: folder holding ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.
        split: the qrels file to use.
        strict: refuse dangling or repeated judgments (default) instead of dropping them.

    Raises:
        InputError: a missing file (naming the splits there are), or any problem of the files.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"{str(folder)!r} is not a folder; expected a BEIR dataset folder")
    for name in ("corpus.jsonl", "queries.jsonl"):
        if not (folder / name).is_file():
            raise InputError(f"{str(folder)!r} has no {name}; expected corpus.jsonl, queries.jsonl and qrels/")
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        splits = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise InputError(f"{str(folder)!r} has no qrels/{split}.tsv; splits there: {splits or 'none'}")
    doc_ids, doc_texts = read_corpus(folder / "corpus.jsonl")
    queries = read_queries(folder / "queries.jsonl")
    qrels, problems = read_qrels(qrels_path, strict=strict)
    problems += _dangling(qrels, queries, set(doc_ids), qrels_path, strict)
    if not qrels:
        raise InputError(f"{qrels_path}: no judgments left to evaluate")
    for message in problems:
        logger.warning("%s", message)
    kept = [q for q in queries if q in qrels]
    return BeirDataset(
        name=folder.resolve().name,
        split=split,
        doc_ids=doc_ids,
        doc_texts=doc_texts,
        query_ids=tuple(kept),
        query_texts=tuple(queries[q] for q in kept),
        qrels=qrels,
        problems=tuple(problems),
    )


__all__ = ["BeirDataset", "load_beir", "read_corpus", "read_qrels", "read_queries"]
