"""``scanner lexicon audit|import``: audit lexicons against the keyword-library rules, convert word lists."""

from __future__ import annotations

import json
from pathlib import Path

import click

from scanner.cli.common import (
    config_errors_exit_2,
    profile_option,
)
from scanner.lexicon.load import load_lexicons


@click.group()
def lexicon() -> None:
    """Audit and convert lexicons."""


@lexicon.command("audit")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@profile_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@config_errors_exit_2
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
@config_errors_exit_2
def lexicon_import(wordlists, categories, language, output) -> None:
    """Convert plain word lists (one word per line) into a lexicon TSV; existing rows in OUTPUT are kept."""
    from scanner.lexicon.load import convert_wordlists

    written = convert_wordlists(list(wordlists), list(categories), language, output)
    click.echo(f"wrote {written} terms to {output}")


