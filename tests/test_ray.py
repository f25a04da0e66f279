"""The Ray Data executor on a local Ray (2 CPUs, started and shut down by the session fixture)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import synthetic_rows, upload, without_locations, without_timing, write_jsonl, write_parquet

from scanner.cli import EXIT_REJECTED, cli
from scanner.io import storage

pytestmark = pytest.mark.ray
pytest.importorskip("ray")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ray-corpus")
    write_parquet(folder / "big.parquet", synthetic_rows(600, seed=21), row_group_rows=100)
    write_jsonl(folder / "a.jsonl", synthetic_rows(80, seed=22))
    (folder / "broken.parquet").write_bytes(b"PAR1 broken")
    return folder


def report_of(out) -> dict:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def scan(*args: str) -> str:
    """Scan; the corpus holds broken.parquet on purpose, so every run ends with exit code 5."""
    result = CliRunner().invoke(cli, ["scan", *args])
    assert result.exit_code == EXIT_REJECTED, result.output
    return result.output


def test_ray_gives_the_local_report_and_outputs(tmp_path, corpus, lexicon_file, ray_local):
    options = ["--lexicon", str(lexicon_file), "--unit-mb", "0.05", "--annotate"]
    scan(str(corpus), "--out", str(tmp_path / "local"), "--workers", "1", *options)
    scan(str(corpus), "--out", str(tmp_path / "ray"), "--executor", "ray", *options)
    assert without_timing(report_of(tmp_path / "ray")) == without_timing(report_of(tmp_path / "local"))
    for sub in ("shards", "annotations"):
        assert sorted(p.name for p in (tmp_path / "ray" / sub).iterdir()) == sorted(p.name for p in (tmp_path / "local" / sub).iterdir())

    output = scan(str(corpus), "--out", str(tmp_path / "ray"), "--executor", "ray", "--progress", *options)
    assert "(7 already done)" in output, "done units are skipped, the errored one is retried"
    assert without_timing(report_of(tmp_path / "ray")) == without_timing(report_of(tmp_path / "local"))


def test_ray_reads_and_writes_s3(tmp_path, corpus, lexicon_file, s3_bucket, ray_local):
    upload(corpus, f"{s3_bucket}/in")
    options = ["--lexicon", str(lexicon_file), "--unit-mb", "0.05", "--no-langid"]
    scan(str(corpus), "--out", str(tmp_path / "local"), "--workers", "1", *options)
    scan(f"{s3_bucket}/in", "--out", f"{s3_bucket}/out", "--executor", "ray", *options)
    remote = storage.Folder(f"{s3_bucket}/out").read_json("report.json")
    local = json.loads((tmp_path / "local" / "report.json").read_text(encoding="utf-8"))
    assert without_locations(remote) == without_locations(local)
    assert [e["shard"] for e in remote["errors"]] == [f"{s3_bucket}/in/broken.parquet"]
