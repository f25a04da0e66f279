"""How well ``flagged`` and ``unsafe`` agree with people: ``scanner evaluate OUT [--labels FILE]``.

Labels are a table (CSV, XLSX, JSONL or Parquet; ``scanner.io.tables``) with ``doc_id`` and ``label``:
``fail``/``unsafe``/``1``/``不合格``/``不通过`` mark an unsafe document, ``pass``/``safe``/``0``/``合格``/
``通过`` a safe one; an optional ``category`` holds the risk code of an unsafe one. Without a file, the
annotators' verdicts imported into OUT (``scanner sample import``) are the labels. The labels are kept in
``OUT/evaluation_labels.json``, so the evaluation is part of the report, rebuilt (and verified) from OUT
like every other figure.

Each labelled document's signals come from the scan's sample candidates (every document of the human and
per-source samples) or, for others, from ``OUT/annotations`` (scan with ``--annotate``); a labelled id
found in neither is an error naming its row.

Figures (``evaluation`` in report.json, and ``OUT/evaluation.json``): for ``flagged`` and for ``unsafe``,
the confusion counts and precision, recall and F1, each with a 95 % interval (Wilson for precision and
recall; a percentile bootstrap of 1,000 resamples with a fixed seed for F1, so a rebuild gives the same);
the same per source, and recall per labelled category; the terms behind most false positives; the
labelled-unsafe documents with no hit.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scanner.errors import ConfigError
from scanner.evidence.labels import parse_category, parse_label, read_label_rows
from scanner.evidence.outfolder import OutputFolder
from scanner.evidence.sampling import wilson_interval
from scanner.io.tables import unformula
from scanner.report.samples import merged_candidates, sample_spec

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 45654
SIGNAL_COLUMNS = ("doc_id", "flagged", "unsafe", "unsafe_reason", "source", "terms")


@dataclass(frozen=True)
class Label:
    """One labelled document: its id, whether people judged it unsafe, the risk code they gave."""

    doc_id: str
    unsafe: bool
    category: str
    where: str


def read_labels(path: Path) -> list[Label]:
    """The labels of a table (see the module docstring); a bad row is a ConfigError naming it."""
    rows, column = read_label_rows(path, "doc_id", "a label file needs the columns doc_id and label")
    labels, seen = [], set()
    for where, cells in rows:
        doc_id = unformula(cells.get("doc_id", "").strip())
        if not doc_id:
            msg = f"{where}: empty doc_id"
            raise ConfigError(msg)
        if doc_id in seen:
            msg = f"{where}: doc_id {doc_id!r} appears twice"
            raise ConfigError(msg)
        seen.add(doc_id)
        labels.append(Label(doc_id, parse_label(cells.get(column, ""), where), parse_category(cells, where), where))
    return labels


def labels_document(labels: list[Label], source: str) -> dict[str, Any]:
    """What ``OUT/evaluation_labels.json`` holds: where the labels came from and the labels."""
    payload = json.dumps([asdict(label) for label in labels], ensure_ascii=False, sort_keys=True)
    return {"source": source, "sha256": hashlib.sha256(payload.encode()).hexdigest(), "labels": [asdict(label) for label in labels]}


def verdict_labels(folder: OutputFolder) -> list[Label]:
    """The imported human verdicts as labels (``fail`` = unsafe)."""
    stored = folder.labels()
    if not stored or not stored.get("labels"):
        msg = f"{folder.uri('samples')}: no human verdicts imported (scanner sample import), and no --labels given"
        raise ConfigError(msg)
    return [Label(v["doc_id"], v["verdict"] == "fail", v.get("category") or "", f"human verdict of {v['doc_id']!r}") for v in stored["labels"]]


def document_signals(folder: OutputFolder, options: dict[str, Any], ids: set[str]) -> dict[str, dict[str, Any]]:
    """doc_id -> {flagged, unsafe, unsafe_reason, source, terms} of the labelled documents: from the sample
    candidates, then the annotation files (only read when some labelled id is not a candidate)."""
    found: dict[str, dict[str, Any]] = {}
    candidates = merged_candidates(folder, sample_spec(options))
    for row in candidates.select([c for c in SIGNAL_COLUMNS if c in candidates.column_names]).to_pylist():
        if row["doc_id"] in ids and row.get("unsafe") is not None:
            found[row["doc_id"]] = row
    if len(found) < len(ids):
        for table in folder.annotation_tables(list(SIGNAL_COLUMNS)):
            for row in table.to_pylist():
                if row["doc_id"] in ids:
                    found.setdefault(row["doc_id"], row)
    return found


def _metrics(truth: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Confusion counts, precision, recall and F1 with 95 % intervals."""
    tp = int(np.count_nonzero(truth & predicted))
    fp = int(np.count_nonzero(~truth & predicted))
    fn = int(np.count_nonzero(truth & ~predicted))
    tn = int(np.count_nonzero(~truth & ~predicted))
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    return {
        "true_positives": tp, "false_positives": fp, "false_negatives": fn, "true_negatives": tn,
        "precision": precision, "precision_interval_95": list(wilson_interval(tp, tp + fp)) if tp + fp else None,
        "recall": recall, "recall_interval_95": list(wilson_interval(tp, tp + fn)) if tp + fn else None,
        "f1": f1, "f1_interval_95": _bootstrap_f1(truth, predicted) if f1 is not None else None,
    }  # fmt: skip


def _bootstrap_f1(truth: np.ndarray, predicted: np.ndarray) -> list[float]:
    """Percentile interval of F1 over resamples of the labelled documents (fixed seed: reproducible)."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    picks = rng.integers(0, len(truth), size=(BOOTSTRAP_RESAMPLES, len(truth)))
    t, p = truth[picks], predicted[picks]
    tp = np.count_nonzero(t & p, axis=1)
    wrong = np.count_nonzero(t != p, axis=1)
    scores = np.where(2 * tp + wrong > 0, 2 * tp / np.maximum(2 * tp + wrong, 1), 0.0)
    low, high = np.quantile(scores, [0.025, 0.975])
    return [float(low), float(high)]


def evaluate(labels: Iterable[Label], signals: dict[str, dict[str, Any]], top: int = 20) -> dict[str, Any]:
    """The evaluation of ``labels`` against the documents' ``signals`` (see the module docstring)."""
    labels = list(labels)
    missing = [label for label in labels if label.doc_id not in signals]
    if missing:
        msg = (
            f"{missing[0].where}: doc_id {missing[0].doc_id!r} is neither in the samples of this output folder nor in its "
            f"annotations (scan with --annotate to evaluate documents outside the samples; {len(missing)} such label{'s' if len(missing) != 1 else ''})"
        )
        raise ConfigError(msg)
    rows = [signals[label.doc_id] for label in labels]
    truth = np.array([label.unsafe for label in labels], dtype=bool)
    flagged = np.array([bool(r["flagged"]) for r in rows], dtype=bool)
    unsafe = np.array([bool(r["unsafe"]) for r in rows], dtype=bool)
    sources = np.array([r["source"] for r in rows], dtype=object)
    by_source = {
        name: {"labelled": int(np.count_nonzero(mine)), "labelled_unsafe": int(np.count_nonzero(truth & mine)),
               "flagged": _metrics(truth[mine], flagged[mine]), "unsafe": _metrics(truth[mine], unsafe[mine])}
        for name in sorted(set(sources)) for mine in [sources == name]
    }  # fmt: skip
    categories = np.array([label.category for label in labels], dtype=object)
    by_category = {}
    for code in sorted({c for c in categories if c}):
        mine = truth & (categories == code)
        n = int(np.count_nonzero(mine))
        caught = {name: int(np.count_nonzero(mine & signal)) for name, signal in (("flagged", flagged), ("unsafe", unsafe))}
        by_category[code] = {"labelled_unsafe": n, **{f"{name}_recall": caught[name] / n for name in caught}, **{f"{name}_recall_interval_95": list(wilson_interval(caught[name], n)) for name in caught}}
    false_positive_terms = Counter(term for row, bad in zip(rows, ~truth & flagged) if bad for term in row["terms"] or [])
    missed = sorted(label.doc_id for label, hit in zip(labels, flagged) if label.unsafe and not hit)
    return {
        "labelled": len(labels),
        "labelled_unsafe": int(np.count_nonzero(truth)),
        "flagged": _metrics(truth, flagged),
        "unsafe": _metrics(truth, unsafe),
        "by_source": by_source,
        "by_category": by_category,
        "false_positive_terms": [{"term": term, "documents": n} for term, n in sorted(false_positive_terms.items(), key=lambda kv: (-kv[1], kv[0]))[:top]],
        "unsafe_without_hit": {"documents": len(missed), "doc_ids": missed[:50]},
    }


def stored_evaluation(folder: OutputFolder, options: dict[str, Any]) -> dict[str, Any] | None:
    """The evaluation of the labels kept in OUT (None if ``scanner evaluate`` was never run there)."""
    stored = folder.evaluation_labels()
    if stored is None:
        return None
    labels = verdict_labels(folder) if stored["source"] == "human verdicts" else [Label(**label) for label in stored["labels"]]
    result = evaluate(labels, document_signals(folder, options, {label.doc_id for label in labels}))
    return {"labels": {"source": stored["source"], "sha256": stored.get("sha256")}, **result}

