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
from scanner.match.normalize import parse_steps


@click.group()
def lexicon() -> None:
    """Audit and convert lexicons."""


@lexicon.command("audit")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@profile_option
@click.option("--normalize", default="default", show_default=True, metavar="LIST", help="The scan's normalisation steps: terms are judged by what they become under them.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@config_errors_exit_2
def lexicon_audit(path, profile, normalize, as_json) -> None:
    """Terms per category against the keyword-library rules, duplicates, never-matching terms, and terms that
    are, after normalisation, a single character or a common word, empty, or the same as another term."""
    from scanner.curate.audit import audit_lexicon

    audit = audit_lexicon(load_lexicons([path]), profile, parse_steps(normalize))
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
    found = audit["normalized"]
    click.echo(f"under normalisation ({','.join(audit['normalize']) or 'none'}):")
    titles = {"single_character": "a single character", "common_word": "a common word", "empty": "empty (never match)", "same_form": "the same form as another term"}
    for key, title in titles.items():
        click.echo(f"  terms that become {title}: {len(found[key])}")
        for item in found[key][:20]:
            via = f" via {'+'.join(item['steps'])}" if item["steps"] else " as written"
            if key == "same_form":
                click.echo(f"    {item['form']!r}: {', '.join(map(repr, item['terms']))}{via}")
            else:
                rank = f" (rank {item['rank']} in {item['language']})" if key == "common_word" else ""
                click.echo(f"    {item['term']!r} -> {item.get('form', '')!r}{rank}{via}")


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


