"""The ``scanner`` command: a thin click layer over the library; the only place that prints."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from scanner import __version__
from scanner.errors import ConfigError
from scanner.lexicon import load_lexicons
from scanner.normalize import DEFAULT_STEPS, STEPS
from scanner.readers import Columns, discover_shards
from scanner.report import write_report
from scanner.run import RunConfig, run_scan
from scanner.scan import ScanOptions


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
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--lexicon", "lexicons", multiple=True, type=click.Path(exists=True, path_type=Path), help="Lexicon table, folder or lexicon.toml; repeatable. Default: the bundled lexicon.")
@click.option("--annotate", is_flag=True, help="Also write per-document annotations to OUT/annotations/*.parquet.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes (default: all cores).")
@click.option("--text-column", default="text", show_default=True)
@click.option("--id-column", default=None, help="Default: 'id' if present, else <shard>:<row>.")
@click.option("--source-column", default=None, help="Default: 'source' if present.")
@click.option("--url-column", default=None, help="Default: 'url' if present.")
@click.option("--no-langid", is_flag=True, help="Skip language identification (language 'und').")
@click.option(
    "--normalize",
    "normalize",
    default="default",
    show_default=True,
    metavar="LIST",
    help=f"Normalisation steps, comma-separated: {', '.join(STEPS)}; or none, default ({','.join(DEFAULT_STEPS)}), all.",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when stderr is a terminal).")
@_fail_on_config_error
def scan(inputs, out, lexicons, annotate, workers, text_column, id_column, source_column, url_column, no_langid, normalize, progress) -> None:
    """Scan INPUTS (files, folders or globs of Parquet, JSONL(.gz/.zst), Arrow or HF datasets)."""
    columns = Columns(text=text_column, id=id_column, source=source_column, url=url_column)
    options = ScanOptions(columns=columns, langid=not no_langid, normalize=normalize)
    shards = discover_shards(list(inputs))
    lexicon = load_lexicons(lexicons)
    config = RunConfig(out=out, annotate=annotate, workers=workers or os.cpu_count() or 1)
    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    started = time.monotonic()
    with tqdm(total=len(shards), unit="shard", disable=not show, file=sys.stderr, dynamic_ncols=True) as bar:
        seen = {"docs": 0, "bytes": 0}

        def on_progress(documents: int, size: int, shards_done: int) -> None:
            seen["docs"] += documents
            seen["bytes"] += size
            elapsed = max(time.monotonic() - started, 1e-9)
            bar.set_postfix_str(f"{seen['docs'] / elapsed:,.0f} docs/s, {seen['bytes'] / elapsed / 1e6:,.1f} MB/s", refresh=False)
            bar.update(shards_done)

        run_scan(shards, lexicon, options, config, on_progress)
    report = write_report(out)
    _print_summary(report)
    click.echo(f"\nwrote {out / 'report.json'} and {out / 'report.md'}")


@cli.command()
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_fail_on_config_error
def report(out) -> None:
    """Rebuild OUT/report.json and OUT/report.md from the shard statistics in OUT/shards."""
    result = write_report(out)
    _print_summary(result)
    click.echo(f"\nwrote {out / 'report.json'} and {out / 'report.md'}")


def main() -> None:  # pragma: no cover - console-script entry point
    cli()
