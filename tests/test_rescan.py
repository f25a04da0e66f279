"""Scanning into an output folder that already holds a scan: the same scan resumes; another one (other
lexicon, language-ID settings, options or tool version) is refused unless --force, which replaces it
whole; stale filing tables never stay beside a new report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import synthetic_rows, write_jsonl

from scanner.cli import cli
from scanner.evidence.outfolder import SAMPLE_SHEETS, SHEET_FORMATS
from scanner.report.sheets import FORMATS


def invoke(*args: str, expect: int = 0):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == expect, result.output
    return result


def report_of(out: Path) -> dict:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def files_of(out: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    write_jsonl(folder / "a.jsonl", synthetic_rows(150, seed=2))
    write_jsonl(folder / "b.jsonl", synthetic_rows(90, seed=3))
    return folder


@pytest.fixture
def lexicons(tmp_path, lexicon_file) -> tuple[Path, Path]:
    other = tmp_path / "other.csv"
    other.write_text("term,category\nporn,A1.6\n", encoding="utf-8")
    return lexicon_file, other


def scan(inputs: list[Path], out: Path, lexicon: Path, *extra: str, expect: int = 0):
    return invoke("scan", *inputs, "--out", out, "--lexicon", lexicon, "--workers", "1", "--no-progress", "--sample-size", "20", *extra, expect=expect)


@pytest.mark.parametrize(
    ("first", "second", "what"),
    [
        ({}, {"lexicon": "other"}, "lexicon"),
        ({"extra": ["--no-langid"]}, {"extra": []}, "language-ID settings"),
        ({}, {"extra": ["--no-langid", "--sample-seed", "another"]}, "scan options"),
    ],
    ids=["lexicon", "langid", "options"],
)
def test_rescanning_the_same_inputs_as_another_scan_is_refused(tmp_path, corpus, lexicons, first, second, what):
    """REGRESSION: the units of the same inputs were replaced without a word (only units of other
    inputs were looked at), leaving the other scan's report and samples beside the new units."""
    lexicon = {"": lexicons[0], "other": lexicons[1]}
    out = tmp_path / "out"
    scan([corpus], out, lexicon[first.get("lexicon", "")], *first.get("extra", ["--no-langid"]))
    before = files_of(out)
    result = scan([corpus], out, lexicon[second.get("lexicon", "")], *second.get("extra", ["--no-langid"]), expect=2)
    assert f"was made with another {what}, so no report could merge it with this scan; scan into a fresh --out, or pass --force" in result.output
    assert str(out / "shards") in result.output
    assert files_of(out) == before  # nothing written, nothing deleted


def test_force_replaces_another_scan_whole(tmp_path, corpus, lexicons):
    """--force over another scan: its units of files this scan does not cover, its plans, reports,
    filing tables, human sample and sample sheets go; the new report is this scan's alone."""
    old, new = lexicons
    out = tmp_path / "out"
    scan([corpus], out, old, "--no-langid", "--sample-per-source", "3")
    invoke("report", out, "--filing-table", "csv")
    invoke("sample", "export", out, "--format", "jsonl")
    invoke("sample", "export", out, "--per-source", "--format", "csv")
    assert (out / "filing_table.csv").is_file() and (out / "samples" / "human_sample.jsonl").is_file()

    scan([corpus / "a.jsonl"], out, new, "--no-langid", "--force")
    fresh = tmp_path / "fresh"
    scan([corpus / "a.jsonl"], fresh, new, "--no-langid")
    report, expected = report_of(out), report_of(fresh)
    assert report["lexicon"] == expected["lexicon"]
    assert report["inputs"] == expected["inputs"] and report["totals"] == expected["totals"] and report["by_source"] == expected["by_source"]
    assert report["errors"] == []  # the old plan (a.jsonl and b.jsonl) went with its units
    assert sorted(p.name for p in (out / "shards").iterdir()) == sorted(p.name for p in (fresh / "shards").iterdir())
    for sub in ("samples/candidates", "samples/reserve", "ids"):
        assert sorted(p.name for p in (out / sub).iterdir()) == sorted(p.name for p in (fresh / sub).iterdir())
    assert len(list((out / "plans").iterdir())) == 1
    assert not (out / "filing_table.csv").exists()
    assert sorted(p.name for p in (out / "samples").iterdir() if p.is_file()) == ["human_sample.parquet"]


def test_force_keeps_imported_verdicts_for_documents_of_the_new_sample(tmp_path, corpus, lexicons):
    """Verdicts are people's work on documents: --force over another scan keeps them, and the report
    counts them only for documents of the new scan's sample (``labels_outside_sample`` the rest)."""
    old, new = lexicons
    out = tmp_path / "out"
    scan([corpus], out, old, "--no-langid")
    invoke("sample", "export", out, "--format", "jsonl", "-o", tmp_path / "sheet.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "sheet.jsonl").read_text(encoding="utf-8").splitlines()]
    (tmp_path / "filled.jsonl").write_text("".join(json.dumps({**r, "verdict": "pass"}, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    invoke("sample", "import", out, tmp_path / "filled.jsonl")

    scan([corpus / "a.jsonl"], out, new, "--no-langid", "--force")
    sample = {r["doc_id"] for r in rows}
    kept = [d for d in json.loads((out / "samples" / "human_labels.json").read_text(encoding="utf-8"))["labels"] if d["doc_id"] in sample]
    assert len(kept) == 20
    human = next(c for c in report_of(out)["checks"] if c["id"] == "human-spot-check")
    still = sample & set(_sample_ids(out))
    assert 0 < len(still) < 20  # a.jsonl alone: some of the old sample's documents are in the new one
    assert human["sample_size"] == len(still) and human["labels_outside_sample"] == 20 - len(still)


def _sample_ids(out: Path) -> list[str]:
    import pyarrow.parquet as pq

    return pq.read_table(out / "samples" / "human_sample.parquet", columns=["doc_id"])["doc_id"].to_pylist()


def test_a_scan_deletes_stale_filing_tables(tmp_path, corpus, lexicons):
    """REGRESSION: a filing table written by `scanner report --filing-table` stayed beside the report of
    a later scan, which it no longer matched; only that command writes one."""
    out = tmp_path / "out"
    scan([corpus / "a.jsonl"], out, lexicons[0], "--no-langid")
    invoke("report", out, "--filing-table", "csv")
    invoke("report", out, "--filing-table", "xlsx")
    assert (out / "filing_table.csv").is_file() and (out / "filing_table.xlsx").is_file()
    scan([corpus], out, lexicons[0], "--no-langid")  # another input: the report changes
    assert not (out / "filing_table.csv").exists() and not (out / "filing_table.xlsx").exists()


def test_an_array_replacing_another_scan_with_force_then_resuming_without_it(tmp_path, corpus, lexicons):
    """Job 0 of an array runs with --force over another scan's folder and deletes that scan whole, so
    job 1, run without --force (say, a retry), finds only this scan's units and plans; the merged
    report equals a fresh scan's."""
    old, new = lexicons
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    scan([corpus], out, old, "--no-langid")
    scan([corpus], out, new, "--no-langid", "--force", "--shard-index", "0", "--num-shards", "2")
    assert not (out / "report.json").exists()
    scan([corpus], out, new, "--no-langid", "--shard-index", "1", "--num-shards", "2")
    invoke("report", out)
    scan([corpus], fresh, new, "--no-langid")
    report, expected = report_of(out), report_of(fresh)
    assert report["totals"] == expected["totals"] and report["by_source"] == expected["by_source"] and report["errors"] == []


def test_force_with_the_same_scan_keeps_other_inputs_and_plans(tmp_path, corpus, lexicons):
    """--force with the same lexicon and options rescans this plan's units and leaves the rest (other
    jobs of an array own them): nothing is deleted for being another scan's."""
    out = tmp_path / "out"
    scan([corpus / "b.jsonl"], out, lexicons[0], "--no-langid")
    scan([corpus / "a.jsonl"], out, lexicons[0], "--no-langid", "--force")
    assert len(list((out / "shards").iterdir())) == 2 and len(list((out / "plans").iterdir())) == 2
    assert report_of(out)["totals"]["rows_read"] == 240


def test_sample_sheet_names_follow_the_export_formats():
    assert SHEET_FORMATS == FORMATS
    assert SAMPLE_SHEETS == ("human_sample", "per_source_sample")


def test_the_same_files_spelled_another_way_are_the_same_units(tmp_path, corpus, lexicon_file, monkeypatch):
    """A folder scanned as a relative path, then as an absolute path, through a symbolic link and as '.',
    is one set of units: nothing is counted twice (the units are named after the files' real paths)."""
    out = tmp_path / "out"
    monkeypatch.chdir(corpus.parent)
    scan([Path(corpus.name)], out, lexicon_file, "--no-langid")
    first = report_of(out)
    link = tmp_path / "link"
    link.symlink_to(corpus, target_is_directory=True)
    for spelling in (corpus, Path(f"./{corpus.name}/"), link):
        scan([spelling], out, lexicon_file, "--no-langid")
        again = report_of(out)
        assert again["totals"] == first["totals"] and again["duplicate_ids"] == first["duplicate_ids"]
        assert len(list((out / "shards").glob("*.json"))) == 2
    monkeypatch.chdir(corpus)
    scan([Path(".")], out, lexicon_file, "--no-langid")
    assert report_of(out)["totals"]["documents"] == first["totals"]["documents"] == 240
