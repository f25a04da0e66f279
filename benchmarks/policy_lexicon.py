"""A lexicon that exercises the whole unsafe policy, for measuring what the policy costs a scan.

    python benchmarks/policy_lexicon.py benchmarks/work/lexicon_10k.tsv benchmarks/work/zh_400MB.parquet \
        -o benchmarks/work/lexicon_10k_policy.tsv
    python benchmarks/bench_revisions.py benchmarks/work/zh_400MB.parquet \
        --variant plain=WORKTREE:--lexicon,benchmarks/work/lexicon_10k.tsv \
        --variant policy=WORKTREE:--lexicon,benchmarks/work/lexicon_10k_policy.tsv -- --workers 1 --no-langid

The output keeps every term and category of the input and adds what a tuned lexicon holds:

- **severities**: a third of the terms ``medium`` and a sixth ``low`` (chosen by a hash of the term,
  so the choice is stable), the rest ``high``, so the medium-window rule runs on real hits;
- **allow rows**: for each of up to ``--allow`` terms that occur in the corpus, the term with the
  character before it in its first occurrence (what ``lexicon tune`` proposes: an enclosing word);
- **co-occurrence rules**: ``--rules`` pairs of terms that occur in the corpus, every other one with a
  window (``A&&B~50``).

Only the structure matters for cost; the verdicts it produces mean nothing. Reads the first
``--sample-mb`` MB of the corpus's ``text`` column to find occurrences.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
from pathlib import Path

import pyarrow.parquet as pq


def severity_of(term: str) -> str:
    bucket = hashlib.sha256(term.encode()).digest()[0] % 6
    return "medium" if bucket < 2 else "low" if bucket == 2 else "high"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lexicon", type=Path, help="TSV with term and category columns")
    parser.add_argument("corpus", type=Path, help="Parquet with a text column")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--allow", type=int, default=1000, help="allow rows to add")
    parser.add_argument("--rules", type=int, default=300, help="co-occurrence rules to add")
    parser.add_argument("--sample-mb", type=float, default=20.0)
    args = parser.parse_args()

    with args.lexicon.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    text, size = [], 0
    for batch in pq.ParquetFile(args.corpus).iter_batches(columns=["text"], batch_size=4096):
        for value in batch.column(0).to_pylist():
            text.append(value or "")
            size += len(value or "")
        if size > args.sample_mb * 1e6:
            break
    corpus = "\n".join(text)
    occurring = []
    for row in rows:
        at = corpus.find(row["term"])
        if at > 0 and not corpus[at - 1].isspace():
            occurring.append((row, at))
    allow = [{"term": corpus[at - 1] + row["term"], "category": "", "severity": "allow"} for row, at in occurring[: args.allow]]
    terms = [row["term"] for row, _ in occurring]
    rules = []
    for i in range(min(args.rules, len(terms) // 2)):
        first, second = terms[2 * i], terms[2 * i + 1]
        rules.append({"term": f"{first}&&{second}" + ("~50" if i % 2 else ""), "category": "A1.8", "severity": "high"})
    out = [{"term": r["term"], "category": r["category"], "severity": severity_of(r["term"])} for r in rows]
    with args.output.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, ["term", "category", "severity"], delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows([*out, *allow, *rules])
    print(f"{args.output}: {len(out)} terms, {len(allow)} allow rows, {len(rules)} co-occurrence rules ({len(occurring)} terms occur)")


if __name__ == "__main__":
    main()
