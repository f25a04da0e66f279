"""The filer's loop, end to end through the CLI, on a labelled corpus: how much a classifier trained on the
human spot check's verdicts lifts the unsafe figure on the corpus's other documents.

    python benchmarks/classifier_loop.py                                  # Davidson's tweets (en)
    python benchmarks/classifier_loop.py --corpus zh_cold_offensive_comments --label-field offensive_label --unsafe-value 1

Steps (each a ``scanner`` command, as a filer would run them; work files under ``--work``):

1. ``scanner scan CORPUS --out OUT --annotate`` with the default lexicon (the ids and texts only: labels are
   kept apart);
2. ``scanner sample export OUT`` (the 4,000-document human sample), the verdicts filled in from the labels
   as annotators would, ``scanner sample import OUT SHEET``;
3. ``scanner classifier train --from OUT -o MODEL``;
4. ``scanner scan CORPUS --out OUT2 --annotate --classifier MODEL`` (the same sample: it is order-free);
5. ``scanner evaluate`` of OUT (keywords only) and of OUT2 (keywords and the model) against the labels of
   the documents **outside** the human sample, which the model never saw.

Prints precision, recall and F1 of ``unsafe`` before and after. The labels play the annotators; nothing of
the corpus is copied into the repository.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def scanner_command(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True)
    if done.returncode not in (0, 5):
        sys.exit(f"scanner {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--corpus", default="en_davidson_hate_offensive_tweets")
    parser.add_argument("--label-field", default="class", help="field of meta holding the label")
    parser.add_argument("--safe-value", default="neither", help="the label's value for a safe document (others are unsafe)")
    parser.add_argument("--unsafe-value", default=None, help="instead of --safe-value: the value for an unsafe document")
    parser.add_argument("--sample-size", type=int, default=4000)
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / "work" / "classifier_loop")
    args = parser.parse_args()

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    rows = [json.loads(line) for line in (args.data / "corpora" / f"{args.corpus}.jsonl").read_text(encoding="utf-8").splitlines()]

    def unsafe(row: dict) -> bool:
        value = str(row["meta"][args.label_field])
        return value == args.unsafe_value if args.unsafe_value is not None else value != args.safe_value

    corpus = args.work / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    truth = {r["id"]: unsafe(r) for r in rows}
    common = ["--annotate", "--no-progress", "--tokens", "off", "--sample-size", str(args.sample_size)]

    before = args.work / "out-keywords"
    scanner_command("scan", str(corpus), "--out", str(before), *common)
    sheet = args.work / "sheet.csv"
    scanner_command("sample", "export", str(before), "--format", "csv", "-o", str(sheet))
    with sheet.open(encoding="utf-8-sig", newline="") as f:
        sample = list(csv.DictReader(f))
    filled = args.work / "verdicts.csv"
    with filled.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, ["doc_id", "verdict"])
        writer.writeheader()
        writer.writerows({"doc_id": r["doc_id"], "verdict": "fail" if truth[r["doc_id"]] else "pass"} for r in sample)
    scanner_command("sample", "import", str(before), str(filled))
    model = args.work / "own.ftz"
    print(scanner_command("classifier", "train", "--from", str(before), "-o", str(model)).strip())

    after = args.work / "out-classifier"
    scanner_command("scan", str(corpus), "--out", str(after), "--classifier", str(model), *common)
    sampled = {r["doc_id"] for r in sample}
    rest = args.work / "labels-outside-the-sample.csv"
    with rest.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, ["doc_id", "label"])
        writer.writeheader()
        writer.writerows({"doc_id": doc_id, "label": "fail" if bad else "pass"} for doc_id, bad in truth.items() if doc_id not in sampled)

    print(f"\n{args.corpus}: {len(rows)} documents, {sum(truth.values())} unsafe; trained on the {len(sampled)} of the human sample,")
    print(f"measured on the other {len(rows) - len(sampled)}")
    print(f"{'scan':<28} {'precision':>20} {'recall':>20} {'F1':>20}")
    results = {}
    for name, out in (("keywords (default lexicon)", before), ("keywords + own classifier", after)):
        scanner_command("evaluate", str(out), "--labels", str(rest))
        m = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))["unsafe"]
        results[name] = m
        cells = [f"{m[k]:.3f} [{m[k + '_interval_95'][0]:.3f}, {m[k + '_interval_95'][1]:.3f}]" for k in ("precision", "recall", "f1")]
        print(f"{name:<28} {cells[0]:>20} {cells[1]:>20} {cells[2]:>20}")
    (args.work / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
