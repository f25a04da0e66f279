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
MIN_LINES = 3
MIN_SYMBOL_SHARE = 0.02
MIN_CODE_LINE_SHARE = 0.5


def _count(texts: pa.Array, pattern: str) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.count_substring_regex(texts, pattern), 0), dtype=np.float64)


def code_features(texts: pa.Array | pa.ChunkedArray) -> dict[str, np.ndarray]:
    """Per-document line count and the shares the rule uses (exposed for the benchmark)."""
    prefix = pc.utf8_slice_codeunits(texts, 0, PREFIX_CHARS)
    newline, empty = pa.scalar("\n", prefix.type), pa.scalar("", prefix.type)  # large_string texts need large scalars
    wrapped = pc.binary_join_element_wise(newline, pc.fill_null(prefix, empty), newline, empty)
    lines = _count(wrapped, _LINE)
    per_line = np.maximum(lines, 1)
    chars = np.maximum(np.asarray(pc.utf8_length(wrapped), dtype=np.float64), 1)
    return {
        "lines": lines,
        "code_line_share": np.minimum(
            1.0, (_count(wrapped, _CODE_END) + np.maximum(_count(wrapped, _INDENTED), _count(wrapped, _KEYWORD_START))) / per_line
        ),
        "symbol_share": _count(wrapped, _CODE_SYMBOLS) / chars,
    }


def detect_code(texts: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """True where a document looks like source code (see the module docstring)."""
    f = code_features(texts)
    return (f["lines"] >= MIN_LINES) & (f["code_line_share"] >= MIN_CODE_LINE_SHARE) & (f["symbol_share"] >= MIN_SYMBOL_SHARE)


def data_types(language: pa.Array, is_code: np.ndarray) -> pa.Array:
    """Per document: ``code`` where ``is_code``, else ``zh``/``en`` by language, else ``other``."""
    languages = language.to_numpy(zero_copy_only=False).astype(object)
    kinds = np.where(is_code, "code", np.where(languages == "zh", "zh", np.where(languages == "en", "en", "other")))
    return pa.array(kinds.tolist(), type=pa.string())
