"""The bad-input matrix: every row asserts the exact outcome, and row accounting stays exact."""

from __future__ import annotations

import errno
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from click.testing import CliRunner

from scanner.cli import EXIT_REJECTED, EXIT_STRICT, cli
from scanner.io import readers
from scanner.lexicon.load import LexiconError, load_lexicon

VARIED = b"".join(json.dumps({"text": f"hello {i} {i * i}"}).encode() + b"\n" for i in range(5000))


def scan(tmp_path: Path, *inputs: str, extra: tuple[str, ...] = ()) -> tuple[int, dict, str]:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["scan", *inputs, "--out", str(out), "--no-langid", "--workers", "1", *extra])
    report = json.loads((out / "report.json").read_text(encoding="utf-8")) if (out / "report.json").is_file() else {}
    return result.exit_code, report, result.output


def assert_rows_add_up(report: dict) -> None:
    for shard in report["shards"]:
        assert shard["rows_read"] == shard["documents"] + sum(shard["rejected"].values())
    t = report["totals"]
    assert t["rows_read"] == t["documents"] + t["rejected_documents"]


def test_bad_jsonl_lines_are_rejected_and_the_scan_goes_on(tmp_path):
    lines = [b'\xef\xbb\xbf{"text": "first line after a BOM"}', b'{"text": "ok"}', b'{"text": "bro', b'{"text": "bad \xff"}', b"42", b'{"other": 1}', b'{"text": 1}']
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": "clean"}) + "\n", encoding="utf-8")
    code, report, output = scan(tmp_path, str(tmp_path))
    assert code == EXIT_REJECTED
    assert report["totals"]["documents"] == 3
    assert report["rejected"] == {"malformed_json": 1, "invalid_utf8": 1, "not_an_object": 1, "missing_text": 1, "text_not_string": 1}
    assert "5 rows rejected" in output
    assert_rows_add_up(report)
    per_shard = {Path(s["path"]).name: s for s in report["shards"]}
    assert per_shard["a.jsonl"]["rows_read"] == 7 and per_shard["b.jsonl"]["rejected"] == {}


def test_lone_surrogate_escape_rejects_its_line_and_the_scan_goes_on(tmp_path):
    lines = [b'{"id": "s1", "text": "porn"}', b'{"id":"s2","text":"lone surrogate \\ud800 here"}', b'{"id": "s3", "text": "pair \\ud83d\\ude00"}']
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    code, report, _ = scan(tmp_path, str(tmp_path / "a.jsonl"))
    assert code == EXIT_REJECTED
    assert report["rejected"] == {"invalid_utf8": 1} and report["errors"] == []
    assert (report["totals"]["documents"], report["totals"]["rows_read"], report["totals"]["flagged_documents"]) == (2, 3, 1)
    assert_rows_add_up(report)


def test_invalid_utf8_in_a_binary_parquet_text_column_rejects_only_that_row(tmp_path):
    texts = [f"document {i}".encode() for i in range(40)]
    texts[2] = b"\xff\xfe bad"
    pq.write_table(pa.table({"text": pa.array(texts, pa.binary())}), tmp_path / "t.parquet")
    code, report, _ = scan(tmp_path, str(tmp_path / "t.parquet"))
    assert code == EXIT_REJECTED
    assert report["errors"] == [] and report["rejected"] == {"invalid_utf8": 1}
    assert (report["totals"]["documents"], report["totals"]["rejected_documents"], report["totals"]["rows_read"]) == (39, 1, 40)
    assert_rows_add_up(report)


def test_mistyped_id_column_fails_a_jsonl_shard_as_it_does_a_parquet_one(tmp_path):
    rows = [{"id": "a", "text": "x"}, {"id": "b", "text": "y", "lang": "en"}]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "b.parquet")
    code, report, _ = scan(tmp_path, str(tmp_path), extra=("--id-column", "doc_id"))
    assert code == EXIT_REJECTED
    reasons = {Path(e["shard"]).name: e["reason"] for e in report["errors"]}
    assert "no id field 'doc_id'; fields found: id, lang, text" in reasons["a.jsonl"]
    assert "no id column 'doc_id'; columns found: id, text" in reasons["b.parquet"]
    assert report["totals"]["documents"] == 0 and report["totals"]["rows_read"] == 0


def test_strict_turns_a_rejection_into_exit_4(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(b'{"text": "ok"}\n{broken\n')
    code, report, _ = scan(tmp_path, str(tmp_path / "a.jsonl"), extra=("--strict",))
    assert code == EXIT_STRICT
    assert report["totals"]["rejected_documents"] == 1


def test_clean_run_exits_0(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "ok"}) + "\n", encoding="utf-8")
    assert scan(tmp_path, str(tmp_path / "a.jsonl"), extra=("--strict",))[0] == 0


@pytest.mark.parametrize(
    ("name", "payload", "reason"),
    [
        ("trunc.jsonl.gz", gzip.compress(VARIED)[: len(gzip.compress(VARIED)) // 2], "cannot read (gzip stream)"),
        ("trunc.jsonl.zst", zstandard.ZstdCompressor().compress(VARIED)[:-100], "truncated zstd stream"),
        ("notgzip.jsonl.gz", b"this is not gzip", "cannot read (gzip stream)"),
        ("footer.parquet", b"PAR1" + b"\0" * 64, "not a readable Parquet file"),
        ("empty.parquet", b"", "not a readable Parquet file"),
        ("bad.arrow", b"ARROW1 but not really", "not an Arrow IPC file or stream"),
    ],
)
def test_broken_shards_are_errors_and_the_run_continues(tmp_path, name, payload, reason):
    (tmp_path / name).write_bytes(payload)
    (tmp_path / "good.jsonl").write_text(json.dumps({"text": "fine"}) + "\n", encoding="utf-8")
    code, report, output = scan(tmp_path, str(tmp_path))
    assert code == EXIT_REJECTED
    (error,) = report["errors"]
    assert error["shard"].endswith(name) and reason in error["reason"]
    assert report["totals"]["documents"] == 1
    assert "1 shards failed" in output


def test_truncated_real_parquet_footer(tmp_path):
    pq.write_table(pa.table({"text": ["a"] * 100}), tmp_path / "t.parquet")
    data = (tmp_path / "t.parquet").read_bytes()
    (tmp_path / "t.parquet").write_bytes(data[:-12])
    _, report, _ = scan(tmp_path, str(tmp_path / "t.parquet"))
    assert "not a readable Parquet file" in report["errors"][0]["reason"]


def test_empty_files_and_zero_row_shards(tmp_path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "blank.jsonl").write_bytes(b"\n\n  \n")
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), tmp_path / "zero.parquet")
    with gzip.open(tmp_path / "empty.jsonl.gz", "wb"):
        pass
    code, report, _ = scan(tmp_path, str(tmp_path))
    assert code == 0
    assert report["totals"]["documents"] == 0 and report["errors"] == []
    assert sorted(s["rows_read"] for s in report["shards"]) == [0, 0, 0, 0]


def test_missing_and_non_string_text_columns(tmp_path):
    pq.write_table(pa.table({"body": ["x"], "id": [1]}), tmp_path / "nocol.parquet")
    pq.write_table(pa.table({"text": [1.5, 2.5]}), tmp_path / "float.parquet")
    _, report, _ = scan(tmp_path, str(tmp_path))
    reasons = {Path(e["shard"]).name: e["reason"] for e in report["errors"]}
    assert "no text column 'text'; columns found: body, id" in reasons["nocol.parquet"]
    assert "column 'text' has type double; expected a string column" in reasons["float.parquet"]


def test_nul_bytes_bom_inside_text_and_long_lines(tmp_path):
    long_text = "中" * 300_000 + " porn"
    rows = [{"id": "nul", "text": "a\x00porn\x00b"}, {"id": "bom", "text": "\ufeffporn"}, {"id": "long", "text": long_text}]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    code, report, _ = scan(tmp_path, str(tmp_path / "a.jsonl"), extra=("--annotate",))
    assert code == 0
    assert report["totals"]["flagged_documents"] == 3
    assert report["totals"]["chars"] == len("a\x00porn\x00b") + len("\ufeffporn") + len(long_text)


def test_over_long_line_is_rejected_without_reading_it_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 1000)
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "x" * 5000}) + "\n" + json.dumps({"text": "ok"}) + "\n", encoding="utf-8")
    code, report, _ = scan(tmp_path, str(tmp_path / "a.jsonl"))
    assert code == EXIT_REJECTED
    assert report["rejected"] == {"line_too_long": 1} and report["totals"]["documents"] == 1


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "BOMB_CHECK_AFTER", 1 << 20)
    line = json.dumps({"text": " " * 100_000}).encode() + b"\n"
    (tmp_path / "bomb.jsonl.gz").write_bytes(gzip.compress(line * 200, compresslevel=9))
    _, report, _ = scan(tmp_path, str(tmp_path / "bomb.jsonl.gz"))
    assert "decompression bomb" in report["errors"][0]["reason"]


def test_duplicate_ids_are_reported(tmp_path):
    (tmp_path / "a.jsonl").write_text("".join(json.dumps({"id": i, "text": "t"}) + "\n" for i in ["x", "y", "x"]), encoding="utf-8")
    (tmp_path / "b.jsonl").write_text("".join(json.dumps({"id": i, "text": "t"}) + "\n" for i in ["y", "z"]), encoding="utf-8")
    _, report, _ = scan(tmp_path, str(tmp_path))
    assert report["duplicate_ids"] == {"documents": 4, "distinct_ids": 2}


def test_same_shard_named_twice_is_scanned_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.jsonl").write_text(json.dumps({"text": "t"}) + "\n", encoding="utf-8")
    _, report, _ = scan(tmp_path, "d", "d/../d/a.jsonl", "d/*.jsonl", str(tmp_path / "d" / "a.jsonl"))
    assert report["totals"]["documents"] == 1 and len(report["inputs"]) == 1


def test_output_names_cannot_escape_out(tmp_path):
    weird = tmp_path / "in" / "..\\..%2f..; rm -rf x.jsonl"
    weird.parent.mkdir()
    weird.write_text(json.dumps({"text": "t"}) + "\n", encoding="utf-8")
    code, _, _ = scan(tmp_path, str(weird), extra=("--annotate",))
    assert code == 0
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert all((tmp_path / "out") in p.parents for p in written)
    assert all(".." not in p.name and "/" not in p.name for p in written)


def test_failed_write_leaves_no_stats_file_or_temporary(tmp_path, monkeypatch):
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "t"}) + "\n", encoding="utf-8")
    real_fsync = os.fsync

    def disk_full(fd):
        real_fsync(fd)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    result = CliRunner().invoke(cli, ["scan", str(tmp_path / "a.jsonl"), "--out", str(tmp_path / "out"), "--no-langid"])
    assert result.exit_code != 0
    assert isinstance(result.exception, OSError)
    leftovers = [p.name for p in (tmp_path / "out").rglob("*") if p.is_file() and p.suffix in (".json", ".tmp")]
    assert leftovers == []


def test_sigint_stops_cleanly_without_marking_partial_shards(tmp_path):
    big = tmp_path / "in"
    big.mkdir()
    line = json.dumps({"text": "今天天气很好，我们去公园散步。" * 20}, ensure_ascii=False) + "\n"
    for i in range(3):
        (big / f"part{i}.jsonl").write_text(line * 60_000, encoding="utf-8")
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "scanner", "scan", str(big), "--out", str(out), "--workers", "1", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (out / "shards").is_dir() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr.decode()
    assert b"interrupted" in stderr
    done = list((out / "shards").glob("*.json"))
    assert len(done) < 3
    for stats_file in done:
        document = json.loads(stats_file.read_text(encoding="utf-8"))
        assert document["stats"]["rows_read"] == 60_000
    assert not list(out.rglob("*.tmp"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("term,category\n\t \t,A1.6\n", "lex.csv:2: empty term"),
        ("term,category\nbad\x1bterm,A1.6\n", r"lex.csv:2: term .* control character U\+001B"),
        ("term,category\n\"=HYPERLINK(\"\"http://x\"\")\",A1.6\n", "lex.csv:2: term .* looks like a spreadsheet formula"),
        ("term,category\nsex,A1.6 ; B2\n", "lex.csv:2: unknown category 'B2'"),
    ],
    ids=["whitespace-only", "control-char", "formula", "invalid-category"],
)
def test_hostile_lexicon_rows(tmp_path, content, message):
    (tmp_path / "lex.csv").write_text(content, encoding="utf-8")
    with pytest.raises(LexiconError, match=message):
        load_lexicon(tmp_path / "lex.csv")


def test_duplicate_lexicon_terms_are_merged_and_listed(tmp_path):
    (tmp_path / "lex.csv").write_text("term,category\nporn,A1.6\nPORN,A4.3\n porn ,A1.6\n", encoding="utf-8")
    lexicon = load_lexicon(tmp_path / "lex.csv")
    assert len(lexicon.terms) == 1 and lexicon.terms[0].categories == {"A1.6", "A4.3"}
    assert lexicon.duplicates == (("porn", (f"{tmp_path / 'lex.csv'}:2", f"{tmp_path / 'lex.csv'}:3", f"{tmp_path / 'lex.csv'}:4")),)


@pytest.mark.slow
def test_one_200_mb_document(tmp_path):
    """A single 200 MB document is read, matched and counted like any other (about 1 GB of RSS)."""
    text = ("今天天气很好，我们去公园散步。" * 4_800_000)[:66_000_000] + " porn " + "x" * 2_000_000
    (tmp_path / "big.jsonl").write_text(json.dumps({"id": "big", "text": text}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert (tmp_path / "big.jsonl").stat().st_size > 200_000_000
    code, report, _ = scan(tmp_path, str(tmp_path / "big.jsonl"))
    assert code == 0
    assert report["totals"]["documents"] == 1 and report["totals"]["flagged_documents"] == 1
    assert report["totals"]["chars"] == len(text)


def test_a_dangling_link_or_a_non_utf8_file_name_in_an_input_folder_exits_2_naming_it(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"text": "hello"}\n', encoding="utf-8")
    (folder / "gone.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    code, _, output = scan(tmp_path, str(folder))
    assert code == 2 and "gone.jsonl: cannot be read" in output
    (folder / "gone.jsonl").unlink()
    os.rename(folder / "a.jsonl", os.fsencode(folder) + b"/bad\xff.jsonl")
    code, _, output = scan(tmp_path, str(folder))
    assert code == 2 and "bad\\xff.jsonl: the file name is not valid UTF-8" in output


def test_a_file_gone_after_planning_is_a_shard_error_and_the_run_goes_on(tmp_path, monkeypatch):
    from scanner.run import local as run

    (tmp_path / "a.jsonl").write_text('{"text": "one"}\n', encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"text": "two"}\n', encoding="utf-8")
    real_run_shard = run.run_shard

    def delete_b_first(scanner, shard, config, on_batch=None):
        if shard.label.endswith("b.jsonl"):
            (tmp_path / "b.jsonl").unlink(missing_ok=True)
        return real_run_shard(scanner, shard, config, on_batch)

    monkeypatch.setattr(run, "run_shard", delete_b_first)
    code, report, _ = scan(tmp_path, str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"))
    assert code == EXIT_REJECTED and report["totals"]["documents"] == 1
    assert [e["shard"].endswith("b.jsonl") for e in report["errors"]] == [True] * len(report["errors"]) and report["errors"]


def test_an_output_folder_inside_the_input_folder_is_not_read_back(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "sex"}\n{"text": "hello"}\n', encoding="utf-8")
    args = ["scan", str(tmp_path), "--out", str(tmp_path / "out"), "--annotate", "--no-langid", "--workers", "1"]
    reports = []
    for _ in range(2):
        assert CliRunner().invoke(cli, args).exit_code == 0
        reports.append(json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8")))
    assert [r["totals"]["documents"] for r in reports] == [2, 2] and len(reports[1]["inputs"]) == 1


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("run"), "malformed shard statistics"),
        (lambda d: d.update(run="x"), "malformed shard statistics"),
        (lambda d: d.update(stats=None), "malformed shard statistics"),
        (lambda d: d["stats"]["totals"].update(documents="two"), "malformed shard statistics"),
        (lambda d: d["stats"].update(rows_read=d["stats"]["rows_read"] - 1), "do not add up"),
    ],
)
def test_a_hand_edited_stats_file_is_named_by_the_report(tmp_path, edit, message):
    (tmp_path / "a.jsonl").write_text('{"text": "sex"}\n{"text": "hello"}\n', encoding="utf-8")
    assert scan(tmp_path, str(tmp_path / "a.jsonl"))[0] == 0
    (stats_file,) = (tmp_path / "out" / "shards").glob("*.json")
    document = json.loads(stats_file.read_text(encoding="utf-8"))
    edit(document)
    stats_file.write_text(json.dumps(document), encoding="utf-8")
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "out")])
    assert result.exit_code == 2 and stats_file.name in result.output and message in result.output


def test_temporary_names_are_hidden_and_unique_per_writer():
    from scanner.io.atomic import temporary_name

    names = {temporary_name("unit.parquet") for _ in range(100)}
    assert len(names) == 100 and all(n.startswith(".unit.parquet.") and n.endswith(".tmp") for n in names)
