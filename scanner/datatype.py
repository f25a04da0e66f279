"""Data type of a document for the filing form's corpus-scale table: Chinese text, English text,
other-language text, or code.

Code is what the source registry declares (``data_type = "code"``); otherwise a cheap heuristic
decides, computed with Arrow regex kernels over a bounded prefix of each document (no Python loop):
a document is code when it has at least 3 lines, at least half of them look like code (end in
``; { } ( ) : , [ ]``, start with a keyword or a comment marker, or are indented) and at least 2 % of
its characters are code symbols (``{}[]()=;<>_*/\\|``).
Measured precision and recall on real code and prose: benchmarks/code_detector.py (README there).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scanner.textview import offsets_and_data

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
_CODE_END = r"[;{}():,\[\]][ \t]*\n"
_CODE_SYMBOLS = r"[{}\[\]()=;<>_*/\\|]"  # not @ # & $: tweets are full of them
_BYTE_KIND = np.zeros(256, dtype=np.uint8)  # bit 1: newline; bit 2: a code symbol of _CODE_SYMBOLS
_BYTE_KIND[ord("\n")] = 1
_BYTE_KIND[list(b"{}[]()=;<>_*/\\|")] = 2
MIN_LINES = 3
MIN_SYMBOL_SHARE = 0.02
MIN_CODE_LINE_SHARE = 0.5


def _count(texts: pa.Array, pattern: str) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.count_substring_regex(texts, pattern), 0), dtype=np.float64)


def _prefixes(texts: pa.Array | pa.ChunkedArray, chars: np.ndarray | None = None) -> pa.Array:
    """Each document's first ``PREFIX_CHARS`` characters, one array (nulls stay null). With ``chars``
    (the texts' lengths in characters) and none longer than the prefix, the texts themselves: the
    slice kernel would copy every text (0.3 s per 400 MB of short documents)."""
    if chars is None or (len(chars) and chars.max() > PREFIX_CHARS):
        texts = pc.utf8_slice_codeunits(texts, 0, PREFIX_CHARS)
    return texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts


def _byte_counts(prefix: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Newlines and code symbols per prefix, from one lookup over the data buffer (all are ASCII
    bytes, which never occur inside a multi-byte UTF-8 character): ~10x cheaper than a regex count."""
    offsets, data = offsets_and_data(prefix)
    raw = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]]
    ascii_at = np.flatnonzero(raw < 0x80)  # few in Chinese text; the rest of the work is per ASCII byte
    kind = _BYTE_KIND[raw[ascii_at]]
    found = ascii_at[kind != 0]
    row = np.searchsorted(offsets, found + offsets[0], side="right") - 1
    rows = len(prefix)
    newlines = np.bincount(row, weights=kind[kind != 0] == 1, minlength=rows)
    return newlines, np.bincount(row, minlength=rows) - newlines


def _wrap_in_newlines(prefix: pa.Array) -> pa.Array:
    newline, empty = pa.scalar("\n", prefix.type), pa.scalar("", prefix.type)  # large_string texts need large scalars
    return pc.binary_join_element_wise(newline, pc.fill_null(prefix, empty), newline, empty)


def _line_features(prefix: pa.Array) -> dict[str, np.ndarray]:
    wrapped = _wrap_in_newlines(prefix)
    lines = _count(wrapped, _LINE)
    code_lines = _count(wrapped, _CODE_END) + np.maximum(_count(wrapped, _INDENTED), _count(wrapped, _KEYWORD_START))
    return {"lines": lines, "code_line_share": np.minimum(1.0, code_lines / np.maximum(lines, 1))}


def _symbol_share(prefix: pa.Array, symbols: np.ndarray) -> np.ndarray:
    chars = np.asarray(pc.fill_null(pc.utf8_length(prefix), 0), dtype=np.float64) + 2  # as if wrapped in newlines
    return symbols / chars


def code_features(texts: pa.Array | pa.ChunkedArray) -> dict[str, np.ndarray]:
    """Per-document line count and the shares the rule uses (exposed for the benchmark)."""
    prefix = _prefixes(texts)
    return {**_line_features(prefix), "symbol_share": _symbol_share(prefix, _byte_counts(prefix)[1])}


def detect_code(texts: pa.Array | pa.ChunkedArray, chars: np.ndarray | None = None) -> np.ndarray:
    """True where a document looks like source code (see the module docstring). Cheap tests first:
    enough newlines (fewer than ``MIN_LINES - 1`` in the prefix cannot make ``MIN_LINES`` lines) and
    the symbol share, both from one pass over the bytes; the four line regexes run only on the few
    documents left (prose rarely has 2 % ASCII code symbols). ``chars``: the texts' lengths in
    characters, if known (spares a copy when all fit in the prefix)."""
    prefix = _prefixes(texts, chars)
    newlines, symbols = _byte_counts(prefix)
    candidates = np.flatnonzero((newlines >= MIN_LINES - 1) & (_symbol_share(prefix, symbols) >= MIN_SYMBOL_SHARE))
    is_code = np.zeros(len(prefix), dtype=bool)
    if len(candidates):
        f = _line_features(prefix.take(pa.array(candidates)))
        is_code[candidates] = (f["lines"] >= MIN_LINES) & (f["code_line_share"] >= MIN_CODE_LINE_SHARE)
    return is_code


def data_types(language: pa.Array, is_code: np.ndarray) -> pa.Array:
    """Per document: ``code`` where ``is_code``, else ``zh``/``en`` by language, else ``other``."""
    languages = language.to_numpy(zero_copy_only=False).astype(object)
    kinds = np.where(is_code, "code", np.where(languages == "zh", "zh", np.where(languages == "en", "en", "other")))
    return pa.array(kinds.tolist(), type=pa.string())
