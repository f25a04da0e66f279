"""``scanner scan``: scan inputs into an output folder and write the report."""

from __future__ import annotations

import functools
import json
import math
import os
import shlex
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from scanner.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_STRICT,
    config_errors_exit_2,
    config_option,
    exit_if_incomplete,
    fail_option,
    finish,
    lang_option,
    profile_option,
)
from scanner.detect.policy import default_policy
from scanner.detect.source import load_registry
from scanner.detect.tokens import DEFAULT_TOKENIZER, TOKEN_MODES
from scanner.errors import ConfigError
from scanner.evidence.sampling import DEFAULT_SEED, SampleSpec
from scanner.evidence.stats import ShardStats
from scanner.io.discovery import Shard, discover, select_shards
from scanner.io.readers import UNIT_BYTES, Columns
from scanner.lexicon.load import Lexicon, load_lexicons
from scanner.match.engines import DEFAULT_ENGINE, ENGINES
from scanner.match.normalize import DEFAULT_STEPS, STEPS
from scanner.report.build import write_report
from scanner.resources import interrupt
from scanner.run.progress import Progress
from scanner.run.scan import plan, run_scan
from scanner.run.unit import RunConfig
from scanner.scan import ScanOptions

EXIT_TERMINATED = 143  # 128 + SIGTERM, what a shell reports for a process ended by SIGTERM


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so that the same clean-up runs and no
    ``except Exception`` on the way swallows it."""


def _stops_on_signals(command):
    """SIGINT and SIGTERM stop the scan: the first raises KeyboardInterrupt (or ``_Terminated``) in the
    main thread, where the executor takes it at a safe point (``scanner.resources.interrupt``), cancels
    pending units and stops running ones (``scanner.run.local``; finished units stay, a re-run
    resumes); then the command exits 130 or 143, whatever exception the signal ended in. Later signals
    are ignored meanwhile, so a second Ctrl-C cannot break off that (bounded) clean-up and orphan
    worker processes."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
            return command(*args, **kwargs)
        previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
        received: list[int] = []

        def stop(number: int, frame: Any) -> None:
            for other in previous:
                signal.signal(other, signal.SIG_IGN)
            received.append(number)
            interrupt(_Terminated() if number == signal.SIGTERM else KeyboardInterrupt())

        for number in previous:
            signal.signal(number, stop)
        try:
            return command(*args, **kwargs)
        except BaseException:
            if not received:
                raise
            terminated = received[0] == signal.SIGTERM
            what = "terminated" if terminated else "interrupted"
            click.echo(click.style(f"\n{what}: finished units are kept, partial ones were discarded; run the same command again to resume", fg="yellow"), err=True)
            sys.exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)
        finally:
            for number, handler in previous.items():
                if handler is not None:
                    signal.signal(number, handler)

    return wrapper


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out", required=True, help="Output folder: a path or a URI (s3://bucket/prefix, ...).")
@click.option("--lexicon", "lexicons", multiple=True, type=click.Path(exists=True, path_type=Path), help="Lexicon table, folder or lexicon.toml; repeatable. Default: the bundled lexicon.")
@click.option("--sources", "registry_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Source registry (sources.toml or .csv).")
@click.option("--policy", "policy_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Unsafe policy (TOML). Default: the bundled lexicons/policy.toml.")
@click.option("--classifier", default=None, help="A model of `scanner classifier train` (MODEL, with MODEL.json), or 'default' for the bundled one.")
@click.option("--classify", default="all", show_default=True, help="With --classifier: all, sample (an order-free 10 % technical sample) or a fraction such as 0.25.")
@click.option("--annotate", is_flag=True, help="Also write per-document annotations to OUT/annotations/*.parquet.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Cores to use (default: all cores; with --executor ray, all of the cluster's).")
@click.option("--executor", default="local", show_default=True, help="'local', or 'ray' (Ray Data; RAY_ADDRESS picks the cluster; needs the [ray] extra).")
@click.option("--force", is_flag=True, help="Rescan every work unit, even those a previous run completed.")
@click.option("--shard-index", type=click.IntRange(min=0), default=None, help="With --num-shards: scan only this job's subset (e.g. $SLURM_ARRAY_TASK_ID).")
@click.option("--num-shards", type=click.IntRange(min=1), default=None, help="Number of jobs sharing the inputs; run `scanner report OUT` once all are done.")
@click.option("--unit-mb", type=click.FloatRange(min=0, max=2**20, min_open=True), default=UNIT_BYTES / 2**20, show_default=True, help="Target MiB of text per Parquet work unit (row groups are never split).")
@click.option("--text-column", default="text", show_default=True)
@click.option("--id-column", default=None, help="Default: 'id' if present, else <shard>:<row>.")
@click.option("--source-column", default=None, help="Default: 'source' if present.")
@click.option("--url-column", default=None, help="Default: 'url' if present.")
@click.option("--no-langid", is_flag=True, help="Skip language identification (language 'und').")
@click.option("--tokens", "tokens", type=click.Choice(list(TOKEN_MODES)), default="estimate", show_default=True,
              help="Token counts for the filing table: estimate (tokenize --token-sample documents of the sample), exact (every document), off.")
@click.option("--token-sample", type=click.IntRange(min=2), default=SampleSpec.tokens, show_default=True,
              help="Estimate mode: how many of the human sample (by rank) are tokenized.")
@click.option("--tokenizer", default=DEFAULT_TOKENIZER, show_default=True, help="A Hugging Face tokenizer.json path, or the bundled o200k_base.")
@click.option("--engine", type=click.Choice(sorted(ENGINES)), default=DEFAULT_ENGINE, show_default=True,
              help="Matching engine; hyperscan (x86-64 Linux, pip install 'corpus-scanner[hyperscan]') gives identical results.")
@click.option(
    "--normalize",
    "normalize",
    default="default",
    show_default=True,
    metavar="LIST",
    help=f"Normalisation steps, comma-separated: {', '.join(STEPS)}; or none, default ({','.join(DEFAULT_STEPS)}), all.",
)
@click.option("--sample-size", type=click.IntRange(min=0), default=4000, show_default=True, help="Size of the human spot-check sample.")
@click.option("--sample-per-source", type=click.IntRange(min=0), default=0, show_default=True, help="Also keep a sample of this size per source.")
@click.option("--sample-seed", default=DEFAULT_SEED, show_default=True, help="Key of the sampling hash (recorded in the report).")
@click.option("--sample-text-chars", type=click.IntRange(min=1), default=1000, show_default=True, help="Characters of text kept per sampled document.")
@profile_option
@lang_option
@fail_option
@click.option("--strict", is_flag=True, help=f"Stop at the first shard with a rejected row or an error; exit {EXIT_STRICT}.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when stderr is a terminal).")
@click.option("--dry-run", is_flag=True, help="Print the plan (units, bytes, options digest, lexicon fingerprint) and the resolved options, and exit without writing.")
@config_option("scan")
@config_errors_exit_2
@_stops_on_signals
def scan(**params: Any) -> None:
    """Scan INPUTS (files, folders, globs or URIs of Parquet, JSONL(.gz/.zst), Arrow or HF datasets)."""
    settings = ScanSettings(**params)
    discovery = discover(list(settings.inputs))
    shards = discovery.shards
    if settings.num_shards is not None:
        shards = select_shards(shards, settings.shard_index, settings.num_shards)
    lexicon = load_lexicons(settings.lexicons)
    options = settings.scan_options()
    config = settings.run_config()
    if settings.dry_run:
        _print_plan(plan(shards, options, config), lexicon, options, discovery.skipped)
        return
    scanned = _run_with_progress(shards, lexicon, options, config, settings, discovery.skipped)
    if settings.num_shards is not None and settings.num_shards > 1:
        done = len(scanned.inputs)
        click.echo(
            f"job {settings.shard_index} of {settings.num_shards}: {done} of {len(shards)} shards scanned into {settings.out};"
            f" run `scanner report {settings.out}` when all jobs are done"
        )
        exit_if_incomplete(scanned.rejected_rows, len(scanned.errors), strict=settings.strict)  # a job array's dependency sees this job's own outcome
        return
    report = write_report(settings.out, settings.profile, settings.report_lang, threads=settings.workers or os.cpu_count() or 1)
    finish(report, settings.out, fail_on_check=settings.fail_on_check, strict=settings.strict)


@dataclass(frozen=True)
class ScanSettings:
    """Everything ``scanner scan`` was asked to do, as click (and ``-c FILE``) filled it in: the schema
    of the command. ``scan_options`` and ``run_config`` turn it into the library's configs."""

    inputs: tuple[str, ...]
    out: str
    lexicons: tuple[Path, ...]
    registry_path: Path | None
    policy_path: Path | None
    classifier: str | None
    classify: str
    annotate: bool
    workers: int | None
    executor: str
    force: bool
    shard_index: int | None
    num_shards: int | None
    unit_mb: float
    text_column: str
    id_column: str | None
    source_column: str | None
    url_column: str | None
    no_langid: bool
    tokens: str
    token_sample: int
    tokenizer: str
    engine: str
    normalize: str
    sample_size: int
    sample_per_source: int
    sample_seed: str
    sample_text_chars: int
    profile: str
    report_lang: str
    fail_on_check: bool
    strict: bool
    progress: bool | None
    dry_run: bool

    def __post_init__(self) -> None:
        if math.isnan(self.unit_mb):  # FloatRange lets NaN through: it compares false with both bounds
            msg = "nan is not a size"
            raise click.BadParameter(msg, param_hint="'--unit-mb'")
        if (self.shard_index is None) != (self.num_shards is None) or (self.num_shards is not None and self.shard_index >= self.num_shards):
            msg = f"--shard-index and --num-shards go together, with 0 <= index < count (got {self.shard_index} and {self.num_shards})"
            raise ConfigError(msg)

    def scan_options(self) -> ScanOptions:
        return ScanOptions(
            columns=Columns(text=self.text_column, id=self.id_column, source=self.source_column, url=self.url_column),
            langid=not self.no_langid,
            normalize=self.normalize,
            registry=load_registry(self.registry_path),
            policy=self.policy_path or default_policy(),
            classifier=self.classifier,
            classify=self.classify,
            sample=SampleSpec(size=self.sample_size, per_source=self.sample_per_source, seed=self.sample_seed, text_chars=self.sample_text_chars, tokens=self.token_sample),
            tokens=self.tokens,
            tokenizer=self.tokenizer if self.tokenizer == DEFAULT_TOKENIZER else str(Path(self.tokenizer).resolve()),
            engine=self.engine,
        )

    def run_config(self) -> RunConfig:
        command = shlex.join(["scanner", *sys.argv[1:]])
        return RunConfig(
            out=self.out, annotate=self.annotate, workers=self.workers, force=self.force, unit_bytes=int(self.unit_mb * 2**20), command=command, stop_on_rejection=self.strict
        )


def _print_plan(units: list[Shard], lexicon: Lexicon, options: ScanOptions, skipped: list[dict[str, str]]) -> None:
    """``--dry-run``: what a scan would do, as one JSON object on stdout."""
    plan_document = {
        "units": len(units),
        "files": len({u.label for u in units}),
        "bytes": sum(u.bytes for u in {u.label: u for u in units}.values()),
        "text_bytes_estimate": sum(u.work_bytes for u in units),
        "options_digest": options.digest(),
        "lexicon": {"name": lexicon.name, "version": lexicon.version, "terms": len(lexicon.terms), "fingerprint": lexicon.fingerprint},
        "options": {k: v for k, v in asdict(options).items() if k != "registry"} | {"registry": options.registry.describe()},
        "skipped": skipped,
        "plan": [{"unit": u.name, "file": u.label, "bytes": u.bytes, "row_groups": list(u.row_groups) if u.row_groups else None} for u in units],
    }
    click.echo(json.dumps(plan_document, ensure_ascii=False, indent=2, default=str))


def _run_with_progress(shards: list[Shard], lexicon: Lexicon, options: ScanOptions, config: RunConfig, settings: ScanSettings, skipped: list[dict[str, str]]) -> ShardStats:
    """Run the scan with a progress bar on stderr (when it is a terminal, or as ``--progress`` says)."""
    from tqdm import tqdm

    show = sys.stderr.isatty() if settings.progress is None else settings.progress
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

        return run_scan(shards, lexicon, options, config, on_progress, settings.executor, skipped)
