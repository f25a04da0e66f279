"""A slow, obviously correct implementation of the matching contract, for tests and verification.

It searches each term separately with ``str.find`` and applies the rules literally; it shares no
code path with ``scanner.match.matcher`` beyond the lexicon's per-term flags and, with normalisation, the
plain-Python definition of the steps (``scanner.match.normalize``), which the matcher applies to whole
columns with numpy and to terms through lexicon expansion instead.
"""

from __future__ import annotations

from scanner.lexicon.load import Lexicon, ascii_lower, is_ascii_alnum
from scanner.match.normalize import needed_steps, normalize, term_steps


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
