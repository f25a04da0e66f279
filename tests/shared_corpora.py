"""For the engine tests (test_spark.py, test_datatrove.py): subsets of the shared corpora
(``../shared/data/corpora``; tests using them skip when it is missing) and the CLI's reports to compare with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from scanner.cli import cli

REPO = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("SCANNER_CORPORA", REPO.parent / "shared" / "data" / "corpora"))
COMPARED = ("totals", "rejected", "by_source", "by_category", "by_language", "by_normalization", "top_terms", "filing_table", "duplicate_ids", "human_sample", "checks")
"""The report fields an engine's report must share with ``scanner scan``'s on the same rows (not ``inputs``,
``shards`` and ``errors``, which name the units, nor ``provenance``)."""


def corpora_files() -> list[Path]:
    files = sorted(CORPORA.glob("*.jsonl"))
    if not files:
        pytest.skip(f"no shared corpora in {CORPORA}")
    return files


def write_subset(folder: Path, lines: int, drop_source_of: str | None = None) -> Path:
    """The first ``lines`` lines of every shared corpus as JSONL files in ``folder``; without the
    ``source`` field in the files whose name contains ``drop_source_of`` (the file-name fallback)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in corpora_files():
        with path.open(encoding="utf-8") as src, (folder / path.name).open("w", encoding="utf-8") as dst:
            for number, line in enumerate(src):
                if number >= lines:
                    break
                if drop_source_of and drop_source_of in path.name:
                    record = json.loads(line)
                    record.pop("source", None)
                    line = json.dumps(record, ensure_ascii=False) + "\n"
                dst.write(line)
    return folder


def cli_scan(inputs: list[str], out: Path, *args: str) -> dict:
    """``scanner scan INPUTS --out OUT`` (exit 0, or 5 when rows were rejected); returns report.json."""
    result = CliRunner().invoke(cli, ["scan", *inputs, "--out", str(out), "--workers", "1", "--no-progress", *args])
    assert result.exit_code in (0, 5), result.output
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def cli_report(out: Path) -> dict:
    """``scanner report OUT``, as a user runs it after an engine's job; returns the rebuilt report.json."""
    done = subprocess.run([sys.executable, "-m", "scanner", "report", str(out)], capture_output=True, text=True)
    assert done.returncode in (0, 5), done.stderr
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def sample_ids(out: Path) -> list[str]:
    return pq.read_table(out / "samples" / "human_sample.parquet")["doc_id"].to_pylist()


def assert_same_report(ours: dict, cli: dict) -> None:
    for key in COMPARED:
        assert ours[key] == cli[key], key
