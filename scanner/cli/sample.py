"""``scanner sample export|import``: the human spot-check sample for annotators and their verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def _no_sample(out: str, report: dict[str, Any], *, size: int, per_source: bool) -> str:
    """Why the sample to export is empty: none was drawn, or there was nothing to draw from."""
    kind = "per-source sample" if per_source else "human sample"
    if not per_source and size == 0:
        return f"{out}: no human sample to export: the scan drew none (--sample-size 0); scan again with --sample-size N (the standard asks for 4,000)"
    t = report["totals"]
    return (
        f"{out}: no {kind} to export: the scan found no non-empty document to sample "
        f"({t['documents']} documents, {t['empty_documents']} empty, {t['rejected_documents']} rows rejected, {len(report['errors'])} shard errors)"
    )


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
    from scanner.report.build import build_report
    from scanner.report.samples import per_source_sample, sample_spec
    from scanner.report.sheets import sheet_rows, write_sheet

    report, human = build_report(out)
    spec = sample_spec(report["options"])
    if per_source and not spec.per_source:
        msg = "this scan kept no per-source samples; scan again with --sample-per-source K"
        raise ConfigError(msg)
    chosen = per_source_sample(OutputFolder(out), spec) if per_source else human
    if not chosen.num_rows:
        raise ConfigError(_no_sample(out, report, size=spec.size, per_source=per_source))
    name = "per_source_sample" if per_source else "human_sample"
    data = write_sheet(sheet_rows(chosen, text_chars, pii=mask_pii), fmt, title=name)
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
    """Read annotators' verdicts (pass/fail, 合格/不合格, 通过/不通过, 是/否) from SHEET, a sheet of
    the human or the per-source sample, filled in whole or in part, and update the report. Earlier
    imports are kept; a document judged again takes the later verdict."""
    from scanner.report.build import build_report
    from scanner.report.samples import sample_members, sample_spec
    from scanner.report.sheets import merge_labels, read_verdicts

    report, human = build_report(out, profile)
    folder = OutputFolder(out)
    members = sample_members(folder, sample_spec(report["options"]), human)
    read = read_verdicts(sheet, members)
    labels = [{**label, **members[label["doc_id"]]} for label in read.labels]
    folder.write_labels(merge_labels(folder.labels(), labels, sheet))
    result = write_report(out, profile, report_lang)
    check = next(c for c in result["checks"] if c["id"] == "human-spot-check")
    for line in _import_summary(len(labels), read.unjudged, check):
        click.echo(line)


def _import_summary(imported: int, unjudged: int, check: dict[str, Any]) -> list[str]:
    """What an import did and what is left: verdicts read, the sample judged so far, the check."""
    lines = [f"imported {imported} verdicts" + (f"; {unjudged} rows of the sheet have no verdict yet" if unjudged else "")]
    judged, documents, needed = check["sample_size"], check["sample_documents"], check["verdicts_needed"]
    progress = f"human sample: {judged} of {documents} documents judged, {documents - judged} remain"
    if check["status"] == "not-assessed" and needed > judged:
        progress += f"; the check is judged from {needed} verdicts ({needed - judged} more)"
    lines.append(progress)
    if check["per_source_labels"]:
        lines.append(f"per-source sample: {check['per_source_labels']} verdicts outside the human sample, kept for the per-source estimates (report.json by_source of human-spot-check)")
    status = check["status"]
    if check["borderline"]:
        settling = check["settling_sample_size"]
        settle = f"{settling} verdicts at this rate would settle it" if settling else "the rate equals it, so no sample size settles it"
        status += f" (borderline: the 95 % interval holds the {100 * check['threshold']:g} % threshold; {settle})"
    if check["value"] is None:
        lines.append(f"human-spot-check: {status}")
    else:
        low, high = check["interval_95"]
        lines.append(f"human-spot-check: {status}; pass rate {100 * check['value']:.2f} % (95 % interval {100 * low:.2f}-{100 * high:.2f} %)")
    return lines
