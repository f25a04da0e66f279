"""Normalisation steps, rule by rule, on the fast matcher and the naive reference; and the fast
paths (lexicon expansion, windows around rare characters, whole-column views) against the reference."""

from __future__ import annotations

import unicodedata

import numpy as np
import pyarrow as pa
import pytest
from conftest import make_lexicon
from hypothesis import example, given, settings
from hypothesis import strategies as st
from reference import naive_hits, naive_normalized_hits

import scanner
import scanner.match.matcher
from scanner.match.hits import step_names
from scanner.match.matcher import Matcher
from scanner.match.normalize import CHANGEABLE_RANGES, DEFAULT_STEPS, STEPS, needed_steps, normalize, parse_steps
from scanner.match.textview import _changed_by_any, normalize_column

pytestmark = pytest.mark.usefixtures("t2s_mode")


def found(lexicon: scanner.Lexicon, column, steps) -> list[list[tuple[str, int, int, tuple[str, ...]]]]:
    """Per-document sorted (term, start, end, steps needed), as the matcher reports them."""
    hits = Matcher(lexicon, steps).find(column)
    per_row: list[list] = [[] for _ in range(hits.rows)]
    for row, term, start, end, mask in zip(hits.row.tolist(), hits.term.tolist(), hits.start.tolist(), hits.end.tolist(), hits.steps.tolist()):
        per_row[row].append((lexicon.terms[term].text, start, end, tuple(step_names(mask))))
    return [sorted(r) for r in per_row]


# (name, steps, terms, document, expected sorted (term, start byte, end byte, steps needed))
CASES = [
    ("full-width letters", ["nfkc"], ["fuck"], "ｆｕｃｋ!", [("fuck", 0, 12, ("nfkc",))]),
    ("full-width keeps the word boundary", ["nfkc"], ["sex"], "ｓｅｘｙ", []),
    ("full-width neighbour breaks the boundary", ["nfkc"], ["sex"], "ａsex", []),
    ("rare characters at both ends of a long term", ["nfkc"], ["abcdefghij"], "x ａbcdefghiｊ", [("abcdefghij", 2, 16, ("nfkc",))]),
    ("mixed width and ASCII case", ["nfkc"], ["fuck"], "ＦuＣk", [("fuck", 0, 8, ("nfkc",))]),
    ("circled digits", ["nfkc"], ["64"], "六⑥④", [("64", 3, 9, ("nfkc",))]),
    ("Kangxi radical reads as the Han character", ["nfkc"], ["人渣"], "⼈渣", [("人渣", 0, 6, ("nfkc",))]),
    ("Chinese sentence punctuation is kept", ["nfkc"], ["a,b"], "a，b a,b", [("a,b", 6, 9, ())]),
    ("no-break space inside a phrase", ["nfkc"], ["blow job"], "a blow\u00a0job", [("blow job", 2, 11, ("nfkc",))]),
    ("no-break spaces around a term change nothing", ["nfkc"], ["fuck", "a b"], "\u00a0fuck\u00a0 a\u00a0b", [("a b", 9, 13, ("nfkc",)), ("fuck", 2, 6, ())]),
    ("a long term beside a short window", ["nfkc"], ["a-b", "长长长长长长长长长长长长"], "a－b长长长长长长长长长长长长", [("a-b", 0, 5, ("nfkc",)), ("长长长长长长长长长长长长", 5, 41, ())]),
    ("zero-width space and soft hyphen", ["invisible"], ["fuck"], "f\u200bu\u00adck", [("fuck", 0, 9, ("invisible",))]),
    ("variation selector inside a CJK term", ["invisible"], ["傻逼"], "傻\ufe0f逼", [("傻逼", 0, 9, ("invisible",))]),
    ("zero-width space cannot join two words", ["invisible"], ["ass"], "cl\u200bass", []),
    ("a term's sharp s folds too", ["casefold"], ["straße"], "STRASSE", [("straße", 0, 7, ("casefold",))]),
    ("sharp s folds to ss", ["casefold"], ["strasse"], "Straße", [("strasse", 0, 7, ("casefold",))]),
    ("Kelvin sign: nfkc and casefold each suffice", ["nfkc", "casefold"], ["kill"], "\u212aill", [("kill", 0, 6, ("nfkc", "casefold"))]),
    ("Traditional text, Simplified term", ["t2s"], ["暴乱"], "发生暴亂了", [("暴乱", 6, 12, ("t2s",))]),
    ("Simplified text still matches", ["t2s"], ["暴乱"], "暴乱", [("暴乱", 0, 6, ())]),
    ("Traditional-written term matches only as written", ["t2s"], ["幹"], "干净 幹", [("幹", 7, 10, ())]),
    ("mixed Traditional and Simplified", ["t2s"], ["鸡巴"], "雞巴 鸡巴", [("鸡巴", 0, 6, ("t2s",)), ("鸡巴", 7, 13, ())]),
    ("separators between Han characters", ["separators"], ["法轮功"], "法*轮 功", [("法轮功", 0, 11, ("separators",))]),
    ("runs of separators and emoji", ["separators"], ["法轮功"], "法🌸🌸轮..功", [("法轮功", 0, 19, ("separators",))]),
    ("a line break is not a separator", ["separators"], ["法轮"], "法\n轮", []),
    ("nor are the line and paragraph separators", ["separators"], ["法轮"], "法\u2028轮 法\u2029轮", []),
    ("the ideographic zero is Han", ["separators"], ["〇〇七"], "〇〇*七", [("〇〇七", 0, 10, ("separators",))]),
    ("separators only between two Han characters", ["separators"], ["卖b"], "卖 b", []),
    ("single-character CJK term is not affected", ["separators"], ["逼"], "傻 逼", [("逼", 4, 7, ())]),
    ("repeats collapse", ["repeats"], ["法轮功"], "法法轮轮轮功", [("法轮功", 0, 18, ("repeats",))]),
    ("repeated Latin letters", ["repeats"], ["fuck"], "fuuuuckkk", [("fuck", 0, 9, ("repeats",))]),
    ("a doubled letter of a term needs two", ["repeats"], ["ass"], "as asss", [("ass", 3, 7, ("repeats",))]),
    ("a doubled term needs its double", ["repeats"], ["鸡鸡"], "鸡 鸡鸡鸡", [("鸡鸡", 4, 13, ("repeats",))]),
    ("several steps on one hit", list(STEPS), ["法轮功"], "法\u200b*輪輪 ｺ功", []),
    ("several steps on one hit, all needed", list(STEPS), ["法轮功"], "法\u200b*輪輪 功", [("法轮功", 0, 17, ("invisible", "separators", "repeats", "t2s"))]),
    ("hits never span two documents", list(STEPS), ["fuck"], "fu", []),
]


@pytest.mark.parametrize(("steps", "terms", "text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_normalisation_rule(steps, terms, text, expected):
    lexicon = make_lexicon(*[(t, "A1.6") for t in terms])
    assert found(lexicon, pa.array([text]), steps) == [expected]
    assert naive_normalized_hits(lexicon, text, steps) == expected


def test_normalisation_never_joins_documents():
    # Each row ends in half a term; with invisible characters and separators in between, the buffer
    # reads "fu\u200b" + "ck" and "法*" + "轮功", which must not hit.
    lexicon = make_lexicon(("fuck", "A1.6"), ("法轮功", "A1.1"))
    docs = ["fu\u200b", "ck", "法*", "轮功", "ｆｕ", "ｃｋ"]
    for steps in (DEFAULT_STEPS, STEPS):
        assert found(lexicon, pa.array(docs), steps) == [[] for _ in docs]


def test_no_normalisation_is_the_raw_contract():
    lexicon = make_lexicon(("sex", "A1.6"), ("中国", "A1.1"), ("暴乱", "A1.3"))
    docs = ["ｓｅｘ sex", "中\u200b国 中国", "暴亂 暴乱"]
    raw = [[(t, s) for t, s, _, _ in row] for row in found(lexicon, pa.array(docs), ())]
    assert raw == [naive_hits(lexicon, d) for d in docs]
    assert [[(t, s) for t, s, _, _ in naive_normalized_hits(lexicon, d, ())] for d in docs] == raw


def test_windows_of_every_kind_in_one_column():
    """Rare characters of every kind in one column, so each kind of window (normalised, converted
    byte for byte, decoded through t2s, read without t2s) sits at its own offset in the buffer."""
    lexicon = make_lexicon(("岁月", "A1.6"), ("暴乱", "A1.3"), ("blow job", "A1.6"), ("幹活", "A1.6"), ("fuck", "A1.6"), ("印度人称", "A1.1"))
    docs = [
        "平静的一天 blow\u00a0job 没有别的",  # a no-break space inside a phrase: contain-only window
        "印度人稱和暴亂，还有 fuck",  # Traditional characters that keep their length: converted in place
        "𡻕月如梭",  # a 4-byte Traditional character of a 3-byte Simplified one: decoded
        "去幹\u200b活 ｆｕｃｋ",  # a Traditional-written term across an invisible character, full-width letters
        "暴亂\u00a0暴乱 幹活",
    ]
    for order in (docs, docs[::-1], docs[1:] + docs[:1]):
        assert found(lexicon, pa.array(order), DEFAULT_STEPS) == [naive_normalized_hits(lexicon, d, DEFAULT_STEPS) for d in order]


def test_windows_skipped_where_no_term_holds_the_neighbours_of_an_image():
    """A no-break space (image: space) or a full-width hyphen (image: -) opens a window only where
    a term holds the characters beside its image: not between Han characters or digits here, but
    beside Latin letters, beside a Traditional character whose
    Simplified form a term holds, and where the image begins or ends a term at a document's edge."""
    lexicon = make_lexicon(("blow job", "A1.6"), ("暴 乱", "A1.3"), ("-x", "A1.8"), ("y-", "A1.8"), ("年", "A1.8"))
    docs = [
        "2012年\u00a05月 年\u00a0年",  # no term holds "年 " or " 5": no window, the raw hits stand
        "BLOW\u00a0JOB ｂｌｏｗ\u00a0ｊｏｂ",  # ASCII case and full-width letters beside it
        "blow\u200b\u00a0job",  # a deleted character before it (its own window covers the space as well)
        "暴\u00a0亂",  # read through t2s
        "－x 5－x",  # the image begins a term: at the start, and after a digit
        "y－ y－5",  # the image ends a term
        "\u00a0",
    ]
    assert found(lexicon, pa.array(docs), DEFAULT_STEPS) == [naive_normalized_hits(lexicon, d, DEFAULT_STEPS) for d in docs]
    matcher = Matcher(lexicon, DEFAULT_STEPS)
    data = pa.array(docs[:1]).buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8)
    spaces = np.array([i for i in range(len(raw) - 1) if raw[i] == 0xC2 and raw[i + 1] == 0xA0])
    rare = np.full(len(spaces), matcher._neighbours.image.tolist().index(ord(" ")))
    zero, end = np.zeros(len(spaces), dtype=np.int64), np.full(len(spaces), len(raw))
    assert not matcher._neighbours.possible(raw, rare, spaces, spaces + 2, zero, end).any()


def test_terms_too_long_to_expand_match_through_a_prefix(monkeypatch):
    monkeypatch.setattr(scanner.match.matcher, "T2S_VARIANT_LIMIT", 2)
    lexicon = make_lexicon(("发财里乱", "A1.8"), ("Ab发财", "A1.8"))
    docs = ["發財裡亂 发财里乱 發財裡", "ab發財 AB发财 中ab發財"]
    assert found(lexicon, pa.array(docs), ["t2s"]) == [naive_normalized_hits(lexicon, d, ["t2s"]) for d in docs]
    assert len(found(lexicon, pa.array(docs), ["t2s"])[0]) == 2


@pytest.mark.parametrize(
    ("value", "steps"),
    [
        ("none", ()),
        ("", ()),
        ("all", STEPS),
        ("default", DEFAULT_STEPS),
        ("t2s, nfkc", ("nfkc", "t2s")),
        (["repeats", "invisible"], ("invisible", "repeats")),
        ("default,repeats", ("invisible", "nfkc", "casefold", "repeats", "t2s")),
    ],
)
def test_parse_steps(value, steps):
    assert parse_steps(value) == steps


def test_unknown_step_names_the_known_ones():
    with pytest.raises(scanner.ConfigError, match="unknown normalisation 'nfc'.*known: invisible, nfkc"):
        parse_steps("nfc")
    with pytest.raises(scanner.ConfigError):
        scanner.ScanOptions(normalize="bogus")


def test_needed_steps_name_only_what_was_needed():
    assert needed_steps("ｆｕｃｋ", "fuck", STEPS) == ("nfkc",)
    assert needed_steps("FUCK", "fuck", STEPS) == ()
    assert needed_steps("雞巴", "雞巴", STEPS) == ()
    assert needed_steps("雞巴", "鸡巴", STEPS) == ("t2s",)


# Alphabet for random documents and terms: ASCII in both cases, digits, separators, CJK in Simplified
# and Traditional, a 4-byte character, full-width and compatibility forms, invisible characters,
# a Kangxi radical, the sharp s, the Kelvin sign, a no-break space and a full-width hyphen.
ALPHABET = "aAbB1 -+*，,中国人國乱亂干幹法轮輪功𠀀éａＡ①ﬁ⼈ßK\u200b\u00ad\ufe0f\u00a0－"
terms_strategy = st.lists(st.text(ALPHABET, min_size=1, max_size=4).filter(str.strip), min_size=1, max_size=6)
docs_strategy = st.lists(st.one_of(st.none(), st.text(ALPHABET, max_size=30)), min_size=1, max_size=8)
STEP_SETS = [DEFAULT_STEPS, STEPS, ("invisible",), ("nfkc", "casefold"), ("t2s",), ("separators",), ("repeats",), ("nfkc", "repeats", "t2s")]
LAYOUTS = {
    "string": lambda docs: pa.array(docs, type=pa.string()),
    "sliced_large": lambda docs: pa.array(["ａ國", *docs], type=pa.large_string()).slice(1),
    "chunked": lambda docs: pa.chunked_array([pa.array(docs[:1], pa.string()), pa.array(docs[1:], pa.string())]),
}


@given(terms=terms_strategy, docs=docs_strategy, steps=st.sampled_from(STEP_SETS), layout=st.sampled_from(sorted(LAYOUTS)))
@settings(max_examples=300, deadline=None)
@example(terms=["1"], docs=["x", " ﬁ亂ａ1"], steps=DEFAULT_STEPS, layout="string")
@example(terms=["a\ufe0f"], docs=["国 é1，+人\u00ad, 国𠀀ａ"], steps=DEFAULT_STEPS, layout="string")
@example(terms=["干①\u00ad"], docs=["\u00ad乾\ufe0f轮\u200b, 乾1，+*K"], steps=DEFAULT_STEPS, layout="string")
def test_matcher_equals_normalising_reference(terms, docs, steps, layout):
    lexicon = make_lexicon(*[(t, "A1.6") for t in terms])
    assert found(lexicon, LAYOUTS[layout](docs), steps) == [naive_normalized_hits(lexicon, d, steps) for d in docs]


@given(docs=docs_strategy, steps=st.sampled_from(STEP_SETS))
@settings(max_examples=100, deadline=None)
def test_column_view_equals_plain_normalisation(docs, steps):
    view_steps = tuple(s for s in steps if s != "t2s")
    view = normalize_column(pa.array(docs, pa.string()), view_steps)
    assert view.array.to_pylist() == [normalize(d or "", view_steps).text for d in docs]


@pytest.mark.parametrize("steps", [("nfkc",), ("casefold",), ("nfkc", "casefold")])
def test_blockwise_search_finds_every_changed_character(steps):
    """The 64-character shortcut of the table build finds what testing every code point alone finds."""
    candidates = [chr(c) for low, high in CHANGEABLE_RANGES for c in range(low, high + 1) if not 0xD800 <= c < 0xE000]
    changes = {"nfkc": lambda c: not unicodedata.is_normalized("NFKC", c), "casefold": lambda c: c.casefold() != c}
    assert _changed_by_any(steps) == {ord(c) for c in candidates if any(changes[step](c) for step in steps)}


def test_mostly_traditional_documents_go_to_the_spelled_twin(monkeypatch):
    """The per-document choice between windows and spellings (``T2S_WINDOWS_MAX_SHARE``, judged on samples
    of each document): the same hits either way, the twin is only built for a column holding a mostly
    Traditional document, and in a mixed column each document takes its own path."""
    monkeypatch.setattr(scanner.match.matcher, "T2S_WINDOWS_MAX_SHARE", 0.05)
    lexicon = make_lexicon(("暴乱", "A1.3"), ("发财", "A1.8"), ("幹活", "A1.6"))
    simplified = ["今天发生了暴乱，大家都在家里，" * 20, "祝你发财，" * 30 + "發財", None, ""]
    traditional = ["今天發生了暴亂，大家都在家裡，" * 20, "祝你發財，幹活" * 30]
    mixed = [simplified[0], traditional[0], None, simplified[1], traditional[1], "暴亂 and 暴乱"]
    scanned = []
    monkeypatch.setattr(Matcher, "_find_in_column", lambda self, array, skip=None, find=Matcher._find_in_column: scanned.append(
        (self._t2s_windows, len(array) - (0 if skip is None else int(skip.sum())))) or find(self, array, skip))
    for docs, twin, paths in ((simplified, False, [(True, 4)]), (traditional, True, [(False, 2)]), (mixed, True, [(True, 3), (False, 3)])):
        matcher = Matcher(lexicon, DEFAULT_STEPS)
        scanned.clear()
        column = pa.array(docs)
        hits = matcher.find(column)
        assert column.to_pylist() == docs  # documents blanked for one automaton are blanked in its copy only
        assert (matcher._spelled_twin is not None) is twin
        assert scanned == paths  # (windows?, documents not skipped) per automaton pass
        per_row = [sorted((lexicon.terms[t].text, s, e) for r, t, s, e in zip(hits.row, hits.term, hits.start, hits.end) if r == row) for row in range(len(docs))]
        assert per_row == [sorted((t, s, e) for t, s, e, _ in naive_normalized_hits(lexicon, d, DEFAULT_STEPS)) for d in docs]


@given(terms=terms_strategy, docs=docs_strategy, share=st.sampled_from([0.0, 0.05, 0.2, 0.5]), layout=st.sampled_from(sorted(LAYOUTS)))
@settings(max_examples=150, deadline=None)
def test_documents_routed_by_script_equal_the_reference(terms, docs, share, layout):
    """Columns whose documents split between the windows and the spelled twin give the reference's hits."""
    lexicon = make_lexicon(*[(t, "A1.6") for t in terms])
    column = LAYOUTS[layout](docs)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scanner.match.matcher, "T2S_WINDOWS_MAX_SHARE", share)
        assert found(lexicon, column, DEFAULT_STEPS) == [naive_normalized_hits(lexicon, d, DEFAULT_STEPS) for d in docs]
    assert column.to_pylist()[-len(docs):] == docs


@given(docs=st.lists(st.one_of(st.none(), st.text("中国國亂乱發发a é𠀀，\n", max_size=40)), min_size=1, max_size=8), layout=st.sampled_from(sorted(LAYOUTS)))
@settings(max_examples=150, deadline=None)
def test_traditional_shares_equal_their_definition(docs, layout):
    """The router's vectorised sampling (``traditional_shares``) against its plain-Python definition: per
    slice of ``T2S_SAMPLE_BYTES`` bytes at ``len * k // T2S_SAMPLES``, the characters starting in it and
    the three-byte characters wholly in it that ``t2s`` changes."""
    from scanner.match.normalize import t2s_table
    from scanner.match.windows import T2S_SAMPLE_BYTES, T2S_SAMPLES, traditional_shares

    def share(doc: str | None) -> float:
        data, chars, traditional = (doc or "").encode(), 0, 0
        for k in range(T2S_SAMPLES):
            piece = data[len(data) * k // T2S_SAMPLES :][:T2S_SAMPLE_BYTES]
            chars += sum((b & 0xC0) != 0x80 for b in piece)
            traditional += sum(piece[j] & 0xF0 == 0xE0 and piece[j : j + 3].decode() in t2s_table() for j in range(len(piece) - 2))
        return traditional / max(chars, 1)

    column = LAYOUTS[layout](docs)
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    assert np.concatenate([traditional_shares(c) for c in chunks]).tolist() == pytest.approx([share(d) for d in docs])
