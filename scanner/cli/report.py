"""``scanner report``: rebuild (and verify) the report of an output folder."""

from __future__ import annotations

import os
import sys

import click

from scanner.cli.common import (
    EXIT_DIFFERENCES,
    config_errors_exit_2,
    fail_option,
    finish,
    lang_option,
    profile_option,
)
from scanner.evidence.outfolder import OutputFolder
from scanner.report.build import write_report
from scanner.report.filing import filing_table_bytes
from scanner.report.verify import verify_report


@click.command()
@click.argument("out")
@profile_option
@lang_option
@fail_option
@click.option("--verify", is_flag=True, help="Recompute every figure from the shard files and fail (exit 1) on any difference.")
@click.option("--filing-table", "filing_format", type=click.Choice(["csv", "xlsx"]), default=None, help="Also write the corpus-scale table for the filing form to OUT/filing_table.<format>.")
@config_errors_exit_2
def report(out, profile, report_lang, fail_on_check, verify, filing_format) -> None:
    """Rebuild OUT/report.json, report.md and report.html from the shard statistics in OUT/shards (a path or a URI)."""
    if verify:
        differences = verify_report(out, profile)
        if differences:
            for line in differences[:50]:
                click.echo(click.style(f"differs: {line}", fg="red"), err=True)
            click.echo(click.style(f"report.json does not match its shard files ({len(differences)} differences)", fg="red", bold=True), err=True)
            sys.exit(EXIT_DIFFERENCES)
        click.echo("verified: report.json matches a recomputation from the shard files")
    result = write_report(out, profile, report_lang, threads=os.cpu_count() or 1)
    if filing_format:
        where = OutputFolder(out).write_attachment(f"filing_table.{filing_format}", filing_table_bytes(result["filing_table"], filing_format, report_lang))
        click.echo(f"filing table: {where}")
    finish(result, out, fail_on_check=fail_on_check)


