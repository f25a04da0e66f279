"""Example data-cleaning job: annotate a corpus, drop flagged documents, keep the statistics.

    python -m pipelines.clean_job INPUT.parquet... --out CLEAN [--lexicon PATH]...

For each input Parquet file it streams (polars LazyFrame, bounded memory) the rows through
``scanner.adapters.Annotator``, keeps the unflagged ones with their original columns plus
``language``, and writes them to ``CLEAN/data/<file name>-<hash>.parquet`` (the scanner's output
name of the file). The statistics of the *input* (before filtering) go to ``CLEAN/scan/shards/`` in
the scanner's own format, and ``CLEAN/scan/report.json``/``report.md`` are built from them: the
evidence of what was removed and why, in the form ``scanner scan`` produces, with the counts, checks
and input fingerprints. What needs the sample and id-hash files of a scan is left out: the human
sample (empty), duplicate ids (none counted) and, in estimate mode, token counts (none); run
``scanner scan`` on the inputs for those. A ``source`` column is replaced by the resolved source
(the same value wherever it was set).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import polars as pl

import scanner
from scanner.adapters import Annotator
from scanner.evidence.outfolder import OutputFolder
from scanner.io.discovery import discover_shards, fingerprint
from scanner.report.build import write_report


def clean_shard(annotator: Annotator, source: str, target: Path) -> None:
    """Stream one Parquet file through the annotator and write its unflagged rows."""
    frame = pl.scan_parquet(source)
    keep = [*frame.collect_schema().names(), "language"]
    annotator.polars(frame).filter(~pl.col("flagged")).select(list(dict.fromkeys(keep))).sink_parquet(target)


def clean(inputs: list[str], out: Path, lexicons: list[Path]) -> dict:
    """Clean every input file into ``out/data`` and report on the inputs in ``out/scan``; returns the report."""
    s = scanner.Scanner(scanner.load_lexicons(lexicons))
    (out / "data").mkdir(parents=True, exist_ok=True)
    scan_folder = OutputFolder(out / "scan")
    run = s.describe()
    shards = discover_shards(inputs)
    if any(shard.format != "parquet" for shard in shards):
        msg = f"clean_job reads Parquet only; got {', '.join(x.label for x in shards if x.format != 'parquet')}"
        raise scanner.ConfigError(msg)
    for shard in shards:
        annotator = Annotator(s, shard=shard.label)
        clean_shard(annotator, shard.path, out / "data" / f"{shard.file_name}.parquet")
        stats = annotator.stats
        stats.inputs = [{"path": shard.label, "bytes": shard.bytes, "rows": stats.rows_read, "fingerprint": fingerprint(shard)}]
        scan_folder.write_unit(shard, run, stats)
    return write_report(out / "scan")


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--lexicon", "lexicons", multiple=True, type=click.Path(exists=True, path_type=Path))
def main(inputs: tuple[str, ...], out: Path, lexicons: tuple[Path, ...]) -> None:
    """Drop flagged documents from Parquet INPUTS; write the kept rows and the scan report to OUT."""
    try:
        report = clean(list(inputs), out, list(lexicons))
    except scanner.ConfigError as e:
        raise click.UsageError(str(e)) from e
    totals = report["totals"]
    click.echo(f"kept {totals['documents'] - totals['flagged_documents']} of {totals['documents']} documents; report in {out / 'scan'}")


if __name__ == "__main__":
    sys.exit(main())
