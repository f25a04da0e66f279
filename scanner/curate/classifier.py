"""Training and evaluating the classifier (``scanner classifier train|evaluate``) on labelled texts.

The recipe (measured in docs/unsafe.md#the-bundled-model; COLD, a Chinese offensive-comment corpus): fastText supervised on
``scanner.detect.classifier.preprocess``'d text (Han characters and symbols as tokens, Latin words),
word 1-3-grams (so character uni- to trigrams for Chinese), dimension 16, 10 epochs, learning rate 0.5,
softmax, 2 M hash buckets. A fifth of the labelled documents (chosen by a hash of the text, so the
split does not depend on the order of the files) is held back: the model is trained on the rest, and the
card reports its precision, recall and F1 on the held-back fifth. The threshold is chosen on out-of-fold
scores of the training part (5 folds): the highest threshold whose F1 is within 0.005 of the best, which
costs almost no F1 and halves false positives on clean text. The model is quantized (product
quantization, the 100,000 most useful features, or 20 per document for small sets), a few MB; so are the fold models, since quantization
shifts the scores upwards: a threshold chosen on unquantized scores flagged 4.8 % of clean web text
instead of 2.2 % (it costs ~1.5x the training time).

Labels: ``text`` and ``label`` (``scanner.evidence.labels``) and, optionally, ``category``: with
``categories``, unsafe documents are trained under their risk code (``unsafe`` where none is given), so the
model names the risk; the score stays 1 - P(safe).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from scanner.detect.classifier import (
    CARD_FORMAT,
    PREFIX_CHARS,
    PREPROCESS_VERSION,
    SAFE,
    Classifier,
    card_path,
    preprocess,
)
from scanner.errors import ConfigError
from scanner.evidence.labels import parse_category, parse_label, read_label_rows
from scanner.evidence.sampling import wilson_interval
from scanner.io.atomic import atomic_write_bytes, json_bytes
from scanner.io.tables import unformula

HYPERPARAMETERS = {"wordNgrams": 3, "dim": 16, "epoch": 10, "lr": 0.5, "loss": "softmax", "minCount": 1, "bucket": 2_000_000, "minn": 0, "maxn": 0}
QUANTIZATION = {"qnorm": False, "retrain": True, "dsub": 2}  # qnorm=True collapsed small models to one label
MAX_FEATURES, FEATURES_PER_DOCUMENT = 100_000, 20


def quantization(documents: int) -> dict[str, Any]:
    """Quantization settings for a model trained on ``documents``: keep at most 100,000 features, and 20 per
    document below 5,000 documents. Quantizing takes ~10 s whatever the data's size at 100,000 (the product
    quantizer's k-means runs over the kept rows), ~1 s at 8,000."""
    return {"cutoff": min(MAX_FEATURES, FEATURES_PER_DOCUMENT * documents), **QUANTIZATION}
HELD_BACK_SHARE = 0.2
FOLDS = 5
THRESHOLD_EPS = 0.005
SEED = 0
UNSAFE = "unsafe"
SWEEP = tuple(round(0.05 * i, 2) for i in range(1, 20))


@dataclass(frozen=True)
class LabelledText:
    """One training or test document: its text, whether it is unsafe, its risk code if one was given."""

    text: str
    unsafe: bool
    category: str = ""


@dataclass(frozen=True)
class LabelFile:
    """A label file's provenance for the model card."""

    path: str
    sha256: str
    documents: int
    unsafe: int
    licence: str = ""


def read_labelled_texts(path: Path, licence: str = "") -> tuple[list[LabelledText], LabelFile]:
    """The documents of a table with ``text``, ``label`` and optionally ``category``; a bad row is a
    ConfigError naming it."""
    rows, column = read_label_rows(path, "text", "a label file of texts needs the columns text and label")
    texts = []
    for where, cells in rows:
        text = unformula(cells.get("text", ""))
        if not text.strip():
            msg = f"{where}: empty text"
            raise ConfigError(msg)
        texts.append(LabelledText(text, parse_label(cells.get(column, ""), where), parse_category(cells, where)))
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return texts, LabelFile(str(path), digest, len(texts), sum(t.unsafe for t in texts), licence)


def _label(text: LabelledText, *, categories: bool) -> str:
    if not text.unsafe:
        return SAFE
    return (text.category or UNSAFE) if categories else UNSAFE


def _held_back(texts: list[LabelledText]) -> np.ndarray:
    """Which documents are held back: a hash of the text, so any order of the files gives the same split."""
    digests = np.array([int.from_bytes(hashlib.blake2b(t.text.encode(), digest_size=8).digest(), "big") for t in texts], dtype=np.uint64)
    return digests < np.uint64(int(HELD_BACK_SHARE * 2**64))


def _fit(texts: list[LabelledText], *, categories: bool, threads: int) -> Any:
    """A quantized fastText model trained on ``texts``."""
    import fasttext

    fd, path = tempfile.mkstemp(suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(f"__label__{_label(t, categories=categories)} {preprocess(t.text, prefix=None)}\n")
        model = fasttext.train_supervised(input=path, seed=SEED, thread=threads, verbose=0, **HYPERPARAMETERS)
        model.quantize(input=path, thread=threads, **quantization(len(texts)))
        return model
    finally:
        os.unlink(path)


def _scores(model: Any, texts: Iterable[str]) -> np.ndarray:
    return Classifier.from_model(model).predict(list(texts))[0]


MIN_LANGUAGE_SHARE = 0.05
"""A language counts as the model's when at least this share of its training documents are in it."""


def training_languages(texts: list[str]) -> tuple[list[str], str]:
    """The languages (primary subtags) of at least ``MIN_LANGUAGE_SHARE`` of ``texts`` by the scan's language
    identifier, and a sentence saying so for the card."""
    import pyarrow as pa

    from scanner.detect.language import UNDETERMINED, LanguageIdentifier

    found = Counter(code.split("-")[0] for code in LanguageIdentifier().identify(pa.array(texts, pa.string())).to_pylist())
    found.pop(UNDETERMINED, None)
    total = sum(found.values())
    kept = sorted(code for code, n in found.items() if total and n / total >= MIN_LANGUAGE_SHARE)
    shares = ", ".join(f"{code} {100 * found[code] / total:.1f} %" for code in kept)
    return kept, f"the training documents' languages of at least {100 * MIN_LANGUAGE_SHARE:g} % each ({shares})"


def choose_threshold(truth: np.ndarray, scores: np.ndarray, eps: float = THRESHOLD_EPS) -> tuple[float, float]:
    """(threshold, F1 there): the highest threshold whose F1 on these scores is within ``eps`` of the best."""
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], truth[order]
    tp, fp = np.cumsum(hits), np.cumsum(~hits)
    f1 = 2 * tp / (tp + fp + int(truth.sum()))
    f1 = np.where(np.r_[ranked[1:] < ranked[:-1], True], f1, -1.0)  # only between distinct scores
    best = int(np.flatnonzero(f1 >= f1.max() - eps).min())
    threshold = (ranked[best] + ranked[best + 1]) / 2 if best + 1 < len(ranked) else ranked[best]
    return float(threshold), float(f1[best])


def metrics(truth: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Precision, recall and F1 with Wilson 95 % intervals for precision and recall, and the counts."""
    tp = int(np.count_nonzero(truth & predicted))
    fp = int(np.count_nonzero(~truth & predicted))
    fn = int(np.count_nonzero(truth & ~predicted))
    return {
        "documents": len(truth), "unsafe": int(truth.sum()), "true_positives": tp, "false_positives": fp, "false_negatives": fn,
        "precision": tp / (tp + fp) if tp + fp else None, "precision_interval_95": list(wilson_interval(tp, tp + fp)) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None, "recall_interval_95": list(wilson_interval(tp, tp + fn)) if tp + fn else None,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None,
    }  # fmt: skip


def train(
    texts: list[LabelledText], output: Path, files: list[LabelFile], *, categories: bool = False, threads: int = 2, languages: Iterable[str] | None = None
) -> dict[str, Any]:
    """Train, choose the threshold, measure on the held-back fifth, quantize; write ``output`` and its
    card (``output``.json); returns the card. ``languages`` (primary subtags such as ``zh``; empty: any;
    None: those of the training texts, ``training_languages``) go to the card: a scan scores only
    documents of those languages, since a model guesses on a language it never saw (a Chinese model
    scored English Python docstrings 0.97-0.99996 unsafe)."""
    if sum(t.unsafe for t in texts) < FOLDS or sum(not t.unsafe for t in texts) < FOLDS:
        msg = f"training needs at least {FOLDS} unsafe and {FOLDS} safe labelled documents (got {sum(t.unsafe for t in texts)} and {sum(not t.unsafe for t in texts)})"
        raise ConfigError(msg)
    languages, languages_reason = (
        (sorted(set(languages)), "given" if languages else "any language (given)") if languages is not None else training_languages([t.text for t in texts])
    )
    held = _held_back(texts)
    training = [t for t, h in zip(texts, held) if not h]
    test = [t for t, h in zip(texts, held) if h]
    truth = np.array([t.unsafe for t in training], dtype=bool)
    fold = np.random.default_rng(SEED).permutation(len(training)) % FOLDS
    out_of_fold = np.zeros(len(training))
    for k in range(FOLDS):
        model = _fit([t for t, f in zip(training, fold) if f != k], categories=categories, threads=threads)
        out_of_fold[fold == k] = _scores(model, [t.text for t, f in zip(training, fold) if f == k])
    threshold, out_of_fold_f1 = choose_threshold(truth, out_of_fold)
    model = _fit(training, categories=categories, threads=threads)
    output.parent.mkdir(parents=True, exist_ok=True)
    model.save_model(str(output))
    test_truth = np.array([t.unsafe for t in test], dtype=bool)
    test_scores = _scores(model, [t.text for t in test]) if test else np.zeros(0)
    card = {
        "format": CARD_FORMAT,
        "model": output.name,
        "sha256": hashlib.sha256(output.read_bytes()).hexdigest(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "labels": sorted(model.get_labels()),
        "threshold": round(threshold, 6),
        "threshold_reason": f"the highest threshold whose F1 on out-of-fold scores of the training part ({FOLDS} folds) is within {THRESHOLD_EPS} of the best; F1 there {out_of_fold_f1:.4f}",
        "preprocess": {"version": PREPROCESS_VERSION, "prefix_chars": PREFIX_CHARS},
        "languages": languages,
        "languages_reason": languages_reason,
        "hyperparameters": HYPERPARAMETERS,
        "quantization": quantization(len(training)),
        "training": {"documents": len(training), "unsafe": int(truth.sum()), "held_back": len(test), "held_back_share": HELD_BACK_SHARE,
                     "files": [vars(f) for f in files], "licences": sorted({f.licence for f in files if f.licence})},  # fmt: skip
        "held_back": metrics(test_truth, test_scores >= threshold) if test else None,
        "model_bytes": output.stat().st_size,
    }
    atomic_write_bytes(card_path(output), json_bytes(card))
    return card


def evaluate(classifier: Classifier, texts: list[LabelledText], threshold: float | None = None) -> dict[str, Any]:
    """The model on labelled texts: metrics at its threshold (or ``threshold``), a sweep of thresholds,
    and recall per labelled category."""
    threshold = classifier.threshold if threshold is None else threshold
    truth = np.array([t.unsafe for t in texts], dtype=bool)
    scores, _ = classifier.predict([t.text for t in texts])
    by_category = {}
    for code in sorted({t.category for t in texts if t.category}):
        mine = truth & np.array([t.category == code for t in texts])
        caught = int(np.count_nonzero(mine & (scores >= threshold)))
        by_category[code] = {"unsafe": int(mine.sum()), "recall": caught / int(mine.sum()), "recall_interval_95": list(wilson_interval(caught, int(mine.sum())))}
    return {
        "model": classifier.path.name,
        "sha256": classifier.sha256,
        "threshold": threshold,
        "at_threshold": metrics(truth, scores >= threshold),
        "sweep": [{"threshold": t, **{k: v for k, v in metrics(truth, scores >= t).items() if k in ("precision", "recall", "f1")}} for t in SWEEP],
        "by_category": by_category,
    }
