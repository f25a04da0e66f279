"""Measure how often each blocked-keyword candidate fires on the shared corpora.

For every entry of the origin lists of the default lexicon (LDNOOBW ``en``/``zh``, BigScience
flagged words ``en``/``zh``) this computes its *document hit rate* -- the share of a corpus's
documents it hits -- with a naive reference implementation of the matching contract:

- a term whose first or last character is an ASCII letter/digit matches ASCII-case-insensitively,
  and at that end only on a word boundary (the neighbouring character is not an ASCII letter/digit,
  or is the edge of the text);
- every other term matches as an exact substring;
- a document is flagged when at least one term hits.

It writes ``lexicons/default/hit_rates.tsv`` (term, origin lists, lexicon file or
``excluded.tsv``, hit rate in % per corpus) and prints the flagged-document share per corpus
before curation (all origin entries) and after it (the terms listed by ``lexicon.toml``).
It also checks that every origin entry is either in the lexicon or in ``excluded.tsv`` and that
no lexicon term fires on more than 0.5 % of the documents of an ordinary corpus; the exit status
is 1 when a check fails.

Usage (from the repository root)::

    python benchmarks/lexicon_hit_rates.py [--data ../shared/data] [--update-excluded]

``--update-excluded`` rewrites the hit-rate columns of ``excluded.tsv`` from the measurement.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
ORIGIN_LISTS = {
    "ldnoobw/en": "lexicons/ldnoobw/en",
    "ldnoobw/zh": "lexicons/ldnoobw/zh",
    "bigscience/en": "lexicons/bigscience_flagged_words/flagged_words_en.txt",
    "bigscience/zh": "lexicons/bigscience_flagged_words/flagged_words_zh_only.txt",
}
ORDINARY_CORPORA = (
    "zh_thucnews_cnews_val1000",
    "zh_cluecorpussmall_sample",
    "zh_cmrc2018_wikipedia_contexts",
    "en_bbc_news",
)
LABEL_FIELDS = {"zh_cold_offensive_comments": "offensive_label", "en_davidson_hate_offensive_tweets": "class"}
ORDINARY_MAX_PCT = 0.5
EXCLUDED = "excluded.tsv"
DOC_SEPARATOR = "\x00"  # not an ASCII letter/digit and in no term: acts as a text edge
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def is_word_char(char: str) -> bool:
    """True for an ASCII letter or digit."""
    return char.isascii() and char.isalnum()


@dataclass
class Corpus:
    """All documents of one corpus joined into one string, with where each document starts."""

    name: str
    text: str
    folded: str  # ``text`` with ASCII letters lower-cased (same length, same offsets)
    starts: list[int]  # start offset of each document, plus a sentinel past the end
    labels: list[str] | None  # per-document label for corpora in LABEL_FIELDS

    @property
    def size(self) -> int:
        return len(self.starts) - 1


def load_corpus(path: Path) -> Corpus:
    """Read a JSONL corpus (one ``{"text": ..., "meta": ...}`` object per line)."""
    texts, labels = [], []
    label_field = LABEL_FIELDS.get(path.stem)
    with path.open(encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            texts.append(doc["text"])
            if label_field:
                labels.append(str(doc["meta"][label_field]))
    starts, offset = [], 0
    for text in texts:
        starts.append(offset)
        offset += len(text) + len(DOC_SEPARATOR)
    starts.append(offset)
    joined = DOC_SEPARATOR.join(texts)
    return Corpus(path.stem, joined, joined.translate(_ASCII_LOWER), starts, labels if label_field else None)


def hit_documents(term: str, corpus: Corpus) -> list[int]:
    """Indices of the documents of ``corpus`` in which ``term`` hits under the matching contract."""
    bounded_start, bounded_end = is_word_char(term[0]), is_word_char(term[-1])
    folded = bounded_start or bounded_end
    text = corpus.folded if folded else corpus.text
    needle = term.translate(_ASCII_LOWER) if folded else term
    # Only the end boundary is in the regex: a leading look-behind would disable the fast literal scan.
    pattern = re.compile(re.escape(needle) + ("(?![0-9a-z])" if bounded_end else ""))
    docs, pos = [], 0
    while match := pattern.search(text, pos):
        start = match.start()
        if bounded_start and start > 0 and is_word_char(text[start - 1]):
            pos = start + 1
            continue
        doc = bisect.bisect_right(corpus.starts, start) - 1
        docs.append(doc)
        pos = corpus.starts[doc + 1]  # one hit is enough: go on with the next document
    return docs


def read_lines(path: Path) -> list[str]:
    """Non-blank lines of a UTF-8 list, in order, duplicates removed."""
    lines = path.read_text(encoding="utf-8").split("\n")
    return list(dict.fromkeys(line for line in lines if line.strip()))


def read_origin_entries(data: Path) -> dict[str, list[str]]:
    """Every origin-list entry, mapped to the origin lists that hold it."""
    origins: dict[str, list[str]] = {}
    for origin, relative in ORIGIN_LISTS.items():
        for term in read_lines(data / relative):
            origins.setdefault(term, []).append(origin)
    return origins


def read_lexicon_files(lexicon_dir: Path) -> dict[str, list[str]]:
    """Terms of the lists named by ``lexicon.toml``, mapped to the files that hold them."""
    manifest = tomllib.loads((lexicon_dir / "lexicon.toml").read_text(encoding="utf-8"))
    files: dict[str, list[str]] = {}
    for spec in manifest["files"]:
        for term in read_lines(lexicon_dir / spec["path"]):
            files.setdefault(term, []).append(spec["path"])
    return files


def read_tsv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a tab-separated file."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None)
        return list(reader.fieldnames or []), list(reader)


def write_tsv(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    """Write rows as a tab-separated file with LF line ends."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, header, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def pct(count: int, total: int) -> str:
    """A share as a percentage with three decimals."""
    return f"{100 * count / total:.3f}"


def flagged_share_rows(
    corpora: list[Corpus], hits: dict[str, dict[str, list[int]]], before: list[str], after: list[str]
) -> list[str]:
    """Markdown table rows: flagged-document share per corpus (and label) before/after curation."""
    rows = []
    for corpus in corpora:
        flagged = {}
        for stage, terms in (("before", before), ("after", after)):
            flagged[stage] = set().union(*(hits[term][corpus.name] for term in terms))
        groups = [("all", range(corpus.size))]
        if corpus.labels:
            for label in sorted(set(corpus.labels)):
                members = [i for i, value in enumerate(corpus.labels) if value == label]
                groups.append((f"{LABEL_FIELDS[corpus.name]}={label}", members))
        for group, members in groups:
            members = set(members)
            cells = [pct(len(flagged[stage] & members), len(members)) for stage in ("before", "after")]
            rows.append(f"| {corpus.name} | {group} | {len(members)} | {cells[0]} % | {cells[1]} % |")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / ".." / "shared" / "data", help="shared data folder")
    parser.add_argument("--lexicon", type=Path, default=REPO / "lexicons" / "default", help="curated lexicon folder")
    parser.add_argument("--update-excluded", action="store_true", help="rewrite the hit-rate columns of excluded.tsv")
    args = parser.parse_args()

    corpora = [load_corpus(p) for p in sorted((args.data / "corpora").glob("*.jsonl"))]
    origins = read_origin_entries(args.data)
    in_lexicon = read_lexicon_files(args.lexicon)
    excluded_header, excluded = read_tsv(args.lexicon / EXCLUDED)
    excluded_terms = {row["term"] for row in excluded}

    measured = set(origins) | set(in_lexicon) | excluded_terms
    hits = {term: {c.name: hit_documents(term, c) for c in corpora} for term in measured}
    sizes = {c.name: c.size for c in corpora}

    rate_columns = [f"{c.name}_pct" for c in corpora]
    rows = []
    for term, term_origins in origins.items():
        row = {"term": term, "origin": ",".join(term_origins), "file": ",".join(in_lexicon.get(term, [EXCLUDED]))}
        row.update({f"{name}_pct": pct(len(hits[term][name]), sizes[name]) for name in sizes})
        rows.append(row)
    rows.sort(key=lambda r: (r["file"] == EXCLUDED, r["file"], r["term"]))
    write_tsv(args.lexicon / "hit_rates.tsv", ["term", "origin", "file", *rate_columns], rows)

    if args.update_excluded:
        for row in excluded:
            row.update({f"{name}_pct": pct(len(hits[row["term"]][name]), sizes[name]) for name in ORDINARY_CORPORA})
        write_tsv(args.lexicon / EXCLUDED, excluded_header, excluded)

    print(f"{len(origins)} origin entries, {len(in_lexicon)} in the lexicon, {len(excluded_terms)} excluded\n")
    print("| corpus | subset | docs | flagged before | flagged after |")
    print("|---|---|---:|---:|---:|")
    print("\n".join(flagged_share_rows(corpora, hits, list(origins), list(in_lexicon))))

    problems = [f"not in any origin list: {t}" for t in sorted(set(in_lexicon) - set(origins))]
    problems += [f"in the lexicon and in {EXCLUDED}: {t}" for t in sorted(set(in_lexicon) & excluded_terms)]
    unassigned = [t for t in origins if t not in in_lexicon and t not in excluded_terms]
    problems += [f"neither in the lexicon nor in {EXCLUDED}: {t}" for t in unassigned]
    problems += [f"{EXCLUDED} term not in any origin list: {t}" for t in sorted(excluded_terms - set(origins))]
    for term in in_lexicon:
        for name in ORDINARY_CORPORA:
            if 100 * len(hits[term][name]) / sizes[name] > ORDINARY_MAX_PCT:
                problems.append(f"lexicon term {term} hits {pct(len(hits[term][name]), sizes[name])} % of {name}")
    for problem in problems:
        print(f"CHECK FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
