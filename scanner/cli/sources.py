"""``scanner sources init``: a source registry to start from, listing every source a scan found."""

from __future__ import annotations

from pathlib import Path

import click

from scanner.cli.common import config_errors_exit_2
from scanner.errors import ConfigError
from scanner.report.build import build_report
from scanner.report.sources_template import sources_template


@click.group()
def sources() -> None:
    """Work with the source registry (sources.toml)."""


@sources.command("init")
@click.argument("out")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The sources.toml to write.")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@config_errors_exit_2
def sources_init(out, output, force) -> None:
    """Write a registry template from the sources of the scan in OUT: names, the rule that attributes their
    documents, documents and bytes, origin guessed from the domain; type, licence and reference to fill in."""
    if output.exists() and not force:
        msg = f"{output} exists; pass --force to overwrite it"
        raise ConfigError(msg)
    report, _ = build_report(out)
    text = sources_template(report, out)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    unregistered = sum(1 for s in report["by_source"].values() if not s["registered"])
    click.echo(f"wrote {unregistered} sources to {output}; fill in type, licence and reference, then scan with --sources {output}")
