"""Inputs and outputs on an S3-compatible server (moto, started by the tests on 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import synthetic_rows, upload, without_locations, write_jsonl, write_parquet

from scanner.cli import cli
from scanner.io import storage

pytest.importorskip("moto")


def local_inputs(folder: Path) -> Path:
    folder.mkdir()
    write_parquet(folder / "big.parquet", synthetic_rows(600, seed=11), row_group_rows=100)
    write_jsonl(folder / "a.jsonl", synthetic_rows(80, seed=12))
    return folder


def scan(*args: str) -> None:
    result = CliRunner().invoke(cli, ["scan", *args])
    assert result.exit_code == 0, result.output


def test_s3_scan_gives_the_local_report(tmp_path, s3_bucket, lexicon_file):
    data = local_inputs(tmp_path / "in")
    upload(data, f"{s3_bucket}/in")
    local = tmp_path / "out"
    options = ["--lexicon", str(lexicon_file), "--unit-mb", "0.05", "--annotate"]
    scan(str(data), "--out", str(local), "--workers", "1", *options)
    scan(f"{s3_bucket}/in", "--out", f"{s3_bucket}/out", "--workers", "2", *options)

    out = storage.Folder(f"{s3_bucket}/out")
    remote = out.read_json("report.json")
    expected = json.loads((local / "report.json").read_text(encoding="utf-8"))
    assert without_locations(remote) == without_locations(expected)
    assert [i["path"] for i in remote["inputs"]] == [f"{s3_bucket}/in/a.jsonl", f"{s3_bucket}/in/big.parquet"]
    assert len(out.names("shards")) == len(list((local / "shards").iterdir())) == 7
    assert len(out.names("annotations", suffix=".parquet")) == len(list((local / "annotations").iterdir()))
    assert not [n for n in out.fs.get_file_info(storage.pafs.FileSelector(out.root, recursive=True)) if "/." in n.path], "no temporary objects left"

    result = CliRunner().invoke(cli, ["report", f"{s3_bucket}/out"])
    assert result.exit_code == 0, result.output
    assert out.read_json("report.json") == remote


def test_s3_rerun_skips_done_units(tmp_path, s3_bucket, lexicon_file):
    upload(local_inputs(tmp_path / "in"), f"{s3_bucket}/in")
    args = ["scan", f"{s3_bucket}/in", "--out", f"{s3_bucket}/out", "--lexicon", str(lexicon_file), "--no-langid", "--unit-mb", "0.05", "--workers", "1", "--progress"]
    CliRunner().invoke(cli, args)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "(7 already done)" in result.output


def test_missing_s3_prefix_is_a_config_error(s3_bucket):
    result = CliRunner().invoke(cli, ["scan", f"{s3_bucket}/nothing-here", "--out", f"{s3_bucket}/out"])
    assert result.exit_code == 2
    assert f"{s3_bucket}/nothing-here: no such file or directory" in result.output


def test_s3_report_reads_back_sampled_texts_no_unit_kept(tmp_path, s3_bucket, lexicon_file, monkeypatch):
    """With rank cut-offs far too low, every sampled text and token count comes back from S3 at
    report time, and the report equals a local scan that kept them all."""
    data = local_inputs(tmp_path / "in")
    upload(data, f"{s3_bucket}/in")
    options = ["--lexicon", str(lexicon_file), "--unit-mb", "0.05", "--no-langid", "--sample-size", "30", "--token-sample", "10", "--workers", "1"]
    scan(str(data), "--out", str(tmp_path / "out"), *options)
    monkeypatch.setattr("scanner.run.scan.expected_documents", lambda units: 10**12)
    scan(f"{s3_bucket}/in", "--out", f"{s3_bucket}/out", *options)
    remote = storage.Folder(f"{s3_bucket}/out")
    for part in ("candidates", "reserve"):
        for name in remote.names("samples", part, suffix=".parquet"):
            stored = pq.read_table(remote.path("samples", part, name), filesystem=remote.fs)
            assert stored["text"].null_count == stored["doc_tokens"].null_count == stored.num_rows  # no unit kept any
    expected = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert without_locations(remote.read_json("report.json")) == without_locations(expected)
