"""Language ID: offline model, batched, codes parsed from labels, ``und`` for text without letters."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scanner.detect.language import MODEL_PATH, LanguageIdentifier


def test_languages_of_a_batch():
    texts = pa.array(
        [
            "The committee published its annual report on Tuesday.",
            "国家统计局今天发布了最新的经济数据。",
            "",
            None,
            "12345 !!! ...",
            "第一行\n第二行中文内容",
            "Das ist ein deutscher Satz über das Wetter.",
        ]
    )
    assert LanguageIdentifier().identify(texts).to_pylist() == ["en", "zh", "und", "und", "und", "zh", "de"]


def test_three_letter_codes_are_kept_whole():
    # Cantonese written colloquially is labelled __label__yue by lid.176.
    code = LanguageIdentifier().identify(pa.array(["佢哋喺度做緊嘢，你哋識唔識講廣東話㗎？"])).to_pylist()[0]
    assert code == "yue"


def test_model_is_bundled_and_hashed():
    identifier = LanguageIdentifier()
    assert MODEL_PATH.is_file()
    assert identifier.describe()["sha256"] == "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"


def test_pickles_without_the_model():
    import pickle

    identifier = LanguageIdentifier()
    identifier.identify(pa.array(["hello world"]))
    clone = pickle.loads(pickle.dumps(identifier))
    assert clone.identify(pa.array(["hello world"])).to_pylist() == ["en"]


def test_script_rules_decide_han_and_kana_text_without_the_model(monkeypatch):
    identifier = LanguageIdentifier()
    long_chinese = "国家统计局今天发布了最新的经济数据，" * 10
    short_chinese = "今天天气很好"
    japanese = "今日は天気がいいですね。" * 10 + "東京都の人口は増えています。" * 5
    calls = []

    class Model:
        def predict(self, texts, k):
            calls.extend(texts)
            return [["__label__ja"] if "は" in t else ["__label__zh"] for t in texts], None

    monkeypatch.setitem(identifier.__dict__, "_model", Model())
    assert identifier.identify(pa.array([long_chinese, short_chinese, japanese])).to_pylist() == ["zh", "zh", "ja"]
    assert not calls  # short Chinese and kana text are decided by the script rules (before: 2 model calls)


def test_shortcut_takes_chinese_with_some_english_and_leaves_english_with_some_chinese(monkeypatch):
    identifier = LanguageIdentifier()
    # 2.4 bytes per character: 70 % of the characters three-byte (80 % would be 2.6)
    chinese_with_english = "今天 Apple 公司正式发布了新款手机，价格很高。" * 12
    # 4 Han per 19 characters: 21 % three-byte
    english_with_chinese = "the 数据中心 is large, " * 12
    calls = []

    class Model:
        def predict(self, texts, k):
            calls.extend(texts)
            return [["__label__en"] for _ in texts], None

    monkeypatch.setitem(identifier.__dict__, "_model", Model())
    assert identifier.identify(pa.array([chinese_with_english, english_with_chinese])).to_pylist() == ["zh", "en"]
    assert len(calls) == 1 and calls[0].startswith("the ")


def test_shortcut_agrees_with_the_model_on_long_chinese():
    texts = ["国家统计局今天发布了最新的经济数据，工业生产保持稳定增长。" * 8, "据路透社报道，Apple 公司今天发布了新款手机，售价 999 美元起。" * 6]
    cheap = LanguageIdentifier().identify(pa.array(texts)).to_pylist()
    full = LanguageIdentifier(script_shortcut=False, prefix_chars=10_000).identify(pa.array(texts)).to_pylist()
    assert cheap == full == ["zh", "zh"]


# The script rules' features and the English word counts, computed in numpy from per-code-point classes,
# against the regular expressions that defined them (the implementation before the numpy one).
def _regex_features(cleaned: pa.Array) -> dict:
    import numpy as np
    import pyarrow.compute as pc

    from scanner.detect import language as lang

    def matches(texts, pattern):
        return np.asarray(pc.fill_null(pc.match_substring_regex(texts, pattern), False))

    def count(texts, pattern):
        return np.asarray(pc.fill_null(pc.count_substring_regex(texts, pattern), 0), dtype=np.int64)

    def chars(texts, run):
        return np.asarray(pc.fill_null(pc.subtract(pc.utf8_length(texts), pc.utf8_length(pc.replace_substring_regex(texts, run, ""))), 0), dtype=np.int64)

    n = len(cleaned)
    has_han, has_ascii, other = matches(cleaned, r"\p{Han}"), matches(cleaned, "[A-Za-z]"), matches(cleaned, lang._NOT_HAN_OR_ASCII)
    out = {name: np.zeros(n, dtype=np.int64) for name in ("han", "letters", "kana", "kana_not_no", "kana_runs", "hangul")}
    at = np.flatnonzero(has_han & has_ascii & ~other)
    if len(at):
        subset = cleaned.take(pa.array(at))
        out["han"][at] = chars(subset, r"\p{Han}+")
        out["letters"][at] = out["han"][at] + chars(subset, "[A-Za-z]+")
    at = np.flatnonzero(other)
    if len(at):
        subset = cleaned.take(pa.array(at))
        out["han"][at] = chars(subset, r"\p{Han}+")
        out["letters"][at] = chars(subset, r"\pL+")
        out["kana"][at] = count(subset, lang._KANA)
        out["kana_not_no"][at] = count(subset, lang._KANA_NOT_NO)
        out["kana_runs"][at] = count(subset, lang._KANA_RUN)
        out["hangul"][at] = count(subset, r"\p{Hangul}")
    only_han = has_han & ~has_ascii & ~other
    out["han"][only_han] = out["letters"][only_han] = 1
    return {"has_han": has_han, "has_ascii": has_ascii, "other": other, **out, "cantonese": matches(cleaned, lang._CANTONESE_ANY)}


def _regex_english_words(texts: pa.Array):
    import re

    import numpy as np
    import pyarrow.compute as pc

    from scanner.detect import language as lang

    words = pc.split_pattern_regex(pc.utf8_lower(texts), r"[^\p{L}']+")
    flat = pc.utf8_trim(pc.list_flatten(words), "'")
    parents = np.asarray(pc.list_parent_indices(words))
    real = np.asarray(pc.greater(pc.utf8_length(flat), 0))
    known_set, preferred_set = lang._en_words()
    known = np.asarray(pc.is_in(flat, value_set=known_set)) & real
    preferred = np.asarray(pc.is_in(flat, value_set=preferred_set)) & real
    # Social-media spellings: an unknown word with a letter 3+ times, or a dropped g, read as the English word.
    kinds = lang._en_word_kinds()
    for i, word in enumerate(flat.to_pylist()):
        if word and not known[i]:
            spellings = [re.sub(r"([a-z])\1{2,}", r"\1", word), re.sub(r"([a-z])\1{2,}", r"\1\1", word)]
            if len(word) >= 5 and word.endswith("in"):
                spellings.append(word + "g")
            kind = max(kinds.get(spelling, 0) for spelling in spellings)
            known[i], preferred[i] = kind > 0, kind > 1
    return tuple(np.bincount(parents, weights=flags, minlength=len(texts)).astype(np.int64).tolist() for flags in (real, known, preferred))


# Han (with 〇 and a radical, which are Han but no letters), kana (の, ー), hangul, Cyrillic, accented and plain
# Latin, the Kelvin sign and dotted I (lower-cased to other letters), apostrophes, digits, punctuation, spaces,
# line breaks, an emoji, a combining mark and Cantonese characters.
_SCRIPT_ALPHABET = "中国人〇⺀係嘅佢ひらがなのカタカナー한국어Приветéa'bZ K\u0130 1，.!\n\u3000😀\u0301"


@given(st.lists(st.one_of(st.none(), st.text(_SCRIPT_ALPHABET, max_size=40)), min_size=1, max_size=10))
@example(["'''", "it's", "o'clock 'quoted' rock'n'roll", "", "〇〇 ok", "İstanbul KELVIN"])
@settings(max_examples=300, deadline=None)
def test_rule_features_and_english_words_equal_their_regular_expressions(texts):
    import numpy as np

    from scanner.detect import language as lang

    column = pa.array([t or "" for t in texts], pa.string())
    features, expected = lang._rule_features(column), _regex_features(column)
    assert {k: np.asarray(v).tolist() for k, v in features.items()} == {k: np.asarray(v).tolist() for k, v in expected.items()}
    nullable = pa.array(texts, pa.string())
    assert tuple(c.tolist() for c in lang.english_words(nullable)) == _regex_english_words(nullable)


# ASCII rows take their own path (words from bytes, no decoding); batches mixing them with other rows.
_ASCII_WORDS = ["the", "The", "I'm", "don't", "''", "'", "hoes", "aint", "'tis", "rock'n'roll", "x", "Zoo", "qqq", "HELLO", "it's'",
                "lmaooo", "Chillllll", "hatin'", "tweakin", "doin", "yesss", "Auburnnn", "aaa"]
_ascii_text = st.lists(st.one_of(st.sampled_from(_ASCII_WORDS), st.text("ab'Z .,!1\n\t-", max_size=6)), max_size=12).map(" ".join)


@given(st.lists(st.one_of(st.none(), _ascii_text, st.text(_SCRIPT_ALPHABET, max_size=20)), min_size=1, max_size=10))
@example(["the cat", "", "'''", None, "don't stop'", "日本 the"])
@settings(max_examples=300, deadline=None)
def test_ascii_rows_have_the_features_and_words_of_their_regular_expressions(texts):
    import numpy as np

    from scanner.detect import language as lang

    column = pa.array([t or "" for t in texts], pa.string())
    features, expected = lang._rule_features(column), _regex_features(column)
    assert {k: np.asarray(v).tolist() for k, v in features.items()} == {k: np.asarray(v).tolist() for k, v in expected.items()}
    nullable = pa.array(texts, pa.string())
    assert tuple(c.tolist() for c in lang.english_words(nullable)) == _regex_english_words(nullable)
    assert tuple(c.tolist() for c in lang.english_words(nullable.slice(1))) == _regex_english_words(nullable.slice(1))


# Kaomoji are removed by Python's re on the rows RE2 finds them in: the same text as RE2's replacement.
_KAOMOJI_ALPHABET = "()（）ヽノツっ\\/_*~^▽≦≧д ω中国a1\n。，;:'○°"


@given(st.lists(st.one_of(st.none(), st.text(_KAOMOJI_ALPHABET, max_size=30)), min_size=1, max_size=8))
@example(["你有这种女友真是三生有幸o(*≧▽≦)ツ", "(中文) ok (2019) ヽ(^_^)ノ", None, "((((^_^))))", "ヽヽヽヽ(ω)ノノノノ"])
@settings(max_examples=300, deadline=None)
def test_kaomoji_removal_equals_the_regular_expression(texts):
    import pyarrow.compute as pc

    from scanner.detect import language as lang

    column = pa.array(texts, pa.string())
    assert lang._without_kaomoji(column).to_pylist() == pc.replace_substring_regex(column, lang._KAOMOJI, " ").to_pylist()


@given(st.lists(st.one_of(st.none(), st.text(_SCRIPT_ALPHABET, max_size=30)), min_size=1, max_size=8), st.integers(1, 25), st.booleans())
@settings(max_examples=200, deadline=None)
def test_prefix_lengths_are_those_of_the_prefixes(texts, limit, chunked):
    import numpy as np
    import pyarrow.compute as pc

    from scanner.detect import language as lang

    column = pa.chunked_array([texts[: len(texts) // 2], texts[len(texts) // 2 :]], pa.string()) if chunked else pa.array(texts, pa.string())
    prefixes = pc.utf8_slice_codeunits(column, 0, limit)
    prefixes = prefixes.combine_chunks() if chunked else prefixes
    chars, size = lang._prefix_lengths(column, prefixes, limit)
    assert chars.tolist() == np.asarray(pc.fill_null(pc.utf8_length(prefixes), 0)).tolist()
    assert size.tolist() == np.asarray(pc.fill_null(pc.binary_length(prefixes), 0)).tolist()
