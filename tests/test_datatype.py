"""Data type detection: code vs prose, and the zh/en/other/code label per document."""

from __future__ import annotations

import inspect

import numpy as np
import pyarrow as pa
import pyarrow.compute
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scanner.detect.datatype as datatype
from scanner.detect.datatype import data_types, detect_code

PROSE = [
    "今天天气很好，我们去公园散步。\n公园里有很多人。\n大家都很开心。",
    "The committee met on Tuesday.\nIt approved the budget (after a long debate).\nMembers then left.",
    "@user lol that's wrong #fail &amp; so what\n@other yes!!\n@third ok",
    "",
    None,
]


def test_real_code_is_detected():
    code = inspect.getsource(datatype)
    c_code = "#include <stdio.h>\nint main(void) {\n    printf(\"hi\\n\");\n    return 0;\n}\n"
    js = "function add(a, b) {\n  const c = a + b;\n  return c;\n}\nmodule.exports = { add };\n"
    assert detect_code(pa.array([code, c_code, js])).tolist() == [True, True, True]


def test_line_endings_do_not_change_the_verdict():
    """Windows line endings: the same code, and the same prose, as with LF (a line ending in a code
    symbol is followed by CR LF there)."""
    sources = [inspect.getsource(m) for m in (datatype, inspect, pytest)] + [t for t in PROSE if t]
    as_lf = detect_code(pa.array(sources)).tolist()
    assert detect_code(pa.array([t.replace("\n", "\r\n") for t in sources])).tolist() == as_lf
    assert as_lf[:3] == [True, True, True]


def test_prose_is_not_code():
    assert not detect_code(pa.array(PROSE)).any()


def test_data_types_combine_language_and_code():
    language = pa.array(["zh", "en", "fr", "en", "und"])
    is_code = np.array([False, False, False, True, False])
    assert data_types(language, is_code).to_pylist() == ["zh", "en", "other", "code", "other"]


CODE_ALPHABET = "ab \n\t;{}()=_/\\|<>[]*:,#中文，。"


@given(
    texts=st.lists(st.one_of(st.none(), st.text(CODE_ALPHABET, max_size=60)), min_size=1, max_size=12),
    layout=st.sampled_from(["string", "large_string", "chunked"]),
)
@settings(max_examples=200, deadline=None)
def test_staged_detection_equals_the_rule_on_every_document(texts, layout):
    """The cheap pre-tests (newline and symbol counts over bytes) never change the rule's verdict."""
    column = {"string": pa.array(texts, pa.string()), "large_string": pa.array(texts, pa.large_string()),
              "chunked": pa.chunked_array([pa.array(texts[:1], pa.string()), pa.array(texts[1:], pa.string())])}[layout]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(datatype, "PREFIX_CHARS", 40)  # prefixes shorter than some texts
        f = datatype.code_features(column)
        detected = detect_code(column)
        chars = np.asarray(pa.compute.fill_null(pa.compute.utf8_length(column), 0))
        assert detect_code(column, chars).tolist() == detected.tolist()  # with lengths known, slicing is skipped when it can be
    rule = (f["lines"] >= datatype.MIN_LINES) & (f["code_line_share"] >= datatype.MIN_CODE_LINE_SHARE) & (f["symbol_share"] >= datatype.MIN_SYMBOL_SHARE)
    wrapped = pa.array([f"\n{(t or '')[:40]}\n" for t in texts])
    symbols = np.asarray(pa.compute.count_substring_regex(wrapped, datatype._CODE_SYMBOLS), dtype=np.float64)
    assert np.allclose(f["symbol_share"], symbols / np.maximum(np.asarray(pa.compute.utf8_length(wrapped)), 1))
    assert detected.tolist() == rule.tolist()
