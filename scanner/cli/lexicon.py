"""``scanner lexicon audit|import|export|tune``: audit lexicons against the keyword-library rules, convert word lists, export the keyword attachment,
tune a lexicon on text known to be clean."""

from __future__ import annotations

import json
from collections import Counter
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
    """Audit, convert and tune lexicons."""


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
    click.echo("terms by severity: " + ", ".join(f"{severity} {count}" for severity, count in audit["terms_by_severity"].items()))
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
    click.echo(f"co-occurrence rules: {len(audit['cooccurrence_rules'])}")
    for rule in audit["cooccurrence_rules"][:20]:
        click.echo(f"  {rule['rule']} ({rule['severity']}; {', '.join(rule['categories'])})")
    click.echo(f"allow rows: {len(audit['allow'])}")
    for context in audit["allow"][:20]:
        click.echo(f"  {context}")
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
@click.option("--skip-bad-lines", is_flag=True, help="Leave out lines that are no valid term (control characters ...) and list them, instead of stopping at the first.")
@config_errors_exit_2
def lexicon_import(wordlists, categories, language, output, skip_bad_lines) -> None:
    """Convert plain word lists (one word per line) into a lexicon TSV; existing rows in OUTPUT are kept."""
    from scanner.lexicon.load import convert_wordlists

    written, skipped = convert_wordlists(list(wordlists), list(categories), language, output, skip_bad_lines=skip_bad_lines)
    click.echo(f"wrote {written} terms to {output}")
    if skipped:
        click.echo(f"skipped {len(skipped)} bad line{'s' if len(skipped) != 1 else ''}:", err=True)
        for message in skipped[:20]:
            click.echo(f"  {message}", err=True)
        if len(skipped) > 20:
            click.echo(f"  and {len(skipped) - 20} more", err=True)


@lexicon.command("export")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(("xlsx", "csv")), default="xlsx", show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The file to write.")
@config_errors_exit_2
def lexicon_export(paths, fmt, output) -> None:
    """The keyword attachment (拦截关键词列表): one row per term with its risk category names in Chinese, and a
    说明 sheet (name, version, fingerprint, updated, terms per risk)."""
    from scanner.banks.bank import lexicon_updated
    from scanner.banks.export import export_lexicon

    loaded = load_lexicons(list(paths))
    dates = [lexicon_updated(p) for p in paths]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(export_lexicon(loaded, fmt, min(dates) if all(dates) else None))
    click.echo(f"wrote {len(loaded.terms)} terms of {loaded.name} {loaded.version} to {output}")


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _echo_added(result) -> None:
    """The mined terms: counts, risk codes, and a warning to review them, with the most supported."""
    added = result.added
    severities = Counter(d.severity for d in added)
    categories = ", ".join(f"{code} {count:,}" for code, count in sorted(Counter(d.category for d in added).items()))
    click.echo(f"added {len(added):,} terms mined from the labels (high {severities['high']:,}, medium {severities['medium']:,}; categories: {categories or '-'})")
    if added:
        top = ", ".join(d.term for d in added[:10])
        warning = f"warning: mined terms follow how the labels were given, not what is risky in itself; review the add rows of {result.changes_path} before use (most supported: {top})"
        click.echo(click.style(warning, fg="yellow"), err=True)


@lexicon.command("tune")
@click.argument("lexicons", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--reference", "references", multiple=True, required=True, metavar="PATH",
              help="Text known to be clean: files, folders or globs, as `scanner scan` reads them; repeatable.")
@click.option("--labels", "labels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CSV, XLSX, JSONL or Parquet with text and label (pass/fail, 0/1, safe/unsafe, 合格/不合格, 通过/不通过), optionally category (a risk code).")
@click.option("--mine", is_flag=True, help="Also add new terms mined from the --labels documents (action add in changes.tsv; review them before use).")
@click.option("-o", "--output", "out_dir", required=True, metavar="DIR", type=click.Path(file_okay=False, path_type=Path), help="Folder for lexicon.tsv and changes.tsv.")
@click.option("--normalize", default="default", show_default=True, metavar="LIST", help="The scan's normalisation steps: terms are measured as the scan will match them.")
@click.option("--text-column", default="text", show_default=True, help="Text column of the references.")
@click.option("--policy", "policy_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The unsafe policy the estimates use, as `scanner scan --policy` (default: the bundled one).")
@config_errors_exit_2
def lexicon_tune(lexicons, references, labels_path, mine, out_dir, normalize, text_column, policy_path) -> None:
    """Propose per term (keep, demote, allow contexts, co-occurrence rules, drop) from how often it hits
    REFERENCE text known to be clean and, with --labels, how precise it is on labelled documents; with
    --mine, add new terms frequent and precise in the labelled documents and unseen in the references."""
    from scanner.curate.classifier import read_labelled_texts
    from scanner.curate.mine import MineParams
    from scanner.curate.tune import tune
    from scanner.detect.policy import default_policy
    from scanner.io.readers import Columns
    from scanner.scan import ScanOptions

    if mine and not labels_path:
        msg = "--mine needs --labels FILE: new terms are mined from labelled documents"
        raise click.UsageError(msg)
    labelled = read_labelled_texts(labels_path)[0] if labels_path else None
    options = ScanOptions(columns=Columns(text=text_column), normalize=parse_steps(normalize), policy=policy_path or default_policy())
    result = tune(list(lexicons), list(references), out_dir, options, labelled, mining=MineParams() if mine else None)
    refs = result.references
    click.echo(
        f"references: {result.files} files, {refs.documents:,} documents, {refs.chars:,} characters"
        f" ({refs.han_chars:,} Han, {refs.ascii_letters:,} ASCII letters)" + (f", {result.rejected_rows} rows rejected" if result.rejected_rows else "")
    )
    if labelled:
        click.echo(f"labels: {len(labelled):,} documents ({sum(t.unsafe for t in labelled):,} unsafe)")
    else:
        click.echo(click.style("no --labels: tuning only removes noise; without labels no term is judged risky, so an uncategorised list decides little", fg="yellow"))
    actions = ", ".join(f"{action} {count:,}" for action, count in result.actions().items())
    severities = ", ".join(f"{severity} {count:,}" for severity, count in result.severities().items())
    click.echo(f"{len(result.decisions):,} terms: {actions} (severity: {severities}); {result.allow_rows:,} allow rows, {result.rules:,} co-occurrence rules")
    if mine:
        _echo_added(result)
    for script, held in result.unmeasured_scripts.items():
        name = "Han characters" if script == "han" else "ASCII letters"
        click.echo(click.style(f"warning: the references hold {held:,} {name} (< 200,000): no term of that script was made high by default or by labels", fg="yellow"), err=True)
    click.echo("unsafe share of the references" + (" (labels: precision / recall of unsafe)" if labelled else "") + ":")
    rows = [("before tuning", result.before), ("tuned on them", result.after)]
    rows += [(f"held out, tuned on half {half + 1}", estimate) for half, estimate in enumerate(result.held_out)]
    for number, (name, estimate) in enumerate(rows):
        line = f"  {name:<27} {_share(estimate.unsafe_share):>7}"
        if labelled:
            line += f"   ({_share(estimate.precision)} / {_share(estimate.recall)})"
        if number >= 2 and len(estimate.by_file) > 1:
            worst, (documents, unsafe) = max(estimate.by_file.items(), key=lambda kv: kv[1][1] / max(kv[1][0], 1))
            line += f"; worst file {worst} {_share(unsafe / max(documents, 1))}"
        click.echo(line)
    mined = " and mined" if mine else ""
    click.echo(f"  (held out: tuned{mined} on one half of the documents, measured on the other; the tuned-on figure understates new text)")
    click.echo(f"wrote {result.lexicon_path} (scan with --lexicon) and {result.changes_path} (review)")
