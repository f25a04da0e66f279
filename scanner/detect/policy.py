"""Unsafe, not merely flagged: a versioned policy over a document's signals decides ``unsafe``.

A keyword hit is a signal, not a verdict (docs/evidence.md). Per document, in this order:

- ``high:<term>``: a hit of a high-severity term (a lexicon without a ``severity`` column is all high,
  so ``unsafe`` equals ``flagged`` until a filer tunes it);
- ``cooccur:<rule>``: a co-occurrence rule of severity high fired (``A&&B`` both in the document,
  ``A&&B~K`` at most K characters apart: the gap from the end of one hit to the start of the other);
- ``medium:<n>``: at least ``medium_min_terms`` distinct medium terms (a medium rule that fired counts as
  one), each hit within ``medium_window`` characters of the next one (none: anywhere in the document); a
  medium hit overlapping an earlier one (法轮 in 法轮功, 淫秽 after 色淫 in 色淫秽) is not counted again;
- low terms never decide;
- ``classifier``: the classifier scored the document at or above ``classifier_unsafe_at`` (by default the
  model's own threshold, from its card); ``medium+classifier``: a medium hit and a score at or above
  ``classifier_with_medium_at`` (off unless the policy sets it).

Hits inside an allow context were removed before (``scanner.scan.Scanner.analyse``). The policy is a TOML
file (``--policy``; the bundled ``lexicons/policy.toml`` by default) with a name and a version; both, and
its thresholds, are part of the options digest and every report's provenance.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from scanner.detect.base import Batch, Counts, Detector
from scanner.errors import ConfigError
from scanner.io.config import parse_toml, refuse_unknown_keys
from scanner.lexicon.load import Lexicon
from scanner.lexicon.taxonomy import RISK_CODES, RISKS, category_bit
from scanner.lexicon.terms import SEVERITIES, match_key
from scanner.match.hits import Hits

DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "lexicons" / "policy.toml"
_HIGH, _MEDIUM, _LOW = (SEVERITIES.index(s) for s in SEVERITIES)


@dataclass(frozen=True)
class Policy:
    """How signals combine into ``unsafe`` (see the module docstring). ``medium_window`` is in
    characters, None for the whole document. ``sha256`` is the file's, for provenance."""

    name: str = "default"
    version: str = "1"
    medium_min_terms: int = 2
    medium_window: int | None = 20
    classifier_unsafe_at: float | None = None
    classifier_with_medium_at: float | None = None
    path: str = ""
    sha256: str = ""


_POLICY_KEYS = ("name", "version", "medium", "classifier")
_MEDIUM_KEYS = ("min_terms", "window")
_CLASSIFIER_KEYS = ("unsafe_at", "with_medium_at")


def load_policy(path: str | Path) -> Policy:
    """A policy file: ``name``, ``version`` and a ``[medium]`` table (``min_terms``, ``window``; window
    ``0`` or ``"document"`` means the whole document). Unknown keys and bad values are a ConfigError
    naming the file and the key."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        msg = f"{path}: cannot read the policy ({e.strerror or e})"
        raise ConfigError(msg) from e
    document = parse_toml(data.decode("utf-8-sig", errors="replace"), str(path))
    refuse_unknown_keys(document, _POLICY_KEYS, str(path))
    medium = document.get("medium", {})
    if not isinstance(medium, dict):
        msg = f"{path}: [medium] must be a table"
        raise ConfigError(msg)
    refuse_unknown_keys(medium, _MEDIUM_KEYS, f"{path}: [medium]")
    if not str(document.get("version", "")).strip():
        msg = f"{path}: a policy must state its version (every report names the policy version it used)"
        raise ConfigError(msg)
    min_terms = medium.get("min_terms", 2)
    window = medium.get("window", 20)
    if not isinstance(min_terms, int) or isinstance(min_terms, bool) or min_terms < 1:
        msg = f"{path}: [medium] min_terms must be a whole number >= 1, not {min_terms!r}"
        raise ConfigError(msg)
    if window in (0, "document"):
        window = None
    elif not isinstance(window, int) or isinstance(window, bool) or window < 0:
        msg = f"{path}: [medium] window must be a number of characters or \"document\", not {window!r}"
        raise ConfigError(msg)
    classifier = document.get("classifier", {})
    if not isinstance(classifier, dict):
        msg = f"{path}: [classifier] must be a table"
        raise ConfigError(msg)
    refuse_unknown_keys(classifier, _CLASSIFIER_KEYS, f"{path}: [classifier]")
    thresholds = {key: _score(classifier.get(key), f"{path}: [classifier] {key}") for key in _CLASSIFIER_KEYS}
    return Policy(
        name=str(document.get("name", path.stem)),
        version=str(document["version"]),
        medium_min_terms=min_terms,
        medium_window=window,
        classifier_unsafe_at=thresholds["unsafe_at"],
        classifier_with_medium_at=thresholds["with_medium_at"],
        path=str(path),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _score(value: Any, where: str) -> float | None:
    """A score threshold in [0, 1]; absent or ``"model"`` means the model's own threshold (None)."""
    if value is None or value == "model":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        msg = f"{where} must be a score between 0 and 1 (or \"model\"), not {value!r}"
        raise ConfigError(msg)
    return float(value)


def default_policy() -> Policy:
    """The bundled policy, its path recorded as ``bundled`` (an install location would make the options
    digest differ between machines of one cluster)."""
    return dataclasses.replace(load_policy(DEFAULT_POLICY), path="bundled")


@dataclass(frozen=True)
class PolicyOptions:
    policy: Policy = field(default_factory=default_policy)
    """The unsafe policy (``--policy``): a ``Policy``, or a path loaded with ``load_policy``."""

    def __post_init__(self) -> None:
        if not isinstance(self.policy, Policy):
            object.__setattr__(self, "policy", load_policy(self.policy))


@dataclass(frozen=True)
class _Rules:
    """The lexicon's co-occurrence rules as arrays over pattern ids."""

    first: np.ndarray
    second: np.ndarray
    window: list[int | None]
    severity: np.ndarray
    categories: np.ndarray
    text: list[str]


class PolicyDetector(Detector):
    """``unsafe`` and ``unsafe_reason`` per document; ``unsafe_documents`` in total, per source and per
    category (a category counts the unsafe documents its deciding terms or rules belong to)."""

    name = "unsafe"
    Options = PolicyOptions
    columns = (pa.field("unsafe", pa.bool_()), pa.field("unsafe_reason", pa.string()))

    def __init__(self, options: Any, lexicon: Lexicon) -> None:
        super().__init__(options, lexicon)
        self.policy: Policy = options.policy
        severities = [SEVERITIES.index(t.severity) for t in lexicon.terms]
        self._severity = np.array(severities, dtype=np.int64)
        self._term_mask = np.array([sum(map(category_bit, t.categories)) for t in lexicon.terms], dtype=np.int64)
        self._all_high = all(s == _HIGH for s in severities) and not lexicon.rules
        ids = lexicon.pattern_ids
        rules = lexicon.rules
        self._rules = _Rules(
            first=np.array([ids[match_key(r.first)] for r in rules], dtype=np.int64),
            second=np.array([ids[match_key(r.second)] for r in rules], dtype=np.int64),
            window=[r.window for r in rules],
            severity=np.array([SEVERITIES.index(r.severity) for r in rules], dtype=np.int64),
            categories=np.array([sum(map(category_bit, r.categories)) for r in rules], dtype=np.int64),
            text=[r.text for r in rules],
        )

    def detect(self, batch: Batch) -> dict[str, Any]:
        rows = batch.rows
        hits = batch.hits
        reason = np.full(rows, "", dtype=object)
        mask = np.zeros(rows, dtype=np.int64)
        severity = self._severity[hits.term] if len(hits) else np.zeros(0, dtype=np.int64)
        high = severity == _HIGH
        self._decide_high(batch, high, reason, mask)
        if not self._all_high:
            fired = self._rules_fired(batch)
            for rule, doc in fired:
                if self._rules.severity[rule] == _HIGH and not reason[doc]:
                    reason[doc] = f"cooccur:{self._rules.text[rule]}"
                if self._rules.severity[rule] in (_HIGH, _MEDIUM) and reason[doc].startswith("cooccur:"):
                    mask[doc] |= self._rules.categories[rule]
            self._decide_medium(batch, severity == _MEDIUM, [(r, d) for r, d in fired if self._rules.severity[r] == _MEDIUM], reason, mask)
        if "classified" in batch.values and batch.values["classified"].any():
            self._decide_by_classifier(batch, severity == _MEDIUM, reason, mask)
        unsafe = reason != ""
        return {"unsafe": pa.array(unsafe), "unsafe_reason": pa.array(reason.tolist(), pa.string()), "unsafe_mask": mask}

    def _decide_high(self, batch: Batch, high: np.ndarray, reason: np.ndarray, mask: np.ndarray) -> None:
        """``high:<term>`` naming the document's first high hit (by start); the high terms' categories."""
        hits = batch.hits
        if not high.any():
            return
        row, term, start = hits.row[high], hits.term[high], hits.start[high]
        np.bitwise_or.at(mask, row, self._term_mask[term])
        order = np.lexsort((term, start, row))
        first = order[np.r_[True, row[order][1:] != row[order][:-1]]]
        texts = self.lexicon.terms
        for doc, t in zip(row[first].tolist(), term[first].tolist()):
            reason[doc] = f"high:{texts[t].text}"

    def _rules_fired(self, batch: Batch) -> list[tuple[int, int]]:
        """(rule, document) of every co-occurrence rule that fired."""
        if not len(self._rules.text):
            return []
        hits = batch.hits if batch.parts is None else _joined(batch.hits, batch.parts)
        fired = []
        for rule in range(len(self._rules.text)):
            a = hits.term == self._rules.first[rule]
            b = hits.term == self._rules.second[rule]
            both = np.intersect1d(hits.row[a], hits.row[b])
            window = self._rules.window[rule]
            for doc in both.tolist():
                if window is None or _min_gap(batch, doc, hits, a, b) <= window:
                    fired.append((rule, doc))
        return fired

    def _decide_medium(self, batch: Batch, medium: np.ndarray, medium_rules: list[tuple[int, int]], reason: np.ndarray, mask: np.ndarray) -> None:
        """``medium:<n>`` where at least ``medium_min_terms`` distinct medium terms (and medium rules) meet."""
        hits = batch.hits
        need = self.policy.medium_min_terms
        rules_per_doc: dict[int, list[int]] = {}
        for rule, doc in medium_rules:
            rules_per_doc.setdefault(doc, []).append(rule)
        medium &= ~_overlapping(hits, medium)
        row, term = hits.row[medium], hits.term[medium]
        distinct = np.unique(row * max(len(self.lexicon.terms), 1) + term)
        per_doc = np.bincount(distinct // max(len(self.lexicon.terms), 1), minlength=batch.rows)
        for doc in rules_per_doc:
            per_doc[doc] += len(rules_per_doc[doc])
        for doc in np.flatnonzero(per_doc >= need).tolist():
            if reason[doc]:
                continue
            mine = medium & (hits.row == doc)
            count = per_doc[doc] if self.policy.medium_window is None else _window_terms(batch, doc, hits, mine, self.policy.medium_window) + len(rules_per_doc.get(doc, []))
            if count >= need:
                reason[doc] = f"medium:{count}"
                mask[doc] |= np.bitwise_or.reduce(self._term_mask[hits.term[mine]]) if mine.any() else 0
                for rule in rules_per_doc.get(doc, []):
                    mask[doc] |= self._rules.categories[rule]

    def _decide_by_classifier(self, batch: Batch, medium: np.ndarray, reason: np.ndarray, mask: np.ndarray) -> None:
        """``classifier`` and ``medium+classifier`` for documents no keyword rule decided; a risk code the
        classifier names is the document's category."""
        scores = np.asarray(batch.values["classifier_score"].fill_null(-1.0))
        labels = batch.values["classifier_label"].to_pylist()
        unsafe_at = self.policy.classifier_unsafe_at if self.policy.classifier_unsafe_at is not None else batch.values["classifier_threshold"]
        with_medium = np.zeros(batch.rows, dtype=bool)
        if self.policy.classifier_with_medium_at is not None:
            with_medium[batch.hits.row[medium]] = True
            with_medium &= scores >= self.policy.classifier_with_medium_at
        for doc in np.flatnonzero((reason == "") & ((scores >= unsafe_at) | with_medium)).tolist():
            reason[doc] = "classifier" if scores[doc] >= unsafe_at else "medium+classifier"
            if labels[doc] in RISKS:
                mask[doc] |= category_bit(labels[doc])

    def count(self, batch: Batch) -> Counts:
        unsafe = np.asarray(batch.values["unsafe"], dtype=bool)
        masks = batch.values["unsafe_mask"]
        by_category = {}
        for bit, code in enumerate(RISK_CODES):
            documents = int(np.count_nonzero(unsafe & (masks >> bit & 1).astype(bool)))
            if documents:
                by_category[code] = documents
        by_source = {name: {"unsafe_documents": n} for name, n in batch.per_source(unsafe).items()}
        # Per category in totals, not in ``by_category``: that holds what the keywords found.
        totals = {"unsafe_documents": int(np.count_nonzero(unsafe)), "unsafe_by_category": by_category, "allowed_hits": batch.allowed_hits}
        classified = batch.values.get("classified")
        if classified is not None and classified.any():  # the technical spot check's pass rate is over these
            totals["classified_unsafe_documents"] = int(np.count_nonzero(unsafe & classified))
        return {"totals": totals, "by_source": by_source}

    @classmethod
    def report(cls, stats: Any, report: dict[str, Any]) -> None:
        """``unsafe_documents`` and ``unsafe_share`` in totals, per source and per category."""
        totals = report["totals"]
        if "unsafe_documents" not in stats.totals:  # units scanned before the policy existed: every hit decided
            stats = _flagged_as_unsafe(stats)
        totals["unsafe_documents"] = stats.totals.get("unsafe_documents", 0)
        totals["unsafe_share"] = _share(totals["unsafe_documents"], totals["documents"])
        totals["allowed_hits"] = stats.totals.get("allowed_hits", 0)
        for name, entry in report["by_source"].items():
            entry["unsafe_documents"] = stats.by_source.get(name, {}).get("unsafe_documents", 0)
            entry["unsafe_share"] = _share(entry["unsafe_documents"], entry["documents"])
        unsafe_by_category = totals.pop("unsafe_by_category", None) or stats.totals.get("unsafe_by_category", {})
        for code in unsafe_by_category:  # a category only a rule decided has no hits
            report["by_category"].setdefault(code, {"documents": 0, "hits": 0, "name_zh": RISKS[code].name_zh, "name_en": RISKS[code].name_en})
        for code, entry in report["by_category"].items():
            entry["unsafe_documents"] = unsafe_by_category.get(code, 0)
            entry["unsafe_share"] = _share(entry["unsafe_documents"], totals["documents"])
        report["by_category"] = dict(sorted(report["by_category"].items(), key=lambda kv: RISK_CODES.index(kv[0])))


def _flagged_as_unsafe(stats: Any) -> Any:
    """Stats of a scan without a policy, read as the all-high policy it had: unsafe = flagged."""
    copy = type(stats).from_dict(stats.to_dict())
    copy.totals["unsafe_documents"] = copy.totals["flagged_documents"]
    copy.totals["unsafe_by_category"] = {code: c["documents"] for code, c in copy.by_category.items()}
    for entry in copy.by_source.values():
        entry["unsafe_documents"] = entry["flagged_documents"]
    return copy


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _joined(hits: Hits, parts: Hits) -> Hits:
    """Term hits and rule-part hits in one set (rule parts may be terms or not)."""
    return Hits(hits.rows, *(np.concatenate([getattr(hits, f), getattr(parts, f)]) for f in ("row", "term", "start", "end", "steps")))


def _overlapping(hits: Any, medium: np.ndarray) -> np.ndarray:
    """Medium hits that overlap an earlier medium hit of their document (法轮 in 法轮功, the same span
    matched by two terms, or 淫秽 after 色淫 in 色淫秽): a run of overlapping hits is one piece of text,
    so it counts as one medium term, its first (by start, the longest first)."""
    overlapping = np.zeros(len(hits), dtype=bool)
    at = np.flatnonzero(medium)
    if len(at) < 2:
        return overlapping
    order = at[np.lexsort((-hits.end[at], hits.start[at], hits.row[at]))]
    row = hits.row[order] * (1 << 40)  # keys of earlier rows stay below any of this row
    before = np.maximum.accumulate(np.r_[-1, (row + hits.end[order])[:-1]])  # the largest end before each hit
    overlapping[order] = before > row + hits.start[order]  # an earlier hit of the same row reaches into it
    return overlapping


def _char_positions(batch: Batch, doc: int, byte_offsets: list[int]) -> list[int]:
    """Code-point offsets of these UTF-8 byte offsets into document ``doc``."""
    data = batch.text[doc].as_py().encode()
    return [len(data[:offset].decode(errors="ignore")) for offset in byte_offsets]


def _min_gap(batch: Batch, doc: int, hits: Any, a: np.ndarray, b: np.ndarray) -> int:
    """The smallest gap in characters between a hit of ``a`` and one of ``b`` in ``doc`` (0 if they overlap)."""
    in_doc = hits.row == doc
    spans = {}
    for name, mask in (("a", a & in_doc), ("b", b & in_doc)):
        starts, ends = hits.start[mask].tolist(), hits.end[mask].tolist()
        chars = _char_positions(batch, doc, starts + ends)
        spans[name] = list(zip(chars[: len(starts)], chars[len(starts) :]))
    return min(max(0, max(s1, s2) - min(e1, e2)) for s1, e1 in spans["a"] for s2, e2 in spans["b"])


def _window_terms(batch: Batch, doc: int, hits: Any, mine: np.ndarray, window: int) -> int:
    """The most distinct terms among a chain of ``doc``'s hits (``mine``) in which each hit starts at most
    ``window`` characters after the end of the one before."""
    starts, ends, terms = hits.start[mine].tolist(), hits.end[mine].tolist(), hits.term[mine].tolist()
    chars = _char_positions(batch, doc, starts + ends)
    spans = sorted(zip(chars[: len(starts)], chars[len(starts) :], terms))
    best, group, reach = 0, set(), None
    for start, end, term in spans:
        if reach is None or start - reach > window:
            group, reach = set(), end
        group.add(term)
        reach = max(reach, end)
        best = max(best, len(group))
    return best
