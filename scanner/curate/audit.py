"""Lexicon audit: term counts per risk code against the keyword-library rules of a profile, the
profile-independent lint (``scanner.lexicon.lint``), and what the terms become under the scan's
normalisation steps.

A term is matched by its normalised form, so it is judged by that form (``normalized_findings``): ``㊣``
becomes ``正`` under ``nfkc`` and then hits a common character. Listed, each with the steps that made it so:
terms whose form is a single character; terms whose form is one of the most frequent Chinese or
English words (``scanner/models/common_words.tsv``, ``en_words.tsv``); terms whose form is empty (deleted, never
matched); and terms that share one form (``ｐｏｒｎ`` and ``porn``), which count every hit twice.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from scanner.lexicon.lint import lint_lexicon
from scanner.lexicon.load import Lexicon
from scanner.lexicon.taxonomy import keyword_library_rules
from scanner.lexicon.terms import SEVERITIES, match_key
from scanner.match.normalize import DEFAULT_STEPS, normalize, term_steps

MODELS = Path(__file__).resolve().parents[1] / "models"
COMMON_ENGLISH_WORDS = 3000


@lru_cache(maxsize=1)
def common_words() -> dict[str, tuple[str, int]]:
    """Word (match key) -> (language, frequency rank from 1): the 5,000 most frequent Chinese words
    (``common_words.tsv``) and the 3,000 most frequent English ones (the head of ``en_words.tsv``, the
    language identifier's word list)."""
    words: dict[str, tuple[str, int]] = {}
    for language, name, limit in (("zh", "common_words.tsv", None), ("en", "en_words.tsv", COMMON_ENGLISH_WORDS)):
        rank = 0
        for line in (MODELS / name).read_text(encoding="utf-8").splitlines():
            word = line.split("\t", 1)[0]
            if not word or line.startswith("#") or match_key(word) in words:
                continue
            rank += 1
            words[match_key(word)] = (language, rank)
            if rank == limit:
                break
    return words


def normalized_findings(lexicon: Lexicon, steps: tuple[str, ...] = DEFAULT_STEPS) -> dict[str, list[dict]]:
    """What the terms become under ``steps`` (see the module docstring); ``steps`` of each finding are
    the steps that changed the term (empty: it is so as written)."""
    common = common_words()
    single, frequent, empty, forms = [], [], [], {}
    for term in lexicon.terms:
        active = term_steps(term.text, steps)
        form = normalize(term.text, active).text
        changed_by = [s for s in active if normalize(term.text, [s]).text != term.text]
        if not form:
            empty.append({"term": term.text, "steps": changed_by})
            continue
        key = match_key(form)
        forms.setdefault(key, []).append((term.text, changed_by))
        if len(form) == 1:
            single.append({"term": term.text, "form": form, "steps": changed_by})
        elif key in common:
            language, rank = common[key]
            frequent.append({"term": term.text, "form": form, "language": language, "rank": rank, "steps": changed_by})
    duplicates = [
        {"form": key, "terms": [text for text, _ in group], "steps": sorted({s for _, changed in group for s in changed})}
        for key, group in sorted(forms.items())
        if len(group) > 1
    ]
    return {"single_character": single, "common_word": sorted(frequent, key=lambda f: f["rank"]), "empty": empty, "same_form": duplicates}


def audit_lexicon(lexicon: Lexicon, profile_name: str, steps: tuple[str, ...] = DEFAULT_STEPS) -> dict:
    """The audit as a JSON-ready dict; ``verdict`` is pass only if every keyword-library rule holds.
    ``normalized`` holds ``normalized_findings`` under ``steps`` (the scan's ``--normalize``). What the
    unsafe policy reads is listed too: terms per severity, the co-occurrence rules and the allow rows."""
    counts = lexicon.terms_by_category()
    rules = keyword_library_rules(len(lexicon.terms), counts, profile_name)
    return {
        "name": lexicon.name,
        "version": lexicon.version,
        "fingerprint": lexicon.fingerprint,
        "profile": profile_name,
        "terms": len(lexicon.terms),
        "terms_by_category": counts,
        "terms_by_severity": {s: sum(t.severity == s for t in lexicon.terms) for s in SEVERITIES},
        "cooccurrence_rules": [{"rule": r.text, "severity": r.severity, "categories": sorted(r.categories)} for r in lexicon.rules],
        "allow": list(lexicon.allow),
        "rules": rules,
        "verdict": "pass" if all(r["status"] == "pass" for r in rules) else "fail",
        "failing_rules": [r["rule"] for r in rules if r["status"] == "fail"],
        **lint_lexicon(lexicon.terms, lexicon.duplicates),
        "normalize": list(steps),
        "normalized": normalized_findings(lexicon, steps),
    }
