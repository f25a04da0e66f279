"""A slow, obviously correct implementation of the matching contract, for tests and verification.

It searches each term separately with ``str.find`` and applies the rules literally; it shares no
code path with ``scanner.matcher`` beyond the lexicon's per-term flags.
"""

from __future__ import annotations

from scanner.lexicon import Lexicon, ascii_lower, is_ascii_alnum


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
