"""A text classifier beside the keywords: fastText supervised, trained on the filer's own verdicts
(``scanner classifier train``) or the bundled baseline, scoring P(unsafe) per document.

A model is two files: ``MODEL`` (fastText, quantized) and ``MODEL.json``, its card (``scanner.curate.
classifier`` writes both): the threshold chosen on held-back data and why, the training data's
fingerprints, counts and licences, metrics, and the preprocessing version. Its labels are ``safe`` and
either ``unsafe`` or risk codes (a document's category when the training labels gave one): the score is
1 - P(safe), and ``classifier_label`` the most likely label.

Text is prepared as the model was trained (``preprocess``): the first ``PREFIX_CHARS`` characters, NFKC,
lower case and Traditional -> Simplified (the scan's ``t2s`` table: without it a model trained on Simplified
text lost 0.09 F1 on COLD's test split converted to Traditional), URLs and @mentions as placeholders, every
Han character and every symbol a token of its own, other letters and digits as words. A model whose card
names its ``languages`` scores only documents of those languages (or of none known: ``und``, or language
ID off); the others stay unclassified. fastText holds the GIL, so a scan with a classifier runs its
workers as processes, and scores one batch per ``predict`` call.

``classify`` picks the documents scored: ``all``, ``sample`` (an order-free technical sample of
``TECHNICAL_SAMPLE_SHARE`` of the documents by a keyed hash of the id, the same for any worker count and
re-run, as the human sample) or a fraction such as ``0.25``.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from scanner.arrays import keyed_hashes, with_nulls
from scanner.detect.base import Batch, Counts, Detector, codes_of
from scanner.detect.language import UNDETERMINED
from scanner.errors import ConfigError
from scanner.match.normalize import t2s_table

PREFIX_CHARS = 500
"""Characters of a document the model reads. Measured on the bundled model: a 500-character prefix scores
COLD's test split and the clean corpora as 1,000 did (the training comments are shorter), and scores long
documents at ~19 MB/s per core (13.6 at 1,000, 8.7 whole), where the scan needs 15."""
PREPROCESS_VERSION = 2
CARD_FORMAT = "scanner-classifier/1"
TECHNICAL_SAMPLE_SHARE = 0.10
"""The standard's technical spot check covers at least 10 % of the corpus."""
SAFE = "safe"
LABEL_PREFIX = "__label__"
BUNDLED = Path(__file__).resolve().parents[1] / "models" / "classifier_zh.ftz"
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_URL = re.compile(r"(?:https?://|www\.)\S+")
_MENTION = re.compile(r"@\w+")
_TOKENS = re.compile(rf"[{_HAN}]|[^\W{_HAN}]+|[^\w\s]")
"""A token: one Han character, a run of other letters, digits or ``_``, or one other symbol (punctuation,
emoji). ``findall`` and a join are ~7x faster than spacing the Han characters and symbols with ``re.sub``."""
_BATCH = 4096


def preprocess(text: str, prefix: int | None = PREFIX_CHARS) -> str:
    """One line of space-separated fastText tokens (see the module docstring); no newline survives,
    which fastText's ``predict`` requires."""
    if prefix:
        text = text[:prefix]
    if not unicodedata.is_normalized("NFKC", text):  # the check is far cheaper than normalising
        text = unicodedata.normalize("NFKC", text)
    text = text.lower().translate(_t2s_translation())
    text = _URL.sub(" __url__ ", text)
    text = _MENTION.sub(" __user__ ", text)
    return " ".join(_TOKENS.findall(text))


@lru_cache(maxsize=1)
def _t2s_translation() -> dict[int, str]:
    return {ord(traditional): simplified for traditional, simplified in t2s_table().items()}


def card_path(model: Path) -> Path:
    return model.with_name(model.name + ".json")


@dataclass(frozen=True)
class Classifier:
    """A trained model and its card; loads the model on first use (pickles cheaply to workers)."""

    path: Path
    card: dict[str, Any]

    @classmethod
    def load(cls, location: str | Path) -> Classifier:
        """The model at ``location`` (``default``: the bundled one) with its card; a missing or foreign
        file is a ConfigError naming it."""
        path = BUNDLED if str(location) == "default" else Path(location)
        card = card_path(path)
        try:
            document = json.loads(card.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            msg = f"{card}: cannot read the classifier's card ({e}); train models with `scanner classifier train`"
            raise ConfigError(msg) from e
        if not isinstance(document, dict) or document.get("format") != CARD_FORMAT:
            msg = f"{card}: not a scanner classifier card (format {CARD_FORMAT})"
            raise ConfigError(msg)
        if not path.is_file():
            msg = f"{path}: the classifier model is missing"
            raise ConfigError(msg)
        return cls(path, document)

    @classmethod
    def from_model(cls, model: Any, threshold: float = 0.5) -> Classifier:
        """A model still in memory (training), with no card but a threshold."""
        classifier = cls(Path("<in memory>"), {"threshold": threshold})
        classifier.__dict__["_model"] = model
        return classifier

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    @property
    def threshold(self) -> float:
        return float(self.card["threshold"])

    @property
    def languages(self) -> frozenset[str]:
        """The languages the model was trained for (primary subtags, ``zh``); empty: any."""
        return frozenset(self.card.get("languages") or ())

    @cached_property
    def _model(self) -> Any:
        import fasttext

        return fasttext.load_model(str(self.path))

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "card": self.card}

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "path", state["path"])
        object.__setattr__(self, "card", state["card"])

    def predict(self, texts: list[str | None]) -> tuple[np.ndarray, list[str]]:
        """(P(unsafe), most likely label) per text; null or empty text scores 0 and is ``safe``."""
        scores = np.zeros(len(texts), dtype=np.float64)
        labels = [SAFE] * len(texts)
        model = self._model
        k = len(model.get_labels())
        for first in range(0, len(texts), _BATCH):
            chunk = [preprocess(t) if t else "" for t in texts[first : first + _BATCH]]
            wanted = [i for i, line in enumerate(chunk) if line]
            if not wanted:
                continue
            names, probabilities = model.predict([chunk[i] for i in wanted], k=k)
            for i, row_names, row_probabilities in zip(wanted, names, probabilities):
                by_label = {name.removeprefix(LABEL_PREFIX): float(p) for name, p in zip(row_names, row_probabilities)}
                scores[first + i] = min(1.0, max(0.0, 1.0 - by_label.get(SAFE, 0.0)))
                labels[first + i] = max(by_label, key=by_label.get)
        return scores, labels


def _parse_classify(value: str) -> str:
    """``all``, ``sample`` or a fraction in (0, 1], as written (it enters the options digest)."""
    if value in ("all", "sample"):
        return value
    try:
        fraction = float(value)
    except ValueError:
        fraction = -1.0
    if not 0 < fraction <= 1:
        msg = f"classify must be all, sample or a fraction in (0, 1], not {value!r}"
        raise ConfigError(msg)
    return value


@dataclass(frozen=True)
class ClassifierOptions:
    classifier: str | None = None
    """A model path (``MODEL`` with ``MODEL.json`` beside it), ``default`` for the bundled model, or None."""
    classify: str = "all"
    """``all``, ``sample`` (``TECHNICAL_SAMPLE_SHARE`` of the documents, order-free) or a fraction."""
    classifier_sha256: str | None = None
    """Set from the model file: a model changed in place changes the scores, so the options digest too."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "classify", _parse_classify(str(self.classify)))
        if self.classifier is not None:
            object.__setattr__(self, "classifier_sha256", Classifier.load(self.classifier).sha256)

    @property
    def classified_share(self) -> float:
        """The share of documents the classifier scores (by the keyed hash of their ids)."""
        return {"all": 1.0, "sample": TECHNICAL_SAMPLE_SHARE}.get(self.classify) or float(self.classify)


class ClassifierDetector(Detector):
    """``classifier_score`` (P(unsafe); null where not classified) and ``classifier_label`` per document;
    per source and in total, ``classified_documents`` and ``classifier_unsafe_documents`` (score at or
    above the model's threshold)."""

    name = "classifier"
    Options = ClassifierOptions
    columns = (pa.field("classifier_score", pa.float64()), pa.field("classifier_label", pa.string()))

    def __init__(self, options: Any, lexicon: Any) -> None:
        super().__init__(options, lexicon)
        self.classifier = Classifier.load(options.classifier) if options.classifier else None
        self._cut = np.uint64(min(int(options.classified_share * 2**64), 2**64 - 1))
        at = options.policy.classifier_unsafe_at
        self.threshold = (at if at is not None else self.classifier.threshold) if self.classifier else None

    def warm_up(self) -> None:
        if self.classifier is not None:
            self.classifier.predict(["warm-up"])

    def describe(self) -> dict[str, Any] | None:
        if self.classifier is None:
            return None
        return {"model": self.classifier.path.name, "sha256": self.classifier.sha256, "threshold": self.threshold, "model_threshold": self.classifier.threshold,
                "threshold_from": "policy" if self.options.policy.classifier_unsafe_at is not None else "model"}  # fmt: skip

    def _chosen(self, batch: Batch) -> np.ndarray:
        """Documents to score: all, or those whose keyed id hash falls in the classified share; of a model
        trained for some languages, only documents of those (or of no known language)."""
        if self.options.classify == "all":
            chosen = np.ones(batch.rows, dtype=bool)
        else:
            chosen = keyed_hashes(batch.doc_id.to_pylist(), f"{self.options.sample.seed}/technical") <= self._cut
        if self.classifier.languages:
            codes, names = codes_of(batch.values["language"])
            fits = np.array([name == UNDETERMINED or name.split("-")[0] in self.classifier.languages for name in names], dtype=bool)
            chosen &= fits[codes] if len(codes) else chosen
        return chosen

    def detect(self, batch: Batch) -> dict[str, Any]:
        if self.classifier is None:
            nulls = pa.nulls(batch.rows, pa.float64()), pa.nulls(batch.rows, pa.string())
            return {"classifier_score": nulls[0], "classifier_label": nulls[1], "classified": np.zeros(batch.rows, dtype=bool)}
        chosen = self._chosen(batch) & (batch.doc_bytes > 0)
        rows = np.flatnonzero(chosen)
        scores = np.zeros(batch.rows, dtype=np.float64)
        labels: list[str | None] = [None] * batch.rows
        if len(rows):
            found, names = self.classifier.predict(batch.text.take(pa.array(rows)).to_pylist())
            scores[rows] = found
            for row, name in zip(rows.tolist(), names):
                labels[row] = name
        return {
            "classifier_score": with_nulls(scores, chosen, pa.float64()),
            "classifier_label": pa.array(labels, pa.string()),
            "classified": chosen,
            "classifier_threshold": self.threshold,
        }

    def count(self, batch: Batch) -> Counts:
        if self.classifier is None:
            return {}
        chosen = batch.values["classified"]
        scores = np.asarray(batch.values["classifier_score"].fill_null(0.0))
        unsafe = chosen & (scores >= self.threshold)
        by_source = {
            name: {"classified_documents": n, "classifier_unsafe_documents": batch.per_source(unsafe).get(name, 0)} for name, n in batch.per_source(chosen).items()
        }
        return {"totals": {"classified_documents": int(chosen.sum()), "classifier_unsafe_documents": int(unsafe.sum())}, "by_source": by_source}

    @classmethod
    def report(cls, stats: Any, report: dict[str, Any]) -> None:
        """Per source, ``classified_documents`` and ``classifier_unsafe_documents`` (0 without a classifier)."""
        for name, entry in report["by_source"].items():
            counted = stats.by_source.get(name, {})
            for key in ("classified_documents", "classifier_unsafe_documents"):
                entry[key] = counted.get(key, 0)
