"""Phrases without risk codes as a lexicon, so the one automaton (``scanner.scan.Scanner``, with the
scan's normalisation and allow contexts) finds them: a bank's questions in a corpus, refusal phrases in answers."""

from __future__ import annotations

from collections.abc import Iterable

from scanner.lexicon.load import Lexicon, Term, match_key


def phrase_lexicon(name: str, version: str, phrases: Iterable[str], allow: Iterable[str] = ()) -> Lexicon:
    """A lexicon of ``phrases`` (surrounding space stripped, empty ones dropped, one term per match key,
    written as the smallest spelling, as the loaders do) and allow contexts, none with a category."""
    terms: dict[str, str] = {}
    for phrase in phrases:
        text = phrase.strip()
        if text:
            key = match_key(text)
            terms[key] = min(terms.get(key, text), text)
    contexts: dict[str, str] = {}
    for phrase in allow:
        text = phrase.strip()
        if text:
            key = match_key(text)
            contexts[key] = min(contexts.get(key, text), text)
    return Lexicon(
        name=name,
        version=version,
        terms=tuple(sorted((Term(text, frozenset()) for text in terms.values()), key=lambda t: t.text)),
        allow=tuple(sorted(contexts.values())),
    )
