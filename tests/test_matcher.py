"""The matching contract, rule by rule, on every Arrow layout; and the matcher against the naive reference."""

from __future__ import annotations

import pyarrow as pa
import pytest
from conftest import make_lexicon
from hypothesis import example, given, settings
from hypothesis import strategies as st
from reference import naive_hits

import scanner
from scanner.match.matcher import Matcher


def found(lexicon: scanner.Lexicon, column) -> list[list[tuple[str, int]]]:
    """Per-document sorted (term, byte start) pairs, as the matcher reports them."""
    hits = Matcher(lexicon).find(column)
    per_row: list[list[tuple[str, int]]] = [[] for _ in range(hits.rows)]
    for row, term, start in zip(hits.row.tolist(), hits.term.tolist(), hits.start.tolist()):
        per_row[row].append((lexicon.terms[term].text, start))
    return [sorted(r) for r in per_row]


# (name, terms, document, expected sorted (term, UTF-8 byte start) hits)
CASES = [
    ("overlapping CJK terms both hit", ["中国", "中国人"], "中国人民", [("中国", 0), ("中国人", 0)]),
    ("overlapping occurrences of one exact term", ["哈哈"], "哈哈哈", [("哈哈", 0), ("哈哈", 3)]),
    ("repeated Latin term at word boundaries", ["aa"], "aa aa", [("aa", 0), ("aa", 3)]),
    ("Latin term needs a boundary, so aa misses inside aaa", ["aa"], "aaa", []),
    ("ass does not hit inside class", ["ass"], "class", []),
    ("ass hits as a word", ["ass"], "what an ass.", [("ass", 8)]),
    ("Latin terms are ASCII-case-insensitive", ["Fuck"], "FUCK fuck FuCk", [("Fuck", 0), ("Fuck", 5), ("Fuck", 10)]),
    ("C++ hits: boundary only at its alphanumeric start", ["C++"], "learn c++ now", [("C++", 6)]),
    ("C++ followed by a letter still hits (no boundary at +)", ["C++"], "c++x", [("C++", 0)]),
    ("C++ preceded by a letter misses", ["C++"], "xc++", []),
    ("digits count as word characters", ["420"], "4200 420 a420", [("420", 5)]),
    ("underscore is not a word character here", ["ass"], "_ass_", [("ass", 1)]),
    ("CJK neighbours are boundaries for Latin terms", ["sex"], "性sex性", [("sex", 3)]),
    ("CJK terms are exact substrings inside words", ["国人"], "中国人民", [("国人", 3)]),
    ("exact term with inner ASCII letter is case-sensitive", ["中A国"], "中a国 中A国", [("中A国", 8)]),
    ("term with trailing ASCII letter is folded and bounded at the end", ["卖B"], "卖b 卖Bx", [("卖B", 0)]),
    ("4-byte characters are matched and offsets are bytes", ["𠀀𠀁"], "a𠀀𠀁", [("𠀀𠀁", 1)]),
    ("emoji terms", ["🍆"], "x🍆🍆", [("🍆", 1), ("🍆", 5)]),
    ("non-ASCII letters are not folded", ["ÄB"], "äb ÄB", [("ÄB", 4)]),
    ("non-ASCII letters are not word characters", ["ab"], "éabé", [("ab", 2)]),
    ("term equal to the whole document", ["sex"], "sex", [("sex", 0)]),
    ("no hit in empty text", ["sex"], "", []),
]


@pytest.mark.parametrize(("terms", "text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_matching_rule(terms, text, expected):
    lexicon = make_lexicon(*[(t, "A1.6") for t in terms])
    assert found(lexicon, pa.array([text])) == [expected]
    assert naive_hits(lexicon, text) == expected


LAYOUTS = {
    "string": lambda docs: pa.array(docs, type=pa.string()),
    "large_string": lambda docs: pa.array(docs, type=pa.large_string()),
    "sliced": lambda docs: pa.array(["ass", "中国人", *docs, "sex"]).slice(2, len(docs)),
    "chunked": lambda docs: pa.chunked_array([pa.array(docs[:1], pa.string()), pa.array(docs[1:], pa.string())]),
    "sliced_large": lambda docs: pa.array(["中国", *docs], type=pa.large_string()).slice(1),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts_nulls_and_cross_row_spans(layout):
    # "中" ends row 0 and "国" starts row 1: concatenated buffers hold "中国", which must not hit.
    docs = ["我爱中", "国人", None, "", "ass sex", "中国人", "SEX"]
    lexicon = make_lexicon(("中国", "A1.1"), ("中国人", "A1.1"), ("sex", "A1.6"), ("ass", "A1.6"))
    result = found(lexicon, LAYOUTS[layout](docs))
    assert result == [naive_hits(lexicon, d) for d in docs]
    assert result[0] == [] and result[1] == []
    assert result[4] == [("ass", 0), ("sex", 4)]


def test_latin_term_across_row_boundary_is_not_matched():
    # Row 0 "xx as" + row 1 "s" would read "ass" across the boundary.
    lexicon = make_lexicon(("ass", "A1.6"))
    assert found(lexicon, pa.array(["xx as", "s yy"])) == [[], []]


def test_boundary_is_judged_within_the_document_not_the_buffer():
    # "sex" starts row 1, preceded in the buffer by row 0's "a": the document edge is a boundary.
    lexicon = make_lexicon(("sex", "A1.6"))
    assert found(lexicon, pa.array(["a", "sex", "b"])) == [[], [("sex", 0)], []]


def test_all_null_and_empty_columns():
    lexicon = make_lexicon(("sex", "A1.6"))
    assert found(lexicon, pa.array([None, None], pa.string())) == [[], []]
    assert found(lexicon, pa.array([], pa.string())) == []
    assert found(lexicon, pa.array(["", ""], pa.large_string())) == [[], []]


def test_non_string_column_is_refused():
    with pytest.raises(TypeError, match="string"):
        Matcher(make_lexicon(("sex", "A1.6"))).find(pa.array([1, 2]))


def test_matcher_is_reusable_across_threads():
    from concurrent.futures import ThreadPoolExecutor

    lexicon = make_lexicon(("中国", "A1.1"), ("sex", "A1.6"))
    matcher = Matcher(lexicon)
    column = pa.array(["中国 sex 中国"] * 2000)
    with ThreadPoolExecutor(2) as pool:
        counts = list(pool.map(lambda _: len(matcher.find(column)), range(4)))
    assert counts == [6000] * 4


# Random lexicons and documents over an alphabet that exercises every rule: ASCII letters in both
# cases, digits, word separators, CJK (3-byte), a 4-byte character, and symbols.
ALPHABET = "aAbB1 -+中国人𠀀é"
terms_strategy = st.lists(st.text(ALPHABET, min_size=1, max_size=4).filter(str.strip), min_size=1, max_size=8)
docs_strategy = st.lists(st.one_of(st.none(), st.text(ALPHABET, max_size=30)), min_size=1, max_size=12)


@given(terms=terms_strategy, docs=docs_strategy, layout=st.sampled_from(sorted(LAYOUTS)))
@settings(max_examples=300, deadline=None)
@example(terms=["aa"], docs=["aaa", "a", "a"], layout="string")
@example(terms=["a-"], docs=["ba-", "a-a"], layout="sliced")
@example(terms=["中a国", "中A国"], docs=["中A国中a国"], layout="chunked")
def test_matcher_equals_naive_reference(terms, docs, layout):
    lexicon = make_lexicon(*[(t, "A1.6") for t in terms])
    assert found(lexicon, LAYOUTS[layout](docs)) == [naive_hits(lexicon, d) for d in docs]
