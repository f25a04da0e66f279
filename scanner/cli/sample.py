"""``scanner sample export|import``: the human spot-check sample for annotators and their verdicts."""

from __future__ import annotations

from pathlib import Path

import click

from scanner.cli.common import (
    config_errors_exit_2,
    lang_option,
    profile_option,
)
from scanner.errors import ConfigError
from scanner.evidence.outfolder import OutputFolder
from scanner.report.build import write_report
from scanner.report.sheets import FORMATS


@click.group()
def sample() -> None:
    """Export the human spot-check sample for annotators and import their verdicts."""


@sample.command("export")
@click.argument("out")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: OUT/samples/human_sample.<format>.")
@click.option("--text-chars", type=click.IntRange(min=1), default=500, show_default=True, help="Truncate each text to this many characters.")
@click.option("--per-source", is_flag=True, help="Export the per-source samples (scan with --sample-per-source) instead.")
@click.option("--mask-pii", is_flag=True, help="Mask mobile numbers, ID-card numbers, e-mail addresses and bank-card numbers.")
@config_errors_exit_2
def sample_export(out, fmt, output, text_chars, per_source, mask_pii) -> None:
    """Write the sample sheet: doc_id, source, language, text, terms, categories, verdict, category."""
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
    data = write_sheet(sheet_rows(chosen, text_chars, pii=mask_pii), fmt)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)
    else:
        output = OutputFolder(out).write_sample_sheet(f"{name}.{fmt}", data)
    click.echo(f"wrote {chosen.num_rows} documents to {output}")


@sample.command("import")
@click.argument("out")
@click.argument("sheet", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@profile_option
@lang_option
@config_errors_exit_2
def sample_import(out, sheet, profile, report_lang) -> None:
    """Read annotators' verdicts (pass/fail, 合格/不合格) from SHEET and update the report."""
    from scanner.report.build import build_report
    from scanner.report.sheets import labels_document, read_verdicts

    _, human = build_report(out, profile)
    labels = read_verdicts(sheet, set(human["doc_id"].to_pylist()))
    OutputFolder(out).write_labels(labels_document(labels, sheet))
    result = write_report(out, profile, report_lang)
    check = next(c for c in result["checks"] if c["id"] == "human-spot-check")
    low, high = check["interval_95"]
    click.echo(f"imported {len(labels)} verdicts: pass rate {100 * check['value']:.2f} % (95 % interval {100 * low:.2f}-{100 * high:.2f} %), status {check['status']}")


