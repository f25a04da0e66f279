"""The ``scanner`` command: a thin click layer over the library; the only place that prints."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from scanner import __version__
from scanner.errors import ConfigError
from scanner.lexicon import load_lexicons
from scanner.readers import UNIT_BYTES, Columns, discover_shards, select_shards
from scanner.report import write_report
from scanner.run import Progress, RunConfig, run_scan
from scanner.scan import ScanOptions
from scanner.storage import join


def _fail_on_config_error(func):
    """ConfigError -> a one-line message on stderr and exit code 2 (nothing was scanned)."""

    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ConfigError as e:
            raise click.UsageError(str(e)) from e

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


@click.group()
@click.version_option(__version__, prog_name="scanner")
def cli() -> None:
    """Scan training corpora against blocked-keyword lexicons and report corpus-safety evidence."""


def _print_summary(report: dict) -> None:
    t = report["totals"]
    click.echo(
        f"{t['documents']} documents ({t['empty_documents']} empty), {t['flagged_documents']} flagged"
        f" ({100 * t['flagged_share']:.2f} %), {t['hits']} hits, {t['rejected_documents']} rows rejected"
    )
    click.echo(f"lexicon {report['lexicon']['name']} {report['lexicon']['version']} ({report['lexicon']['terms']} terms, fingerprint {report['lexicon']['fingerprint'][:16]})")
    limit = report["checks"][0]["threshold"]
    width = max([len("source"), *(len(name) for name in report["by_source"])])
    click.echo(f"\n{'source':<{width}}  {'documents':>10}  {'flagged':>8}  {'share':>8}  verdict (<= {100 * limit:g} %)")
    for name, s in report["by_source"].items():
        verdict = click.style("pass", fg="green") if s["verdict"] == "pass" else click.style("FAIL", fg="red", bold=True)
        click.echo(f"{name:<{width}}  {s['documents']:>10}  {s['flagged_documents']:>8}  {100 * s['flagged_share']:>7.2f}%  {verdict}")
    for error in report["errors"]:
        click.echo(click.style(f"error: {error['shard']}: {error['reason']}", fg="red"), err=True)
    if t["rejected_documents"]:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(report["rejected"].items()))
        click.echo(click.style(f"warning: {t['rejected_documents']} rows rejected ({reasons})", fg="yellow"), err=True)


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out", required=True, help="Output folder: a path or a URI (s3://bucket/prefix, ...).")
@click.option("--lexicon", "lexicons", multiple=True, type=click.Path(exists=True, path_type=Path), help="Lexicon table, folder or lexicon.toml; repeatable. Default: the bundled lexicon.")
@click.option("--annotate", is_flag=True, help="Also write per-document annotations to OUT/annotations/*.parquet.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Cores to use (default: all cores; with --executor ray, all of the cluster's).")
@click.option("--executor", default="local", show_default=True, help="'local', or 'ray' (Ray Data; RAY_ADDRESS picks the cluster; needs the [ray] extra).")
@click.option("--force", is_flag=True, help="Rescan every work unit, even those a previous run completed.")
@click.option("--shard-index", type=click.IntRange(min=0), default=None, help="With --num-shards: scan only this job's subset (e.g. $SLURM_ARRAY_TASK_ID).")
@click.option("--num-shards", type=click.IntRange(min=1), default=None, help="Number of jobs sharing the inputs; run `scanner report OUT` once all are done.")
@click.option("--unit-mb", type=click.FloatRange(min=0, min_open=True), default=UNIT_BYTES / 2**20, show_default=True, help="Target MiB of text per Parquet work unit (row groups are never split).")
@click.option("--text-column", default="text", show_default=True)
@click.option("--id-column", default=None, help="Default: 'id' if present, else <shard>:<row>.")
@click.option("--source-column", default=None, help="Default: 'source' if present.")
@click.option("--url-column", default=None, help="Default: 'url' if present.")
@click.option("--no-langid", is_flag=True, help="Skip language identification (language 'und').")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when stderr is a terminal).")
@_fail_on_config_error
def scan(inputs, out, lexicons, annotate, workers, executor, force, shard_index, num_shards, unit_mb, text_column, id_column, source_column, url_column, no_langid, progress) -> None:
    """Scan INPUTS (files, folders, globs or URIs of Parquet, JSONL(.gz/.zst), Arrow or HF datasets)."""
    if (shard_index is None) != (num_shards is None) or (num_shards is not None and shard_index >= num_shards):
        msg = f"--shard-index and --num-shards go together, with 0 <= index < count (got {shard_index} and {num_shards})"
        raise ConfigError(msg)
    shards = discover_shards(list(inputs))
    if num_shards is not None:
        shards = select_shards(shards, shard_index, num_shards)
    lexicon = load_lexicons(lexicons)
    options = ScanOptions(columns=Columns(text=text_column, id=id_column, source=source_column, url=url_column), langid=not no_langid)
    config = RunConfig(out=out, annotate=annotate, workers=workers, force=force, unit_bytes=int(unit_mb * 2**20))
    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    started = time.monotonic()
    bar_format = "{l_bar}{bar}| {n_fmt}B/{total_fmt}B [{elapsed}<{remaining}{postfix}]"
    with tqdm(total=0, unit="B", unit_scale=True, bar_format=bar_format, disable=not show, file=sys.stderr, dynamic_ncols=True) as bar:

        def on_progress(p: Progress) -> None:
            elapsed = max(time.monotonic() - started, 1e-9)
            bar.total = p.work_total
            bar.set_postfix_str(
                f"{p.documents / elapsed:,.0f} docs/s, {p.bytes / elapsed / 1e6:,.1f} MB/s,"
                f" {p.units_done}/{p.units_total} units ({p.units_skipped} already done)",
                refresh=False,
            )
            bar.update(p.work_done - bar.n)

        run_scan(shards, lexicon, options, config, on_progress, executor)
    if num_shards is not None and num_shards > 1:
        click.echo(f"job {shard_index} of {num_shards}: {len(shards)} shards scanned into {out}; run `scanner report {out}` when all jobs are done")
        return
    report = write_report(out)
    _print_summary(report)
    click.echo(f"\nwrote {join(out, 'report.json')} and {join(out, 'report.md')}")


@cli.command()
@click.argument("out")
@_fail_on_config_error
def report(out) -> None:
    """Rebuild OUT/report.json and OUT/report.md from the shard statistics in OUT/shards (a path or a URI)."""
    result = write_report(out)
    _print_summary(result)
    click.echo(f"\nwrote {join(out, 'report.json')} and {join(out, 'report.md')}")


def main() -> None:  # pragma: no cover - console-script entry point
    cli()
