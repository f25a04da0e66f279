"""Example data-cleaning job: annotate a corpus, drop unsafe documents, keep the statistics.

    python -m pipelines.clean_job INPUT... --out CLEAN [--lexicon PATH]... [--sources sources.toml] [--drop unsafe|flagged]

INPUT is anything ``scanner scan`` reads (Parquet, JSONL(.gz/.zst), Arrow, HF ``datasets`` folders,
folders and globs of them). Each file is scanned once by the scanner's own loop (``Scanner.iter_shard``:
bounded memory, the same rejections, ids and sources as ``scanner scan``, with the registry of
``--sources``), and its documents that are not unsafe (the unsafe policy's verdict; ``--drop flagged``:
that have no keyword hit at all) are written to ``CLEAN/data/<file name>-<hash>`` in the
file's own kind: columnar inputs as Parquet with their original columns plus ``language`` (a
``source`` column is replaced by the resolved source), JSONL as JSONL lines with ``language`` added.
Rows the scanner rejected are left out too. The statistics of the *input* (before filtering) go to
``CLEAN/scan/shards/`` in the scanner's own format, and ``CLEAN/scan/report.json``/``report.md`` are
built from them: the evidence of what was removed and why, in the form ``scanner scan`` produces,
with the counts, checks and input fingerprints. Like ``scanner scan``, it refuses, before any work, a
CLEAN whose statistics were made with another lexicon, options or tool version. What needs the sample and id-hash files of a scan is
left out: the human sample (empty), duplicate ids (none counted) and, in estimate mode, token counts
(none); run ``scanner scan`` on the inputs for those.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import scanner
from scanner.detect.source import load_registry
from scanner.evidence.outfolder import OutputFolder
from scanner.evidence.stats import ShardStats
from scanner.io.discovery import Shard, discover_shards, fingerprint
from scanner.io.readers import open_lines, original_batches
from scanner.report.build import write_report

DROPPED = ("unsafe", "flagged")


def _kept_rows(s: scanner.Scanner, shard: Shard, drop: str) -> tuple[dict[int, tuple[str, str]], ShardStats]:
    """Row number -> (language, source) of every scanned document of ``shard`` that is not ``drop``
    (``unsafe`` or ``flagged``), and the shard's stats."""
    kept: dict[int, tuple[str, str]] = {}
    stats = ShardStats()
    for batch, result in s.iter_shard(shard):
        stats.update(s.count(result))
        for reason, rows in batch.rejected.items():
            stats.reject(reason, rows)
        stats.rows_read += len(result.doc_bytes) + sum(batch.rejected.values())
        dropped = result.flagged if drop == "flagged" else result.values["unsafe"].to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(~np.asarray(dropped, dtype=bool))
        take = pa.array(rows)
        kept.update(zip(batch.row_number[rows].tolist(), zip(result.values["language"].take(take).to_pylist(), result.values["source"].take(take).to_pylist())))
    return kept, stats


def _write_columnar(shard: Shard, kept: dict[int, tuple[str, str]], target: Path) -> None:
    """The kept rows of a Parquet or Arrow file, original columns plus ``language`` (``source`` resolved)."""
    writer = None
    seen = 0
    try:
        for batch in original_batches(shard):
            rows = [i for i in range(batch.num_rows) if seen + i in kept]
            numbers = [seen + i for i in rows]
            seen += batch.num_rows
            table = pa.Table.from_batches([batch]).take(pa.array(rows, pa.int64()))
            if "source" in table.column_names:
                table = table.set_column(table.column_names.index("source"), "source", pa.array([kept[n][1] for n in numbers], pa.string()))
            table = table.append_column("language", pa.array([kept[n][0] for n in numbers], pa.string()))
            writer = writer or pq.ParquetWriter(target, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def _write_jsonl(shard: Shard, kept: dict[int, tuple[str, str]], target: Path) -> None:
    """The kept lines of a JSONL file (by line number), each with ``language`` added."""
    with open_lines(shard) as (stream, _), target.open("w", encoding="utf-8") as out:
        for number, line in enumerate(_plain_lines(stream)):
            if number in kept:
                record = json.loads(line)
                record["language"] = kept[number][0]
                out.write(json.dumps(record, ensure_ascii=False) + "\n")


def _plain_lines(stream) -> Iterator[bytes]:
    first = True
    for line in stream:
        yield line.removeprefix(b"\xef\xbb\xbf") if first else line
        first = False


def clean(inputs: list[str], out: Path, lexicons: list[Path], registry: Path | None = None, drop: str = "unsafe") -> dict:
    """Clean every input file into ``out/data`` and report on the inputs in ``out/scan``; returns the report.
    An ``out`` holding another scan (other lexicon, options, tool version) is a ConfigError before any work."""
    s = scanner.Scanner(scanner.load_lexicons(lexicons), scanner.ScanOptions(registry=load_registry(registry)))
    scan_folder = OutputFolder(out / "scan")
    run = s.describe()
    shards = discover_shards(inputs)
    scan_folder.refuse_foreign_units(shards, run)
    scan_folder.prepare(shards, annotate=False, run=run)
    (out / "data").mkdir(parents=True, exist_ok=True)
    for shard in shards:
        try:
            kept, stats = _kept_rows(s, shard, drop)
            if shard.format == "jsonl":
                _write_jsonl(shard, kept, out / "data" / f"{shard.file_name}.jsonl")
            else:
                _write_columnar(shard, kept, out / "data" / f"{shard.file_name}.parquet")
        except scanner.ShardError as e:
            stats = ShardStats(errors=[{"shard": shard.label, "reason": str(e)}])
        stats.inputs = [{"path": shard.label, "bytes": shard.bytes, "rows": stats.rows_read, "fingerprint": fingerprint(shard)}]
        scan_folder.write_unit(shard, run, stats)
    return write_report(out / "scan")


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--lexicon", "lexicons", multiple=True, type=click.Path(exists=True, path_type=Path))
@click.option("--sources", "registry", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Source registry (sources.toml or .csv).")
@click.option("--drop", type=click.Choice(DROPPED), default="unsafe", show_default=True, help="Drop unsafe documents (the policy's verdict) or every flagged one (any hit).")
def main(inputs: tuple[str, ...], out: Path, lexicons: tuple[Path, ...], registry: Path | None, drop: str) -> None:
    """Drop unsafe (or flagged) documents from INPUTS; write the kept rows and the scan report to OUT."""
    try:
        report = clean(list(inputs), out, list(lexicons), registry, drop)
    except scanner.ConfigError as e:
        raise click.UsageError(str(e)) from e
    totals = report["totals"]
    click.echo(f"kept {totals['documents'] - totals[f'{drop}_documents']} of {totals['documents']} documents; report in {out / 'scan'}")


if __name__ == "__main__":
    sys.exit(main())
