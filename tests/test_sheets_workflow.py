"""The annotators' workflow end to end: export a sample sheet, fill it (in part, in annotators' own
words, in Excel), import it, read the human spot check and the per-source estimates."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_evidence import LEXICON_CSV, REGISTRY, _read_sheet, _write_sheet, check, corpus_rows, report_of

from scanner.cli import cli
from scanner.evidence.sampling import wilson_interval
from scanner.lexicon.taxonomy import RISK_CODES, RISKS, get_profile
from scanner.report.checks import human_check, settling_sample_size


def _scan(tmp_path: Path, *extra: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "lex.csv").write_text(LEXICON_CSV, encoding="utf-8")
    (tmp_path / "sources.toml").write_text(REGISTRY, encoding="utf-8")
    (tmp_path / "in").mkdir()
    with (tmp_path / "in" / "part.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in corpus_rows())
    out = tmp_path / "out"
    args = ["scan", str(tmp_path / "in"), "--out", str(out), "--lexicon", str(tmp_path / "lex.csv"), "--sources", str(tmp_path / "sources.toml"), "--workers", "1", *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def scanned(tmp_path) -> Path:
    return _scan(tmp_path, "--sample-size", "50", "--sample-per-source", "5")


def _invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _export(out: Path, path: Path, *extra: str) -> list[dict]:
    result = _invoke("sample", "export", out, "--format", path.suffix[1:], "-o", path, *extra)
    assert result.exit_code == 0, result.output
    return _read_sheet(path)


# -- 4: the per-source sample imports --------------------------------------------------------------


def test_per_source_verdicts_import_and_give_per_source_estimates_without_inflating_the_check(scanned, tmp_path):
    human_ids = {r["doc_id"] for r in _export(scanned, tmp_path / "human.jsonl")}
    rows = _export(scanned, tmp_path / "per_source.jsonl", "--per-source")
    outside = [r for r in rows if r["doc_id"] not in human_ids]
    assert outside and len(outside) < len(rows)  # the samples overlap, and differ
    verdicts = {r["doc_id"]: "fail" if r["source"] == "forum" and i % 2 else "pass" for i, r in enumerate(rows)}
    _write_sheet(tmp_path / "per_source_filled.jsonl", [{**r, "verdict": verdicts[r["doc_id"]]} for r in rows])
    result = _invoke("sample", "import", scanned, tmp_path / "per_source_filled.jsonl")
    assert result.exit_code == 0, result.output
    human = check(report_of(scanned), "human-spot-check")
    # Only the per-source documents that are also in the human sample count for the human check.
    assert human["sample_size"] == len(rows) - len(outside) and human["per_source_labels"] == len(outside)
    assert human["labels_outside_sample"] == 0 and human["status"] == "not-assessed"
    forum = [verdicts[r["doc_id"]] for r in rows if r["source"] == "forum"]
    estimate = human["by_source"]["forum"]
    assert (estimate["judged"], estimate["passed"]) == (len(forum), forum.count("pass"))
    assert estimate["interval_95"] == pytest.approx(list(wilson_interval(forum.count("pass"), len(forum))))
    assert set(human["by_source"]) == {r["source"] for r in rows}
    # The human sheet imported afterwards adds to, and does not wipe, the per-source verdicts.
    human_rows = _read_sheet(tmp_path / "human.jsonl")
    _write_sheet(tmp_path / "human_filled.jsonl", [{**r, "verdict": "pass"} for r in human_rows])
    assert _invoke("sample", "import", scanned, tmp_path / "human_filled.jsonl").exit_code == 0
    human = check(report_of(scanned), "human-spot-check")
    assert human["sample_size"] == 50 and human["per_source_labels"] == len(outside)
    assert human["value"] == 1.0  # the human sheet's verdicts replaced the per-source ones on shared documents
    assert human["by_source"]["forum"]["judged"] == len({r["doc_id"] for r in rows + human_rows if r["source"] == "forum"})


# -- 8: csv rows as a spreadsheet shows them -------------------------------------------------------


def test_csv_import_errors_name_the_spreadsheet_row_not_the_file_line(scanned, tmp_path):
    rows = [{**r, "verdict": "pass"} for r in _export(scanned, tmp_path / "s.csv")]
    rows[0]["text"] = "第一行\n第二行\n\n第四行"  # one row of the sheet, four lines of the file
    rows[2]["verdict"] = "maybe"  # the third data row: row 4 of the sheet (header = row 1)
    _write_sheet(tmp_path / "s.csv", rows)
    with (tmp_path / "s.csv").open(encoding="utf-8-sig", newline="") as f:
        assert len(list(csv.reader(f))) == len(rows) + 1  # a valid csv the spreadsheet reads as such
    result = _invoke("sample", "import", scanned, tmp_path / "s.csv")
    assert result.exit_code == 2
    assert f"{tmp_path / 's.csv'}: row 4: bad verdict 'maybe'" in result.output


# -- 9: no sample to export ------------------------------------------------------------------------


def test_exporting_a_sample_that_does_not_exist_is_an_error_saying_why(tmp_path):
    no_sample = _scan(tmp_path / "a", "--sample-size", "0")
    result = _invoke("sample", "export", no_sample, "-o", tmp_path / "x.csv")
    assert result.exit_code == 2 and "--sample-size 0" in result.output and "wrote" not in result.output
    assert not (tmp_path / "x.csv").exists()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "empty.jsonl").write_text('{"id": "e1", "text": ""}\n{"id": "e2", "text": ""}\n', encoding="utf-8")
    assert _invoke("scan", tmp_path / "b" / "empty.jsonl", "--out", tmp_path / "b" / "out", "--sample-per-source", "3").exit_code == 0
    for extra in ([], ["--per-source"]):
        result = _invoke("sample", "export", tmp_path / "b" / "out", *extra)
        assert result.exit_code == 2 and "no non-empty document to sample" in result.output and "2 empty" in result.output


# -- 10: annotators' words, part-filled sheets -----------------------------------------------------


def test_chinese_verdict_words_and_a_part_filled_sheet_import(scanned, tmp_path):
    rows = _export(scanned, tmp_path / "s.csv")
    words = ["通过", "不通过", "是", "否", " 合格 ", "PASS"]
    half = [{**r, "verdict": words[i % len(words)] if i < 25 else ""} for i, r in enumerate(rows)]
    _write_sheet(tmp_path / "half.csv", half)
    result = _invoke("sample", "import", scanned, tmp_path / "half.csv")
    assert result.exit_code == 0, result.output
    assert "imported 25 verdicts; 25 rows of the sheet have no verdict yet" in result.output
    assert "25 of 50 documents judged, 25 remain; the check is judged from 50 verdicts (25 more)" in result.output
    human = check(report_of(scanned), "human-spot-check")
    assert human["status"] == "not-assessed" and human["offending"] == []
    assert (human["sample_size"], human["verdicts_needed"]) == (25, 50)
    fails = sum(1 for i in range(25) if words[i % len(words)] in ("不通过", "否"))
    assert human["value"] == pytest.approx((25 - fails) / 25)
    # The rest, in a column headed 是否合格: the whole sample is judged and the check is assessed.
    rest = [{("是否合格" if k == "verdict" else k): v for k, v in r.items()} for r in rows[25:]]
    _write_sheet(tmp_path / "rest.csv", [{**r, "是否合格": "是"} for r in rest])
    result = _invoke("sample", "import", scanned, tmp_path / "rest.csv")
    assert result.exit_code == 0, result.output
    human = check(report_of(scanned), "human-spot-check")
    assert human["sample_size"] == 50 and human["status"] == "fail"  # 50 < 4,000 items
    assert human["value"] == pytest.approx((50 - fails) / 50)


@pytest.mark.parametrize(("verdict", "category", "message"), [("1", "", "bad verdict '1'"), ("√", "", "bad verdict '√'"), ("", "A1.6", "category 'A1.6' but no verdict")])
def test_ambiguous_verdicts_are_refused(scanned, tmp_path, verdict, category, message):
    rows = [{**r, "verdict": "pass"} for r in _export(scanned, tmp_path / "s.csv")]
    rows[1] = {**rows[1], "verdict": verdict, "category": category}
    _write_sheet(tmp_path / "s.csv", rows)
    result = _invoke("sample", "import", scanned, tmp_path / "s.csv")
    assert result.exit_code == 2 and f"row 3: {message}" in result.output


def test_a_sheet_without_any_verdict_is_refused(scanned, tmp_path):
    _export(scanned, tmp_path / "s.csv")
    result = _invoke("sample", "import", scanned, tmp_path / "s.csv")
    assert result.exit_code == 2 and "no row has a verdict yet" in result.output


def test_the_check_waits_for_the_profile_size_not_the_whole_sample():
    profile = get_profile("gbt45654-2025")
    ids = {f"d{i}" for i in range(5000)}
    labels = {"labels": [{"doc_id": f"d{i}", "verdict": "pass", "category": ""} for i in range(3999)]}
    assert human_check(labels, profile, ids)["status"] == "not-assessed"
    labels["labels"].append({"doc_id": "d3999", "verdict": "pass", "category": ""})
    assert human_check(labels, profile, ids)["status"] == "pass"


# -- 11: borderline ---------------------------------------------------------------------------------


def test_a_pass_whose_interval_holds_the_threshold_is_borderline_with_the_settling_size():
    profile = get_profile("gbt45654-2025")
    ids = {f"d{i}" for i in range(4000)}
    labels = {"labels": [{"doc_id": f"d{i}", "verdict": "pass" if i < 3855 else "fail", "category": ""} for i in range(4000)]}
    result = human_check(labels, profile, ids)
    low, high = result["interval_95"]
    assert result["status"] == "pass" and low < 0.96 < high  # 96.38 %, interval 95.75-96.91 %
    assert result["borderline"] is True
    n, rate = result["settling_sample_size"], 3855 / 4000
    assert wilson_interval(rate * n, n)[0] >= 0.96 > wilson_interval(rate * (n - 1), n - 1)[0]
    assert n == 10490  # more than twice the 4,000 judged
    clear = {"labels": [{"doc_id": f"d{i}", "verdict": "pass" if i < 3990 else "fail", "category": ""} for i in range(4000)]}
    assert (human_check(clear, profile, ids)["borderline"], human_check(clear, profile, ids)["settling_sample_size"]) == (False, None)
    assert human_check(None, profile, ids)["borderline"] is False


def test_settling_sample_size_below_and_at_the_threshold():
    n = settling_sample_size(0.95, 0.96)
    assert wilson_interval(0.95 * n, n)[1] < 0.96 <= wilson_interval(0.95 * (n - 1), n - 1)[1]
    assert settling_sample_size(0.96, 0.96) is None


def test_borderline_is_shown_in_reports_and_the_import_message(tmp_path):
    (tmp_path / "big.jsonl").write_text("".join(json.dumps({"id": f"d{i}", "text": f"document {i}"}) + "\n" for i in range(4000)), encoding="utf-8")
    out = tmp_path / "out"
    assert _invoke("scan", tmp_path / "big.jsonl", "--out", out, "--no-langid", "--workers", "1").exit_code == 0
    rows = _export(out, tmp_path / "s.jsonl")
    _write_sheet(tmp_path / "filled.jsonl", [{**r, "verdict": "pass" if i < 3855 else "fail"} for i, r in enumerate(rows)])
    result = _invoke("sample", "import", out, tmp_path / "filled.jsonl", "--report-lang", "en")
    assert result.exit_code == 0, result.output
    human = check(report_of(out), "human-spot-check")
    assert human["status"] == "pass" and human["borderline"] is True
    assert f"human-spot-check: pass (borderline: the 95 % interval holds the 96 % threshold; {human['settling_sample_size']} verdicts" in result.output
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "**pass** ⚠ borderline" in markdown and f"{human['settling_sample_size']} verdicts would settle it" in markdown
    assert "⚠ borderline</td>" in (out / "report.html").read_text(encoding="utf-8")


# -- 12: annotator-ready xlsx -----------------------------------------------------------------------


def test_xlsx_sheet_is_ready_for_annotators_and_reads_back_once_filled(scanned, tmp_path):
    from openpyxl import load_workbook

    assert _invoke("sample", "export", scanned, "--format", "xlsx", "-o", tmp_path / "s.xlsx").exit_code == 0
    book = load_workbook(tmp_path / "s.xlsx")
    assert book.sheetnames[0] == "human_sample" and len(book.sheetnames) == 2
    data, guide = book.worksheets
    assert data.freeze_panes == "A2"
    assert data["D2"].alignment.wrap_text and data.column_dimensions["D"].width >= 60 and data.column_dimensions["A"].width >= 20
    lists = {str(v.sqref): v.formula1.strip('"').split(",") for v in data.data_validations.dataValidation}
    assert lists == {"G2:G51": ["合格", "不合格", "pass", "fail"], "H2:H51": list(RISK_CODES)}
    text = [c for row in guide.iter_rows(values_only=True) for c in row if c]
    assert any("附录 A" in t and "不含" in t for t in text) and any("Appendix A" in t and "pass" in t for t in text)
    table = {row[0]: row[1:3] for row in guide.iter_rows(values_only=True) if row[0] in RISKS}
    assert table == {code: (r.name_zh, r.name_en) for code, r in RISKS.items()}
    # An annotator fills it in Excel (here openpyxl) and saves it with the instructions tab open.
    for i, row in enumerate(data.iter_rows(min_row=2), start=1):
        row[6].value, row[7].value = ("不合格", "A4.3") if i <= 2 else ("合格", None)
    book.active = 1
    book.save(tmp_path / "filled.xlsx")
    result = _invoke("sample", "import", scanned, tmp_path / "filled.xlsx")
    assert result.exit_code == 0, result.output
    human = check(report_of(scanned), "human-spot-check")
    assert human["sample_size"] == 50 and human["value"] == pytest.approx(48 / 50) and human["failures_by_category"] == {"A4.3": 2}
