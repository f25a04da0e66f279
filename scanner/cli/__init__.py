"""The ``scanner`` command: a thin click layer over the library; the only place that prints."""

from __future__ import annotations

import functools
import importlib.abc
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

import click

from scanner.detect.source import load_registry
from scanner.detect.tokens import DEFAULT_TOKENIZER, TOKEN_MODES, check_tokenizer
from scanner.errors import ConfigError
from scanner.evidence.sampling import DEFAULT_SEED, SampleSpec
from scanner.io.discovery import discover_shards, select_shards
from scanner.io.readers import UNIT_BYTES, Columns
from scanner.io.storage import Folder, join
from scanner.lexicon.load import load_lexicons
from scanner.lexicon.taxonomy import DEFAULT_PROFILE, PROFILES
from scanner.match.engines import DEFAULT_ENGINE, ENGINES
from scanner.match.normalize import DEFAULT_STEPS, STEPS
from scanner.report.build import write_report
from scanner.report.filing import filing_table_bytes
from scanner.report.i18n import LANGUAGES
from scanner.report.verify import verify_report
from scanner.resources import no_collection_at_exit
from scanner.run.progress import Progress
from scanner.run.scan import run_scan
from scanner.run.unit import RunConfig
from scanner.scan import ScanOptions
from scanner.version import __version__

EXIT_CHECK_FAILED = 3
EXIT_STRICT = 4  # --strict: a row was rejected or a shard failed
EXIT_REJECTED = 5  # finished, but rows were rejected or shards failed
EXIT_INTERRUPTED = 130


def _config_errors_exit_2(func):
    """ConfigError -> a one-line message on stderr and exit code 2 (nothing was scanned)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ConfigError as e:
            raise click.UsageError(str(e)) from e

    return wrapper


@click.group()
@click.version_option(__version__, prog_name="scanner")
def cli() -> None:
    """Scan training corpora against blocked-keyword lexicons and report corpus-safety evidence."""


_profile_option = click.option("--profile", type=click.Choice(sorted(PROFILES)), default=DEFAULT_PROFILE, show_default=True, help="Thresholds of the standard.")
_lang_option = click.option("--report-lang", type=click.Choice(LANGUAGES), default="zh", show_default=True, help="Language of report.md and report.html.")
_fail_option = click.option("--fail-on-check", is_flag=True, help=f"Exit with code {EXIT_CHECK_FAILED} when any check fails.")


def _print_summary(report: dict) -> None:
    t = report["totals"]
    click.echo(
        f"{t['documents']} documents ({t['empty_documents']} empty), {t['flagged_documents']} flagged"
        f" ({100 * t['flagged_share']:.2f} %), {t['hits']} hits, {t['rejected_documents']} rows rejected"
    )
    lex = report["lexicon"]
    click.echo(f"lexicon {lex['name']} {lex['version']} ({lex['terms']} terms, fingerprint {lex['fingerprint'][:16]})")
    limit = report["checks"][0]["threshold"]
    width = max([len("source"), *(len(name) for name in report["by_source"])])
    click.echo(f"\n{'source':<{width}}  {'documents':>10}  {'flagged':>8}  {'share':>8}  verdict (<= {100 * limit:g} %)")
    for name, s in report["by_source"].items():
        verdict = click.style("pass", fg="green") if s["verdict"] == "pass" else click.style("FAIL", fg="red", bold=True)
        click.echo(f"{name:<{width}}  {s['documents']:>10}  {s['flagged_documents']:>8}  {100 * s['flagged_share']:>7.2f}%  {verdict}")
    click.echo("\nchecks:")
    colours = {"pass": "green", "fail": "red", "not-assessed": "yellow"}
    for check in report["checks"]:
        offending = f"  ({', '.join(check['offending'][:5])})" if check["offending"] else ""
        click.echo(f"  {check['id']:<22} {click.style(check['status'], fg=colours[check['status']])}{offending}")
    for error in report["errors"]:
        click.echo(click.style(f"error: {error['shard']}: {error['reason']}", fg="red"), err=True)
    if t["rejected_documents"]:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(report["rejected"].items()))
        click.echo(click.style(f"warning: {t['rejected_documents']} rows rejected ({reasons})", fg="yellow"), err=True)


def _finish(report: dict, out: str, fail_on_check: bool, strict: bool = False) -> None:
    """Print the summary, then exit: check failures (with --fail-on-check) first, then rejections."""
    _print_summary(report)
    click.echo(f"\nwrote {join(out, 'report.json')}, report.md and report.html")
    failed = [c["id"] for c in report["checks"] if c["status"] == "fail"]
    if fail_on_check and failed:
        click.echo(click.style(f"checks failed: {', '.join(failed)}", fg="red", bold=True), err=True)
        sys.exit(EXIT_CHECK_FAILED)
    _exit_if_incomplete(report["totals"]["rejected_documents"], len(report["errors"]), strict)


def _exit_if_incomplete(rejected: int, errors: int, strict: bool) -> None:
    """Exit 4 (``--strict``) or 5 when rows were rejected or shards failed."""
    if rejected or errors:
        click.echo(click.style(f"incomplete: {rejected} rows rejected, {errors} shards failed", fg="red" if strict else "yellow", bold=strict), err=True)
        sys.exit(EXIT_STRICT if strict else EXIT_REJECTED)


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out", required=True, help="Output folder: a path or a URI (s3://bucket/prefix, ...).")
@click.option("--lexicon", "lexicons", multiple=True, type=click.Path(exists=True, path_type=Path), help="Lexicon table, folder or lexicon.toml; repeatable. Default: the bundled lexicon.")
@click.option("--sources", "registry_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Source registry (sources.toml or .csv).")
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
@click.option("--tokens", "tokens", type=click.Choice(TOKEN_MODES), default="estimate", show_default=True,
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
@_profile_option
@_lang_option
@_fail_option
@click.option("--strict", is_flag=True, help=f"Stop at the first shard with a rejected row or an error; exit {EXIT_STRICT}.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when stderr is a terminal).")
@_config_errors_exit_2
def scan(inputs, out, lexicons, registry_path, annotate, workers, executor, force, shard_index, num_shards, unit_mb, text_column, id_column,
         source_column, url_column, no_langid, sample_size, sample_per_source, sample_seed, sample_text_chars, profile, report_lang,
         fail_on_check, strict, normalize, progress, tokens, token_sample, tokenizer, engine) -> None:
    """Scan INPUTS (files, folders, globs or URIs of Parquet, JSONL(.gz/.zst), Arrow or HF datasets)."""
    if math.isnan(unit_mb):  # FloatRange lets NaN through: it compares false with both bounds
        raise click.BadParameter("nan is not a size", param_hint="'--unit-mb'")
    if (shard_index is None) != (num_shards is None) or (num_shards is not None and shard_index >= num_shards):
        msg = f"--shard-index and --num-shards go together, with 0 <= index < count (got {shard_index} and {num_shards})"
        raise ConfigError(msg)
    shards = discover_shards(list(inputs))
    if num_shards is not None:
        shards = select_shards(shards, shard_index, num_shards)
    lexicon = load_lexicons(lexicons)
    options = ScanOptions(
        columns=Columns(text=text_column, id=id_column, source=source_column, url=url_column),
        langid=not no_langid,
        normalize=normalize,
        registry=load_registry(registry_path),
        sample=SampleSpec(size=sample_size, per_source=sample_per_source, seed=sample_seed, text_chars=sample_text_chars, tokens=token_sample),
        tokens=tokens,
        tokenizer=tokenizer if tokenizer == DEFAULT_TOKENIZER else str(Path(tokenizer).resolve()),
        engine=engine,
    )
    if tokens != "off" and options.tokenizer != DEFAULT_TOKENIZER:
        check_tokenizer(options.tokenizer)
    command = shlex.join(["scanner", *sys.argv[1:]])
    config = RunConfig(
        out=out, annotate=annotate, workers=workers, force=force, unit_bytes=int(unit_mb * 2**20), command=command, stop_on_rejection=strict
    )
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

        try:
            scanned = run_scan(shards, lexicon, options, config, on_progress, executor)
        except KeyboardInterrupt:
            click.echo(click.style("\ninterrupted: finished units are kept; partial ones were discarded", fg="yellow"), err=True)
            sys.exit(EXIT_INTERRUPTED)
    if num_shards is not None and num_shards > 1:
        done = len(scanned.inputs)
        click.echo(f"job {shard_index} of {num_shards}: {done} of {len(shards)} shards scanned into {out}; run `scanner report {out}` when all jobs are done")
        _exit_if_incomplete(scanned.rejected_rows, len(scanned.errors), strict)  # a job array's dependency sees this job's own outcome
        return
    _finish(write_report(out, profile, report_lang, threads=workers or os.cpu_count() or 1), out, fail_on_check, strict)


@cli.command()
@click.argument("out")
@_profile_option
@_lang_option
@_fail_option
@click.option("--verify", is_flag=True, help="Recompute every figure from the shard files and fail (exit 1) on any difference.")
@click.option("--filing-table", "filing_format", type=click.Choice(["csv", "xlsx"]), default=None, help="Also write the corpus-scale table for the filing form to OUT/filing_table.<format>.")
@_config_errors_exit_2
def report(out, profile, report_lang, fail_on_check, verify, filing_format) -> None:
    """Rebuild OUT/report.json, report.md and report.html from the shard statistics in OUT/shards (a path or a URI)."""
    if verify:
        differences = verify_report(out, profile)
        if differences:
            for line in differences[:50]:
                click.echo(click.style(f"differs: {line}", fg="red"), err=True)
            click.echo(click.style(f"report.json does not match its shard files ({len(differences)} differences)", fg="red", bold=True), err=True)
            sys.exit(1)
        click.echo("verified: report.json matches a recomputation from the shard files")
    result = write_report(out, profile, report_lang, threads=os.cpu_count() or 1)
    if filing_format:
        Folder(out).write_bytes((f"filing_table.{filing_format}",), filing_table_bytes(result["filing_table"], filing_format, report_lang))
        click.echo(f"filing table: {Folder(out).uri(f'filing_table.{filing_format}')}")
    _finish(result, out, fail_on_check)


@cli.group()
def sample() -> None:
    """Export the human spot-check sample for annotators and import their verdicts."""


@sample.command("export")
@click.argument("out")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: OUT/samples/human_sample.<format>.")
@click.option("--text-chars", type=click.IntRange(min=1), default=500, show_default=True, help="Truncate each text to this many characters.")
@click.option("--per-source", is_flag=True, help="Export the per-source samples (scan with --sample-per-source) instead.")
@click.option("--mask-pii", is_flag=True, help="Mask mobile numbers, ID-card numbers, e-mail addresses and bank-card numbers.")
@_config_errors_exit_2
def sample_export(out, fmt, output, text_chars, per_source, mask_pii) -> None:
    """Write the sample sheet: doc_id, source, language, text, terms, categories, verdict, category."""
    from scanner.evidence.outfolder import OutputFolder
    from scanner.evidence.sampling import per_source_samples
    from scanner.report.build import build_report
    from scanner.report.samples import merged_candidates, sample_spec
    from scanner.report.sheets import sheet_rows, write_sheet

    report, human = build_report(out)
    spec = sample_spec(report["options"])
    if per_source and not spec.per_source:
        msg = "this scan kept no per-source samples; scan again with --sample-per-source K"
        raise ConfigError(msg)
    chosen = per_source_samples(merged_candidates(OutputFolder(out), spec), spec) if per_source else human
    name = "per_source_sample" if per_source else "human_sample"
    data = write_sheet(sheet_rows(chosen, text_chars, mask_pii), fmt)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)
    else:
        Folder(out).write_bytes(("samples", f"{name}.{fmt}"), data)
    click.echo(f"wrote {chosen.num_rows} documents to {output or join(out, 'samples', f'{name}.{fmt}')}")


@sample.command("import")
@click.argument("out")
@click.argument("sheet", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_profile_option
@_lang_option
@_config_errors_exit_2
def sample_import(out, sheet, profile, report_lang) -> None:
    """Read annotators' verdicts (pass/fail, 合格/不合格) from SHEET and update the report."""
    from scanner.report.build import build_report
    from scanner.report.sheets import labels_document, read_verdicts

    _, human = build_report(out, profile)
    labels = read_verdicts(sheet, set(human["doc_id"].to_pylist()))
    Folder(out).write_json(("samples", "human_labels.json"), labels_document(labels, sheet))
    result = write_report(out, profile, report_lang)
    check = next(c for c in result["checks"] if c["id"] == "human-spot-check")
    low, high = check["interval_95"]
    click.echo(f"imported {len(labels)} verdicts: pass rate {100 * check['value']:.2f} % (95 % interval {100 * low:.2f}-{100 * high:.2f} %), status {check['status']}")


@cli.group()
def lexicon() -> None:
    """Audit and convert lexicons."""


@lexicon.command("audit")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@_profile_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_config_errors_exit_2
def lexicon_audit(path, profile, as_json) -> None:
    """Terms per category against the keyword-library rules, duplicates, never-matching and single-character terms."""
    from scanner.curate.audit import audit_lexicon

    audit = audit_lexicon(load_lexicons([path]), profile)
    if as_json:
        click.echo(json.dumps(audit, ensure_ascii=False, indent=2))
        return
    click.echo(f"{audit['name']} {audit['version']}: {audit['terms']} terms, fingerprint {audit['fingerprint']}")
    click.echo(f"keyword-library verdict ({profile}): {audit['verdict']}")
    for rule in audit["rules"]:
        mark = click.style("pass", fg="green") if rule["status"] == "pass" else click.style("fail", fg="red")
        click.echo(f"  {rule['rule']:<6} {rule['value']:>7} / {rule['threshold']:<6} {mark}")
    click.echo(f"duplicates: {len(audit['duplicates'])}")
    for dup in audit["duplicates"][:20]:
        click.echo(f"  {dup['term']}: {', '.join(dup['places'])}")
    for key, title in (("never_match", "never match"), ("hidden_characters", "hidden characters (deleted by the invisible step)")):
        click.echo(f"{title}: {len(audit[key])}")
        for item in audit[key][:20]:
            click.echo(f"  {item['term']!r}: {item['reason']}")
    for warning in audit["warnings"]:
        click.echo(click.style(f"warning: {warning}", fg="yellow"))


@lexicon.command("import")
@click.argument("wordlists", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--category", "categories", multiple=True, required=True, help="Risk code(s) of every word, e.g. A1.6; repeatable.")
@click.option("--language", default="", help="Language of the words, e.g. zh.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="TSV to write (term, category, language).")
@_config_errors_exit_2
def lexicon_import(wordlists, categories, language, output) -> None:
    """Convert plain word lists (one word per line) into a lexicon TSV; existing rows in OUTPUT are kept."""
    from scanner.lexicon.load import convert_wordlists

    written = convert_wordlists(list(wordlists), list(categories), language, output)
    click.echo(f"wrote {written} terms to {output}")


def hide_pandas_from_pyarrow(argv: list[str]) -> bool:
    """pyarrow imports pandas (~0.2 s) on its first conversion only to recognise pandas objects, which
    the scanner never hands it; with worker processes that import repeats in every worker and in the
    report step. So the command marks pandas as absent, unless it runs another executor than
    ``local`` (Ray Data converts through pandas). True if pandas was hidden."""
    executor = "local"
    for i, arg in enumerate(argv):
        if arg == "--executor" and i + 1 < len(argv):
            executor = argv[i + 1]
        elif arg.startswith("--executor="):
            executor = arg.split("=", 1)[1]
    if executor != "local" or "pandas" in sys.modules:
        return False
    sys.meta_path.insert(0, _PandasHidden())
    return True


class _PandasHidden(importlib.abc.MetaPathFinder):
    """Makes ``import pandas`` raise ImportError, which pyarrow takes for "pandas is not installed"."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            msg = "pandas is hidden from this scanner process (see hide_pandas_from_pyarrow)"
            raise ImportError(msg)


def main() -> None:
    """Console-script entry point (tests call ``cli`` so their process keeps pandas)."""
    hide_pandas_from_pyarrow(sys.argv[1:])
    no_collection_at_exit()
    cli()
