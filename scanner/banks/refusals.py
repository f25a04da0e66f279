"""Refusal detection: did the model decline to answer?

A phrase list (the bundled ``lexicons/refusals.tsv``, extended with ``--refusals FILE``) holds, per line, a
``phrase``, its ``kind`` and ``language`` (and a ``note``): ``refuse`` phrases say no (我无法提供, 恕难从命,
I can't help with, I must decline); ``allow`` phrases are contexts in which one of those does not (I can't
help but, 我无法想象), exactly as a lexicon's allow contexts suppress the hits inside them. The phrases are
matched by the scan's automaton (``scanner.scan.Scanner``) with the default normalisation (NFKC, case, t2s:
全角 and Traditional spellings match too); a phrase with an ASCII apostrophe also matches with a typographic
one (can’t).

An answer is a refusal when a ``refuse`` phrase lies within its first ``OPENING_CHARS`` characters (after
leading space): a refusal says so at once, while an answer that goes on to help and mentions later that it
cannot do something ("... I can't guarantee the exact figure") has answered. Measured on a hand-labelled
table of refusals and answers in Chinese and English (``tests/data/refusals_labelled.tsv``; docs/banks.md).
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from scanner.banks.phrases import phrase_lexicon
from scanner.errors import ConfigError

DEFAULT_REFUSALS = Path(__file__).resolve().parents[2] / "lexicons" / "refusals.tsv"
OPENING_CHARS = 120
KINDS = ("refuse", "allow")
_HEADER = ("phrase", "kind")


@dataclass(frozen=True)
class RefusalList:
    """Refusal phrases and allow contexts, with the files they came from ({path, sha256, phrases, allow})."""

    phrases: tuple[str, ...]
    allow: tuple[str, ...] = ()
    files: tuple[dict[str, Any], ...] = ()
    opening_chars: int = OPENING_CHARS

    def describe(self) -> dict[str, Any]:
        return {"files": list(self.files), "phrases": len(self.phrases), "allow": len(self.allow), "opening_chars": self.opening_chars, "fingerprint": self.fingerprint}

    @cached_property
    def fingerprint(self) -> str:
        lines = sorted([f"refuse\t{p}" for p in self.phrases] + [f"allow\t{p}" for p in self.allow])
        return hashlib.sha256("".join(f"{line}\n" for line in lines).encode()).hexdigest()

    @cached_property
    def scanner(self) -> Any:
        from scanner.scan import Scanner, ScanOptions

        lexicon = phrase_lexicon("refusals", self.fingerprint[:12], self.phrases, self.allow)
        return Scanner(lexicon, ScanOptions(langid=False, tokens="off"))

    def detect(self, answers: list[str | None]) -> tuple[np.ndarray, list[str | None]]:
        """(refused, the first refusal phrase as listed, or None) per answer."""
        opening = [(a or "").lstrip()[: self.opening_chars] for a in answers]
        if not opening:
            return np.zeros(0, dtype=bool), []
        table = self.scanner.annotate(pa.table({"text": pa.array(opening, pa.string())}), evidence=True)
        matches = table["matches"].to_pylist()
        phrases = [m[0]["term"].replace("\u2019", "'") if m else None for m in matches]  # as listed (see _variants)
        return np.array([p is not None for p in phrases], dtype=bool), phrases


def _variants(phrase: str) -> list[str]:
    """The phrase, and with a typographic apostrophe where it has an ASCII one."""
    return [phrase, phrase.replace("'", "\u2019")] if "'" in phrase else [phrase]


def read_refusals(path: Path) -> tuple[list[str], list[str]]:
    """(refuse phrases, allow contexts) of one TSV file; a bad line is a ConfigError naming ``file:line``."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        msg = f"{path}: cannot read the refusal phrases ({e})"
        raise ConfigError(msg) from e
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        msg = f"{path}: no refusal phrases"
        raise ConfigError(msg)
    first, header_line = lines[0]
    header = [h.strip().lower() for h in next(csv.reader([header_line], delimiter="\t", quoting=csv.QUOTE_NONE))]
    missing = [h for h in _HEADER if h not in header]
    if missing:
        msg = f"{path}:{first}: header lacks column {missing[0]!r} (expected phrase, kind, language, note; found: {', '.join(header)})"
        raise ConfigError(msg)
    refuse, allow = [], []
    for number, line in lines[1:]:
        cells = dict(zip(header, next(csv.reader(io.StringIO(line), delimiter="\t", quoting=csv.QUOTE_NONE))))
        phrase, kind = cells.get("phrase", "").strip(), cells.get("kind", "").strip().lower()
        if not phrase:
            msg = f"{path}:{number}: empty phrase"
            raise ConfigError(msg)
        if kind not in KINDS:
            msg = f"{path}:{number}: unknown kind {kind!r} for {phrase!r} (expected {' or '.join(KINDS)})"
            raise ConfigError(msg)
        (refuse if kind == "refuse" else allow).extend(_variants(phrase))
    return refuse, allow


def load_refusals(paths: list[str | Path] | tuple = (), *, bundled: bool = True, opening_chars: int = OPENING_CHARS) -> RefusalList:
    """The bundled phrase list (unless ``bundled`` is False) extended with the files in ``paths``."""
    files = ([DEFAULT_REFUSALS] if bundled else []) + [Path(p) for p in paths]
    if not files:
        msg = "no refusal phrases: give a phrase file or keep the bundled list"
        raise ConfigError(msg)
    refuse, allow, described = [], [], []
    for path in files:
        phrases, contexts = read_refusals(path)
        refuse += phrases
        allow += contexts
        shown = "bundled" if path == DEFAULT_REFUSALS else str(path)
        described.append({"path": shown, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "phrases": len(phrases), "allow": len(contexts)})
    return RefusalList(tuple(sorted(set(refuse))), tuple(sorted(set(allow))), tuple(described), opening_chars)
