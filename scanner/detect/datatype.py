"""Data type of a document for the filing form's corpus-scale table: Chinese text, English text,
other-language text, or code.

Code is what the source registry declares (``data_type = "code"``); otherwise a cheap heuristic
decides, computed with Arrow regex kernels over a bounded prefix of each document (no Python loop):
a document is code when it has at least 3 lines, at least half of them look like code (end in
``; { } ( ) : , [ ]``, start with a keyword or a comment marker, or are indented) and at least 2 % of
its characters are code symbols (``{}[]()=;<>_*/\\|``).
Measured precision and recall on real code and prose: benchmarks/code_detector.py (figures in docs/evidence.md and docs/design.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scanner.arrays import offsets_and_data
from scanner.detect.base import (
    CODE_SYMBOL,
    NEWLINE,
    Batch,
    ByteClasses,
    Counts,
    Detector,
    byte_classes,
    codes_of,
    group_counts,
)

DATA_TYPES = ("zh", "en", "other", "code")
PREFIX_CHARS = 4000
# Patterns count line starts and ends through the newline before/after them (Arrow's regex count
# mishandles zero-width ``^``/``$``), so every document is wrapped in newlines first.
_LINE = r"\n[^\n]*\S"
_INDENTED = r"\n[ \t]+\S"
_KEYWORD_START = (
    r"\n[ \t]*(?:#include|#define|#!|import |from \S+ import|def |class |public |private |protected |static |"
    r"function |return\b|var |let |const |package |func |fn |if ?\(|for ?\(|while ?\(|else\b|elif |try:|except\b|"
    r"//|/\*|\*|<\?php|\}|\{)"
)
_CODE_END = r"[;{}():,\[\]][ \t]*\r?\n"  # CRLF files too
_CODE_SYMBOLS = r"[{}\[\]()=;<>_*/\\|]"  # scanner.detect.base.CODE_SYMBOLS as a regex class (not @ # & $: tweets are full of them)
MIN_LINES = 3
MIN_SYMBOL_SHARE = 0.02
MIN_CODE_LINE_SHARE = 0.5


def _count(texts: pa.Array, pattern: str) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.count_substring_regex(texts, pattern), 0), dtype=np.float64)


def _prefixes(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each document's first ``PREFIX_CHARS`` characters, one array (nulls stay null)."""
    return _combined(pc.utf8_slice_codeunits(texts, 0, PREFIX_CHARS))


def _prefix_bytes(texts: pa.Array, chars: np.ndarray) -> np.ndarray:
    """UTF-8 bytes of each document's prefix (0 for nulls): the whole text unless it is longer than
    ``PREFIX_CHARS``, and only those few are sliced (slicing every text copied it: 0.4 s per 400 MB)."""
    offsets, _ = offsets_and_data(texts)
    size = np.diff(offsets) * np.asarray(texts.is_valid(), dtype=bool)
    long = np.flatnonzero(chars > PREFIX_CHARS)
    if len(long):
        size[long] = np.asarray(pc.binary_length(_prefixes(texts.take(pa.array(long)))), dtype=np.int64)
    return size


def _byte_counts(texts: pa.Array, limit: np.ndarray, classes: ByteClasses | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Newlines and code symbols in the first ``limit[row]`` bytes of each text, from the batch's byte
    classes (all are ASCII bytes, which never occur inside a multi-byte UTF-8 character): ~10x cheaper
    than a regex count. Counted at the rows' boundaries in the classified positions, not per byte."""
    classes = byte_classes(texts) if classes is None else classes
    start = classes.offsets[:-1]
    return classes.counts(NEWLINE, start, start + limit).astype(np.float64), classes.counts(CODE_SYMBOL, start, start + limit).astype(np.float64)


def _wrap_in_newlines(prefix: pa.Array) -> pa.Array:
    newline, empty = pa.scalar("\n", prefix.type), pa.scalar("", prefix.type)  # large_string texts need large scalars
    return pc.binary_join_element_wise(newline, pc.fill_null(prefix, empty), newline, empty)


def _line_features(prefix: pa.Array) -> dict[str, np.ndarray]:
    wrapped = _wrap_in_newlines(prefix)
    lines = _count(wrapped, _LINE)
    code_lines = _count(wrapped, _CODE_END) + np.maximum(_count(wrapped, _INDENTED), _count(wrapped, _KEYWORD_START))
    return {"lines": lines, "code_line_share": np.minimum(1.0, code_lines / np.maximum(lines, 1))}


def _symbol_shares(texts: pa.Array, chars: np.ndarray, classes: ByteClasses | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(newlines, code-symbol share) of each document's prefix; the share is over the prefix's
    characters plus two, as if it were wrapped in newlines like the line patterns see it."""
    newlines, symbols = _byte_counts(texts, _prefix_bytes(texts, chars), classes)
    return newlines, symbols / (np.minimum(chars, PREFIX_CHARS) + 2)


def _combined(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    return texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts


def char_counts(texts: pa.Array) -> np.ndarray:
    """Characters per text, 0 for nulls."""
    return np.asarray(pc.fill_null(pc.utf8_length(texts), 0), dtype=np.int64)


def code_features(texts: pa.Array | pa.ChunkedArray) -> dict[str, np.ndarray]:
    """Per-document line count and the shares the rule uses (exposed for the benchmark)."""
    texts = _combined(texts)
    return {**_line_features(_prefixes(texts)), "symbol_share": _symbol_shares(texts, char_counts(texts))[1]}


def detect_code(texts: pa.Array | pa.ChunkedArray, chars: np.ndarray | None = None, classes: ByteClasses | None = None) -> np.ndarray:
    """True where a document looks like source code (see the module docstring). Cheap tests first:
    enough newlines (fewer than ``MIN_LINES - 1`` in the prefix cannot make ``MIN_LINES`` lines) and
    the symbol share, both from the batch's one pass over the bytes (``classes``, made here if not
    given); the four line regexes run only on the few documents left (prose rarely has 2 % ASCII code
    symbols). ``chars``: the texts' lengths in characters (0 for nulls), if known."""
    texts = _combined(texts)
    chars = char_counts(texts) if chars is None else chars
    newlines, symbol_share = _symbol_shares(texts, chars, classes)
    candidates = np.flatnonzero((newlines >= MIN_LINES - 1) & (symbol_share >= MIN_SYMBOL_SHARE))
    is_code = np.zeros(len(texts), dtype=bool)
    if len(candidates):
        f = _line_features(_prefixes(texts.take(pa.array(candidates))))
        is_code[candidates] = (f["lines"] >= MIN_LINES) & (f["code_line_share"] >= MIN_CODE_LINE_SHARE)
    return is_code


def data_types(language: pa.Array, is_code: np.ndarray) -> pa.Array:
    """Per document: ``code`` where ``is_code``, else ``zh``/``en`` by language, else ``other``."""
    languages = language.to_numpy(zero_copy_only=False).astype(object)
    kinds = np.where(is_code, "code", np.where(languages == "zh", "zh", np.where(languages == "en", "en", "other")))
    return pa.array(kinds.tolist(), type=pa.string())


class DataTypeDetector(Detector):
    """``data_type`` per document (for the filing table, not an annotation column); per source,
    ``data_types`` {type: {documents, bytes}}. Code is what the registry declares or ``detect_code`` finds."""

    name = "data_type"

    def __init__(self, options: Any, lexicon: Any) -> None:
        super().__init__(options, lexicon)
        self._code_sources = pa.array([e.name for e in options.registry.entries if e.data_type == "code"], pa.string())

    def detect(self, batch: Batch) -> dict[str, Any]:
        is_code = detect_code(batch.text, batch.doc_chars, batch.byte_classes) | np.asarray(pc.is_in(batch.values["source"], self._code_sources), dtype=bool)
        return {"data_type": data_types(batch.values["language"], is_code)}

    def count(self, batch: Batch) -> Counts:
        return {"by_source": per_source_and_type(batch, {"documents": None, "bytes": batch.doc_bytes})}


def per_source_and_type(batch: Batch, sums: dict[str, np.ndarray | None]) -> dict[str, Any]:
    """``{source: {"data_types": {type: {name: sum}}}}`` for every (source, data type) pair that holds
    documents, zero sums included; a ``None`` weight counts documents."""
    source, sources = codes_of(batch.values["source"])
    kind, kinds = codes_of(batch.values["data_type"])
    present = group_counts(source, len(sources), kind, len(kinds))
    totals = {name: present if weights is None else group_counts(source, len(sources), kind, len(kinds), weights) for name, weights in sums.items()}
    return {
        sources[s]: {"data_types": {kinds[k]: {name: int(values[s, k]) for name, values in totals.items()} for k in np.flatnonzero(present[s])}}
        for s in range(len(sources))
    }
