"""Data type detection: code vs prose, and the zh/en/other/code label per document."""

from __future__ import annotations

import inspect

import numpy as np
import pyarrow as pa

import scanner.datatype as datatype
from scanner.datatype import data_types, detect_code

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


def test_prose_is_not_code():
    assert not detect_code(pa.array(PROSE)).any()


def test_data_types_combine_language_and_code():
    language = pa.array(["zh", "en", "fr", "en", "und"])
    is_code = np.array([False, False, False, True, False])
    assert data_types(language, is_code).to_pylist() == ["zh", "en", "other", "code", "other"]
