"""Local execution at scale: work units, workers, resumption, kill -9, batch-scheduler subsets, memory."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import synthetic_rows, without_locations, without_timing, write_jsonl, write_parquet
from hypothesis import given, settings
from hypothesis import strategies as st

import scanner
from scanner.cli import EXIT_REJECTED, EXIT_STRICT, cli
from scanner.evidence.sampling import (
    CANDIDATE_SCHEMA,
    CandidateCollector,
    SampleSpec,
    doc_hashes,
    held_cutoff,
    held_rows_decide,
    merge_candidates,
    rank_cutoff,
    split_at_cutoff,
)
from scanner.io.discovery import discover_shards
from scanner.io.readers import Columns, plan_units
from scanner.run.progress import Progress
from scanner.run.scan import run_scan
from scanner.run.unit import RunConfig


def scan(*args: str, expect: int = 0) -> dict:
    result = CliRunner().invoke(cli, ["scan", *args])
    assert result.exit_code == expect, result.output
    return result


def report_of(out: Path) -> dict:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """One Parquet file of 12 row groups (100 rows each) plus two JSONL shards."""
    folder = tmp_path_factory.mktemp("corpus")
    write_parquet(folder / "big.parquet", synthetic_rows(1200, seed=1), row_group_rows=100)
    write_jsonl(folder / "a.jsonl", synthetic_rows(150, seed=2))
    write_jsonl(folder / "b.jsonl", synthetic_rows(90, seed=3))
    return folder


UNIT = "0.05"  # MiB: a 100-row group holds ~40 KB of text, so ~one row group per unit


def test_a_parquet_file_is_split_into_row_group_ranges(corpus):
    (shard,) = discover_shards([str(corpus / "big.parquet")])
    units = plan_units([shard], Columns(), unit_bytes=90_000)
    assert [u.row_groups for u in units] == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10), (10, 12)]
    assert [u.first_row for u in units] == [0, 200, 400, 600, 800, 1000]
    assert len({u.name for u in units}) == 6 and all(u.name.startswith(shard.name + "-rg") for u in units)
    assert sum(u.work_bytes for u in units) == sum(u.text_bytes for u in plan_units([shard], Columns(), unit_bytes=1 << 30))
    (whole,) = plan_units([shard], Columns(), unit_bytes=1 << 30)
    assert whole.row_groups is None and whole.name == shard.name


def test_unreadable_footer_leaves_the_shard_whole(tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    shards = discover_shards([str(tmp_path / "bad.parquet")])
    assert plan_units(shards, Columns(), unit_bytes=1) == shards


def test_split_units_give_the_same_report_and_document_ids(tmp_path, corpus, lexicon_file):
    whole, split = tmp_path / "whole", tmp_path / "split"
    scan(str(corpus), "--out", str(whole), "--lexicon", str(lexicon_file), "--annotate", "--workers", "1", "--no-langid")
    scan(str(corpus), "--out", str(split), "--lexicon", str(lexicon_file), "--annotate", "--workers", "1", "--no-langid", "--unit-mb", UNIT)
    assert without_timing(report_of(whole)) == without_timing(report_of(split))
    assert len(list((split / "shards").glob("big.parquet-*-rg*.json"))) == 12
    ids = sorted(pq.read_table(split / "annotations").column("doc_id").to_pylist())
    assert ids == sorted(pq.read_table(whole / "annotations").column("doc_id").to_pylist())


@pytest.mark.parametrize("langid", [True, False], ids=["processes", "threads"])
def test_one_and_two_workers_give_identical_reports(tmp_path, corpus, lexicon_file, langid):
    flags = [] if langid else ["--no-langid"]
    reports = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        scan(str(corpus), "--out", str(out), "--lexicon", str(lexicon_file), "--workers", workers, "--unit-mb", UNIT, *flags)
        reports.append(without_timing(report_of(out)))
    assert reports[0] == reports[1]
    assert reports[0]["totals"]["documents"] == 1200 + 150 + 90


def run_library(corpus: Path, out: Path, lexicon_file: Path, **config) -> tuple[Progress, scanner.ShardStats]:
    """run_scan through the library, returning the last progress snapshot too."""
    seen: list[Progress] = []
    options = scanner.ScanOptions(langid=False)
    stats = run_scan(
        discover_shards([str(corpus)]),
        scanner.load_lexicons([lexicon_file]),
        options,
        RunConfig(out=str(out), unit_bytes=50_000, **config),
        lambda p: seen.append(Progress(**vars(p))),
    )
    return seen[-1], stats


def test_rerun_skips_done_units_and_redoes_changed_ones(tmp_path, corpus, lexicon_file):
    data = tmp_path / "data"
    data.mkdir()
    for file in corpus.iterdir():
        (data / file.name).write_bytes(file.read_bytes())
    out = tmp_path / "out"
    first, stats = run_library(data, out, lexicon_file)
    assert first.units_done == first.units_total == 14 and first.units_skipped == 0
    assert first.work_done == first.work_total and first.documents == stats.totals["documents"] == 1440
    report = scanner.report.build.write_report(out)

    again, stats_again = run_library(data, out, lexicon_file)
    assert again.units_skipped == 14 and again.documents == 0 and again.work_total == 0
    assert stats_again == stats

    os.utime(data / "a.jsonl", ns=(1, 1))  # same content, other mtime: the unit's identity changed
    touched, _ = run_library(data, out, lexicon_file)
    assert touched.units_skipped == 13 and touched.documents == 150

    forced, _ = run_library(data, out, lexicon_file, force=True)
    assert forced.units_skipped == 0 and forced.documents == 1440

    annotated, _ = run_library(data, out, lexicon_file, annotate=True)
    assert annotated.units_skipped == 0, "stats made without annotations do not satisfy --annotate"
    assert run_library(data, out, lexicon_file)[0].units_skipped == 14, "annotated units satisfy a run without --annotate"
    assert without_timing(scanner.report.build.write_report(out)) == without_timing(report)


def test_report_read_and_written_by_threads_equals_the_one_thread_report(tmp_path, corpus, lexicon_file):
    out = tmp_path / "out"
    scan(str(corpus), "--out", str(out), "--lexicon", str(lexicon_file), "--no-langid", "--unit-mb", UNIT, "--sample-size", "50", "--workers", "1")
    files = ("report.json", "report.md", "report.html", "samples/human_sample.parquet")
    one = {name: (out / name).read_bytes() for name in files}
    for name in files:
        (out / name).unlink()
    assert without_timing(scanner.report.build.write_report(out, threads=3)) == without_timing(json.loads(one["report.json"]))
    assert {name: (out / name).read_bytes() for name in files} == one


def test_a_new_row_group_split_removes_the_old_units(tmp_path, corpus, lexicon_file):
    out = tmp_path / "out"
    scan(str(corpus), "--out", str(out), "--lexicon", str(lexicon_file), "--no-langid", "--unit-mb", UNIT, "--annotate")
    expected = report_of(out)
    scan(str(corpus), "--out", str(out), "--lexicon", str(lexicon_file), "--no-langid", "--unit-mb", "0.1", "--annotate")
    assert without_timing(report_of(out)) == without_timing(expected)
    assert len(list((out / "shards").glob("big.parquet-*.json"))) == 6
    assert pq.read_table(out / "annotations").num_rows == 1440


def test_units_with_errors_are_retried(tmp_path, lexicon_file):
    bad = tmp_path / "in" / "x.parquet"
    bad.parent.mkdir()
    bad.write_bytes(b"PAR1 broken")
    out = tmp_path / "out"
    scan(str(bad.parent), "--out", str(out), "--lexicon", str(lexicon_file), expect=EXIT_REJECTED)
    assert "not a readable Parquet file" in report_of(out)["errors"][0]["reason"]
    write_parquet(bad, synthetic_rows(10), row_group_rows=10)
    os.utime(bad, ns=(5, 5))
    scan(str(bad.parent), "--out", str(out), "--lexicon", str(lexicon_file))
    assert report_of(out)["errors"] == [] and report_of(out)["totals"]["documents"] == 10


def test_batch_scheduler_subsets_merge_into_the_full_report(tmp_path, corpus, lexicon_file):
    full = tmp_path / "full"
    scan(str(corpus), "--out", str(full), "--lexicon", str(lexicon_file), "--no-langid", "--unit-mb", UNIT)
    jobs = tmp_path / "jobs"
    for index in range(3):
        result = scan(str(corpus), "--out", str(jobs), "--lexicon", str(lexicon_file), "--no-langid", "--unit-mb", UNIT, "--shard-index", str(index), "--num-shards", "3")
        assert f"job {index} of 3" in result.output and not (jobs / "report.json").exists()
    result = CliRunner().invoke(cli, ["report", str(jobs)])
    assert result.exit_code == 0, result.output
    assert without_timing(report_of(jobs)) == without_timing(report_of(full))


@pytest.mark.parametrize(("other", "what"), [({"--lexicon": "other.csv"}, "lexicon"), ({"--sample-size": "7"}, "scan options")])
def test_scanning_into_a_folder_of_another_lexicon_or_options_is_refused_before_any_work(tmp_path, corpus, lexicon_file, other, what):
    (tmp_path / "other.csv").write_text("term,category\nporn,A1.6\n", encoding="utf-8")

    def options(changes: dict[str, str]) -> list[str]:
        chosen = {"--lexicon": str(lexicon_file), "--no-langid": None, "--unit-mb": UNIT, **changes}
        return [str(tmp_path / v) if v == "other.csv" else v for k, v in chosen.items() for v in ([k] if v is None else [k, v])]

    out = tmp_path / "o"
    scan(str(corpus), "--out", str(out), *options({}))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = scan(str(corpus / "a.jsonl"), "--out", str(out), *options(other), expect=2)  # the other inputs' units stay as they were
    assert f"was made with another {what}, so no report could merge it with this scan; scan into a fresh --out" in result.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    scan(str(corpus), "--out", str(out), *options(other), expect=2)  # every input again: refused too, it would replace the other scan
    scan(str(corpus), "--out", str(out), *options(other), "--force")  # --force replaces it: every unit is redone
    assert report_of(out)["totals"]["documents"] == 1440


@pytest.mark.parametrize(("strict", "code"), [([], EXIT_REJECTED), (["--strict"], EXIT_STRICT)])
def test_a_batch_job_exits_with_its_own_units_outcome(tmp_path, lexicon_file, strict, code):
    """A job of an array that rejected rows or failed a shard says so in its exit code, so a
    dependency such as sbatch's afterok does not merge an incomplete run unnoticed."""
    (tmp_path / "in").mkdir()
    write_jsonl(tmp_path / "in" / "a.jsonl", synthetic_rows(20, seed=4))
    (tmp_path / "in" / "b.jsonl").write_bytes(b'{"text": "fine"}\n{"text": broken\n')
    (tmp_path / "in" / "c.jsonl.gz").write_bytes(b"\x1f\x8b truncated")
    results = [
        CliRunner().invoke(cli, ["scan", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--lexicon", str(lexicon_file), "--no-langid",
                                 "--workers", "1", "--shard-index", str(i), "--num-shards", "2", *strict])
        for i in range(2)
    ]
    assert {r.exit_code for r in results} <= {0, code} and any(r.exit_code == code for r in results)
    assert all(("incomplete:" in r.output) == (r.exit_code == code) for r in results)


@pytest.mark.parametrize("args", [["--shard-index", "1"], ["--num-shards", "2"], ["--shard-index", "2", "--num-shards", "2"]])
def test_bad_subset_options_exit_2(tmp_path, corpus, args):
    result = CliRunner().invoke(cli, ["scan", str(corpus), "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 2
    assert "--shard-index and --num-shards go together" in result.output


def test_unknown_executor_exits_2(tmp_path, corpus):
    result = CliRunner().invoke(cli, ["scan", str(corpus), "--out", str(tmp_path / "o"), "--executor", "spark"])
    assert result.exit_code == 2
    assert "unknown executor 'spark'; available: local" in result.output


def test_kill_9_mid_run_then_rerun_gives_the_uninterrupted_report(tmp_path, lexicon_file):
    data = tmp_path / "data"
    data.mkdir()
    write_parquet(data / "big.parquet", synthetic_rows(9000, doc_chars=600, seed=4), row_group_rows=300)
    args = [sys.executable, "-c", "from scanner.cli import cli; cli()", "scan", str(data), "--lexicon", str(lexicon_file), "--workers", "2", "--unit-mb", "0.1", "--annotate", "--no-progress"]
    reference = tmp_path / "reference"
    subprocess.run([*args, "--out", str(reference)], check=True, capture_output=True)

    out = tmp_path / "out"
    process = subprocess.Popen([*args, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while not list((out / "shards").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done = len(list((out / "shards").glob("*.json")))
    assert 0 < done < 30, f"the kill should land mid-run ({done} of 30 units done)"
    assert not (out / "report.json").exists()

    subprocess.run([*args, "--out", str(out)], check=True, capture_output=True)
    assert without_timing(report_of(out)) == without_timing(report_of(reference))
    annotations = pq.read_table(out / "annotations")
    assert annotations.num_rows == 9000 and len(set(annotations.column("doc_id").to_pylist())) == 9000


# VmHWM, not ru_maxrss: the latter survives exec and so counts the forking parent's pages too.
PEAK_RSS = """
import re, sys
import scanner.io.readers
from scanner.cli import cli
scanner.io.readers.BATCH_BYTES = 1 << 20
try:
    # The human-sample candidates are a constant (k texts of --sample-text-chars), filled by the
    # first k documents; a small k lets both inputs fill it, so only growth with size shows.
    cli(["scan", sys.argv[1], "--out", sys.argv[2], "--workers", "1", "--no-langid", "--no-progress", "--sample-size", "100"], standalone_mode=False)
finally:
    status = open("/proc/self/status").read()
    print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) * 1024)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from Linux /proc")
def test_peak_memory_does_not_grow_with_shard_size(tmp_path):
    """Bound (docs/scale.md#memory): per worker, interpreter and scanner plus a few batches of
    ~BATCH_BYTES of text. With 1 MiB batches (so that both inputs span many batches, as real
    shards do at 16 MiB), 12 MB and 60 MB of text must peak within 25 MB of each other."""
    peaks = []
    for copies in (1, 5):
        rows = synthetic_rows(3000, doc_chars=4000, seed=5) * copies
        path = write_parquet(tmp_path / f"in{copies}.parquet", rows, row_group_rows=1000)
        result = subprocess.run([sys.executable, "-c", PEAK_RSS, str(path), str(tmp_path / f"out{copies}")], check=True, capture_output=True, text=True)
        peaks.append(int(result.stdout.strip().splitlines()[-1]))
    assert peaks[1] - peaks[0] < 25e6, f"peak RSS {peaks[0] / 1e6:.0f} MB for 12 MB of text, {peaks[1] / 1e6:.0f} MB for 60 MB"


def test_fsspec_filesystems_work_without_modification_times(tmp_path, corpus, lexicon_file):
    """memory:// (fsspec) keeps no mtime, so units are identified by content hash."""
    import fsspec

    memory = fsspec.filesystem("memory")
    for file in corpus.iterdir():
        memory.pipe(f"/in/{file.name}", file.read_bytes())
    local = tmp_path / "local"
    scan(str(corpus), "--out", str(local), "--lexicon", str(lexicon_file), "--no-langid", "--workers", "1")
    scan("memory://in", "--out", "memory://out", "--lexicon", str(lexicon_file), "--no-langid", "--workers", "1")
    remote = json.loads(memory.cat("/out/report.json"))
    assert without_locations(remote) == without_locations(report_of(local))
    unit = json.loads(memory.cat(f"/out/shards/{memory.ls('/out/shards', detail=False)[0].rsplit('/', 1)[1]}"))["unit"]
    assert unit["mtime_ns"] is None and len(unit["sha256"]) == 64


def test_executor_without_its_extra_names_the_install_line(tmp_path, corpus, monkeypatch):
    class MissingExtra:
        name = "ray"

        def load(self):
            msg = "No module named 'ray'"
            raise ImportError(msg)

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [MissingExtra()])
    result = CliRunner().invoke(cli, ["scan", str(corpus), "--out", str(tmp_path / "o"), "--executor", "ray"])
    assert result.exit_code == 2
    assert "pip install 'corpus-scanner[ray]'" in result.output


def test_rank_cutoff_keeps_the_bottom_k_with_a_small_margin():
    k, seed = 200, SampleSpec().seed
    assert rank_cutoff(400, k) is None  # a small corpus: every candidate keeps its text
    assert rank_cutoff(10**6, 0) is None
    for documents in (2_000, 30_000, 200_000):
        cutoff = rank_cutoff(documents, k)
        hashes = np.sort(doc_hashes([f"d{i}" for i in range(documents)], seed))
        assert hashes[k - 1] <= cutoff  # the whole sample keeps its text
        assert np.count_nonzero(hashes <= cutoff) < 3 * k  # and few others (k + 10 sqrt(k) + 100 expected)


def _unit_candidates(hashes: list[int], unit: int) -> pa.Table:
    """Candidate rows of one unit with these hashes (only the rank keys matter to the merge)."""
    rows = len(hashes)
    columns = {
        "hash": pa.array(hashes, pa.uint64()),
        "doc_id": pa.array([f"u{unit}-{i % 3}" for i in range(rows)]),  # repeated ids: ties break on shard and row
        "shard": pa.array([f"s{unit}"] * rows),
        "row": pa.array(range(rows), pa.int64()),
        "source": pa.array([f"src{(unit + i) % 3}" for i in range(rows)]),
    }
    table = pa.table({name: columns.get(name, pa.nulls(rows, CANDIDATE_SCHEMA.field(name).type)) for name in CANDIDATE_SCHEMA.names})
    return table.cast(CANDIDATE_SCHEMA)


@settings(max_examples=300, deadline=None)
@given(
    units=st.lists(st.lists(st.integers(0, 2**64 - 1) | st.sampled_from([0, 7, 2**63, 2**64 - 1]), max_size=30), min_size=1, max_size=5),
    size=st.integers(0, 25),
    per_source=st.sampled_from([0, 0, 2]),
    cutoffs=st.lists(st.none() | st.integers(0, 2**64 - 1) | st.sampled_from([0, 7, 2**63]), min_size=5, max_size=5),
)
def test_held_candidates_give_the_sample_of_all_candidates_or_send_the_report_to_the_reserve(units, size, per_source, cutoffs):
    """Naive reference: merging every unit's whole candidate set. Split at any cut-offs (too low,
    too high, none, repeated hashes at the cut-off), held files alone must either be declared enough
    and give exactly that, or not, and held plus reserve give it."""
    spec = SampleSpec(size=size, per_source=per_source)
    tables = [_unit_candidates(hashes, i) for i, hashes in enumerate(units)]
    reference = merge_candidates(tables, spec)
    parts = [split_at_cutoff(table, cutoff) for table, cutoff in zip(tables, cutoffs)]
    assert all(held.num_rows + rest.num_rows == table.num_rows for (held, rest), table in zip(parts, tables))
    merged = merge_candidates([held for held, _ in parts], spec)
    if held_rows_decide(merged, [held_cutoff(held.schema) for held, _ in parts], spec):
        assert merged.equals(reference)
    assert merge_candidates([merged, *(rest for _, rest in parts)], spec).equals(reference)


def test_held_rows_decide_only_when_the_kth_row_is_at_or_below_every_cutoff():
    spec = SampleSpec(size=3)
    merged = _unit_candidates([1, 5, 9, 20], 0)
    assert held_rows_decide(merged, [None, None], spec)  # nothing was cut
    assert held_rows_decide(merged, [9, 30], spec)  # third smallest (9) is at the lowest cut-off
    assert not held_rows_decide(merged, [8, 30], spec)  # a reserved row of the first unit could be 8.5
    assert not held_rows_decide(merged.slice(0, 2), [100], spec)  # fewer than k held rows
    assert not held_rows_decide(merged, [100], SampleSpec(size=3, per_source=1))


def test_per_source_samples_keep_every_candidate_text():
    hashes = doc_hashes([f"d{i}" for i in range(5000)], SampleSpec().seed)
    plain, per_source = CandidateCollector(SampleSpec(size=100), 10**6), CandidateCollector(SampleSpec(size=100, per_source=3), 10**6)
    assert 0 < plain.keeps_text(hashes).sum() < 50 and per_source.keeps_text(hashes).all()
    assert per_source.counts_tokens(hashes).sum() == plain.counts_tokens(hashes).sum() > 0


@pytest.mark.parametrize("tokens", ["off", "estimate"])
def test_sampled_documents_without_stored_text_are_read_back(tmp_path, corpus, lexicon_file, monkeypatch, tokens):
    """Whether units keep every candidate's text, only those under the planned cut-off, or none (the
    plan's row count was far too high), the report, its sample texts and token estimate agree."""
    args = [str(corpus), "--lexicon", str(lexicon_file), "--unit-mb", UNIT, "--no-langid", "--sample-size", "60", "--tokens", tokens]
    outs = {}
    for case, documents in (("all", lambda units: 0), ("planned", None), ("none", lambda units: 10**12)):
        if documents is not None:
            monkeypatch.setattr("scanner.run.scan.expected_documents", documents)
        outs[case] = tmp_path / case
        scan(*args, "--out", str(outs[case]))
        monkeypatch.undo()
    held = {case: pq.read_table(out / "samples" / "candidates")["text"] for case, out in outs.items()}
    reserve = {case: pq.read_table(out / "samples" / "reserve")["text"] for case, out in outs.items()}
    assert held["all"].null_count == 0 and len(reserve["all"]) == 0  # no cut-off: every candidate held, with text
    assert held["planned"].null_count == 0 < len(held["planned"]) and reserve["planned"].null_count == len(reserve["planned"]) > 0
    assert len(held["none"]) == 0 and reserve["none"].null_count == len(reserve["none"]) > 0  # all in reserve, none with text
    reference = pq.read_table(outs["all"] / "samples" / "human_sample.parquet")
    assert reference.num_rows == 60 and reference["text"].null_count == 0
    for case in ("planned", "none"):
        assert pq.read_table(outs[case] / "samples" / "human_sample.parquet").equals(reference)
        assert without_timing(report_of(outs[case])) == without_timing(report_of(outs["all"]))


def test_units_written_before_the_held_reserve_split_merge_with_new_ones(tmp_path, corpus, lexicon_file, monkeypatch):
    """A unit file from before the split holds all its candidates, without a cut-off in its metadata
    and without a reserve file: the report treats it as holding everything, and is unchanged."""
    out = tmp_path / "o"
    monkeypatch.setattr("scanner.run.scan.expected_documents", lambda units: 10**5)  # cut-offs that hold few rows
    scan(str(corpus), "--out", str(out), "--lexicon", str(lexicon_file), "--unit-mb", UNIT, "--no-langid", "--sample-size", "60")
    expected = without_timing(report_of(out))
    sample = pq.read_table(out / "samples" / "human_sample.parquet")
    for name in sorted(p.name for p in (out / "samples" / "reserve").iterdir())[:3]:
        held, reserve = out / "samples" / "candidates" / name, out / "samples" / "reserve" / name
        whole = pa.concat_tables([pq.read_table(held), pq.read_table(reserve)]).replace_schema_metadata(None)
        pq.write_table(whole, held)
        reserve.unlink()
    assert without_timing(scanner.report.build.write_report(out)) == expected
    assert pq.read_table(out / "samples" / "human_sample.parquet").equals(sample)


def test_sample_texts_are_the_documents_first_text_chars_characters(tmp_path, corpus, lexicon_file):
    out = tmp_path / "o"
    scan(str(corpus), "--out", str(out), "--lexicon", str(lexicon_file), "--unit-mb", UNIT, "--no-langid", "--sample-size", "40", "--sample-text-chars", "7")
    documents = {}
    for path in sorted(corpus.glob("*.jsonl")):
        documents.update((r["id"], r["text"]) for r in map(json.loads, path.read_text(encoding="utf-8").splitlines()))
    big = pq.read_table(corpus / "big.parquet", columns=["id", "text"]).to_pylist()
    documents.update((r["id"], r["text"]) for r in big)
    for table in (pq.read_table(out / "samples" / "candidates"), pq.read_table(out / "samples" / "human_sample.parquet")):
        kept = [(i, t) for i, t in zip(table["doc_id"].to_pylist(), table["text"].to_pylist()) if t is not None]
        assert kept and all(text == documents[doc_id][:7] for doc_id, text in kept)


def test_report_names_an_input_that_changed_before_its_texts_were_read_back(tmp_path, lexicon_file, monkeypatch):
    path = write_jsonl(tmp_path / "a.jsonl", synthetic_rows(300, seed=4))
    monkeypatch.setattr("scanner.run.scan.expected_documents", lambda units: 10**12)
    scan(str(path), "--out", str(tmp_path / "o"), "--lexicon", str(lexicon_file), "--no-langid", "--sample-size", "20")
    write_jsonl(path, synthetic_rows(300, seed=5))
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "a.jsonl" in result.output and "changed" in result.output


def test_token_counts_a_unit_skipped_are_counted_at_report_time(tmp_path, corpus, lexicon_file, monkeypatch):
    """Texts kept but no token counted (the token cut-off fell short): the report reads the full
    texts back and counts them, giving the report of a scan that counted them all."""
    args = [str(corpus), "--lexicon", str(lexicon_file), "--unit-mb", UNIT, "--no-langid", "--sample-size", "60", "--token-sample", "20"]
    scan(*args, "--out", str(tmp_path / "counted"))
    monkeypatch.setattr(CandidateCollector, "counts_tokens", lambda self, hashes: np.zeros(len(hashes), dtype=bool))
    scan(*args, "--out", str(tmp_path / "skipped"))
    stored = pq.read_table(tmp_path / "skipped" / "samples" / "candidates")
    assert stored["doc_tokens"].null_count == stored.num_rows and stored["text"].null_count == 0 < stored.num_rows
    assert without_timing(report_of(tmp_path / "skipped")) == without_timing(report_of(tmp_path / "counted"))
    assert report_of(tmp_path / "counted")["filing_table"]["mode"] == "estimate"


def test_a_tokenizer_file_changed_in_place_redoes_the_units(tmp_path):
    """Exact token counts follow the tokenizer.json's content, not its path: a re-run after the file
    was rewritten counts again (the options carry the file's SHA-256)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    texts = ["the cat, sat.", "a dog; ran!", "the end"]
    write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in texts])
    path = tmp_path / "tokenizer.json"
    totals, digests = [], []
    for splitter in (pre_tokenizers.Whitespace(), pre_tokenizers.CharDelimiterSplit(" ")):
        tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
        tokenizer.pre_tokenizer = splitter
        tokenizer.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
        tokenizer.save(str(path))
        args = [str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "o"), "--tokens", "exact", "--tokenizer", str(path), "--no-langid"]
        if totals:  # the rewritten file makes the options another scan's: refused, replaced with --force
            assert "was made with another scan options" in scan(*args, expect=2).output
        scan(*args, *(["--force"] if totals else []))
        report = report_of(tmp_path / "o")
        totals.append(report["filing_table"]["totals"]["tokens"])
        digests.append(report["options"]["tokenizer_sha256"])
        assert totals[-1] == sum(len(tokenizer.encode(t).ids) for t in texts)
    assert totals[0] != totals[1] and digests[0] != digests[1]


def test_a_report_of_an_unfinished_scan_names_the_units_not_scanned_yet(tmp_path, corpus, lexicon_file):
    """A scan records its plan first, so a report built while it runs, or after it was killed, counts
    its missing units as errors (exit 5) instead of looking complete; re-running completes it."""
    out = tmp_path / "o"
    scan(str(corpus), "--out", str(out), "--lexicon", str(lexicon_file), "--no-langid", "--unit-mb", UNIT)
    complete = report_of(out)
    missing = sorted((out / "shards").glob("big.parquet-*.json"))[:3]
    for path in missing:  # as if the run had stopped before writing them
        path.unlink()
    result = CliRunner().invoke(cli, ["report", str(out)])
    assert result.exit_code == EXIT_REJECTED and "0 shards failed, 3 planned units not scanned yet" in result.output  # not failed: not run yet
    partial = report_of(out)
    assert [e["reason"].split(":")[0] for e in partial["errors"]] == [p.stem for p in missing]
    assert all("planned, not scanned yet" in e["reason"] for e in partial["errors"])
    technical = next(c for c in partial["checks"] if c["id"] == "technical-spot-check")
    assert technical["scanned_share"] < 1
    scan(str(corpus), "--out", str(out), "--lexicon", str(lexicon_file), "--no-langid", "--unit-mb", UNIT)
    assert without_timing(report_of(out)) == without_timing(complete)
