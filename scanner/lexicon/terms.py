"""Terms and how they match: the match key (ASCII case folds at a Latin end), severities, allow contexts and co-occurrence rules. Below the loader and the lint, which both describe terms."""

from __future__ import annotations

from dataclasses import dataclass

from scanner.arrays import ASCII_ALNUM


def ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only (what Arrow's ``ascii_lower`` does); other characters are kept.

    ``bytes.lower`` touches ASCII only, and is ~10x faster than ``str.translate`` on CJK text.
    """
    return text.encode().lower().decode()


_ASCII_ALNUM = frozenset(ASCII_ALNUM)


def is_ascii_alnum(char: str) -> bool:
    """True for ``[0-9A-Za-z]``: the characters that make a term end case-insensitive and bounded."""
    return char in _ASCII_ALNUM


def match_key(text: str) -> str:
    """Terms with equal keys match exactly the same occurrences (Latin-edged terms fold ASCII case)."""
    return ascii_lower(text) if text[0] in _ASCII_ALNUM or text[-1] in _ASCII_ALNUM else text


SEVERITIES = ("high", "medium", "low")
"""Most severe first: a term listed with several severities keeps the most severe."""


ALLOW = "allow"




@dataclass(frozen=True)
class Term:
    """One lexicon term and how it matches.

    ``bounded_start``/``bounded_end`` say that end is an ASCII letter or digit, so the term
    matches there only on a word boundary; ``folded`` (either end bounded) means the whole term
    matches ASCII-case-insensitively. ``severity`` is what one hit means to the unsafe policy.
    """

    text: str
    categories: frozenset[str]
    languages: frozenset[str] = frozenset()
    severity: str = "high"

    @property
    def bounded_start(self) -> bool:
        return self.text[0] in _ASCII_ALNUM

    @property
    def bounded_end(self) -> bool:
        return self.text[-1] in _ASCII_ALNUM

    @property
    def folded(self) -> bool:
        return self.bounded_start or self.bounded_end

    @property
    def match_key(self) -> str:
        return match_key(self.text)


@dataclass(frozen=True)
class CooccurrenceRule:
    """``first&&second`` (both in one document) or ``first&&second~window`` (at most ``window``
    characters apart): the policy counts a document holding both like a hit of a term of this
    severity and these categories. ``text`` is the rule as written in the lexicon."""

    text: str
    first: str
    second: str
    window: int | None
    categories: frozenset[str]
    severity: str = "high"
