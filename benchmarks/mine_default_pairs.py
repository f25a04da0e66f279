"""Co-occurrence rules for the bundled default lexicon, mined from COLD's training split (issue 16, item 6).

    python benchmarks/mine_default_pairs.py            # mine on train, print the dev grid and the choice
    python benchmarks/mine_default_pairs.py --write    # also write lexicons/default/cold_pairs.tsv and
                                                       # its rows of lexicons/default/provenance.tsv

COLD's offensive comments are mostly stereotypes and insults written in ordinary words: a group name
(黑人, 河南人, 女的) or a word of a stereotype (懒, 素质, 偷) is not offensive alone, and the discourse
words are as common in anti-bias comments as in biased ones. Two of them within a few characters of
each other are much more precise. This script finds such pairs and writes them as high rules
``A&&B~K`` (docs/unsafe.md):

1. **Parts**: Han 2-4-grams of the normalised training comments (the scan's default normalisation, so
   Traditional text matches) in >= ``MIN_PART_DOCS`` comments, word-shaped (no particle or function
   word at an edge, as ``scanner lexicon tune --mine``), holding no discourse word (``DISCOURSE``:
   歧视, 种族主义, 偏见, 反对 ...: words of the debate, which anti-bias comments use as much as biased
   ones, so a rule never rests on them).
2. **Pairs**: two parts, neither holding the other, within ``K`` characters (the policy's gap: from the
   end of one hit to the start of the other, 0 if they overlap) in >= ``min_pos`` offensive training
   comments not marked by ``ANTI_BIAS``, with a Wilson lower bound (z 1.64) of their precision on train
   (marked comments counted as not offensive) >= ``min_lb``, firing in no
   document of the choice references (THUCNews, the even rows of CLUECorpusSmall and of the CMRC 2018
   paragraphs; the odd rows are held out) and in no comment the existing lexicon already decides
   (those are not counted as support; they would add nothing).
   A pair must be more precise than its more precise part alone by ``LIFT`` (恶心 with 然后 is
   恶心 alone, a word of ordinary text); a fragment (心人 of 恶心人) is no part (``CLOSED``).
3. **Redundancy**: a pair holding a longer pair's parts (黑人+懒 beside 黑人+懒惰, same comments) is kept
   once: pairs are taken by lower bound and kept only if they add an offensive training comment no kept
   pair covers.
4. **Choice on dev**: ``K``, ``min_pos`` and ``min_lb`` from a grid, by a rule fixed before any test
   measurement: the largest dev recall of the whole lexicon (existing terms + rules) with dev precision
   >= ``DEV_PRECISION`` read pessimistically (``ANTI_BIAS``: every comment about bias counted as not
   offensive; the existing lexicon has 0.725 so, 0.895 as labelled, and 0.806 on test).

Risk code of a rule: the COLD topic of most of its offensive training comments (race A2.1, region A2.4,
gender A2.5), else every topic with >= a third of them. COLD: thu-coai/COLDataset@a0c55a94, Apache-2.0
(lexicons/default/LICENSES/Apache-2.0-COLDataset.txt); only the train split's labels choose pairs, only
dev's choose thresholds; the test split is read by benchmarks/default_lexicon.py alone.

**Result (2026-12-07; not adopted).** Chosen on dev: K 20, min_pos 3, min_lb 0.70, 262 high rules
(by topic: A2.1 on 86, A2.4 on 109, A2.5 on 87; 20 carry two), dev precision 0.920 [0.902, 0.936],
recall 0.281 [0.266, 0.297] (pessimistic precision 0.796). Measured once on test with ``benchmarks/default_lexicon.py``: precision
0.765 [0.733, 0.794], recall 0.273 [0.254, 0.292] (before: 0.806, 0.138): the target (recall >= 0.20 at
precision >= 0.80) is not met. The rules added 303 true and 124 false positives on test, 99 of the 124
COLD "anti-bias" comments, which the ANTI_BIAS markers do not catch. Clean text: THUCNews 0.70 % (no
change), CLUECorpusSmall 0.48 -> 0.84 % (its held-out odd rows 1.28 %), CMRC 0.36 -> 0.45 % in
Simplified and Traditional, BBC 0.18 %. The lexicon was left as it was; ``--write`` rebuilds the
rejected set (then add ``cold_pairs.tsv`` to the manifest and run ``benchmarks/default_lexicon.py
--write``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
from collections import Counter, defaultdict
from itertools import product
from pathlib import Path

import pyarrow as pa
import tomllib

import scanner
from scanner.curate.mine import MineParams, word_shaped
from scanner.curate.tune import normalize_strings
from scanner.match.normalize import DEFAULT_STEPS, is_han

REPO = Path(__file__).resolve().parents[1]
OUT_TSV = REPO / "lexicons" / "default" / "cold_pairs.tsv"
PROVENANCE = REPO / "lexicons" / "default" / "provenance.tsv"
ORIGIN = "cold-train-pairs"

MIN_N, MAX_N = 2, 4
MIN_PART_DOCS = 8
MAX_WINDOW = 20
CLOSED = 0.8
"""A part whose longer n-gram holds this share of its training comments is a fragment (as ``--mine``)."""
LIFT = 0.05
"""A pair's precision must exceed that of its more precise part alone by this much: 恶心&&然后 is 恶心 alone."""
Z = 1.645
DISCOURSE = ("歧视", "种族", "偏见", "平等", "尊重", "反对", "地域黑", "刻板", "对立", "仇恨", "极端", "侮辱",
             "攻击", "喷子", "敏感", "政治正确", "主义", "言论", "引战", "挑起", "标签", "污名", "一概而论",
             "以偏概全", "不是所有", "不代表", "包容", "理性", "友善", "道歉")  # fmt: skip
"""Words of the debate about bias: anti-bias comments use them as much as biased ones."""
TOPIC_CODE = {"race": "A2.1", "region": "A2.4", "gender": "A2.5"}
GRID_WINDOW = (5, 10, 20)
GRID_MIN_POS = (3, 5, 8)
GRID_MIN_LB = (0.6, 0.7, 0.75, 0.8, 0.85, 0.9)
DEV_PRECISION = 0.79
"""Pessimistic dev precision a choice needs: 0.065 above the existing lexicon's 0.725 (its test precision is 0.806). No setting reached 0.80 once the LIFT and CLOSED rules were in."""
ANTI_BIAS = re.compile("歧视|偏见|平等|尊重|反对|刻板|一概而论|以偏概全|不是所有|地域黑|种族主义")
"""Markers of comments about bias. COLD's train and dev splits label most such comments offensive (train:
3,703 of 4,139), though many oppose the bias they name; its test split labels its anti-bias comments
safe. Mining counts a marked comment as not offensive, and the choice on dev reads precision the same
way ("pessimistic"), so a rule must be precise even if every comment about bias is anti-bias."""


def wilson_lb(pos: int, n: int, z: float = Z) -> float:
    if n == 0:
        return 0.0
    p = pos / n
    denominator = 1 + z * z / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - margin) / denominator


def read_corpus(data: Path, name: str) -> list[dict]:
    with (data / "corpora" / f"{name}.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def occurrences(text: str, parts: set[str] | None) -> list[tuple[str, int, int]]:
    """(part, start, end) of every Han n-gram of the text that is a part (every n-gram when None)."""
    out = []
    for i in range(len(text)):
        for n in range(MIN_N, MAX_N + 1):
            gram = text[i : i + n]
            if len(gram) < n or not is_han(gram[-1]):
                break
            if not is_han(gram[0]):
                break
            if parts is None or gram in parts:
                out.append((gram, i, i + n))
    return out


def pairs_in(text: str, parts: set[str]) -> dict[tuple[str, str], int]:
    """Every pair of distinct parts (sorted, neither holding the other) with its smallest gap <= MAX_WINDOW."""
    occ = occurrences(text, parts)
    best: dict[tuple[str, str], int] = {}
    for x in range(len(occ)):
        a, sa, ea = occ[x]
        for y in range(x + 1, len(occ)):
            b, sb, eb = occ[y]
            if sb - ea > MAX_WINDOW:
                break
            if a == b or a in b or b in a:
                continue
            gap = max(sb - ea, sa - eb, 0)
            key = (a, b) if a < b else (b, a)
            if gap < best.get(key, MAX_WINDOW + 1):
                best[key] = gap
    return best


def decided(scanner_: scanner.Scanner, texts: list[str]) -> list[bool]:
    unsafe: list[bool] = []
    for start in range(0, len(texts), 8192):
        unsafe += scanner_.annotate(pa.table({"text": texts[start : start + 8192]}))["unsafe"].to_pylist()
    return unsafe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--dev-precision", type=float, default=DEV_PRECISION)
    args = parser.parse_args()

    cold = read_corpus(args.data, "zh_cold_offensive_comments")
    split = {s: [r for r in cold if r["meta"]["split"] == s] for s in ("train", "dev")}
    norm = {s: normalize_strings([r["text"] for r in rows], DEFAULT_STEPS) for s, rows in split.items()}
    label = {s: [r["meta"]["offensive_label"] == 1 for r in rows] for s, rows in split.items()}
    marked = {s: [bool(ANTI_BIAS.search(t)) for t in texts] for s, texts in norm.items()}
    strict = {s: [y and not m for y, m in zip(label[s], marked[s])] for s in label}

    # The existing lexicon (without this script's file) decides some comments already.
    manifest = tomllib.loads((REPO / "lexicons" / "default" / "lexicon.toml").read_text(encoding="utf-8"))
    files = [str(REPO / "lexicons" / "default" / f["path"]) for f in manifest["files"] if f["path"] != OUT_TSV.name]
    base_lexicon = scanner.load_lexicons(files)
    base = scanner.Scanner(base_lexicon, scanner.ScanOptions(tokens="off"))
    covered = {s: decided(base, [r["text"] for r in rows]) for s, rows in split.items()}

    # 1. parts
    df: Counter = Counter()
    for text in norm["train"]:
        df.update({g for g, _, _ in occurrences(text, None)})
    shape = MineParams()
    parts = {
        g for g, n in df.items() if n >= MIN_PART_DOCS and word_shaped(g, shape) and not any(d in g for d in DISCOURSE)
    }
    # closed: a fragment (心人) whose longer n-gram (恶心人) holds CLOSED of its comments is not a part
    longer: dict[str, int] = {}
    for g in parts:
        for sub in {g[i:j] for i in range(len(g)) for j in range(i + MIN_N, len(g) + 1) if j - i < len(g)}:
            longer[sub] = max(longer.get(sub, 0), df[g])
    parts = {g for g in parts if longer.get(g, 0) < CLOSED * df[g]}
    # each part's own precision on train (marked comments not offensive), for the lift rule
    part_pos: Counter = Counter()
    part_all: Counter = Counter()
    for text, y in zip(norm["train"], strict["train"]):
        found = {g for g, _, _ in occurrences(text, parts)}
        part_all.update(found)
        if y:
            part_pos.update(found)
    print(f"parts: {len(parts):,} of {len(df):,} n-grams")

    # 2. pairs on train: per pair, the smallest gap per comment
    pair_docs: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for i, text in enumerate(norm["train"]):
        if covered["train"][i]:
            continue
        for key, gap in pairs_in(text, parts).items():
            pair_docs[key].append((i, gap))
    print(f"pairs within {MAX_WINDOW}: {len(pair_docs):,}")

    # reference veto: choice references (the odd rows of CLUE and CMRC are held out)
    refs = [r["text"] for r in read_corpus(args.data, "zh_thucnews_cnews_val1000")]
    refs += [r["text"] for k, r in enumerate(read_corpus(args.data, "zh_cluecorpussmall_sample")) if k % 2 == 0]
    refs += [r["text"] for k, r in enumerate(read_corpus(args.data, "zh_cmrc2018_wikipedia_contexts")) if k % 2 == 0]
    ref_gap: dict[tuple[str, str], int] = {}
    for text in normalize_strings(refs, DEFAULT_STEPS):
        for key, gap in pairs_in(text, parts).items():
            if gap < ref_gap.get(key, MAX_WINDOW + 1):
                ref_gap[key] = gap

    train_label = strict["train"]

    def mined(window: int, min_pos: int, min_lb: float) -> list[dict]:
        rows = []
        for key, docs in pair_docs.items():
            hit = [i for i, gap in docs if gap <= window]
            pos = sum(train_label[i] for i in hit)
            if pos < min_pos or ref_gap.get(key, MAX_WINDOW + 1) <= window:
                continue
            lb = wilson_lb(pos, len(hit))
            alone = max(part_pos[p] / part_all[p] for p in key)
            if lb >= min_lb and pos / len(hit) >= alone + LIFT:
                rows.append({"pair": key, "window": window, "pos": pos, "neg": len(hit) - pos, "lb": lb, "docs": hit})
        rows.sort(key=lambda r: (-r["lb"], -r["pos"], r["pair"]))
        kept, seen = [], set()
        for row in rows:
            new = {i for i in row["docs"] if train_label[i]} - seen
            if new:
                kept.append(row)
                seen |= new
        return kept

    def fires(rows: list[dict], texts: list[str]) -> list[bool]:
        rules = defaultdict(list)
        for row in rows:
            rules[row["pair"]].append(row["window"])
        out = []
        for text in texts:
            found = pairs_in(text, {p for row in rows for p in row["pair"]}) if rules else {}
            out.append(any(key in rules and gap <= min(rules[key]) for key, gap in found.items()))
        return out

    def score(predicted: list[bool], truth: list[bool]) -> tuple[float, float, int, int]:
        tp = sum(p and t for p, t in zip(predicted, truth))
        fp = sum(p and not t for p, t in zip(predicted, truth))
        return (tp / (tp + fp) if tp + fp else 0.0), tp / sum(truth), tp, fp

    def line(on: dict) -> tuple[float, float, float]:
        tp_, tr_, _, _ = score(on["train"], label["train"])
        dp, dr, _, _ = score(on["dev"], label["dev"])
        pp, pr, _, _ = score(on["dev"], strict["dev"])
        print(f"{tp_:>8.3f} {tr_:>8.3f} {dp:>7.3f} {dr:>7.3f} {pp:>7.3f} {pr:>7.3f}")
        return dp, dr, pp

    print(
        f"\n{'K':>3} {'pos':>4} {'lb':>5} {'rules':>6} {'train P':>8} {'train R':>8} {'dev P':>7} {'dev R':>7} {'pess P':>7} {'pess R':>7}"
    )
    print(f"{'existing lexicon':<21}", end="")
    line(covered)
    results = []
    for window, min_pos, min_lb in product(GRID_WINDOW, GRID_MIN_POS, GRID_MIN_LB):
        rows = mined(window, min_pos, min_lb)
        on = {s: [c or f for c, f in zip(covered[s], fires(rows, norm[s]))] for s in ("train", "dev")}
        print(f"{window:>3} {min_pos:>4} {min_lb:>5.2f} {len(rows):>6} ", end="")
        dp, dr, pp = line(on)
        results.append(((window, min_pos, min_lb), len(rows), dp, dr, pp))
    ok = [r for r in results if r[4] >= args.dev_precision]
    if not ok:
        msg = f"no setting reaches pessimistic dev precision {args.dev_precision}"
        raise SystemExit(msg)
    best = max(ok, key=lambda r: (r[3], -r[1]))
    (window, min_pos, min_lb), count, dp, dr, pp = best
    print(
        f"\nchosen: K {window}, min_pos {min_pos}, min_lb {min_lb}: {count} rules, dev P {dp:.3f} R {dr:.3f}, pessimistic P {pp:.3f}"
    )
    if not args.write:
        return
    write(mined(window, min_pos, min_lb), split["train"], ref_gap, (window, min_pos, min_lb))


def write(rows: list[dict], train: list[dict], ref_gap: dict, chosen: tuple) -> None:
    out = []
    for row in rows:
        topics = Counter(train[i]["meta"]["topic"] for i in row["docs"] if train[i]["meta"]["offensive_label"] == 1)
        total = sum(topics.values())
        top, n = topics.most_common(1)[0]
        codes = (
            [TOPIC_CODE[top]] if n * 2 > total else sorted(TOPIC_CODE[t] for t, c in topics.items() if c * 3 >= total)
        )
        a, b = row["pair"]
        term = f"{a}&&{b}~{row['window']}"
        note = (
            f"{ORIGIN}: COLD train pos {row['pos']} / neg {row['neg']} comments, lb {row['lb']:.3f}; topics "
            + ", ".join(f"{t} {c}" for t, c in topics.most_common())
        )
        out.append((term, ";".join(codes), row, note))
    with OUT_TSV.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["term", "category", "language", "severity", "note"])
        for term, codes, _, note in out:
            w.writerow([term, codes, "zh", "high", note])
    with PROVENANCE.open(encoding="utf-8", newline="") as f:
        lines = [line for line in f.read().splitlines() if line.split("\t")[1:2] != [ORIGIN]]
    k, p, lb = chosen
    for term, _, row, _ in out:
        how = f"mined pair rule (thu-coai/COLDataset train, Apache-2.0; K {k}, min_pos {p}, lb {lb} chosen on dev)"
        reason = f"COLD train (offensive_label) pos {row['pos']} / neg {row['neg']} comments not decided before, Wilson lb {row['lb']:.3f}; fires in no choice reference"
        lines.append("\t".join([term, ORIGIN, how, "high", "high", reason, "", "0", "0", "rule"]))
    PROVENANCE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {OUT_TSV} ({len(out)} rules) and {len(out)} rows of {PROVENANCE}")


if __name__ == "__main__":
    main()
