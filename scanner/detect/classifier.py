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
Han character and every symbol a token of its own, other letters and digits as words (``preprocess_many``:
the same strings for a whole batch with numpy tables, ~6x cheaper). A model whose card
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
from scanner.io import cache
from scanner.match.normalize import t2s_table, tables_key

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


_LIMIT = 0x40000
"""Code points below this (planes 0-3: the BMP, emoji, the Han extensions) have table entries in
``_tables``; a document with any other character is prepared by ``preprocess`` alone."""
_SEP = "\x1c"
"""Between the documents of a batch in ``preprocess_many``: whitespace to the URL pattern, not a word
character to the mention pattern, no token; a document holding it is prepared alone."""
_SPACE, _WORD, _HAN_TOKEN, _SYMBOL, _BREAK = 0, 1, 2, 3, 4
"""What ``_TOKENS`` makes of a character: nothing (whitespace), part of a word, a token alone; and
``_SEP``."""


@dataclass(frozen=True)
class _Tables:
    simple: np.ndarray
    """bool per code point (``_LIMIT`` + 1 entries, the last for any code point above): in a text made
    of these characters, NFKC, lower case and Traditional -> Simplified go character by character."""
    mapped: np.ndarray
    """uint32 per code point: its NFKC, lower-case, Simplified form where that is one code point (else
    its first code point; not simple: a space)."""
    longer: np.ndarray
    """bool per code point: simple, and its form is longer than one code point (``…`` -> ``...``)."""
    width: np.ndarray
    """int64 per code point: the length of its form (1 where not ``longer``)."""
    row: np.ndarray
    """int64 per code point: its row of ``expansions`` (where ``longer``)."""
    expansions: np.ndarray
    """uint32, the form of each character of ``longer``, one a row, padded."""
    token: np.ndarray
    """uint8 per code point: which alternative of ``_TOKENS`` takes it (``_SPACE``: none), ``_BREAK``
    for ``_SEP``."""


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    """``_table_arrays``, kept in ``scanner.io.cache`` (~5 ms to load; ~0.3 s to build) under the
    Unicode version, OpenCC and the sources of the t2s table and of this module."""
    arrays = cache.cached_arrays("tables", (b"classifier-preprocess", tables_key(), cache.source_digest(__file__)), _table_arrays)
    arrays = {name: np.asarray(a, dtype=np.int64) if name in ("width", "row") else a for name, a in arrays.items()}
    return _Tables(**arrays)


def _table_arrays() -> dict[str, np.ndarray]:
    """Built from ``unicodedata``, ``str.lower``, the t2s table and the ``_TOKENS`` classes themselves.

    A character is simple when its NFKD starts with a character of combining class 0 that can never be
    the second of a canonical composition (no character after the first of any canonical decomposition,
    no Hangul vowel or trailing jamo), and its NFKC holds no capital sigma (whose lower case depends on
    its neighbours). In a text of simple characters the NFKD of every character starts with a starter
    that composes with nothing before it and blocks the marks after it from what came before, so nothing
    reorders or composes across characters and NFKC is that of each character, concatenated; lower case
    and the t2s translation are per character anyway. (Characters are joined with NUL, a starter that
    composes with nothing, to compute them all at once.)"""
    codes = np.arange(_LIMIT, dtype=np.uint32)
    usable = ~((codes >= 0xD800) & (codes < 0xE000)) & (codes != 0)  # surrogates cannot be encoded; NUL joins
    chars = np.where(usable, codes, ord("a")).astype("<u4").tobytes().decode("utf-32-le")
    join = "\x00"
    joined = join.join(chars)
    canonical = unicodedata.normalize("NFD", joined).split(join)
    decomposed = unicodedata.normalize("NFKD", joined).split(join)
    composed = unicodedata.normalize("NFKC", joined).split(join)
    forms = join.join(composed).lower().translate(_t2s_translation()).split(join)
    assert len(canonical) == len(decomposed) == len(composed) == len(forms) == _LIMIT
    second = np.zeros(_LIMIT + 1, dtype=bool)
    later = np.array([ord(ch) for d in canonical if len(d) > 1 for ch in d[1:]], dtype=np.int64)
    second[np.minimum(later, _LIMIT)] = True
    second[0x1161:0x1176] = second[0x11A8:0x11C3] = True
    first = np.minimum(np.fromiter((ord(d[0]) for d in decomposed), dtype=np.int64, count=_LIMIT), _LIMIT)
    starter = np.append(np.fromiter(map(unicodedata.combining, chars), dtype=np.int64, count=_LIMIT) == 0, False)
    fits = np.fromiter((f != "" and ord(max(f)) < _LIMIT and _SEP not in f and "\u03a3" not in c for f, c in zip(forms, composed)), dtype=bool, count=_LIMIT)
    simple = usable & starter[first] & ~second[first] & fits
    simple[0] = True  # NUL: itself
    forms[0] = "\x00"
    width = np.where(simple, np.fromiter(map(len, forms), dtype=np.int64, count=_LIMIT), 1)
    longer = width > 1
    mapped = np.where(simple, np.fromiter((ord(f[0]) for f in forms), dtype=np.int64, count=_LIMIT), 32).astype(np.uint32)
    longest = np.flatnonzero(longer)
    row = np.zeros(_LIMIT + 1, dtype=np.int32)
    row[longest] = np.arange(len(longest))
    expansions = np.zeros((len(longest), int(width.max())), dtype=np.uint32)
    for i, code in enumerate(longest.tolist()):
        expansions[i, : width[code]] = [ord(ch) for ch in forms[code]]
    token = np.zeros(_LIMIT + 1, dtype=np.uint8)
    mark = "\U0010ffff"
    for kind, pattern in ((_SYMBOL, r"[^\w\s]"), (_WORD, rf"[^\W{_HAN}]"), (_HAN_TOKEN, f"[{_HAN}]")):  # the later, the more priority
        hits = np.frombuffer(re.sub(pattern, mark, chars).encode("utf-32-le"), dtype=np.uint32) == 0x10FFFF
        token[:_LIMIT][hits & usable] = kind
    token[0] = _SYMBOL if re.fullmatch(r"[^\w\s]", "\x00") else _SPACE
    token[ord(_SEP)] = _BREAK
    return {"simple": np.append(simple, False), "mapped": np.append(mapped, 32).astype(np.uint32), "longer": np.append(longer, False),
            "width": np.append(width, 1).astype(np.uint8), "row": row, "expansions": expansions, "token": token}  # fmt: skip


def preprocess_many(texts: list[str | None], prefix: int | None = PREFIX_CHARS) -> list[str]:
    """``preprocess`` of each text ("" for null or empty), for a whole batch at once: the texts joined by
    ``_SEP``, mapped and tokenised with numpy tables (``_tables``), the URL and mention patterns applied
    once; a text with a character the tables do not cover (combining marks, code points above
    ``_LIMIT``, ``_SEP``: 0.6 % of 3.8 KB Chinese web documents) is prepared by ``preprocess``. The same
    strings (tests/test_classifier.py checks them against the first implementation), ~17 us per 500
    characters instead of ~115."""
    lines = [""] * len(texts)
    rows = [i for i, t in enumerate(texts) if t]
    if not rows:
        return lines
    tables = _tables()
    cut = [texts[i][:prefix] if prefix else texts[i] for i in rows]
    ends = np.cumsum(np.fromiter(map(len, cut), dtype=np.int64, count=len(cut)) + 1) - 1  # each text's separator (or the end)
    codes = np.frombuffer(_SEP.join(cut).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    index = np.minimum(codes, _LIMIT).astype(np.int64)
    index[ends[:-1]] = 0
    odd = np.flatnonzero(~tables.simple[index])
    alone = np.zeros(len(rows), dtype=bool)
    alone[np.searchsorted(ends, odd)] = True
    mapped = tables.mapped[index]
    mapped[ends[:-1]] = ord(_SEP)
    longer = np.flatnonzero(tables.longer[index])
    if len(longer):  # each becomes its form: the first character in place, the others inserted after it
        widths, forms = tables.width[index[longer]], tables.row[index[longer]]
        more = widths - 1
        then = np.arange(int(more.sum())) - np.repeat(np.cumsum(more) - more, more) + 1  # 1, 2, ... within each form
        mapped = np.insert(mapped, np.repeat(longer + 1, more), tables.expansions[np.repeat(forms, more), then])
    text = mapped.astype("<u4", copy=False).tobytes().decode("utf-32-le")
    if "://" in text or "www." in text:
        text = _URL.sub(" __url__ ", text)
    if "@" in text:
        text = _MENTION.sub(" __user__ ", text)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    kind = tables.token[codes]
    chosen = np.flatnonzero(kind)  # tokens' characters and separators
    kinds = kind[chosen]
    kept = kinds != _BREAK
    word = kinds == _WORD
    spaced = np.zeros(len(chosen), dtype=bool)  # a space before it: not a text's first token, not within a word
    spaced[1:] = kept[1:] & kept[:-1] & ~(word[1:] & word[:-1] & (np.diff(chosen) == 1))
    at = np.cumsum(spaced, dtype=np.int64)
    at += np.arange(len(chosen))
    out = np.full(len(chosen) + (int(at[-1]) - len(chosen) + 1 if len(chosen) else 0), 32, dtype="<u4")
    out[at] = codes[chosen]
    prepared = out.tobytes().decode("utf-32-le").split(_SEP)
    assert len(prepared) == len(rows)
    for i, line, single in zip(rows, prepared, alone.tolist()):
        lines[i] = preprocess(texts[i], prefix) if single else line
    return lines


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
        safe = LABEL_PREFIX + SAFE
        for first in range(0, len(texts), _BATCH):
            chunk = preprocess_many(texts[first : first + _BATCH])
            wanted = [i for i, line in enumerate(chunk) if line]
            if not wanted:
                continue
            names, probabilities = model.predict([chunk[i] for i in wanted], k=k)
            # With k = every label, fastText returns all of them per row, the most likely first.
            rows = np.array(wanted, dtype=np.int64) + first
            table = np.array(probabilities, dtype=np.float64)
            at = np.array([row.index(safe) if safe in row else -1 for row in names], dtype=np.int64)
            p_safe = np.where(at >= 0, table[np.arange(len(wanted)), at], 0.0)
            scores[rows] = np.clip(1.0 - p_safe, 0.0, 1.0)
            for row, row_names in zip(rows.tolist(), names):
                labels[row] = row_names[0].removeprefix(LABEL_PREFIX)
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
