"""Evidence for the filing: registry attribution, the seven checks, order-free samples, sheets, audit."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import make_lexicon

import scanner
from scanner.cli import EXIT_CHECK_FAILED, cli
from scanner.detect.source import load_registry, origin_of_host
from scanner.errors import ConfigError
from scanner.evidence.sampling import SampleSpec, doc_hashes, wilson_interval
from scanner.report.sheets import mask_pii, neutralise_formula, read_verdicts, sheet_rows

LEXICON_CSV = "term,category\n傻逼,A4.3\nporn,A1.6\n"
REGISTRY = """
[[source]]
name = "news"
sources = ["news-feed"]
type = "open-source"
origin = "domestic"
licence = "CC-BY-4.0"
reference = "licences/news.txt"

[[source]]
name = "forum"
domains = ["bbs.example.cn"]
type = "self-collected"
reference = "records/forum-crawl.md"

[[source]]
name = "web-en"
url_prefixes = ["https://example.org/en/"]
type = "commercial"
origin = "foreign"

[[source]]
name = "bad-site"
domains = ["bad.example.com"]
type = "self-collected"
origin = "foreign"
reference = "records/bad.md"
blocklisted = true

[[source]]
name = "archive"
shards = ["*archive*.jsonl"]
type = "open-source"
origin = "foreign"
licence = "Apache-2.0"
"""


def corpus_rows() -> list[dict]:
    rows = []
    for i in range(60):
        rows.append({"id": f"n{i}", "text": f"今天的新闻第{i}条，天气晴朗。", "source": "news-feed"})
        rows.append({"id": f"f{i}", "text": "傻逼" if i < 6 else f"论坛帖子{i}，大家好。", "url": f"https://bbs.example.cn/t/{i}"})
        rows.append({"id": f"e{i}", "text": f"English article number {i} about the weather.", "url": f"https://example.org/en/{i}"})
    rows.append({"id": "b0", "text": "This page comes from a blocked site about cooking.", "url": "https://www.bad.example.com/x"})
    rows.append({"id": "u0", "text": "This text comes from a website nobody registered.", "url": "https://unknown.example.net/x"})
    return rows


@pytest.fixture
def scanned(tmp_path) -> Path:
    (tmp_path / "lex.csv").write_text(LEXICON_CSV, encoding="utf-8")
    (tmp_path / "sources.toml").write_text(REGISTRY, encoding="utf-8")
    (tmp_path / "in").mkdir()
    rows = corpus_rows()
    for part in range(3):
        with (tmp_path / "in" / f"part{part}.jsonl").open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[part::3])
    (tmp_path / "in" / "old_archive.jsonl").write_text(json.dumps({"id": "a0", "text": "This is an archived English page about the weather."}) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ["scan", str(tmp_path / "in"), "--out", str(out), "--lexicon", str(tmp_path / "lex.csv"), "--sources", str(tmp_path / "sources.toml"),
            "--sample-size", "50", "--sample-per-source", "5", "--workers", "1", "--report-lang", "en"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return out


def report_of(out: Path) -> dict:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def check(report: dict, check_id: str) -> dict:
    return next(c for c in report["checks"] if c["id"] == check_id)


def test_registry_attribution_by_every_rule_kind(scanned):
    by_source = report_of(scanned)["by_source"]
    assert {n: s["documents"] for n, s in by_source.items()} == {
        "news": 60, "forum": 60, "web-en": 60, "bad-site": 1, "archive": 1, "unknown.example.net": 1,
    }
    assert by_source["forum"]["origin"] == "domestic"  # default from the .cn domain
    assert by_source["unknown.example.net"]["registered"] is False
    assert by_source["unknown.example.net"]["type"] == "unregistered"


def test_checks_have_stable_ids_and_correct_statuses(scanned):
    report = report_of(scanned)
    assert [c["id"] for c in report["checks"]] == [
        "source-unsafe-share", "blocklisted-sources", "source-diversity", "source-traceability",
        "technical-spot-check", "human-spot-check", "keyword-library", "foreign-open-source-share",
    ]
    for c in report["checks"]:
        assert {"id", "requirement", "value", "threshold", "status", "offending", "evidence"} <= set(c)
    unsafe = check(report, "source-unsafe-share")
    assert (unsafe["status"], unsafe["offending"], unsafe["value"]) == ("fail", ["forum"], 0.1)
    assert "blocklist" in unsafe["recommendation"]
    assert check(report, "blocklisted-sources")["offending"] == ["bad-site"]
    trace = check(report, "source-traceability")
    assert {m["source"]: m["missing"] for m in trace["missing"]} == {"web-en": "contract reference", "unknown.example.net": "registry entry"}
    diversity = check(report, "source-diversity")
    assert diversity["status"] == "pass" and diversity["sources_per_language"] == {"en": 4, "zh": 2}
    assert set(diversity["origin_shares"]) == {"domestic", "foreign", "unknown"}
    technical = check(report, "technical-spot-check")
    assert technical["scanned_share"] == 1.0 and technical["value"] == pytest.approx(1 - 6 / 183)
    assert technical["status"] == "fail"
    assert check(report, "human-spot-check")["status"] == "not-assessed"
    library = check(report, "keyword-library")
    assert library["status"] == "fail" and "total" in library["offending"]


def test_diversity_fails_for_a_single_source_language(tmp_path):
    (tmp_path / "a.jsonl").write_text("".join(json.dumps({"text": f"这是第{i}段中文文本。", "source": "only"}) + "\n" for i in range(5)), encoding="utf-8")
    result = CliRunner().invoke(cli, ["scan", str(tmp_path / "a.jsonl"), "--out", str(tmp_path / "o"), "--fail-on-check"])
    assert result.exit_code == EXIT_CHECK_FAILED
    assert check(report_of(tmp_path / "o"), "source-diversity")["offending"] == ["zh"]


def test_human_sample_is_order_free_and_uniform(scanned, tmp_path):
    sample = pq.read_table(scanned / "samples" / "human_sample.parquet")
    assert sample.num_rows == 50
    hashes = sample["hash"].to_pylist()
    assert hashes == sorted(hashes)
    # Same inputs merged into one shard and scanned with 2 workers: the same sample.
    rows = corpus_rows()
    (tmp_path / "one").mkdir()
    with (tmp_path / "one" / "all.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in reversed(rows))
    (tmp_path / "one" / "old_archive.jsonl").write_text(json.dumps({"id": "a0", "text": "This is an archived English page about the weather."}) + "\n", encoding="utf-8")
    out = tmp_path / "out2"
    args = ["scan", str(tmp_path / "one"), "--out", str(out), "--lexicon", str(scanned.parent / "lex.csv"), "--sources", str(scanned.parent / "sources.toml"),
            "--sample-size", "50", "--sample-per-source", "5", "--workers", "2"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    other = pq.read_table(out / "samples" / "human_sample.parquet")
    assert other["doc_id"].to_pylist() == sample["doc_id"].to_pylist()
    # The sample is the bottom-k of the keyed hash over all non-empty documents.
    ids = [r["id"] for r in rows] + ["a0"]
    expected = [i for _, i in sorted(zip(doc_hashes(ids, SampleSpec().seed).tolist(), ids))[:50]]
    assert sample["doc_id"].to_pylist() == expected


def test_per_source_sample_and_summary(scanned):
    result = CliRunner().invoke(cli, ["sample", "export", str(scanned), "--per-source", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (scanned / "samples" / "per_source_sample.jsonl").read_text(encoding="utf-8").splitlines()]
    counts = {}
    for r in rows:
        counts[r["source"]] = counts.get(r["source"], 0) + 1
    assert counts == {"news": 5, "forum": 5, "web-en": 5, "bad-site": 1, "archive": 1, "unknown.example.net": 1}
    summary = report_of(scanned)["human_sample"]
    assert summary["size"] == 50 and summary["seed"] == SampleSpec().seed
    assert sum(s["sampled"] for s in summary["by_source"].values()) == 50


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_export_then_import_gives_pass_rate_and_wilson_interval(scanned, tmp_path, fmt):
    result = CliRunner().invoke(cli, ["sample", "export", str(scanned), "--format", fmt, "-o", str(tmp_path / f"sheet.{fmt}")])
    assert result.exit_code == 0, result.output
    rows = _read_sheet(tmp_path / f"sheet.{fmt}")
    assert list(rows[0]) == ["doc_id", "source", "language", "text", "terms", "categories", "verdict", "category"]
    assert len(rows) == 50 and all(r["verdict"] in ("", None) for r in rows)
    labelled = []
    for i, r in enumerate(rows):
        verdict = ("不合格" if fmt == "csv" else "fail") if i < 3 else ("合格" if i % 2 else "pass")
        labelled.append({**r, "verdict": verdict, "category": "A4.3" if i < 2 else ""})
    _write_sheet(tmp_path / f"labelled.{fmt}", labelled)
    result = CliRunner().invoke(cli, ["sample", "import", str(scanned), str(tmp_path / f"labelled.{fmt}")])
    assert result.exit_code == 0, result.output
    human = check(report_of(scanned), "human-spot-check")
    assert human["value"] == pytest.approx(47 / 50) and human["sample_size"] == 50
    assert human["interval_95"] == pytest.approx(list(wilson_interval(47, 50)))
    assert human["failures_by_category"] == {"A4.3": 2, "unspecified": 1}
    assert human["status"] == "fail"  # 50 < 4,000 items and 94 % < 96 %


def test_verdicts_count_only_for_documents_of_the_current_sample(scanned, tmp_path):
    """A re-scan with another seed draws another sample: the verdicts on documents it no longer holds
    are left out (and counted), not applied to it."""
    runner = CliRunner()
    assert runner.invoke(cli, ["sample", "export", str(scanned), "--format", "jsonl", "-o", str(tmp_path / "sheet.jsonl")]).exit_code == 0
    rows = _read_sheet(tmp_path / "sheet.jsonl")
    verdicts = {r["doc_id"]: "fail" if i < 10 else "pass" for i, r in enumerate(rows)}
    _write_sheet(tmp_path / "labelled.jsonl", [{**r, "verdict": verdicts[r["doc_id"]]} for r in rows])
    assert runner.invoke(cli, ["sample", "import", str(scanned), str(tmp_path / "labelled.jsonl")]).exit_code == 0
    assert check(report_of(scanned), "human-spot-check")["sample_size"] == 50
    root = scanned.parent
    args = ["scan", str(root / "in"), "--out", str(scanned), "--lexicon", str(root / "lex.csv"), "--sources", str(root / "sources.toml"),
            "--sample-size", "50", "--sample-per-source", "5", "--workers", "1", "--sample-seed", "another", "--force"]  # another scan: --force replaces it, verdicts stay
    assert runner.invoke(cli, args).exit_code == 0
    assert runner.invoke(cli, ["sample", "export", str(scanned), "--format", "jsonl", "-o", str(tmp_path / "new.jsonl")]).exit_code == 0
    kept = [verdicts[r["doc_id"]] for r in _read_sheet(tmp_path / "new.jsonl") if r["doc_id"] in verdicts]
    assert 0 < len(kept) < 50
    human = check(report_of(scanned), "human-spot-check")
    assert human["sample_size"] == len(kept) and human["labels_outside_sample"] == 50 - len(kept)
    assert human["value"] == pytest.approx(kept.count("pass") / len(kept))


def _read_sheet(path: Path) -> list[dict]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as f:
            return list(csv.DictReader(f))
    from openpyxl import load_workbook

    values = list(load_workbook(path).active.iter_rows(values_only=True))
    return [dict(zip(values[0], row)) for row in values[1:]]


def _write_sheet(path: Path, rows: list[dict]) -> None:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif path.suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        from openpyxl import Workbook

        book = Workbook()
        book.active.append(list(rows[0]))
        for r in rows:
            book.active.append(["" if v is None else v for v in r.values()])
        book.save(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda rows: rows.__setitem__(0, {**rows[0], "doc_id": "nope"}), "doc_id 'nope' is not in the human sample"),
        (lambda rows: rows.__setitem__(1, {**rows[1], "verdict": "", "category": "A4.3"}), "category 'A4.3' but no verdict"),
        (lambda rows: rows.__setitem__(2, {**rows[2], "verdict": "maybe"}), "bad verdict 'maybe'"),
        (lambda rows: rows.__setitem__(2, {**rows[2], "category": "Z9"}), "unknown category 'Z9'"),
        (lambda rows: rows.__setitem__(3, dict(rows[0])), "appears twice"),
    ],
    ids=["unknown-id", "category-without-verdict", "bad-verdict", "bad-category", "duplicate"],
)
def test_import_rejects_bad_rows_naming_them(scanned, tmp_path, edit, message):
    CliRunner().invoke(cli, ["sample", "export", str(scanned), "-o", str(tmp_path / "s.csv")])
    rows = [{**r, "verdict": "pass"} for r in _read_sheet(tmp_path / "s.csv")]
    edit(rows)
    _write_sheet(tmp_path / "s.csv", rows)
    result = CliRunner().invoke(cli, ["sample", "import", str(scanned), str(tmp_path / "s.csv")])
    assert result.exit_code == 2
    assert message in result.output and "s.csv:" in result.output


def test_sheet_cells_are_neutralised_and_pii_masked():
    assert neutralise_formula("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert [neutralise_formula(v) for v in ("+1", "-2", "@a", "\tx", "ok")] == ["'+1", "'-2", "'@a", "'\tx", "ok"]
    text = "联系 13812345678 或 zhang.san@example.com，身份证 110105199001011234，卡号 6222 0212 3456 7890 123"
    masked = mask_pii(text)
    assert masked == "联系 [MOBILE] 或 [EMAIL]，身份证 [ID]，卡号 [BANKCARD]"


def test_pii_is_masked_before_any_cut_and_in_full_width():
    texts = ["号13812345678 end", "x 110101199001011234 y", "卡 6222021234567890 z", "电话：１３８１２３４５６７８（全角）", "stored cut 1381234"]
    sample = pa.table({
        "doc_id": [f"d{i}" for i in range(5)], "source": ["s"] * 5, "language": ["zh"] * 5, "text": texts,
        "terms": [[]] * 5, "categories": [[]] * 5, "doc_bytes": [len(t.encode()) for t in texts[:4]] + [100],
    })
    masked = [r["text"] for r in sheet_rows(sample, 11, pii=True)]
    assert masked == ["号[MOBILE] ", "x [ID] y", "卡 [BANKCARD", "电话：[MOBILE]", "stored cut "]
    assert not any(ch.isdigit() for text in masked for ch in text)
    assert sheet_rows(sample, 11, pii=False)[0]["text"] == "号1381234567"  # without masking, a plain cut


def test_export_formula_cells_in_csv(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"id": "=cmd|' /C calc'!A0", "text": "=1+1 hello"}) + "\n", encoding="utf-8")
    out = tmp_path / "o"
    assert CliRunner().invoke(cli, ["scan", str(tmp_path / "a.jsonl"), "--out", str(out), "--no-langid"]).exit_code == 0
    assert CliRunner().invoke(cli, ["sample", "export", str(out)]).exit_code == 0
    (row,) = _read_sheet(out / "samples" / "human_sample.csv")
    assert row["doc_id"].startswith("'=") and row["text"].startswith("'=")
    assert read_verdicts(_labelled(tmp_path, row), {"=cmd|' /C calc'!A0"}).labels[0]["doc_id"] == "=cmd|' /C calc'!A0"


def _labelled(tmp_path: Path, row: dict) -> Path:
    path = tmp_path / "l.csv"
    _write_sheet(path, [{**row, "verdict": "pass"}])
    return path


def test_wilson_interval_known_values():
    low, high = wilson_interval(96, 100)
    assert (round(low, 4), round(high, 4)) == (0.9016, 0.9843)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_origin_defaults():
    assert [origin_of_host(h) for h in ("www.gov.cn", "a.com.cn", "新闻.中国", "bbc.co.uk", "example.com", "localhost")] == [
        "domestic", "domestic", "domestic", "foreign", "unknown", "unknown",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[[source]]\nname = "x"\ntype = "stolen"\n', "type 'stolen'"),
        ('[[source]]\ntype = "commercial"\n', "needs a 'name'"),
        ('[[source]]\nname = "x"\ntype = "commercial"\norigin = "mars"\n', "origin 'mars'"),
        ('[[source]]\nname = "x"\ntype = "commercial"\n[[source]]\nname = "x"\ntype = "commercial"\n', "registered twice"),
        ("not toml [", "invalid TOML"),
        ('[[source]]\nname = "x"\ntype = "commercial"\nblocklisted = "ture"\n', "blocklisted 'ture'; expected true or false"),
        ('[[source]]\nname = "x"\ntype = "commercial"\nblocklisted = 2\n', "blocklisted 2"),
    ],
)
def test_bad_registry_is_a_config_error(tmp_path, content, message):
    (tmp_path / "s.toml").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_registry(tmp_path / "s.toml")


def test_registry_csv(tmp_path):
    (tmp_path / "s.csv").write_text("name,type,origin,domains,licence\nwiki,open-source,foreign,wikipedia.org;wikimedia.org,CC-BY-SA-4.0\n", encoding="utf-8")
    registry = load_registry(tmp_path / "s.csv")
    assert registry.attribute(None, "https://zh.wikipedia.org/wiki/x", "s") == "wiki"
    assert registry.attribute(None, "https://notwikipedia.org/", "s") is None


def test_registry_csv_yes_no_fields(tmp_path):
    rows = "".join(f"s{i},commercial,domestic,{value}\n" for i, value in enumerate(["Yes", "y", "1", "TRUE", "no", "", "0", "False"]))
    (tmp_path / "s.csv").write_text("name,type,origin,blocklisted\n" + rows, encoding="utf-8")
    assert [e.blocklisted for e in load_registry(tmp_path / "s.csv").entries] == [True] * 4 + [False] * 4
    (tmp_path / "bad.csv").write_text("name,type,origin,blocklisted\nok,commercial,domestic,no\nx,commercial,domestic,maybe\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.csv:3: source 'x' has blocklisted 'maybe'"):
        load_registry(tmp_path / "bad.csv")


def test_verify_and_fail_on_check(scanned):
    runner = CliRunner()
    result = runner.invoke(cli, ["report", str(scanned), "--verify"])
    assert result.exit_code == 0 and "verified" in result.output
    report = report_of(scanned)
    report["totals"]["documents"] += 1
    (scanned / "report.json").write_text(json.dumps(report), encoding="utf-8")
    result = runner.invoke(cli, ["report", str(scanned), "--verify"])
    assert result.exit_code == 1
    assert "/totals/documents" in result.output
    assert runner.invoke(cli, ["report", str(scanned), "--fail-on-check"]).exit_code == EXIT_CHECK_FAILED


def test_lexicon_audit_counts_every_category(tmp_path):
    (tmp_path / "lex.csv").write_text(
        "term,category\n性,A1.6\nporn,A1.6;A2.5\nPorn,A4.3\n天安门,A1.1\nzero\u200bwidth,A1.8\n傻逼,A4.3\n", encoding="utf-8"
    )
    result = CliRunner().invoke(cli, ["lexicon", "audit", str(tmp_path / "lex.csv"), "--json"])
    assert result.exit_code == 0, result.output
    audit = json.loads(result.output)
    expected = dict.fromkeys(scanner.lexicon.taxonomy.RISK_CODES, 0) | {"A1.6": 2, "A2.5": 1, "A4.3": 2, "A1.1": 1, "A1.8": 1}
    assert audit["terms_by_category"] == expected
    assert audit["terms"] == 5 and audit["verdict"] == "fail"
    assert audit["single_char_cjk"] == ["性"]
    assert [d["term"] for d in audit["duplicates"]] == ["porn"]
    assert audit["never_match"] == []  # the zero-width space is deleted from term and text alike
    assert audit["hidden_characters"] == [{"term": "zero\u200bwidth", "reason": "contains invisible format character U+200B"}]
    text = CliRunner().invoke(cli, ["lexicon", "audit", str(tmp_path / "lex.csv")]).output
    assert "single-character CJK" in text and "fingerprint" in text and "hidden characters (deleted by the invisible step): 1" in text
    lexicon = scanner.load_lexicons([tmp_path / "lex.csv"])
    for normalize, text in (("default", "a zerowidth b"), ("none", "a zero\u200bwidth b")):
        options = scanner.ScanOptions(langid=False, tokens="off", normalize=normalize)
        assert scanner.Scanner(lexicon, options).annotate(pa.table({"text": [text]}))["terms"].to_pylist() == [["zero\u200bwidth"]]


def test_lexicon_import_converts_word_lists(tmp_path):
    (tmp_path / "words.txt").write_text("赌博\n\n毒品\n赌博\n", encoding="utf-8")
    (tmp_path / "more.txt").write_text("porn\n", encoding="utf-8")
    out = tmp_path / "lex.tsv"
    runner = CliRunner()
    assert runner.invoke(cli, ["lexicon", "import", str(tmp_path / "words.txt"), "--category", "A1.8", "--language", "zh", "-o", str(out)]).exit_code == 0
    assert runner.invoke(cli, ["lexicon", "import", str(tmp_path / "more.txt"), "--category", "A1.6", "-o", str(out)]).exit_code == 0
    lexicon = scanner.load_lexicons([out])
    assert {t.text: sorted(t.categories) for t in lexicon.terms} == {"porn": ["A1.6"], "毒品": ["A1.8"], "赌博": ["A1.8"]}
    bad = runner.invoke(cli, ["lexicon", "import", str(tmp_path / "words.txt"), "--category", "X1", "-o", str(out)])
    assert bad.exit_code == 2 and "unknown category 'X1'" in bad.output


def test_noisy_terms_are_marked(tmp_path):
    lexicon = make_lexicon(("的", "A1.6"), ("傻逼", "A4.3"), ("porn", "A1.6"))
    s = scanner.Scanner(lexicon, scanner.ScanOptions(langid=False))
    table = pa.table({"text": [f"我的第{i}个句子" for i in range(100)] + ["傻逼", "porn"]})
    stats = s.stats_of([table])
    from scanner.report.build import _top_terms

    rows = {r["term"]: r["noisy"] for r in _top_terms(stats, 102)}
    assert rows == {"的": True, "傻逼": False, "porn": False}


def test_screened_share_leaves_out_the_input_bytes_of_unreadable_files(tmp_path):
    (tmp_path / "lex.csv").write_text(LEXICON_CSV, encoding="utf-8")
    (tmp_path / "in").mkdir()
    good = "".join(json.dumps({"text": f"第{i}号公告：今天市场运行平稳。"}, ensure_ascii=False) + "\n" for i in range(30))
    (tmp_path / "in" / "good.jsonl").write_text(good + "not json\n", encoding="utf-8")
    (tmp_path / "in" / "broken.jsonl.gz").write_bytes(gzip.compress(good.encode())[:-40])  # truncated: a shard error
    result = CliRunner().invoke(cli, ["scan", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--lexicon", str(tmp_path / "lex.csv")])
    assert result.exit_code == 5, result.output
    report = report_of(tmp_path / "out")
    sizes = {Path(i["path"]).name: i["bytes"] for i in report["inputs"]}
    assert report["errors"] and sizes["broken.jsonl.gz"] > 0
    expected = 30 / 31 * sizes["good.jsonl"] / (sizes["good.jsonl"] + sizes["broken.jsonl.gz"])
    assert check(report, "technical-spot-check")["scanned_share"] == pytest.approx(expected)


def test_noisy_terms_are_measured_against_the_true_median():
    """Four terms hit 1, 1, 5 and 40 of 100 documents: the median rate is 3, so the 40 is noisy (the
    upper middle value, 5, would not make it so)."""
    from scanner.report.build import _top_terms

    stats = scanner.ShardStats()
    stats.by_term = {term: {"documents": n, "hits": n} for term, n in (("a", 1), ("b", 1), ("c", 5), ("d", 40))}
    noisy = {row["term"]: row["noisy"] for row in _top_terms(stats, 100)}
    assert noisy == {"a": False, "b": False, "c": False, "d": True}
