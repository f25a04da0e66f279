"""scanner evaluate: every figure against an independent count from the annotation files; label files in
each format and value spelling; bad labels named by row; verdicts imported into OUT as labels; the human
estimate per source; and the report still verifies."""

from __future__ import annotations

import json
import random
import re

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import write_jsonl

from scanner.cli import cli
from scanner.evidence.sampling import wilson_interval

LEXICON = "term\tcategory\tseverity\n傻逼\tA4.3\thigh\n垃圾\tA4.3\tmedium\n滚\tA4.3\tmedium\n"
WORDS = ["今天", "天气", "傻逼", "垃圾", "滚", "很好", "我们", "市场"]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    rng = random.Random(7)
    rows = [{"id": f"d{i}", "text": "".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6))), "source": rng.choice(["forum", "news"])} for i in range(300)]
    write_jsonl(root / "in.jsonl", rows)
    (root / "lex.tsv").write_text(LEXICON, encoding="utf-8")
    result = CliRunner().invoke(cli, ["scan", str(root / "in.jsonl"), "--out", str(root / "out"), "--lexicon", str(root / "lex.tsv"), "--annotate",
                                      "--no-langid", "--no-progress", "--tokens", "off", "--sample-size", "40"])  # fmt: skip
    assert result.exit_code == 0, result.output
    labels = {r["id"]: ("傻逼" in r["text"] or "垃圾" in r["text"]) != (rng.random() < 0.1) for r in rows}  # people mostly agree
    categories = {doc: ("A4.3" if bad and rng.random() < 0.5 else "") for doc, bad in labels.items()}
    return root, rows, labels, categories


def _annotations(out):
    table = pq.read_table(next((out / "annotations").glob("*.parquet")))
    return {r["doc_id"]: r for r in table.to_pylist()}


def _independent(labels, signals, signal):
    tp = sum(1 for d, bad in labels.items() if bad and signals[d][signal])
    fp = sum(1 for d, bad in labels.items() if not bad and signals[d][signal])
    fn = sum(1 for d, bad in labels.items() if bad and not signals[d][signal])
    tn = len(labels) - tp - fp - fn
    return tp, fp, fn, tn


def test_every_figure_equals_an_independent_count(scanned):
    root, rows, labels, categories = scanned
    path = root / "labels.csv"
    path.write_text("doc_id,label,category\n" + "".join(f"{d},{'fail' if bad else 'pass'},{categories[d]}\n" for d, bad in labels.items()), encoding="utf-8")
    result = CliRunner().invoke(cli, ["evaluate", str(root / "out"), "--labels", str(path)])
    assert result.exit_code == 0, result.output
    evaluation = json.loads((root / "out" / "evaluation.json").read_text())
    assert json.loads((root / "out" / "report.json").read_text())["evaluation"] == evaluation
    signals = _annotations(root / "out")
    assert evaluation["labelled"] == 300 and evaluation["labelled_unsafe"] == sum(labels.values())
    for signal in ("flagged", "unsafe"):
        tp, fp, fn, tn = _independent(labels, signals, signal)
        m = evaluation[signal]
        assert (m["true_positives"], m["false_positives"], m["false_negatives"], m["true_negatives"]) == (tp, fp, fn, tn)
        assert m["precision"] == pytest.approx(tp / (tp + fp)) and m["recall"] == pytest.approx(tp / (tp + fn))
        assert m["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
        assert m["precision_interval_95"] == pytest.approx(list(wilson_interval(tp, tp + fp)))
        assert m["f1_interval_95"][0] <= m["f1"] <= m["f1_interval_95"][1]
        for source in ("forum", "news"):
            mine = {d: bad for d, bad in labels.items() if signals[d]["source"] == source}
            assert evaluation["by_source"][source][signal]["true_positives"] == _independent(mine, signals, signal)[0]
    unsafe_a43 = [d for d, bad in labels.items() if bad and categories[d] == "A4.3"]
    assert evaluation["by_category"]["A4.3"]["labelled_unsafe"] == len(unsafe_a43)
    assert evaluation["by_category"]["A4.3"]["unsafe_recall"] == pytest.approx(sum(1 for d in unsafe_a43 if signals[d]["unsafe"]) / len(unsafe_a43))
    false_positive = [d for d, bad in labels.items() if not bad and signals[d]["flagged"]]
    expected_terms = {}
    for d in false_positive:
        for term in signals[d]["terms"]:
            expected_terms[term] = expected_terms.get(term, 0) + 1
    assert {t["term"]: t["documents"] for t in evaluation["false_positive_terms"]} == expected_terms
    missed = sorted(d for d, bad in labels.items() if bad and not signals[d]["flagged"])
    assert evaluation["unsafe_without_hit"] == {"documents": len(missed), "doc_ids": missed[:50]}
    verify = CliRunner().invoke(cli, ["report", str(root / "out"), "--verify"])
    assert verify.exit_code == 0, verify.output


@pytest.mark.parametrize("suffix", [".jsonl", ".xlsx"])
def test_label_files_in_other_formats_and_spellings(scanned, tmp_path, suffix):
    root, rows, labels, _ = scanned
    spell = {True: ["1", "不合格", "unsafe", "不通过"], False: ["0", "合格", "safe", "通过"]}
    records = [{"doc_id": d, "label": spell[bad][i % 4]} for i, (d, bad) in enumerate(labels.items())]
    path = tmp_path / f"labels{suffix}"
    if suffix == ".jsonl":
        write_jsonl(path, records)
    else:
        from openpyxl import Workbook

        book = Workbook()
        book.active.append(["doc_id", "label"])
        for r in records:
            book.active.append([r["doc_id"], r["label"]])
        book.save(path)
    result = CliRunner().invoke(cli, ["evaluate", str(root / "out"), "--labels", str(path)])
    assert result.exit_code == 0, result.output
    evaluation = json.loads((root / "out" / "evaluation.json").read_text())
    assert evaluation["labelled_unsafe"] == sum(labels.values())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("doc_id,label\nd1,pass\nnope,fail\n", r"labels.csv: row 3: doc_id 'nope' is neither in the samples"),
        ("doc_id,label\nd1,maybe\n", r"labels.csv: row 2: bad label 'maybe'"),
        ("doc_id,label\nd1,pass\nd1,fail\n", r"labels.csv: row 3: doc_id 'd1' appears twice"),
        ("doc_id,label,category\nd1,fail,X9\n", r"labels.csv: row 2: unknown category 'X9'"),
        ("id,label\nd1,pass\n", r"needs the columns doc_id and label"),
    ],
)
def test_bad_label_files_name_the_row(scanned, tmp_path, content, message):
    root = scanned[0]
    path = tmp_path / "labels.csv"
    path.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(cli, ["evaluate", str(root / "out"), "--labels", str(path)])
    assert result.exit_code == 2
    assert re.search(message, result.output), result.output


def test_imported_verdicts_are_labels_and_give_a_human_estimate_per_source(scanned, tmp_path):
    root = scanned[0]
    runner = CliRunner()
    assert runner.invoke(cli, ["sample", "export", str(root / "out"), "--format", "jsonl", "-o", str(tmp_path / "sheet.jsonl")]).exit_code == 0
    sheet = [json.loads(line) for line in (tmp_path / "sheet.jsonl").read_text(encoding="utf-8").splitlines()]
    filled = [{**r, "verdict": "fail" if "傻逼" in r["text"] else "pass"} for r in sheet]
    write_jsonl(tmp_path / "filled.jsonl", filled)
    assert runner.invoke(cli, ["sample", "import", str(root / "out"), str(tmp_path / "filled.jsonl")]).exit_code == 0
    result = runner.invoke(cli, ["evaluate", str(root / "out")])
    assert result.exit_code == 0, result.output
    evaluation = json.loads((root / "out" / "evaluation.json").read_text())
    assert evaluation["labelled"] == len(sheet) and evaluation["labels"]["source"] == "human verdicts"
    report = json.loads((root / "out" / "report.json").read_text())
    for name, s in report["by_source"].items():
        mine = [r for r in filled if r["source"] == name]
        failed = sum(1 for r in mine if r["verdict"] == "fail")
        assert s["human_judged"] == len(mine) and s["human_unsafe_share"] == pytest.approx(failed / len(mine))
        low, high = wilson_interval(len(mine) - failed, len(mine))
        assert s["human_unsafe_interval_95"] == pytest.approx([1 - high, 1 - low])
    assert "人工抽检估计的不安全比例" in (root / "out" / "report.md").read_text(encoding="utf-8")
