"""scanner.datatrove in LocalPipelineExecutor jobs: metadata, the exclusion writer, merged reports equal to
the CLI's on the same files. Needs the [datatrove] extra (skipped without); the jobs read the first 1,000
lines of each shared corpus (skipped without them; one corpus without its ``source`` field, so the
file-name fallback is exercised), ``-m slow`` all of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("datatrove")
pytest.importorskip("orjson")  # datatrove's JsonlReader parses with it

from datatrove.data import Document  # noqa: E402
from datatrove.executor import LocalPipelineExecutor  # noqa: E402
from datatrove.pipeline.readers import JsonlReader  # noqa: E402
from datatrove.pipeline.writers import JsonlWriter  # noqa: E402
from shared_corpora import assert_same_report, cli_report, cli_scan, corpora_files, sample_ids, write_subset  # noqa: E402

import scanner  # noqa: E402
from scanner.datatrove import ComplianceFilter, ComplianceTagger  # noqa: E402
from scanner.report.build import write_report  # noqa: E402

pytestmark = pytest.mark.datatrove


def read_jsonl(folder: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.rglob("*.jsonl")) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def subset(tmp_path_factory) -> Path:
    return write_subset(tmp_path_factory.mktemp("corpora"), 1000, drop_source_of="thucnews")


@pytest.fixture(scope="module")
def subset_cli(subset, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("cli")
    return out, cli_scan([str(subset)], out)


def test_tagger_sets_metadata_in_batches_and_the_filter_needs_it():
    docs = [Document(text=f"doc {i} watch brazzers" if i % 4 == 0 else f"doc {i}", id=str(i), metadata={"source": "web"}) for i in range(10)]
    tagger = ComplianceTagger(options=scanner.ScanOptions(langid=False), batch_size=3, metadata_prefix="cs_")
    tagged = list(tagger(iter(docs)))
    assert [d.id for d in tagged] == [str(i) for i in range(10)]  # order kept across batches
    assert [d.metadata["cs_flagged"] for d in tagged] == [d.metadata["cs_unsafe"] for d in tagged] == [i % 4 == 0 for i in range(10)]  # a high-severity term
    assert tagged[0].metadata["cs_unsafe_reason"] == "high:brazzers" and tagged[1].metadata["cs_unsafe_reason"] == ""
    assert tagged[0].metadata["cs_terms"] == ["brazzers"] and tagged[0].metadata["cs_categories"] and tagged[1].metadata["cs_categories"] == []
    assert {d.metadata["cs_source"] for d in tagged} == {"web"} and {d.metadata["cs_language"] for d in tagged} == {"und"}
    assert tagger.stats["batches"].total == 4  # 10 documents in batches of 3
    with pytest.raises(ValueError, match="put ComplianceTagger before ComplianceFilter"):
        list(ComplianceFilter()(iter([Document(text="x", id="1")])))


def _pipeline(data: Path, out: Path, kept: Path | None = None, removed: Path | None = None) -> list:
    steps = [JsonlReader(str(data)), ComplianceTagger(out=out)]
    if kept is not None:
        steps += [ComplianceFilter(exclusion_writer=JsonlWriter(str(removed), compression=None)), JsonlWriter(str(kept), compression=None)]
    return steps


def test_two_tasks_report_equals_cli_and_unsafe_documents_go_to_the_exclusion_writer(subset, subset_cli, tmp_path):
    cli_out, cli = subset_cli
    out, kept, removed = tmp_path / "scan", tmp_path / "kept", tmp_path / "removed"
    LocalPipelineExecutor(_pipeline(subset, out, kept, removed), tasks=2, workers=2, logging_dir=str(tmp_path / "logs")).run()
    assert sorted(p.name[:19] for p in (out / "shards").glob("*.json")) == ["rank-00000-of-00002", "rank-00001-of-00002"]
    report = cli_report(out)  # `scanner report OUT` merges the ranks' files
    assert_same_report(report, cli)
    assert sample_ids(out) == sample_ids(cli_out)
    assert "zh_thucnews_cnews_val1000" in report["by_source"] and report["errors"] == []  # the file-name fallback, as in the CLI
    kept_docs, removed_docs = read_jsonl(kept), read_jsonl(removed)
    assert len(kept_docs) + len(removed_docs) == cli["totals"]["documents"]
    assert len(removed_docs) == cli["totals"]["unsafe_documents"] > 0
    assert all(d["metadata"]["unsafe"] and d["metadata"]["filter_reason"] == "unsafe" and d["metadata"]["unsafe_reason"] for d in removed_docs)
    assert not any(d["metadata"]["unsafe"] for d in kept_docs)
    assert set(kept_docs[0]["metadata"]) >= {"flagged", "unsafe", "unsafe_reason", "hits", "categories", "terms", "language", "source"}


def test_unfinished_ranks_show_and_other_task_counts_replace_files(subset, subset_cli, tmp_path):
    _, cli = subset_cli
    out = tmp_path / "scan"
    # only rank 0 of 3 runs (as if the others died): the report says the scan is incomplete
    LocalPipelineExecutor(_pipeline(subset, out), tasks=3, workers=1, local_tasks=1, logging_dir=str(tmp_path / "logs3")).run()
    errors = write_report(str(out))["errors"]
    assert len(errors) == 2 and all("planned, not scanned yet" in e["reason"] for e in errors)
    # the other ranks finish (datatrove skips rank 0, which is done): the report is whole
    LocalPipelineExecutor(_pipeline(subset, out), tasks=3, workers=2, logging_dir=str(tmp_path / "logs3")).run()
    assert_same_report(write_report(str(out)), cli)
    # a run with another number of tasks replaces the 3 ranks' files
    LocalPipelineExecutor(_pipeline(subset, out), tasks=2, workers=2, logging_dir=str(tmp_path / "logs2")).run()
    assert len(list((out / "shards").glob("*.json"))) == 2 and len(list((out / "plans").glob("*.json"))) == 1
    assert_same_report(write_report(str(out)), cli)


@pytest.mark.slow
def test_full_corpora_report_equals_cli(tmp_path):
    folder = corpora_files()[0].parent
    cli = cli_scan([str(folder)], tmp_path / "cli")
    out = tmp_path / "scan"
    LocalPipelineExecutor(_pipeline(folder, out), tasks=2, workers=2, logging_dir=str(tmp_path / "logs")).run()
    assert_same_report(write_report(str(out)), cli)
    assert sample_ids(out) == sample_ids(tmp_path / "cli")
