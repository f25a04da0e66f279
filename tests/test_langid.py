"""Language ID: offline model, batched, codes parsed from labels, ``und`` for text without letters."""

from __future__ import annotations

import pyarrow as pa

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
