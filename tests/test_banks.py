"""Test banks: the audit's figures equal independent counts, each check passes and fails where it should,
duplicates under normalisation, rows that cannot count named by row, contamination of a scanned corpus,
freshness, bad input, and the attachments' XLSX shapes read back with Chinese headers."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import date
from pathlib import Path

import pytest
from bankgen import LEXICON, a12, bank_rows, write_jsonl
from click.testing import CliRunner
from openpyxl import load_workbook

from scanner.banks.bank import audit_banks, derived_id, question_key, read_banks
from scanner.cli import cli
from scanner.errors import ConfigError
from scanner.lexicon.taxonomy import ASPECTS, RISK_CODES, RISKS
from scanner.match.normalize import DEFAULT_STEPS

AS_OF = "2026-12-10"
CHECK_IDS = [
    "bank-generate-size", "bank-generate-coverage", "bank-refuse-size", "bank-refuse-coverage",
    "bank-non-refuse-size", "bank-non-refuse-coverage", "bank-contamination", "bank-freshness",
]  # fmt: skip


def _csv(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = ("id", "question", "bank", "category", "aspect", "updated")) -> Path:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(text.getvalue(), encoding="utf-8")
    return path


def _audit(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "audit"
    result = CliRunner().invoke(cli, ["bank", "audit", *args, "--out", str(out), "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    return json.loads((out / "bank_audit.json").read_text(encoding="utf-8"))


def _checks(audit: dict) -> dict[str, dict]:
    return {c["id"]: c for c in audit["checks"]}


def test_figures_equal_independent_counts_and_every_check_passes(tmp_path):
    rows = bank_rows()
    audit = _audit(tmp_path, str(write_jsonl(tmp_path / "bank.jsonl", rows)))
    assert [c["id"] for c in audit["checks"]] == CHECK_IDS
    for bank in ("generate", "refuse", "non-refuse"):
        mine = [r for r in rows if r["bank"] == bank]
        assert audit["banks"][bank]["rows"] == audit["banks"][bank]["questions"] == len(mine)
    generate = audit["banks"]["generate"]["by_category"]
    assert list(generate) == list(RISK_CODES)
    assert generate == {code: sum(r["category"] == code for r in rows if r["bank"] == "generate") for code in RISK_CODES}
    refuse = audit["banks"]["refuse"]["by_category"]
    assert list(refuse) == [c for c in RISK_CODES if a12(c)] and set(refuse.values()) == {32}
    names = {a.name_zh: k for k, a in ASPECTS.items()} | {a.name_en: k for k, a in ASPECTS.items()}
    assert audit["banks"]["non-refuse"]["by_aspect"] == {key: sum(names[r["aspect"]] == key for r in rows if r["bank"] == "non-refuse") for key in ASPECTS}
    checks = _checks(audit)
    assert {i: c["status"] for i, c in checks.items()} == dict.fromkeys(CHECK_IDS, "pass") | {"bank-contamination": "not-assessed"}
    assert checks["bank-generate-size"]["value"] == 80 * 17 + 50 * 14 and checks["bank-generate-size"]["threshold"] == 2000
    assert checks["bank-generate-coverage"]["value"] == checks["bank-generate-coverage"]["threshold"] == 31
    assert checks["bank-freshness"]["value"] == (date.fromisoformat(AS_OF) - date(2026, 12, 1)).days
    for check in audit["checks"]:
        assert set(check) >= {"id", "requirement", "requirement_en", "value", "threshold", "status", "offending"}
    assert audit["problems"] == [] and audit["contaminated"] == [] and audit["conflicts"] == []


def test_each_check_fails_where_it_should(tmp_path):
    rows = bank_rows(per_other=60, updated="2026-10-01")
    # A1.3 falls to 49 (< 50), A3.1 to 19 (< 20); refuse A2.5 to 19; non-refuse health to 19.
    drop = {*{f"G-A1.3-{i:03d}" for i in range(49, 80)}, *{f"G-A3.1-{i:03d}" for i in range(19, 60)}, *{f"R-A2.5-{i:03d}" for i in range(19, 32)}, *{f"N-health-{i:03d}" for i in range(19, 40)}}
    kept = [r for r in rows if r["id"] not in drop]
    checks = _checks(_audit(tmp_path, str(write_jsonl(tmp_path / "bank.jsonl", kept))))
    assert checks["bank-generate-coverage"]["status"] == "fail" and checks["bank-generate-coverage"]["offending"] == ["A1.3", "A3.1"]
    rule = next(r for r in checks["bank-generate-coverage"]["rules"] if r["rule"] == "A1.3")
    assert rule == {"rule": "A1.3", "value": 49, "threshold": 50, "status": "fail"}
    assert checks["bank-refuse-coverage"]["offending"] == ["A2.5"] and checks["bank-non-refuse-coverage"]["offending"] == ["health"]
    assert checks["bank-generate-size"]["status"] == "pass" and checks["bank-generate-size"]["value"] == 80 * 17 + 60 * 14 - 31 - 41
    assert checks["bank-freshness"]["status"] == "fail" and checks["bank-freshness"]["offending"] == ["generate", "non-refuse", "refuse"]
    small = [r for r in rows if r["bank"] != "generate" or int(r["id"][-3:]) < 40]  # 40 per risk: 1,240 questions
    checks = _checks(_audit(tmp_path, str(write_jsonl(tmp_path / "small.jsonl", small))))
    assert checks["bank-generate-size"]["status"] == "fail" and checks["bank-generate-size"]["value"] == 40 * 31
    assert checks["bank-refuse-size"]["status"] == "pass" and checks["bank-non-refuse-size"]["status"] == "pass"
    only_generate = [dict(r, updated="") for r in rows if r["bank"] == "generate"]
    checks = _checks(_audit(tmp_path, str(write_jsonl(tmp_path / "generate.jsonl", only_generate))))
    assert {checks[i]["status"] for i in ("bank-refuse-size", "bank-refuse-coverage", "bank-non-refuse-size", "bank-non-refuse-coverage")} == {"not-assessed"}
    assert checks["bank-freshness"]["status"] == "not-assessed" and checks["bank-freshness"]["undated"] == ["generate"]


def test_duplicates_after_normalisation_problems_and_conflicts_are_named_by_row(tmp_path):
    rows = bank_rows()
    first = rows[0]["question"]
    extra = [
        {"id": "", "question": first.replace("0", "０"), "bank": "generate", "category": "A1.1"},  # full-width digit: nfkc
        {"id": "", "question": first.replace("题", "題"), "bank": "生成内容", "category": "A1.2"},  # Traditional: t2s
        {"id": "X1", "question": "", "bank": "generate", "category": "A1.1"},
        {"id": "X2", "question": "=HYPERLINK(\"http://x\")", "bank": "generate", "category": "A1.1"},
        {"id": "X3", "question": "未知编号的题目", "bank": "generate", "category": "A9.9"},
        {"id": "X4", "question": "没有编号的题目", "bank": "refuse", "category": ""},
        {"id": "X5", "question": "未知方面的题目", "bank": "non-refuse", "aspect": "天气"},
        {"id": "X6", "question": "未知题库的题目", "bank": "misc", "category": "A1.1"},
        {"id": "X7", "question": "日期不对的题目", "bank": "generate", "category": "A1.1", "updated": "2026-13-45"},
        {"id": "X8", "question": rows[-1]["question"], "bank": "refuse", "category": "A1.1"},  # also a non-refuse question
    ]
    path = _csv(tmp_path / "bank.csv", rows + extra)
    audit = _audit(tmp_path, str(path))
    where = {e["id"]: f"{path}: row {len(rows) + 2 + n}" for n, e in enumerate(extra)}
    assert [(p["row"], p["problem"].split(" (")[0].split(" '")[0]) for p in audit["problems"]] == [
        (where["X1"], "empty question"),
        (where["X2"], "question"),
        (where["X3"], "unknown category"),
        (where["X4"], "no risk category for a refuse question"),
        (where["X5"], "unknown aspect"),
        (where["X6"], "unknown bank"),
        (where["X7"], "bad date"),
    ]
    assert "spreadsheet formula" in audit["problems"][1]["problem"]
    generate = audit["banks"]["generate"]
    assert generate["rows"] == 2060 + 2 and generate["questions"] == 2060 and generate["problems"] == 4
    [duplicate] = generate["duplicates"]
    assert duplicate == {"question": min(first, extra[0]["question"], extra[1]["question"]), "rows": [f"{path}: row {n}" for n in (2, len(rows) + 2, len(rows) + 3)]}
    assert generate["by_category"]["A1.1"] == 80 and generate["by_category"]["A1.2"] == 81  # the duplicate adds its code to the one question
    assert audit["conflicts"] == [{"question": rows[-1]["question"], "rows": [where["X8"], f"{path}: row {len(rows) + 1}"]}]
    printed = CliRunner().invoke(cli, ["bank", "audit", str(path), "--as-of", AS_OF]).output
    assert "1 question(s) in both the refuse and the non-refuse bank:" in printed and f"{where['X8']} / {path}: row {len(rows) + 1}" in printed
    with pytest.raises(ConfigError, match=r"bank\.csv: row \d+: empty question"):
        read_banks([path], DEFAULT_STEPS, strict=True)


def test_question_ids_derive_from_the_question_alone(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "id"} for r in bank_rows(per_a12=2, per_other=1, refuse_per=1, aspect_per=1)]
    shuffled = rows[:]
    random.Random(3).shuffle(shuffled)
    a = read_banks([write_jsonl(tmp_path / "a.jsonl", rows)], DEFAULT_STEPS)
    b = read_banks([write_jsonl(tmp_path / "b.jsonl", shuffled)], DEFAULT_STEPS)
    assert {q.id for q in a.questions} == {q.id for q in b.questions} == {derived_id(r["bank"], question_key(r["question"], DEFAULT_STEPS)) for r in rows}


def test_missing_columns_and_duplicate_ids_are_errors_naming_the_file_and_rows(tmp_path):
    runner = CliRunner()
    no_question = _csv(tmp_path / "q.csv", [{"id": "1", "bank": "generate", "category": "A1.1"}], ("id", "bank", "category"))
    result = runner.invoke(cli, ["bank", "audit", str(no_question)])
    assert result.exit_code == 2 and "q.csv: no question column" in result.output and "columns found: bank, category, id" in result.output
    no_bank = _csv(tmp_path / "b.csv", [{"question": "题目", "category": "A1.1"}], ("question", "category"))
    result = runner.invoke(cli, ["bank", "audit", str(no_bank)])
    assert result.exit_code == 2 and "b.csv: no bank column" in result.output
    twice = _csv(tmp_path / "d.csv", [{"id": "Q1", "question": "甲", "bank": "generate", "category": "A1.1"}, {"id": "Q1", "question": "乙", "bank": "generate", "category": "A1.2"}])
    result = runner.invoke(cli, ["bank", "audit", str(twice)])
    assert result.exit_code == 2 and f"{twice}: row 3: id 'Q1' appears twice (also {twice}: row 2)" in " ".join(result.output.split())


def test_contamination_finds_questions_in_the_scanned_corpus_under_its_normalisation(tmp_path):
    rows = bank_rows(per_a12=2, per_other=1, refuse_per=1, aspect_per=1)
    planted = [rows[0], rows[40], rows[-1]]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    documents = [{"id": "d1", "text": f"网友转帖：{planted[0]['question']} 后面还有别的话。"},
                 {"id": "d2", "text": "无关的文字。" + planted[1]["question"].replace("1", "１")},  # full-width: matches under nfkc
                 {"id": "d3", "text": "普通新闻，没有测试题。"}]  # fmt: skip
    write_jsonl(corpus / "a.jsonl", documents)
    write_jsonl(corpus / "b.jsonl", [{"id": "d4", "text": planted[2]["question"]}, {"id": "d5", "text": planted[0]["question"][:-3]}])
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["scan", str(corpus), "--out", str(out), "--no-langid", "--no-progress", "--sample-size", "0"])
    assert result.exit_code == 0, result.output
    bank = write_jsonl(tmp_path / "bank.jsonl", rows)
    audit = _audit(tmp_path, str(bank), "--corpus", str(out))
    found = {c["question"]: c for c in audit["contaminated"]}
    assert set(found) == {q["question"] for q in planted}
    assert found[planted[0]["question"]]["shards"] == [str(corpus / "a.jsonl")] and found[planted[0]["question"]]["documents"] == 1
    assert found[planted[2]["question"]]["row"] == f"{bank}:{len(rows)}"
    check = _checks(audit)["bank-contamination"]
    assert check["status"] == "fail" and check["value"] == 3 and check["basis"] == "practice"
    assert audit["contamination"]["documents"] == 5 and audit["contamination"]["shards"] == 2


def test_lexicon_attachment_checks_and_export(tmp_path):
    folder = tmp_path / "lex"
    folder.mkdir()
    (folder / "terms.csv").write_text(LEXICON + "=cmd,A1.1\n".replace("=cmd", "-cmd"), encoding="utf-8")
    (folder / "lexicon.toml").write_text('name = "mine"\nversion = "3"\nupdated = 2026-12-05\n[[files]]\npath = "terms.csv"\n', encoding="utf-8")
    bank = write_jsonl(tmp_path / "bank.jsonl", bank_rows())
    checks = _checks(_audit(tmp_path, str(bank), "--lexicon", str(folder)))
    assert checks["keyword-library"]["status"] == "fail" and checks["keyword-library"]["value"] == 3
    fresh = checks["keyword-library-freshness"]
    assert fresh["status"] == "pass" and fresh["value"] == 5 and fresh["threshold"] == 7 and fresh["basis"] == "practice"
    result = CliRunner().invoke(cli, ["bank", "audit", str(bank), "--lexicon", str(folder), "--as-of", "2026-12-20", "--json", "--fail-on-check"])
    assert result.exit_code == 3
    assert json.loads(result.output.split("checks failed")[0])["checks"][-1]["status"] == "fail"
    output = tmp_path / "附件4-拦截关键词列表.xlsx"
    result = CliRunner().invoke(cli, ["lexicon", "export", str(folder), "--format", "xlsx", "-o", str(output)])
    assert result.exit_code == 0, result.output
    workbook = load_workbook(output)
    assert workbook.sheetnames == ["拦截关键词列表", "说明"]
    values = [[c.value for c in row] for row in workbook["拦截关键词列表"].iter_rows()]
    assert values[0] == ["序号", "关键词", "风险类别", "风险编号", "语言", "级别"]
    assert values[1:] == [
        [1, "'-cmd", RISKS["A1.1"].name_zh, "A1.1", None, "高"],  # neutralised against formula injection
        [2, "傻逼", RISKS["A4.3"].name_zh, "A4.3", None, "高"],
        [3, "炸药配方", RISKS["A1.6"].name_zh, "A1.6", None, "高"],
    ]
    info = {row[0].value: row[1].value for row in workbook["说明"].iter_rows(max_row=5)}
    assert info["版本 version"] == "3" and info["更新日期 updated"] == "2026-12-05" and info["词条总数 terms"] == 3


def test_bank_export_reads_back_with_chinese_headers_and_the_same_figures(tmp_path):
    rows = bank_rows()
    rows[5] = dict(rows[5], question="-5 的绝对值与 " + rows[5]["question"])  # a cell a spreadsheet would take for a formula
    source = write_jsonl(tmp_path / "bank.jsonl", rows)
    output = tmp_path / "附件5-评估测试题.xlsx"
    result = CliRunner().invoke(cli, ["bank", "export", str(source), "-o", str(output)])
    assert result.exit_code == 0, result.output
    workbook = load_workbook(output)
    assert workbook.sheetnames == ["生成内容测试题库（A.1-A.5）", "应拒答测试题库", "非拒答测试题库"]
    generate = [[c.value for c in row] for row in workbook.worksheets[0].iter_rows(max_row=7)]
    assert generate[0] == ["序号", "编号", "题目", "风险编号", "风险类别", "更新日期"]
    assert generate[1] == [1, "G-A1.1-000", rows[0]["question"], "A1.1", RISKS["A1.1"].name_zh, "2026-12-01"]
    assert generate[6][2] == "'" + rows[5]["question"]
    assert [c.value for c in workbook.worksheets[2][1]] == ["序号", "编号", "题目", "方面", "更新日期"]
    again = read_banks([output], DEFAULT_STEPS)
    assert again.problems == [] and {q.id: q.text for q in again.questions} == {r["id"]: r["question"] for r in rows}
    original = audit_banks(read_banks([source], DEFAULT_STEPS), "gbt45654-2025", date(2026, 12, 10))
    exported = audit_banks(again, "gbt45654-2025", date(2026, 12, 10))
    assert exported["banks"] == original["banks"] and exported["checks"] == original["checks"]
    assert [q.row for q in again.questions][:2] == [f"{output}: sheet '生成内容测试题库（A.1-A.5）' row 2", f"{output}: sheet '生成内容测试题库（A.1-A.5）' row 3"]


def test_the_audit_pages_escape_data_and_hold_every_check(tmp_path):
    rows = bank_rows(per_a12=1, per_other=1, refuse_per=1, aspect_per=1)
    rows.append({"id": "X", "question": "<script>alert(1)</script>|题", "bank": "generate", "category": "A9.9"})
    out = tmp_path / "audit"
    result = CliRunner().invoke(cli, ["bank", "audit", str(write_jsonl(tmp_path / "b.jsonl", rows)), "--out", str(out), "--report-lang", "en"])
    assert result.exit_code == 0, result.output
    page = (out / "bank_audit.html").read_text(encoding="utf-8")
    markdown = (out / "bank_audit.md").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page and "default-src 'none'" in page
    assert "<script>" not in markdown and "\\|题" in markdown
    for check_id in CHECK_IDS:
        assert f'data-check="{check_id}"' in page and f"({check_id})" in markdown
