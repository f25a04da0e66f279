"""What the bundled default lexicon (and, with ``--classifier``, a model) decides on real text.

    python benchmarks/default_lexicon.py                      # the default lexicon and policy
    python benchmarks/default_lexicon.py --classifier default # plus the bundled classifier
    python benchmarks/default_lexicon.py --write              # also write lexicons/default/measured.json

Through the library (``Scanner.annotate``, the scan's own code path, default normalisation and policy),
on the corpora of ``../shared/data/corpora``:

- **clean references** (no label; ordinary text a filer would call clean): THUCNews (zh news),
  CLUECorpusSmall (zh web), the CMRC 2018 Wikipedia paragraphs as written (Simplified) and converted to
  Traditional with OpenCC ``s2t``, BBC News (en). Reported: the share of documents flagged (any hit)
  and unsafe (the policy's verdict). Target for the default: unsafe <= 1 %.
- **labelled**: COLD (zh offensive comments; ``meta.offensive_label``) per split, and Davidson's tweets
  (en; ``meta.class`` hate or offensive = unsafe, neither = safe). Reported: precision and recall
  of ``unsafe`` with 95 % Wilson intervals, and F1. COLD's train split is where the mined terms and the
  bundled classifier come from, so only ``test`` (and ``dev``, looked at while choosing) are held out.

Every figure is a count over whole corpora: no timing, so the machine's load does not matter.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pyarrow as pa

import scanner
from scanner.evidence.sampling import wilson_interval

REPO = Path(__file__).resolve().parents[1]
CLEAN = {
    "zh news (THUCNews)": ("zh_thucnews_cnews_val1000", None),
    "zh web (CLUECorpusSmall)": ("zh_cluecorpussmall_sample", None),
    "zh encyclopedia (CMRC 2018)": ("zh_cmrc2018_wikipedia_contexts", None),
    "zh encyclopedia, Traditional (CMRC 2018, OpenCC s2t)": ("zh_cmrc2018_wikipedia_contexts", "s2t"),
    "en news (BBC)": ("en_bbc_news", None),
}


def read_corpus(data: Path, name: str) -> list[dict]:
    with (data / "corpora" / f"{name}.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def decide(scanner_: scanner.Scanner, texts: list[str]) -> tuple[list[bool], list[bool]]:
    """(flagged, unsafe) per text, in batches of 8,192 as the scan reads them."""
    flagged, unsafe = [], []
    for start in range(0, len(texts), 8192):
        table = scanner_.annotate(pa.table({"text": texts[start : start + 8192]}))
        flagged += table["flagged"].to_pylist()
        unsafe += table["unsafe"].to_pylist()
    return flagged, unsafe


def share(values: list[bool]) -> float:
    return round(100 * sum(values) / len(values), 2) if values else 0.0


def agreement(predicted: list[bool], truth: list[bool]) -> dict:
    tp = sum(p and t for p, t in zip(predicted, truth))
    fp = sum(p and not t for p, t in zip(predicted, truth))
    fn = sum(t and not p for p, t in zip(predicted, truth))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "documents": len(truth), "unsafe_labelled": sum(truth), "tp": tp, "fp": fp, "fn": fn,
        "precision": round(precision, 4), "precision_interval_95": [round(x, 4) for x in wilson_interval(tp, tp + fp)],
        "recall": round(recall, 4), "recall_interval_95": [round(x, 4) for x in wilson_interval(tp, tp + fn)],
        "f1": round(f1, 4),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--lexicon", action="append", help="default: the bundled lexicon")
    parser.add_argument("--policy", help="default: the bundled policy")
    parser.add_argument("--classifier", help="a model, or 'default' for the bundled one")
    parser.add_argument("--write", action="store_true", help="write lexicons/default/measured.json")
    args = parser.parse_args()

    lexicon = scanner.load_lexicons(args.lexicon or [])
    options = {"tokens": "off"}
    if args.policy:
        options["policy"] = args.policy
    if args.classifier:
        options["classifier"] = args.classifier
    scanner_ = scanner.Scanner(lexicon, scanner.ScanOptions(**options))
    result: dict = {"lexicon": {"name": lexicon.name, "version": lexicon.version, "fingerprint": lexicon.fingerprint},
                    "classifier": args.classifier, "clean_unsafe_pct": {}, "clean_flagged_pct": {}, "labelled": {}}  # fmt: skip
    print(f"{'clean reference':<56} {'docs':>6} {'flagged %':>9} {'unsafe %':>8}")
    for label, (name, conversion) in CLEAN.items():
        texts = [r["text"] for r in read_corpus(args.data, name)]
        if conversion:
            import opencc

            converter = opencc.OpenCC(conversion)
            texts = [converter.convert(t) for t in texts]
        flagged, unsafe = decide(scanner_, texts)
        result["clean_flagged_pct"][label], result["clean_unsafe_pct"][label] = share(flagged), share(unsafe)
        print(f"{label:<56} {len(texts):>6} {share(flagged):>9.2f} {share(unsafe):>8.2f}")

    cold = read_corpus(args.data, "zh_cold_offensive_comments")
    davidson = read_corpus(args.data, "en_davidson_hate_offensive_tweets")
    labelled = {f"COLD {split}": [(r["text"], r["meta"]["offensive_label"] == 1) for r in cold if r["meta"]["split"] == split] for split in ("train", "dev", "test")}
    labelled["Davidson (en tweets)"] = [(r["text"], r["meta"]["class"] != "neither") for r in davidson]
    print(f"\n{'labelled (unsafe against the label)':<36} {'docs':>6} {'precision':>20} {'recall':>20} {'F1':>6}")
    for label, rows in labelled.items():
        _, unsafe = decide(scanner_, [text for text, _ in rows])
        m = agreement(unsafe, [truth for _, truth in rows])
        result["labelled"][label] = m
        p, r = m["precision_interval_95"], m["recall_interval_95"]
        print(f"{label:<36} {m['documents']:>6} {m['precision']:>6.3f} [{p[0]:.3f}, {p[1]:.3f}] {m['recall']:>6.3f} [{r[0]:.3f}, {r[1]:.3f}] {m['f1']:>6.3f}")
    if args.write:
        path = REPO / "lexicons" / "default" / "measured.json"
        path.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
