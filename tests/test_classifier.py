"""The classifier: training writes a model and a card whose figures can be recounted, evaluation agrees
with an independent count, a scan scores all documents or an order-free technical sample, the policy
combines the score with the keywords, the technical spot check reports it; bad input is named."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import write_jsonl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reference import naive_classifier_predict, naive_preprocess
from shared_corpora import CORPORA

import scanner
from scanner.cli import cli
from scanner.curate.classifier import LabelledText, _held_back, read_labelled_texts
from scanner.detect.classifier import PREFIX_CHARS, PREPROCESS_VERSION, Classifier, preprocess, preprocess_many
from scanner.detect.policy import Policy, load_policy
from scanner.errors import ConfigError
from scanner.match.normalize import t2s_table

BAD = ["傻逼", "垃圾东西", "滚蛋", "去死吧", "白痴"]
GOOD = ["今天天气很好", "我们去公园散步", "市场反应平稳", "新的政策发布了", "谢谢你的帮助", "电影很好看"]


def _documents(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        unsafe = i % 2 == 0
        words = [rng.choice(GOOD) for _ in range(3)] + ([rng.choice(BAD)] if unsafe else [])
        rng.shuffle(words)
        rows.append({"id": f"d{seed}-{i}", "text": "，".join(words), "label": int(unsafe), "source": ["forum", "news"][i % 3 == 0]})
    return rows


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("classifier")
    write_jsonl(root / "train.jsonl", [{"text": r["text"], "label": r["label"]} for r in _documents(400, 1)])
    result = CliRunner().invoke(cli, ["classifier", "train", str(root / "train.jsonl"), "-o", str(root / "m.ftz"), "--licence", "CC0-1.0", "--threads", "1"])
    assert result.exit_code == 0 and "warning" not in result.output, result.output  # labels it can learn: no weak-model warning
    return root / "m.ftz"


def test_training_writes_a_small_model_and_a_card_whose_figures_recount(model, tmp_path):
    card = json.loads((model.parent / "m.ftz.json").read_text())
    assert card["format"] == "scanner-classifier/1" and model.stat().st_size == card["model_bytes"] <= 5 * 2**20
    assert card["training"]["files"][0]["licence"] == "CC0-1.0" and card["training"]["licences"] == ["CC0-1.0"]
    assert 0 < card["threshold"] < 1 and "out-of-fold" in card["threshold_reason"]
    texts, _ = read_labelled_texts(model.parent / "train.jsonl")
    held = _held_back(texts)
    assert card["training"]["held_back"] == int(held.sum()) and card["training"]["documents"] == len(texts) - int(held.sum())
    classifier = Classifier.load(model)
    scores, _ = classifier.predict([t.text for t, h in zip(texts, held) if h])
    truth = np.array([t.unsafe for t, h in zip(texts, held) if h])
    tp = int(np.sum(truth & (scores >= card["threshold"])))
    assert card["held_back"]["true_positives"] == tp and card["held_back"]["unsafe"] == int(truth.sum())
    assert card["held_back"]["f1"] > 0.9  # the words decide: an easy task


def test_the_held_back_split_does_not_depend_on_the_order_of_the_files():
    texts = [LabelledText(f"文本{i}", i % 2 == 0) for i in range(200)]
    shuffled = texts[::-1]
    assert {t.text for t, h in zip(texts, _held_back(texts)) if h} == {t.text for t, h in zip(shuffled, _held_back(shuffled)) if h}


def test_evaluation_agrees_with_an_independent_count(model, tmp_path):
    test = _documents(120, 2)
    write_jsonl(tmp_path / "test.jsonl", [{"text": r["text"], "label": r["label"], "category": "A4.3" if r["label"] else ""} for r in test])
    result = CliRunner().invoke(cli, ["classifier", "evaluate", str(model), str(tmp_path / "test.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    evaluation = json.loads(result.output)
    classifier = Classifier.load(model)
    scores, _ = classifier.predict([r["text"] for r in test])
    truth = np.array([bool(r["label"]) for r in test])
    predicted = scores >= classifier.threshold
    tp, fp, fn = int(np.sum(truth & predicted)), int(np.sum(~truth & predicted)), int(np.sum(truth & ~predicted))
    m = evaluation["at_threshold"]
    assert (m["true_positives"], m["false_positives"], m["false_negatives"]) == (tp, fp, fn)
    assert m["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert [row["threshold"] for row in evaluation["sweep"]][:3] == [0.05, 0.1, 0.15]
    assert evaluation["by_category"]["A4.3"]["recall"] == pytest.approx(tp / int(truth.sum()))
    printed = CliRunner().invoke(cli, ["classifier", "evaluate", str(model), str(tmp_path / "test.jsonl")]).output.splitlines()[1]
    low, high = m["recall_interval_95"]
    assert f"recall {m['recall']:.3f} ({low:.3f}-{high:.3f})" in printed  # three decimals, as the figures


def test_preprocessing_splits_han_and_keeps_latin_words():
    assert preprocess("Hello，World! 你好 https://x.cn/a @bob") == "hello , world ! 你 好 __url__ __user__"
    assert "\n" not in preprocess("第一行\n第二行")
    assert preprocess("ＡＢＣ１２３_x 😀") == "abc123_x 😀"  # NFKC; a run of letters, digits and _ is one word


def test_preprocessing_reads_traditional_as_simplified_and_only_a_prefix():
    assert preprocess("暴亂與發展") == preprocess("暴乱与发展") == "暴 乱 与 发 展"
    assert preprocess("好" * 800) == " ".join("好" * PREFIX_CHARS)


_TRADITIONAL = sorted(t2s_table())[::7]
_PIECES = [
    "https://Example.com/路径?q=1", "http://x.cn", "www.", "WWW.Site.CN/a", "@Bob_1", "@用户", "＠ｘ", "ｈｔｔｐｓ：／／ａ", "…", "‥", "℃", "㎡",
    "ﷺ", "ΑΣ", "Σ", "ς", "İ", "ß", "ﬁ", "가", "\u1100\u1161\u11a8", "\u11a8", "e\u0301", "\u0301", "か\u3099", "ﾟ", "\u0b47\u0b3e", "😀", "👍🏽",
    "\u200d", "\ufe0f", "\x1c", "\x00", "\n", "\t", " ", "\u3000", "　", "_", "１２３", "ＡＢＣ", "Ⅻ", "¼", "\U00020000", "\U0002f800", "\U000e0001",
    "\ud800", "www…", "http:／／", "…www.x",
]  # fmt: skip
_TEXT = st.lists(
    st.one_of(st.text(max_size=12), st.sampled_from(_PIECES), st.sampled_from(_TRADITIONAL), st.characters(min_codepoint=0xFF00, max_codepoint=0xFFEF),
              st.text(st.characters(codec="utf-8"), max_size=6), st.text(st.sampled_from("abcXYZ 你好暴亂發展，。！？、.:/@_-"), max_size=12)),
    max_size=30,
).map("".join)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.none(), _TEXT), max_size=8), st.sampled_from([PREFIX_CHARS, None, 1, 7, 40]))
@example([None, "", " ", "\x1c", "ΑΣ Σ", "www…x", "가\u11a8", "a\u0301" * 300], PREFIX_CHARS)
def test_batch_preparation_is_the_naive_one_for_any_text(texts, prefix):
    """``preprocess_many`` (numpy tables over a whole batch) gives exactly the token strings of the
    implementation it replaced (tests/reference.py), for any text: the model and every trained card
    depend on them (PREPROCESS_VERSION 2)."""
    expected = [naive_preprocess(t, prefix) for t in texts]
    assert preprocess_many(texts, prefix) == expected
    assert [preprocess(t, prefix) if t else "" for t in texts] == expected


def _real_texts() -> list[str]:
    """The bundled sample corpus, the short posts and, where present, the shared corpora; each also in
    Traditional characters (OpenCC s2t) and in full-width forms."""
    import opencc

    root = Path(__file__).resolve().parents[1]
    texts = [json.loads(line)["text"] for path in sorted((root / "examples" / "sample").glob("*.jsonl")) for line in path.read_text(encoding="utf-8").splitlines()]
    texts += [line.split("\t")[0] for line in (root / "tests" / "data" / "short_posts.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    for path in sorted(CORPORA.glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            texts += [json.loads(line)["text"] for _, line in zip(range(1500), lines)]
    converter = opencc.OpenCC("s2t")
    wide = {c: c + 0xFEE0 for c in range(0x21, 0x7F)}
    return texts + [converter.convert(t) for t in texts[::5]] + [t.translate(wide) for t in texts[::7]]


def test_batch_preparation_and_scores_are_the_naive_ones_on_real_text():
    texts = _real_texts()
    assert len(texts) > 700
    assert preprocess_many(texts) == [naive_preprocess(t) for t in texts]
    bundled = Classifier.load("default")
    scores, labels = bundled.predict(texts)
    naive_scores, naive_labels = naive_classifier_predict(bundled, texts)
    assert np.array_equal(scores, naive_scores) and labels == naive_labels


def test_a_model_for_some_languages_scores_only_their_documents(tmp_path, model):
    card = json.loads((model.parent / "m.ftz.json").read_text())
    assert card["languages"] == ["zh"] and "training documents' languages" in card["languages_reason"]  # inferred: Chinese labels
    anyone = tmp_path / "any.ftz"
    anyone.write_bytes(model.read_bytes())
    (tmp_path / "any.ftz.json").write_text(json.dumps({**card, "languages": []}), encoding="utf-8")
    texts = ["今天天气很好，我们去公园散步，市场反应平稳。", "The weather is fine today and we walk in the park.", "", "1234 5678"]
    table = scanner.Scanner(scanner.load_lexicons(), scanner.ScanOptions(classifier=str(model))).annotate(pa.table({"text": texts}))
    assert table["language"].to_pylist()[:2] == ["zh", "en"]
    scores = table["classifier_score"].to_pylist()
    assert scores[0] is not None and scores[1] is None and scores[2] is None and scores[3] is not None  # und: no language known
    everything = scanner.Scanner(scanner.load_lexicons(), scanner.ScanOptions(classifier=str(anyone))).annotate(pa.table({"text": texts}))
    assert everything["classifier_score"].to_pylist()[1] is not None


def test_training_languages_are_inferred_given_or_any_and_a_weak_model_is_warned_about(tmp_path):
    rng = random.Random(5)  # labels at random: nothing to learn
    rows = [{"text": "，".join(rng.choice(GOOD) for _ in range(3)), "label": rng.randint(0, 1)} for _ in range(150)]
    rows += [{"text": f"The weather is fine today, walk number {i}", "label": i % 2} for i in range(5)]  # 3 %: not a language of the model
    write_jsonl(tmp_path / "l.jsonl", rows)
    runner = CliRunner()
    for args, languages in (([], ["zh"]), (["--language", "en", "--language", "zh"], ["en", "zh"]), (["--language", "any"], [])):
        result = runner.invoke(cli, ["classifier", "train", str(tmp_path / "l.jsonl"), "-o", str(tmp_path / "m.ftz"), "--threads", "1", *args])
        assert result.exit_code == 0, result.output
        assert json.loads((tmp_path / "m.ftz.json").read_text())["languages"] == languages
        assert "warning: held-back F1" in result.output


def test_the_bundled_model_is_small_has_its_card_and_tells_abuse_from_news():
    bundled = Classifier.load("default")
    assert bundled.card["sha256"] == bundled.sha256 and bundled.path.stat().st_size <= 5 * 2**20
    assert bundled.languages == {"zh"} and bundled.card["preprocess"] == {"version": PREPROCESS_VERSION, "prefix_chars": PREFIX_CHARS}
    assert set(bundled.card["training"]["licences"]) == {"Apache-2.0", "CC-BY-SA-4.0"}
    scores, _ = bundled.predict(["你就是个傻逼，滚回你老家去吧", "国务院新闻办公室今天举行新闻发布会，介绍经济运行情况。"])
    assert scores[0] >= bundled.threshold > scores[1]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"text": "好", "label": "maybe"}], r"train.jsonl:1: bad label 'maybe'"),
        ([{"body": "好", "label": 1}], "needs the columns text and label"),
        ([{"text": "  ", "label": 1}], r"train.jsonl:1: empty text"),
        ([{"text": "好", "label": 1, "category": "Z1"}], r"train.jsonl:1: unknown category 'Z1'"),
        ([{"text": "好", "label": 1}], "at least 5 unsafe and 5 safe"),
    ],
)
def test_bad_training_labels_name_the_row(tmp_path, rows, message):
    write_jsonl(tmp_path / "train.jsonl", rows)
    result = CliRunner().invoke(cli, ["classifier", "train", str(tmp_path / "train.jsonl"), "-o", str(tmp_path / "m.ftz")])
    assert result.exit_code == 2 and re.search(message, result.output), result.output


def test_a_model_without_its_card_is_refused(tmp_path, model):
    (tmp_path / "lonely.ftz").write_bytes(model.read_bytes())
    with pytest.raises(ConfigError, match="lonely.ftz.json: cannot read the classifier's card"):
        Classifier.load(tmp_path / "lonely.ftz")


def _scan(tmp_path, model, *args):
    tmp_path.mkdir(parents=True, exist_ok=True)
    write_jsonl(tmp_path / "in.jsonl", [{k: r[k] for k in ("id", "text", "source")} for r in _documents(300, 3)])
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["scan", str(tmp_path / "in.jsonl"), "--out", str(out), "--no-langid", "--no-progress", "--tokens", "off",
                                      "--classifier", str(model), "--annotate", *args])  # fmt: skip
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "report.json").read_text())


def test_a_scan_scores_every_document_and_the_policy_and_check_use_it(tmp_path, model):
    out, report = _scan(tmp_path, model, "--workers", "1")
    annotations = pq.read_table(next((out / "annotations").glob("*.parquet"))).to_pylist()
    threshold = Classifier.load(model).threshold
    assert all(r["classifier_score"] is not None for r in annotations)
    # A score at the threshold makes a document unsafe; the classifier is named where no keyword rule decided
    # (the default lexicon's low and medium terms flag some documents without deciding).
    assert all(r["unsafe"] for r in annotations if r["classifier_score"] >= threshold)
    assert all(r["classifier_score"] >= threshold for r in annotations if r["unsafe_reason"] == "classifier")
    assert all(r["unsafe_reason"] == "classifier" for r in annotations if r["classifier_score"] >= threshold and not r["flagged"])
    assert any(r["unsafe_reason"] == "classifier" for r in annotations)
    classified_unsafe = sum(1 for r in annotations if r["classifier_score"] >= threshold)
    assert report["totals"]["classified_documents"] == 300 and report["totals"]["classifier_unsafe_documents"] == classified_unsafe
    assert sum(s["classified_documents"] for s in report["by_source"].values()) == 300
    check = next(c for c in report["checks"] if c["id"] == "technical-spot-check")
    unsafe = sum(1 for r in annotations if r["unsafe"])
    assert check["techniques"] == ["keywords", "classifier"] and check["screened_documents"] == check["classified_documents"] == 300
    assert check["classified_pass_rate"] == pytest.approx(1 - unsafe / 300)
    assert check["value"] == pytest.approx(1 - unsafe / 300)
    assert report["options"]["classifier_sha256"] == Classifier.load(model).sha256
    card = json.loads((model.parent / "m.ftz.json").read_text())  # the policy sets no threshold: the model's decides, and the report says so
    assert report["options"]["policy"]["classifier_unsafe_at"] is None
    assert report["classifier"] == {"model": "m.ftz", "sha256": Classifier.load(model).sha256, "threshold": card["threshold"], "model_threshold": card["threshold"], "threshold_from": "model"}


def test_the_technical_sample_is_order_free_and_about_a_tenth(tmp_path, model):
    first = _scan(tmp_path / "a", model, "--classify", "sample", "--workers", "1")[0]
    second = _scan(tmp_path / "b", model, "--classify", "sample", "--workers", "2", "--unit-mb", "0.001")[0]

    def classified(out):
        rows = [r for p in sorted((out / "annotations").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
        return {r["doc_id"] for r in rows if r["classifier_score"] is not None}

    assert classified(first) == classified(second) and 10 <= len(classified(first)) <= 60
    report = json.loads((first / "report.json").read_text())
    check = next(c for c in report["checks"] if c["id"] == "technical-spot-check")
    # keywords screen every document; the classifier's sample is reported beside them
    assert check["screened_documents"] == 300 and check["scanned_share"] == 1.0 and check["techniques"] == ["keywords", "classifier"]
    assert check["classified_documents"] == len(classified(first)) and check["classified_share"] == pytest.approx(len(classified(first)) / 300)


def test_the_policy_thresholds_for_the_classifier(tmp_path, model):
    path = tmp_path / "lex.tsv"
    path.write_text("term\tcategory\tseverity\n政策\tA1.8\tmedium\n", encoding="utf-8")
    lexicon = scanner.load_lexicon(path)
    texts = ["新的政策发布了，傻逼", "新的政策发布了"]
    strict = scanner.Scanner(lexicon, scanner.ScanOptions(langid=False, classifier=str(model), policy=Policy(classifier_unsafe_at=1.0, classifier_with_medium_at=0.0)))
    assert strict.annotate(pa.table({"text": texts}))["unsafe_reason"].to_pylist() == ["medium+classifier", "medium+classifier"]
    plain = scanner.Scanner(lexicon, scanner.ScanOptions(langid=False, classifier=str(model)))
    reasons = plain.annotate(pa.table({"text": texts}))["unsafe_reason"].to_pylist()
    assert reasons[0] == "classifier" and reasons[1] == ""
    described = scanner.scan.describe_run(lexicon, strict.options)["classifier"]
    assert described["threshold"] == 1.0 and described["threshold_from"] == "policy" and described["model_threshold"] == Classifier.load(model).threshold
    assert "classifier" not in scanner.scan.describe_run(lexicon, scanner.ScanOptions(langid=False))  # no model: provenance as before
    policy_file = tmp_path / "p.toml"
    policy_file.write_text('version = "1"\n[classifier]\nunsafe_at = 0.9\nwith_medium_at = 0.4\n', encoding="utf-8")
    assert (load_policy(policy_file).classifier_unsafe_at, load_policy(policy_file).classifier_with_medium_at) == (0.9, 0.4)
    policy_file.write_text('version = "1"\n[classifier]\nunsafe_at = 2\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[classifier\] unsafe_at must be a score between 0 and 1"):
        load_policy(policy_file)


def test_training_from_the_verdicts_imported_into_a_scan(tmp_path, model):
    out, _ = _scan(tmp_path, model, "--sample-size", "60")
    runner = CliRunner()
    assert runner.invoke(cli, ["sample", "export", str(out), "--format", "jsonl", "-o", str(tmp_path / "s.jsonl")]).exit_code == 0
    sheet = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text(encoding="utf-8").splitlines()]
    write_jsonl(tmp_path / "f.jsonl", [{**r, "verdict": "fail" if any(b in r["text"] for b in BAD) else "pass"} for r in sheet])
    assert runner.invoke(cli, ["sample", "import", str(out), str(tmp_path / "f.jsonl")]).exit_code == 0
    result = runner.invoke(cli, ["classifier", "train", "--from", str(out), "-o", str(tmp_path / "own.ftz"), "--threads", "1"])
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "own.ftz.json").read_text())
    assert card["training"]["documents"] + card["training"]["held_back"] == 60 and "human verdicts" in card["training"]["files"][0]["path"]
