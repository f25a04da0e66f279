"""A slow, obviously correct implementation of the matching contract, for tests and verification.

It searches each term separately with ``str.find`` and applies the rules literally; it shares no
code path with ``scanner.match.matcher`` beyond the lexicon's per-term flags and, with normalisation, the
plain-Python definition of the steps (``scanner.match.normalize``), which the matcher applies to whole
columns with numpy and to terms through lexicon expansion instead.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np

from scanner.lexicon.load import Lexicon
from scanner.lexicon.terms import Term, ascii_lower, is_ascii_alnum
from scanner.match.normalize import needed_steps, normalize, t2s_table, term_steps


def naive_hits(lexicon: Lexicon, text: str | None) -> list[tuple[str, int]]:
    """Sorted (term as written, UTF-8 byte start) pairs of every hit of ``lexicon`` in ``text``."""
    if not text:
        return []
    lowered = ascii_lower(text)
    hits = []
    for term in lexicon.terms:
        haystack, needle = (lowered, ascii_lower(term.text)) if term.folded else (text, term.text)
        position = haystack.find(needle)
        while position != -1:
            end = position + len(needle)
            start_ok = not term.bounded_start or position == 0 or not is_ascii_alnum(text[position - 1])
            end_ok = not term.bounded_end or end == len(text) or not is_ascii_alnum(text[end])
            if start_ok and end_ok:
                hits.append((term.text, len(text[:position].encode())))
            position = haystack.find(needle, position + 1)
    return sorted(hits)


def naive_normalized_hits(lexicon: Lexicon, text: str | None, steps: tuple[str, ...] | list[str]) -> list[tuple[str, int, int, tuple[str, ...]]]:
    """Sorted (term as written, start, end, steps needed) of every hit with normalisation ``steps``.

    Literally: normalise the document and each term with ``scanner.match.normalize.normalize`` (the steps
    that apply to the term, ``term_steps``), apply the rules above to the normalised text, and map
    each hit's characters back to the original (start and end are UTF-8 byte offsets into ``text``).
    With ``repeats``, every run of the term must be at least as long in the text.
    """
    if not text:
        return []
    hits = []
    for term in lexicon.terms:
        active = term_steps(term.text, steps)
        doc = normalize(text, active)
        lowered = ascii_lower(doc.text)
        pattern = normalize(term.text, active)
        needle = pattern.text
        if not needle:
            continue
        bounded_start, bounded_end = is_ascii_alnum(needle[0]), is_ascii_alnum(needle[-1])
        haystack, needle = (lowered, ascii_lower(needle)) if bounded_start or bounded_end else (doc.text, needle)
        position = haystack.find(needle)
        while position != -1:
            end = position + len(needle)
            start_ok = not bounded_start or position == 0 or not is_ascii_alnum(doc.text[position - 1])
            end_ok = not bounded_end or end == len(doc.text) or not is_ascii_alnum(doc.text[end])
            runs_ok = all(doc.runs[position + k] >= n for k, n in enumerate(pattern.runs))
            if start_ok and end_ok and runs_ok:
                first, last = doc.origin[position][0], doc.origin[end - 1][1]
                byte_start = len(text[:first].encode())
                byte_end = byte_start + len(text[first:last].encode())
                hits.append((term.text, byte_start, byte_end, needed_steps(text[first:last], term.text, steps)))
            position = haystack.find(needle, position + 1)
    return sorted(hits)


def _occurrences(text: str, needle: str) -> list[tuple[int, int]]:
    """(start, end) in characters of every occurrence of ``needle`` under the matching contract, raw."""
    probe = Lexicon("probe", "1", (Term(needle, frozenset()),))
    found = []
    for _, start in naive_hits(probe, text):
        first = len(text.encode()[:start].decode())
        found.append((first, first + len(needle)))
    return found


def naive_unsafe(lexicon: Lexicon, policy, text: str | None) -> str:
    """The ``unsafe_reason`` of ``text`` ("" when safe) by the policy's rules applied literally, raw text
    (no normalisation): hits inside an allow occurrence are dropped; the first high hit (by start, then
    term order) decides; else the first high rule in rule order; else medium terms (one not counted when
    it overlaps an earlier medium hit) plus medium rules, within the window chain."""
    if not text:
        return ""
    allow = [span for a in lexicon.allow for span in _occurrences(text, a)]

    def kept(spans):
        return [(s, e) for s, e in spans if not any(a <= s and e <= b for a, b in allow)]

    term_hits = {t.text: kept(_occurrences(text, t.text)) for t in lexicon.terms}
    high = sorted((len(text[:s].encode()), index, t.text) for index, t in enumerate(lexicon.terms) if t.severity == "high" for s, _ in term_hits[t.text])
    if high:
        return f"high:{high[0][2]}"

    def spans_of(part):
        return term_hits.get(part) if part in term_hits else kept(_occurrences(text, part))

    fired = []
    for rule in lexicon.rules:
        a, b = spans_of(rule.first), spans_of(rule.second)
        if a and b and (rule.window is None or min(max(0, max(s1, s2) - min(e1, e2)) for s1, e1 in a for s2, e2 in b) <= rule.window):
            fired.append(rule)
    high_rules = [r for r in fired if r.severity == "high"]
    if high_rules:
        return f"cooccur:{high_rules[0].text}"
    medium = sorted((s, -e, t.text) for t in lexicon.terms if t.severity == "medium" for s, e in term_hits[t.text])
    counted, reach = [], -1
    for s, negative_end, term in medium:
        if s < reach:
            reach = max(reach, -negative_end)
            continue  # overlaps an earlier medium hit: the same piece of text
        counted.append((s, -negative_end, term))
        reach = -negative_end
    rules = sum(1 for r in fired if r.severity == "medium")
    if policy.medium_window is None:
        count = len({term for *_, term in counted}) + rules
    else:
        best, group, last = 0, set(), None
        for s, e, term in sorted(counted):
            if last is None or s - last > policy.medium_window:
                group, last = set(), e
            group.add(term)
            last = max(last, e)
            best = max(best, len(group))
        count = best + rules
    return f"medium:{count}" if count >= policy.medium_min_terms and (medium or rules) else ""


# The classifier's text preparation as it was written first (``scanner.detect.classifier`` at 6af75c0,
# PREPROCESS_VERSION 2), one document at a time with ``unicodedata``, ``str.lower``, ``str.translate``
# and ``re``: what ``preprocess_many`` and ``Classifier.predict`` must reproduce exactly.

_NAIVE_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_NAIVE_URL = re.compile(r"(?:https?://|www\.)\S+")
_NAIVE_MENTION = re.compile(r"@\w+")
_NAIVE_TOKENS = re.compile(rf"[{_NAIVE_HAN}]|[^\W{_NAIVE_HAN}]+|[^\w\s]")


@lru_cache(maxsize=1)
def _naive_t2s() -> dict[int, str]:
    return {ord(traditional): simplified for traditional, simplified in t2s_table().items()}


def naive_preprocess(text: str | None, prefix: int | None = 500) -> str:
    """One line of space-separated fastText tokens: the first ``prefix`` characters, NFKC, lower case,
    Traditional -> Simplified, URLs and @mentions as placeholders, Han characters and symbols alone."""
    if not text:
        return ""
    if prefix:
        text = text[:prefix]
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    text = text.lower().translate(_naive_t2s())
    text = _NAIVE_URL.sub(" __url__ ", text)
    text = _NAIVE_MENTION.sub(" __user__ ", text)
    return " ".join(_NAIVE_TOKENS.findall(text))


def naive_classifier_predict(classifier, texts: list[str | None]) -> tuple[np.ndarray, list[str]]:
    """``Classifier.predict`` as it was first written: (P(unsafe) = 1 - P(safe), most likely label) per
    text, from a dict of fastText's labels per row; null or empty text scores 0 and is ``safe``."""
    scores = np.zeros(len(texts), dtype=np.float64)
    labels = ["safe"] * len(texts)
    model = classifier._model
    k = len(model.get_labels())
    for first in range(0, len(texts), 4096):
        chunk = [naive_preprocess(t) for t in texts[first : first + 4096]]
        wanted = [i for i, line in enumerate(chunk) if line]
        if not wanted:
            continue
        names, probabilities = model.predict([chunk[i] for i in wanted], k=k)
        for i, row_names, row_probabilities in zip(wanted, names, probabilities):
            by_label = {name.removeprefix("__label__"): float(p) for name, p in zip(row_names, row_probabilities)}
            scores[first + i] = min(1.0, max(0.0, 1.0 - by_label.get("safe", 0.0)))
            labels[first + i] = max(by_label, key=by_label.get)
    return scores, labels
