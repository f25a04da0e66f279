"""``scanner classifier train|evaluate``: a classifier trained on the filer's own verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import click

from scanner.cli.common import config_errors_exit_2
from scanner.curate.classifier import LabelFile, LabelledText, evaluate, read_labelled_texts, train
from scanner.detect.classifier import Classifier
from scanner.errors import ConfigError
from scanner.evidence.outfolder import OutputFolder
from scanner.evidence.sampling import per_source_samples
from scanner.report.build import build_report
from scanner.report.samples import merged_candidates, sample_spec

WEAK_MARGIN = 0.1
"""Training warns when the held-back F1 is less than this above the F1 of calling every document unsafe
(2p / (1 + p) for an unsafe share p): the verdicts (random, too few, or of mixed meanings) taught the
model little. (With half the documents unsafe that baseline is 0.667, so a plain F1 floor misses it.)"""


def all_unsafe_f1(documents: int, unsafe: int) -> float:
    """The F1 of a model that calls every one of ``documents`` unsafe."""
    share = unsafe / documents if documents else 0.0
    return 2 * share / (1 + share)


def _interval(bounds: list[float] | None) -> str:
    """A 95 % interval as printed: ``(0.712-0.764)``, or ``(no interval)`` without cases."""
    return f"({bounds[0]:.3f}-{bounds[1]:.3f})" if bounds else "(no interval)"


@click.group()
def classifier() -> None:
    """Train a fastText classifier on labelled texts or a scan's human verdicts, and evaluate it."""


def _verdict_texts(out: str) -> tuple[list[LabelledText], LabelFile]:
    """The human verdicts imported into OUT with their documents' texts (as the sample sheets hold them)."""
    folder = OutputFolder(out)
    stored = folder.labels()
    if not stored or not stored.get("labels"):
        msg = f"{out}: no human verdicts imported (scanner sample import) to train on"
        raise ConfigError(msg)
    report, human = build_report(out)
    texts = {row["doc_id"]: row["text"] for row in human.select(["doc_id", "text"]).to_pylist()}
    spec = sample_spec(report["options"])
    if spec.per_source:
        texts.update({row["doc_id"]: row["text"] for row in per_source_samples(merged_candidates(folder, spec), spec).select(["doc_id", "text"]).to_pylist()})
    labelled = [LabelledText(texts[v["doc_id"]], v["verdict"] == "fail", v.get("category") or "") for v in stored["labels"] if texts.get(v["doc_id"])]
    return labelled, LabelFile(f"{out} (human verdicts)", "", len(labelled), sum(t.unsafe for t in labelled))


@classifier.command("train")
@click.argument("labels", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The model to write (MODEL.json, its card, beside it).")
@click.option("--from", "from_out", default=None, help="Also train on the human verdicts imported into this scan's OUT.")
@click.option("--licence", "licences", multiple=True, help="Licence of each LABELS file, in order (recorded in the card).")
@click.option("--categories", is_flag=True, help="Train unsafe documents under their risk code, so the model names the risk.")
@click.option("--language", "languages", multiple=True, help="A language the model is for (zh, en ...; repeatable; 'any' for every language): scans score only documents of these. Default: the languages of at least 5 % of the training texts.")
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True)
@config_errors_exit_2
def classifier_train(labels, output, from_out, licences, categories, languages, threads) -> None:
    """Train on LABELS (CSV, XLSX, JSONL or Parquet with text, label and optionally category) and/or --from OUT."""
    if not labels and not from_out:
        msg = "give label files, --from OUT, or both"
        raise ConfigError(msg)
    texts, files = [], []
    for i, path in enumerate(labels):
        found, file = read_labelled_texts(path, licences[i] if i < len(licences) else "")
        texts += found
        files.append(file)
    if from_out:
        found, file = _verdict_texts(from_out)
        texts += found
        files.append(file)
    chosen = None if not languages else ([] if "any" in languages else list(languages))
    card = train(texts, output, files, categories=categories, threads=threads, languages=chosen)
    held = card["held_back"] or {}
    click.echo(f"trained on {card['training']['documents']} documents ({card['training']['unsafe']} unsafe); threshold {card['threshold']:.3f}")
    if held:
        click.echo(f"held back {held['documents']}: precision {held['precision'] or 0:.3f}, recall {held['recall'] or 0:.3f}, F1 {held['f1'] or 0:.3f}")
        baseline = all_unsafe_f1(held["documents"], held["unsafe"])
        if (held["f1"] or 0) < baseline + WEAK_MARGIN:
            click.echo(click.style(f"warning: held-back F1 {held['f1'] or 0:.3f} is hardly above {baseline:.3f}, that of calling every document unsafe: the model barely tells the labels apart; check the labels (and their number) before scanning with it", fg="yellow"), err=True)
    click.echo(f"for languages: {', '.join(card['languages']) or 'any'} ({card['languages_reason']})")
    click.echo(f"wrote {output} ({card['model_bytes']} bytes) and {output}.json")


@classifier.command("evaluate")
@click.argument("model")
@click.argument("labels", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--threshold", type=click.FloatRange(0, 1), default=None, help="Default: the model's own (its card).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@config_errors_exit_2
def classifier_evaluate(model, labels, threshold, as_json) -> None:
    """Precision, recall and F1 (95 % intervals) of MODEL (a path or 'default') on LABELS, a threshold sweep, recall per category."""
    texts = [t for path in labels for t in read_labelled_texts(path)[0]]
    result = evaluate(Classifier.load(model), texts, threshold)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    m = result["at_threshold"]
    click.echo(f"{m['documents']} documents ({m['unsafe']} unsafe), threshold {result['threshold']:.3f}")
    click.echo(f"precision {m['precision'] or 0:.3f} {_interval(m['precision_interval_95'])}, recall {m['recall'] or 0:.3f} {_interval(m['recall_interval_95'])}, F1 {m['f1'] or 0:.3f}")
    click.echo("threshold  precision  recall  F1")
    for row in result["sweep"]:
        click.echo(f"{row['threshold']:>9.2f}  {row['precision'] or 0:>9.3f}  {row['recall'] or 0:>6.3f}  {row['f1'] or 0:.3f}")
    for code, c in result["by_category"].items():
        click.echo(f"{code}: recall {c['recall']:.3f} of {c['unsafe']}")
