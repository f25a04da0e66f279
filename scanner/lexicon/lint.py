"""Profile-independent findings about a lexicon's terms, carried in every run's provenance.

- duplicates (a term listed more than once, with where);
- terms that can never match: they hold unpaired surrogates, which no UTF-8 document can;
- terms that hold hidden characters (format characters such as a zero-width space): they match with
  those characters deleted while the ``invisible`` step is on (the default), and literally when it is
  off; usually a copy-paste artefact worth a look;
- single-character CJK terms, which flag huge shares of ordinary text (性 hits ~47 % of news).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from scanner.lexicon.terms import Term


def is_cjk(char: str) -> bool:
    """Han ideographs (incl. extensions and compatibility), kana and hangul."""
    name = unicodedata.name(char, "")
    return name.startswith(("CJK ", "HIRAGANA", "KATAKANA", "HANGUL"))


_FINDINGS = {"Cs": "contains unpaired surrogate", "Cf": "contains invisible format character"}


def character_findings(term: str) -> dict[str, str]:
    """Per finding category (``Cs``: can never match; ``Cf``: hidden characters), the reason for the
    first such character of ``term``; one pass over its characters."""
    found: dict[str, str] = {}
    for char in term:
        category = unicodedata.category(char)
        if category in _FINDINGS and category not in found:
            found[category] = f"{_FINDINGS[category]} U+{ord(char):04X}"
    return found


def lint_lexicon(terms: Iterable[Term], duplicates: Iterable[tuple[str, tuple[str, ...]]]) -> dict:
    """Profile-independent findings: duplicates (match key, places), never-matching terms, single-character CJK terms."""
    terms = list(terms)
    single = [t.text for t in terms if len(t.text) == 1 and is_cjk(t.text)]
    findings = [(t.text, character_findings(t.text)) for t in terms]
    return {
        "duplicates": [{"term": key, "places": list(places)} for key, places in duplicates],
        "never_match": [{"term": text, "reason": found["Cs"]} for text, found in findings if "Cs" in found],
        "hidden_characters": [{"term": text, "reason": found["Cf"]} for text, found in findings if "Cf" in found],
        "single_char_cjk": single,
        "warnings": (
            [f"{len(single)} single-character CJK terms: they flag large shares of ordinary text ({', '.join(single[:10])})"]
            if single
            else []
        ),
    }
