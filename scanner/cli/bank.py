"""``scanner bank audit|export``: the filing's test-question banks against the profile, and in the attachment's shape."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from scanner.cli.common import (
    config_errors_exit_2,
    exit_if_checks_failed,
    fail_option,
    lang_option,
    listed,
    profile_option,
)
from scanner.match.normalize import parse_steps

BANK_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
STATUS_COLOURS = {"pass": "green", "fail": "red", "not-assessed": "yellow"}


@click.group()
def bank() -> None:
    """Audit and export test-question banks (generated-content, should-refuse and should-not-refuse)."""


def as_of_option(func):
    return click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="The date update intervals are judged at (default: today).")(func)


def print_checks(checks: list[dict]) -> None:
    """One line per check: id, status, value, and what failed (first few)."""
    for check in checks:
        value = check["value"]
        shown = "-" if value is None else (f"{100 * value:.2f} %" if isinstance(value, float) else str(value))
        interval = check.get("interval_95")
        if interval:
            shown += f" [{100 * interval[0]:.1f}-{100 * interval[1]:.1f} %]"
        offending = f"  ({listed(check['offending'])})" if check["status"] == "fail" and check["offending"] else ""
        click.echo(f"  {check['id']:<26} {click.style(check['status'], fg=STATUS_COLOURS[check['status']]):<21} {shown}{offending}")


@bank.command("audit")
@click.argument("banks", nargs=-1, required=True, type=BANK_FILE)
@click.option("--corpus", "corpus", default=None, metavar="OUT", help="A scan's output folder: list the questions that occur verbatim (after the scan's normalisation) in the corpus it scanned.")
@click.option("--lexicon", "lexicons", multiple=True, type=click.Path(exists=True, path_type=Path), help="The keyword attachment: also check its terms per risk and its manifest's `updated` date; repeatable.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Write bank_audit.json, bank_audit.md and bank_audit.html into this folder.")
@click.option("--normalize", default="default", show_default=True, metavar="LIST", help="Normalisation steps duplicates are judged under (the scan's).")
@as_of_option
@click.option("--json", "as_json", is_flag=True, help="Print bank_audit.json instead of the summary.")
@profile_option
@lang_option
@fail_option
@config_errors_exit_2
def bank_audit(banks, corpus, lexicons, out_dir, normalize, as_of, as_json, profile, report_lang, fail_on_check) -> None:
    """Count BANK questions (XLSX, CSV, JSONL or Parquet: question, bank, category or aspect) per bank, risk and
    aspect against the profile; list duplicates after normalisation, rows that cannot count, and questions
    found in a scanned training corpus."""
    from scanner.banks.bank import audit_banks, find_in_corpus, lexicon_updated, read_banks
    from scanner.banks.render import bank_audit_html, bank_audit_markdown
    from scanner.io.atomic import atomic_write_bytes, json_bytes
    from scanner.lexicon.load import load_lexicons

    read = read_banks(banks, parse_steps(normalize))
    contamination = find_in_corpus(read.questions, corpus) if corpus else None
    lexicon = {"describe": load_lexicons(list(lexicons)).describe(), "updated": {str(p): lexicon_updated(p) for p in lexicons}} if lexicons else None
    audit = audit_banks(read, profile, (as_of.date() if as_of else date.today()), contamination, lexicon)
    if out_dir is not None:
        for name, data in (("bank_audit.json", json_bytes(audit)), ("bank_audit.md", bank_audit_markdown(audit, report_lang).encode()), ("bank_audit.html", bank_audit_html(audit, report_lang).encode())):
            atomic_write_bytes(out_dir / name, data)
    if as_json:
        click.echo(json.dumps(audit, ensure_ascii=False, indent=2))
    else:
        for name, figures in audit["banks"].items():
            counted = "by_aspect" if name == "non-refuse" else "by_category"
            empty = sum(1 for n in figures[counted].values() if n == 0)
            click.echo(
                f"{name:<11} {figures['questions']:>6} questions ({figures['rows']} rows, {len(figures['duplicates'])} duplicated, {figures['problems']} row(s) that cannot count);"
                f" {empty} {'aspects' if counted == 'by_aspect' else 'risks'} without questions; updated {figures['updated'] or '-'}"
            )
        for problem in audit["problems"][:10]:
            click.echo(click.style(f"  {problem['row']}: {problem['problem']}", fg="yellow"))
        if len(audit["problems"]) > 10:
            click.echo(click.style(f"  ... and {len(audit['problems']) - 10} more rows that cannot count (bank_audit.json problems)", fg="yellow"))
        if audit["conflicts"]:
            click.echo(click.style(f"{len(audit['conflicts'])} question(s) in both the refuse and the non-refuse bank:", fg="yellow"))
            for conflict in audit["conflicts"][:10]:
                click.echo(click.style(f"  {' / '.join(conflict['rows'])}: {conflict['question'][:60]}", fg="yellow"))
            if len(audit["conflicts"]) > 10:
                click.echo(click.style(f"  ... and {len(audit['conflicts']) - 10} more (bank_audit.json conflicts)", fg="yellow"))
        if contamination is not None:
            searched = audit["contamination"]
            click.echo(f"corpus {corpus}: {searched['documents']} documents in {searched['shards']} input file(s) searched; {len(audit['contaminated'])} questions found in it")
        click.echo("checks:")
        print_checks(audit["checks"])
        if out_dir is not None:
            click.echo(f"wrote {out_dir / 'bank_audit.json'}, bank_audit.md and bank_audit.html")
    exit_if_checks_failed(audit["checks"], fail_on_check=fail_on_check)


@bank.command("export")
@click.argument("banks", nargs=-1, required=True, type=BANK_FILE)
@click.option("--format", "fmt", type=click.Choice(("xlsx", "csv")), default="xlsx", show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The file to write.")
@click.option("--normalize", default="default", show_default=True, metavar="LIST", help="Normalisation steps question ids derive from (the scan's).")
@config_errors_exit_2
def bank_export(banks, fmt, output, normalize) -> None:
    """Write the banks in the attachment's shape: one sheet per bank (生成内容测试题库（A.1-A.5）, 应拒答测试题库,
    非拒答测试题库) with Chinese headers; rows that cannot count are left out and listed."""
    from scanner.banks.bank import read_banks
    from scanner.banks.export import export_banks

    read = read_banks(banks, parse_steps(normalize))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(export_banks(read, fmt))
    counts = ", ".join(f"{name} {len(read.of(name))}" for name in ("generate", "refuse", "non-refuse") if read.of(name))
    click.echo(f"wrote {len(read.questions)} questions ({counts}) to {output}")
    for problem in read.problems:
        click.echo(click.style(f"left out {problem['row']}: {problem['problem']}", fg="yellow"), err=True)
