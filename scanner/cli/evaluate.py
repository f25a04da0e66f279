"""``scanner evaluate``: precision and recall of flagged and unsafe against people's labels."""

from __future__ import annotations

from pathlib import Path

import click

from scanner.cli.common import config_errors_exit_2, lang_option, profile_option
from scanner.evidence.outfolder import OutputFolder
from scanner.report.build import write_report
from scanner.report.evaluate import document_signals, evaluate, labels_document, read_labels, verdict_labels


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


@click.command("evaluate")
@click.argument("out")
@click.option("--labels", "labels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CSV, XLSX, JSONL or Parquet with doc_id and label (pass/fail, 0/1, 合格/不合格), optional category. Default: the human verdicts imported into OUT.")
@profile_option
@lang_option
@config_errors_exit_2
def evaluate_command(out, labels_path, profile, report_lang) -> None:
    """Measure flagged and unsafe against labels: precision, recall, F1 with 95 % intervals, per source and category."""
    folder = OutputFolder(out)
    labels = read_labels(labels_path) if labels_path else verdict_labels(folder)
    options = folder.read_unit(folder.unit_names()[0]).document["run"]["options"] if folder.unit_names() else {}
    result = evaluate(labels, document_signals(folder, options, {label.doc_id for label in labels}))
    source = str(labels_path) if labels_path else "human verdicts"
    stored = labels_document(labels, source) if labels_path else {"source": source, "labels": []}
    where = folder.write_evaluation(stored, {"labels": {"source": source, "sha256": stored.get("sha256")}, **result})
    write_report(out, profile, report_lang)
    click.echo(f"{result['labelled']} labelled documents ({result['labelled_unsafe']} unsafe), from {source}")
    for signal in ("flagged", "unsafe"):
        m = result[signal]
        click.echo(f"  {signal:<8} precision {_percent(m['precision'])}  recall {_percent(m['recall'])}  F1 {_percent(m['f1'])}")
    if result["false_positive_terms"]:
        terms = ", ".join(f"{t['term']} ({t['documents']})" for t in result["false_positive_terms"][:10])
        click.echo(f"  terms behind most false positives: {terms}")
    click.echo(f"  labelled unsafe without any hit: {result['unsafe_without_hit']['documents']}")
    click.echo(f"wrote {where} and the report's evaluation section")
