"""Disguised-keyword benchmark: recall per normalisation step, false positives on clean text, and cost.

Everything is built from real data in ``../shared/data`` (read at run time, nothing is copied):

- **Recall.** Real terms of the bundled default lexicon that come from the LDNOOBW and BigScience
  lists in shared/data are disguised by each step's method and inserted into real sentences of the
  ordinary corpora (zh: THUCNews, CMRC 2018 Wikipedia, CLUECorpusSmall; en: BBC news): full-width
  and compatibility forms (``nfkc``), Kelvin sign / long s / sharp s plus random ASCII case
  (``casefold``), zero-width and other invisible characters between letters (``invisible``),
  OpenCC ``s2t`` Traditional spellings (``t2s``), spaces, punctuation, symbols and emoji between Han
  characters (``separators``) and repeated characters (``repeats``). An insertion counts as found if
  the matcher reports a hit of that term overlapping the inserted span; ``exact`` if the hit covers
  exactly the span (the original substring is recoverable; with ``repeats`` or ``separators`` on, a
  hit may also take in a neighbouring repeated character or separator of the sentence). Target:
  >= 95 % per step.
- **Precision.** Flagged documents on the ordinary corpora (every record, unmodified) with each step
  and with the default set, against no normalisation. Target: a rise of <= 1 percentage point.
- **Cost.** ``Matcher.find`` and ``Scanner.stats_of`` (language ID off) over ~100 MB of Chinese text
  (the ``benchmarks/prepare.py`` corpus, built under ``--work`` if missing) with the default lexicon
  and the 10k benchmark lexicon, default steps against none. Target: <= 2x. Also the rejected
  designs: Arrow's ``utf8_normalize`` NFKC over the column, and OpenCC converting the text.

Usage::

    python benchmarks/bench_variants.py                  # all three parts
    python benchmarks/bench_variants.py --skip-timing    # recall and precision only (~1 min)
    python benchmarks/bench_variants.py --json results.json
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import scanner
from scanner.lexicon.terms import ascii_lower, is_ascii_alnum
from scanner.match.matcher import Matcher
from scanner.match.normalize import DEFAULT_STEPS, NFKC_KEPT, STEPS, is_han, term_steps

sys.path.insert(0, str(Path(__file__).resolve().parent))
import prepare  # the benchmark corpus builder beside this file

SEED = 20260601
CLEAN_CORPORA = {
    "zh": ["zh_thucnews_cnews_val1000", "zh_cmrc2018_wikipedia_contexts", "zh_cluecorpussmall_sample"],
    "en": ["en_bbc_news"],
}
TERM_LISTS = {
    "zh": ["ldnoobw/zh", "bigscience_flagged_words/flagged_words_zh_only.txt"],
    "en": ["ldnoobw/en", "bigscience_flagged_words/flagged_words_en.txt"],
}
INVISIBLES = ["\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff", "\ufe0f", "\u200e"]
SEPARATORS = [" ", "*", ".", "-", "_", "|", "/", "·", "~", "\u3000", "、", "，", "！", "#", "@", "&", "♥", "★", "🌸", "😂"]


# ------------------------------------------------------------------------------------------ inputs


def clean_texts(data: Path, lang: str) -> list[str]:
    texts = []
    for name in CLEAN_CORPORA[lang]:
        with open(data / "corpora" / f"{name}.jsonl", encoding="utf-8") as stream:
            texts += [json.loads(line)["text"] for line in stream]
    return texts


def real_terms(data: Path, lexicon: scanner.Lexicon, lang: str) -> list[str]:
    """Terms of the shared-data lists that the lexicon holds (by match key), as the lexicon writes them."""
    by_key = {t.match_key: t.text for t in lexicon.terms}
    listed = set()
    for name in TERM_LISTS[lang]:
        for line in (data / "lexicons" / name).read_text(encoding="utf-8").splitlines():
            term = line.strip()
            if term:
                listed.add(ascii_lower(term) if is_ascii_alnum(term[0]) or is_ascii_alnum(term[-1]) else term)
    return sorted(by_key[k] for k in listed if k in by_key)


# ------------------------------------------------------------------------------------------ disguises


def _nfkc_preimages() -> dict[str, list[str]]:
    """Character -> characters whose NFKC form is exactly it (full-width, math, circled, Kangxi ...)."""
    inverse: dict[str, list[str]] = {}
    for code in range(0x80, 0x30000):
        char = chr(code)
        if 0xD800 <= code < 0xE000 or char in NFKC_KEPT:
            continue
        image = unicodedata.normalize("NFKC", char)
        if image != char and len(image) == 1:
            inverse.setdefault(image, []).append(char)
    return inverse


class Disguiser:
    """One method per step; each returns the disguised term, or None if the term cannot take it."""

    def __init__(self, rng: random.Random) -> None:
        import opencc

        self.rng = rng
        self.compat = _nfkc_preimages()
        self.s2t = opencc.OpenCC("s2t")

    def nfkc(self, term: str) -> str | None:
        out = [self.rng.choice(self.compat[c]) if c in self.compat else c for c in term]
        return "".join(out) if out != list(term) else None

    def casefold(self, term: str) -> str | None:
        """Kelvin sign for k, long s for s, sharp s for ss (what case folding undoes), plus random
        ASCII case; None for terms without k or s."""
        foldable = {"k": "\u212a", "s": "\u017f"}
        if not any(c in foldable for c in term):
            return None
        if "ss" in term and self.rng.random() < 0.5:
            term = term.replace("ss", "ß", 1)
        out = [foldable[c] if c in foldable and self.rng.random() < 0.7 else c for c in term]
        if all(c not in foldable.values() and c != "ß" for c in out):
            out[next(i for i, c in enumerate(out) if c in foldable)] = foldable[next(c for c in out if c in foldable)]
        return "".join(c.upper() if c.isascii() and self.rng.random() < 0.3 else c for c in out)

    def invisible(self, term: str) -> str | None:
        if len(term) < 2:
            return None
        gaps = self.rng.sample(range(1, len(term)), k=self.rng.randint(1, len(term) - 1))
        out = "".join(c + ("".join(self.rng.choices(INVISIBLES, k=self.rng.randint(1, 2))) if i + 1 in gaps else "") for i, c in enumerate(term))
        return out

    def t2s(self, term: str) -> str | None:
        """OpenCC s2t spelling of a term written in Simplified (Traditional-written terms match as written)."""
        if "t2s" not in term_steps(term, ["t2s"]):
            return None
        converted = self.s2t.convert(term)
        return converted if converted != term else None

    def separators(self, term: str) -> str | None:
        gaps = [i for i in range(1, len(term)) if is_han(term[i - 1]) and is_han(term[i])]
        if not gaps:
            return None
        chosen = set(self.rng.sample(gaps, k=self.rng.randint(1, len(gaps))))
        return "".join(("".join(self.rng.choices(SEPARATORS, k=self.rng.randint(1, 2))) if i in chosen else "") + c for i, c in enumerate(term))

    def repeats(self, term: str) -> str | None:
        chosen = set(self.rng.sample(range(len(term)), k=self.rng.randint(1, min(2, len(term)))))
        return "".join(c * (1 + self.rng.randint(1, 3) if i in chosen else 1) for i, c in enumerate(term))


def insert(sentence: str, disguised: str, lang: str, rng: random.Random) -> tuple[str, int, int] | None:
    """``sentence`` with ``disguised`` inserted: between words (en) or at a position whose neighbours
    are not ASCII letters or digits (zh; None if there is none). Returns the text and the UTF-8 byte
    span of the insertion."""
    if lang == "en":
        words = sentence.split(" ")
        at = rng.randint(0, len(words))
        before = " ".join(words[:at]) + (" " if at else "")
        after = (" " if at < len(words) else "") + " ".join(words[at:])
    else:
        spots = [i for i in range(len(sentence) + 1) if (i == 0 or not is_ascii_alnum(sentence[i - 1])) and (i == len(sentence) or not is_ascii_alnum(sentence[i]))]
        if not spots:
            return None
        at = rng.choice(spots)
        before, after = sentence[:at], sentence[at:]
    start = len(before.encode())
    return before + disguised + after, start, start + len(disguised.encode())


def sentence_from(texts: list[str], lang: str, rng: random.Random) -> str:
    text = rng.choice(texts).replace("\n", " ")
    width = 60 if lang == "zh" else 300
    at = rng.randrange(max(1, len(text) - width))
    return text[at : at + width]


def build_cases(data: Path, lexicon: scanner.Lexicon, per_step: int) -> dict[str, list[dict]]:
    """``per_step`` disguised insertions per step: {step: [{term, text, start, end}]}."""
    rng = random.Random(SEED)
    disguiser = Disguiser(rng)
    texts = {lang: clean_texts(data, lang) for lang in CLEAN_CORPORA}
    terms = {lang: real_terms(data, lexicon, lang) for lang in TERM_LISTS}
    cases: dict[str, list[dict]] = {}
    for step in STEPS:
        method = getattr(disguiser, step)
        usable = [(lang, t) for lang in terms for t in terms[lang] if method(t) is not None]
        cases[step] = []
        while len(cases[step]) < per_step:
            lang, term = rng.choice(usable)
            disguised = method(term)
            if disguised is None:
                continue
            inserted = insert(sentence_from(texts[lang], lang, rng), disguised, lang, rng)
            if inserted is None:
                continue
            text, start, end = inserted
            cases[step].append({"term": term, "text": text, "start": start, "end": end, "lang": lang, "disguised": disguised})
    return cases


# ------------------------------------------------------------------------------------------ measurements


def recall(lexicon: scanner.Lexicon, cases: dict[str, list[dict]]) -> dict:
    """Per disguise type: share of insertions found (and found with the exact span) per setting."""
    settings = {"none": (), "step alone": None, "default": DEFAULT_STEPS, "all": STEPS}
    matchers = {steps: Matcher(lexicon, steps) for steps in {(), DEFAULT_STEPS, STEPS, *((s,) for s in STEPS)}}
    results = {}
    for step, items in cases.items():
        column = pa.array([c["text"] for c in items], pa.string())
        results[step] = {}
        for label, steps in settings.items():
            hits = matchers[(step,) if steps is None else steps].find(column)
            found, exact = np.zeros(len(items), dtype=bool), np.zeros(len(items), dtype=bool)
            for row, term, start, end in zip(hits.row.tolist(), hits.term.tolist(), hits.start.tolist(), hits.end.tolist()):
                case = items[row]
                if lexicon.terms[term].text == case["term"] and start < case["end"] and case["start"] < end:
                    found[row] = True
                    exact[row] |= (start, end) == (case["start"], case["end"])
            results[step][label] = {"found": float(found.mean()), "exact": float(exact.mean())}
            if label == "step alone":
                results[step]["missed_with_step"] = [c["disguised"] for c, f in zip(items, found) if not f][:5]
        results[step]["cases"] = len(items)
    return results


def shared_lists_lexicon(data: Path) -> scanner.Lexicon:
    """The LDNOOBW and BigScience lists of shared/data as they are (single characters such as 性 included)."""
    terms = []
    for names in TERM_LISTS.values():
        for name in names:
            terms += [(line.strip(), ["A1.6"]) for line in (data / "lexicons" / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return scanner.Lexicon.from_terms("ldnoobw+bigscience", "shared-data", terms)


def precision(data: Path, lexicon: scanner.Lexicon) -> dict:
    """Flagged share of the unmodified ordinary records per setting, and the rise over no normalisation."""
    settings = {"none": (), **{s: (s,) for s in STEPS}, "default": DEFAULT_STEPS, "all": STEPS}
    results = {}
    for lang in CLEAN_CORPORA:
        column = pa.array(clean_texts(data, lang), pa.string())
        flagged = {}
        new_terms = {}
        base_rows = None
        for label, steps in settings.items():
            hits = Matcher(lexicon, steps).find(column)
            rows = np.unique(hits.row)
            flagged[label] = len(rows) / len(column)
            if base_rows is None:
                base_rows = set(rows.tolist())
            extra = [(r, lexicon.terms[t].text) for r, t, m in zip(hits.row.tolist(), hits.term.tolist(), hits.steps.tolist()) if r not in base_rows and m]
            counts: dict[str, int] = {}
            for term in dict(extra).values():
                counts[term] = counts.get(term, 0) + 1
            new_terms[label] = sorted(counts.items(), key=lambda kv: -kv[1])[:5]
        results[f"{lang}, {lexicon.name}"] = {
            "documents": len(column),
            "flagged_share": flagged,
            "rise_pp": {label: 100 * (share - flagged["none"]) for label, share in flagged.items()},
            "newly_flagging_terms": new_terms,
        }
    return results


def _interleaved(repeats: int, jobs: dict) -> dict[str, float]:
    """Best time of each job, the jobs taking turns (the machine is shared: turns spread the noise)."""
    best = dict.fromkeys(jobs, float("inf"))
    for _ in range(repeats):
        for name, job in jobs.items():
            started = time.perf_counter()
            job()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def timing(work: Path, data: Path, size_mb: int, repeats: int) -> dict:
    """Seconds (best of ``repeats``) to match / scan ~``size_mb`` MB of Chinese text, and the ratios."""
    prepare.ensure(data, work, ["zh"], size_mb, log=lambda *_: None)
    table = pq.read_table(prepare.corpus_path(work, "zh", size_mb), columns=["text"])
    column = table["text"]
    text_mb = sum(c.nbytes for c in column.chunks) / 1e6
    results: dict = {"text_mb": round(text_mb, 1)}
    lexicons = {"default": scanner.load_lexicons(), "10k": scanner.load_lexicons([prepare.lexicon_path(work, "10k")])}
    for name, lexicon in lexicons.items():
        entry: dict = {}
        jobs = {}
        for label, steps in {"none": (), "default": DEFAULT_STEPS, "all": STEPS}.items():
            started = time.perf_counter()
            matcher = Matcher(lexicon, steps)
            entry[f"build_{label}_s"] = time.perf_counter() - started
            entry[f"patterns_{label}"] = matcher._term_patterns
            jobs[f"find_{label}_s"] = lambda m=matcher: m.find(column)
            if label != "all":
                s = scanner.Scanner(lexicon, scanner.ScanOptions(langid=False, normalize=steps))
                jobs[f"scan_{label}_s"] = lambda s=s: s.stats_of(table.to_batches(max_chunksize=8192))
        entry |= _interleaved(repeats, {k: v for k, v in jobs.items() if k != "find_all_s"})
        entry |= _interleaved(1, {"find_all_s": jobs["find_all_s"]})
        entry["find_ratio_default"] = entry["find_default_s"] / entry["find_none_s"]
        entry["find_ratio_all"] = entry["find_all_s"] / entry["find_none_s"]
        entry["scan_ratio_default"] = entry["scan_default_s"] / entry["scan_none_s"]
        results[name] = entry
    # Rejected designs, same column: Arrow NFKC over the whole column, OpenCC converting the text.
    combined = column.combine_chunks()
    results |= _interleaved(1, {"arrow_nfkc_s": lambda: pc.utf8_normalize(combined, "NFKC")})
    results["arrow_nfkc_changed_docs_share"] = pc.mean(pc.not_equal(pc.utf8_normalize(combined, "NFKC"), combined).cast(pa.int8())).as_py()
    import opencc

    converter = opencc.OpenCC("t2s")
    sample = combined.slice(0, 2000).to_pylist()
    sample_mb = sum(len(t.encode()) for t in sample) / 1e6
    seconds = _interleaved(1, {"t2s": lambda: [converter.convert(t) for t in sample]})["t2s"]
    results["opencc_t2s_mb_per_s"] = sample_mb / seconds
    results["opencc_t2s_extrapolated_s"] = text_mb / (sample_mb / seconds)
    return results


# ------------------------------------------------------------------------------------------ report


def print_report(out: dict) -> None:
    print(f"# bench_variants ({out['date']}, {out['machine']})\n")
    print("## Recall of disguised occurrences (found / exact span)\n")
    print("| step | cases | none | step alone | default | all |\n| --- | ---: | ---: | ---: | ---: | ---: |")
    for step, r in out["recall"].items():
        cells = " | ".join(f"{100 * r[k]['found']:.1f} % / {100 * r[k]['exact']:.1f} %" for k in ("none", "step alone", "default", "all"))
        print(f"| {step} | {r['cases']} | {cells} |")
    print("\n## Flagged documents on clean text (rise over none, percentage points)\n")
    labels = list(next(iter(out["precision"].values()))["flagged_share"])
    print("| lang | docs | " + " | ".join(labels) + " |\n| --- | ---: | " + " | ".join("---:" for _ in labels) + " |")
    for lang, p in out["precision"].items():
        cells = " | ".join(f"{100 * p['flagged_share'][k]:.2f} %" + ("" if k == "none" else f" ({p['rise_pp'][k]:+.2f})") for k in labels)
        print(f"| {lang} | {p['documents']} | {cells} |")
    for lang, p in out["precision"].items():
        for label, terms in p["newly_flagging_terms"].items():
            if terms:
                print(f"  {lang} {label}: newly flagged by {terms}")
    if "timing" in out:
        t = out["timing"]
        print(f"\n## Cost on {t['text_mb']} MB of Chinese text (best of runs, seconds)\n")
        print("| lexicon | patterns none/default | find none | find default | ratio | find all | ratio | scan none | scan default | ratio |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name in ("default", "10k"):
            e = t[name]
            print(f"| {name} | {e['patterns_none']}/{e['patterns_default']} | {e['find_none_s']:.2f} | {e['find_default_s']:.2f} | {e['find_ratio_default']:.2f}x"
                  f" | {e['find_all_s']:.2f} | {e['find_ratio_all']:.2f}x | {e['scan_none_s']:.2f} | {e['scan_default_s']:.2f} | {e['scan_ratio_default']:.2f}x |")
        print(f"\nrejected: Arrow utf8_normalize NFKC over the column {t['arrow_nfkc_s']:.2f} s (changes {100 * t['arrow_nfkc_changed_docs_share']:.1f} % of documents);"
              f" OpenCC t2s on the text {t['opencc_t2s_mb_per_s']:.1f} MB/s (~{t['opencc_t2s_extrapolated_s']:.1f} s for the corpus)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=prepare.DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_variants"), help="where the timing corpus is built")
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--per-step", type=int, default=500, help="disguised insertions per step")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    lexicon = scanner.load_lexicons()
    out = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.python_version()}, pyarrow {pa.__version__}",
        "lexicon": {"name": lexicon.name, "version": lexicon.version, "terms": len(lexicon.terms)},
        "recall": recall(lexicon, build_cases(args.data, lexicon, args.per_step)),
        "precision": precision(args.data, lexicon) | precision(args.data, shared_lists_lexicon(args.data)),
    }
    if not args.skip_timing:
        out["timing"] = timing(args.work, args.data, args.size_mb, args.repeats)
    print_report(out)
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
