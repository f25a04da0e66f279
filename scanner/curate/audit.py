"""Lexicon audit: term counts per risk code against the keyword-library rules of a profile, plus the
profile-independent lint (``scanner.lexicon.lint``)."""

from __future__ import annotations

from scanner.lexicon.lint import lint_lexicon
from scanner.lexicon.load import Lexicon
from scanner.lexicon.taxonomy import keyword_library_rules


def audit_lexicon(lexicon: Lexicon, profile_name: str) -> dict:
    """The audit as a JSON-ready dict; ``verdict`` is pass only if every keyword-library rule holds."""
    counts = lexicon.terms_by_category()
    rules = keyword_library_rules(len(lexicon.terms), counts, profile_name)
    return {
        "name": lexicon.name,
        "version": lexicon.version,
        "fingerprint": lexicon.fingerprint,
        "profile": profile_name,
        "terms": len(lexicon.terms),
        "terms_by_category": counts,
        "rules": rules,
        "verdict": "pass" if all(r["status"] == "pass" for r in rules) else "fail",
        "failing_rules": [r["rule"] for r in rules if r["status"] == "fail"],
        **lint_lexicon(lexicon),
    }
