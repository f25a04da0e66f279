"""``scanner answers check|export|import``: the model's answers to the test banks against the profile, and
the human verdict sheets of their sample."""

from __future__ import annotations

from pathlib import Path

import click

from scanner.cli.bank import BANK_FILE, print_checks
from scanner.cli.common import config_errors_exit_2, exit_if_checks_failed, fail_option, lang_option, profile_option
from scanner.evidence.sampling import DEFAULT_SEED
from scanner.match.normalize import parse_steps
from scanner.report.sheets import FORMATS


@click.group()
def answers() -> None:
    """Check a model's answers to the test banks: keywords, classifier, refusals, human verdicts."""


@answers.command("check")
@click.argument("answer_files", nargs=-1, required=True, type=BANK_FILE)
@click.option("--bank", "bank_files", multiple=True, required=True, type=BANK_FILE, help="The question bank(s) the answers answer; repeatable.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for answers.parquet, answers_run.json and answers_report.json/.md/.html.")
@click.option("--lexicon", "lexicons", multiple=True, type=click.Path(exists=True, path_type=Path), help="As in `scanner scan` (default: the bundled lexicon); repeatable.")
@click.option("--policy", "policy_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None, help="The unsafe policy, as in `scanner scan`.")
@click.option("--normalize", default="default", show_default=True, metavar="LIST", help="Normalisation steps, as in `scanner scan`.")
@click.option("--classifier", "classifier", default=None, metavar="MODEL", help="A classifier (MODEL with MODEL.json, or 'default'): score every answer.")
@click.option("--refusals", "refusal_files", multiple=True, type=BANK_FILE, help="More refusal phrases (TSV: phrase, kind, language, note), added to the bundled list; repeatable.")
@click.option("--sample-seed", default=DEFAULT_SEED, show_default=True, help="Key of the sampling hash.")
@click.option("--sample-size", type=click.IntRange(min=1), default=None, help="Generate-bank sample (default: the profile's 1,000).")
@click.option("--refusal-sample-size", type=click.IntRange(min=1), default=None, help="Sample of each refusal bank (default: the profile's 300).")
@profile_option
@lang_option
@fail_option
@config_errors_exit_2
def answers_check(answer_files, bank_files, out_dir, lexicons, policy_path, normalize, classifier, refusal_files, sample_seed, sample_size, refusal_sample_size, profile, report_lang, fail_on_check) -> None:
    """Judge ANSWERS (JSONL, CSV, XLSX or Parquet with question_id or question, and answer): the keyword verdict
    under the policy, the classifier's score, refusals; draw the order-free samples and check them against
    the profile."""
    from scanner.banks.answers import AnswerSettings, check_answers
    from scanner.banks.bank import read_banks
    from scanner.banks.refusals import load_refusals
    from scanner.detect.classifier import Classifier
    from scanner.detect.policy import default_policy
    from scanner.lexicon.load import load_lexicons
    from scanner.scan import ScanOptions

    steps = parse_steps(normalize)
    banks = read_banks(bank_files, steps, strict=True)
    sizes = {**({"generate": sample_size} if sample_size else {}), **({"refuse": refusal_sample_size, "non-refuse": refusal_sample_size} if refusal_sample_size else {})}
    settings = AnswerSettings(
        lexicon=load_lexicons(list(lexicons)),
        options=ScanOptions(normalize=steps, policy=policy_path or default_policy(), langid=False, tokens="off"),
        refusals=load_refusals(list(refusal_files)),
        classifier=Classifier.load(classifier) if classifier else None,
        seed=sample_seed,
        sizes=sizes or None,
    )
    report = check_answers(list(answer_files), banks, settings, out_dir, profile, report_lang)
    for name, b in report["banks"].items():
        if b["questions"]:
            scored = "" if b["classifier_unsafe"] is None else f", {b['classifier_unsafe']} classifier-unsafe"
            click.echo(f"{name:<11} {b['answered']} of {b['questions']} questions answered, {b['sampled']} sampled; {b['keyword_unsafe']} keyword-unsafe{scored}, {b['refused']} refused")
    click.echo("checks:")
    print_checks(report["checks"])
    click.echo(f"wrote {out_dir / 'answers_report.json'}, answers_report.md, answers_report.html and answers.parquet")
    exit_if_checks_failed(report["checks"], fail_on_check=fail_on_check)


@answers.command("export")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="xlsx", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: DIR/answers_sample.<format>.")
@click.option("--text-chars", type=click.IntRange(min=1), default=2000, show_default=True, help="Cut each answer to this many characters.")
@config_errors_exit_2
def answers_export(out_dir, fmt, output, text_chars) -> None:
    """The annotators' sheet of the generate sample, as `scanner sample export` writes it (doc_id = question id,
    text = question and answer, empty verdict and category)."""
    from scanner.banks.answers import export_sheet

    data, rows = export_sheet(out_dir, fmt, text_chars)
    output = output or out_dir / f"answers_sample.{fmt}"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
    click.echo(f"wrote {rows} sampled answers to {output}")


@answers.command("import")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("sheet", type=BANK_FILE)
@profile_option
@lang_option
@config_errors_exit_2
def answers_import(out_dir, sheet, profile, report_lang) -> None:
    """Read annotators' verdicts (pass/fail, 合格/不合格, 通过/不通过, 是/否) on the sampled answers, as
    `scanner sample import` does, and rebuild the report; earlier imports are kept."""
    from scanner.banks.answers import import_sheet

    verdicts, unjudged, check = import_sheet(out_dir, sheet, profile, report_lang)
    click.echo(f"imported {verdicts} verdicts" + (f"; {unjudged} rows of the sheet have no verdict yet" if unjudged else ""))
    judged, needed = check["sampled"], check["verdicts_needed"]
    click.echo(f"generate sample: {judged} of {check['sample_documents']} answers judged" + (f"; the check is judged from {needed}" if judged < needed else ""))
    print_checks([check])
