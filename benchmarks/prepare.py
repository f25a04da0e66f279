"""Build the benchmark inputs in ``benchmarks/work/`` (gitignored) from the real data in ``../shared/data``.

Outputs (all deterministic for a given data folder, size and seed):

- ``zh_<N>MB.parquet`` / ``en_<N>MB.parquet``: documents of one language, columns ``id``, ``text``,
  ``source``, zstd-compressed, row groups of ``--row-group-rows`` rows. Consecutive texts of one
  source are joined with ``\\n`` into documents of about ``--doc-bytes`` bytes (tweets and Weibo
  comments are far shorter than a pretraining document); the resulting *base* documents are then
  tiled (each copy shuffled with its own seed, ids suffixed ``~<copy>``) until the text column holds
  ``--size-mb`` x 10^6 bytes. The file is streamed to disk one row group at a time.
- ``lexicon_1k.tsv``, ``lexicon_10k.tsv``, ``lexicon_100k.tsv`` (header ``term<TAB>category``):
  nested (1k in 10k in 100k). Real terms come first, in this order: LDNOOBW zh, LDNOOBW en,
  BigScience flagged words, Citizen Lab TOM-Skype/Sina UC blocked words. A real term is *pruned* if
  it occurs in more than ``--max-term-df`` of the base documents of either language (that removes
  ``性``, ``美国``, ``公司`` ... which would flag nearly every 3 KB document; a curated lexicon prunes
  them the same way). The rest is padding that looks like lexicon terms but occurs in no base
  document: Chinese terms of 2-6 characters spliced from two CJK n-grams taken from different
  places of the zh corpora, and English two-word phrases spliced from words of the en corpora.
  Hence every hit on the benchmark corpora comes from a real term, and the 10k lexicon flags a
  minority of the documents. Categories: real terms get a plausible GB/T 45654-2025 Appendix A code
  (Citizen Lab categories are mapped, see ``CITIZENLAB_CODES``); padding cycles through the 17
  A.1/A.2 codes. ``lexicon_<n>.provenance.tsv`` names each term's origin, and
  ``lexicons.json`` records counts and the flagged share on the base documents.
- ``mix_<N>MB.parquet`` (the *real mix*): every zh and en corpus, documents of log-normal sizes
  (median ``MIX_MEDIAN_BYTES``, clipped to ``MIX_MIN_BYTES``-``MIX_MAX_BYTES``; consecutive texts of one
  source joined until a document reaches its drawn size), a seeded third of the zh documents converted
  to Traditional with OpenCC ``s2t`` (source ``<source>_hant``), tiled like the others, all languages
  shuffled together. ``lexicon_houbb_10k.tsv``: a seeded sample of 10,000 terms of houbb's
  sensitive-word list (Apache-2.0; uncategorised, so the 17 A.1/A.2 codes are assigned in turn). The
  Citizen Lab list is never used for this case.

The Citizen Lab list is CC BY-NC-SA: it is read from the shared data folder at run time and the
generated lexicons live only in ``benchmarks/work/``; never commit them.

Usage::

    python benchmarks/prepare.py                      # zh + en at 400 MB, the three lexicons
    python benchmarks/prepare.py --size-mb 100 --lang zh
    python benchmarks/prepare.py --data /path/to/shared/data --force
    python benchmarks/prepare.py --lang mix               # the real mix and its houbb lexicon
"""

from __future__ import annotations

import argparse
import compileall
import csv
import glob
import json
import math
import random
import re
import sys
import time
from pathlib import Path

import ahocorasick_rs
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_WORK = REPO / "benchmarks" / "work"
SEED = 20240601
LEXICON_SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}
PARQUET_SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("source", pa.string())])

# The 17 A.1 / A.2 risks a keyword library must cover (GB/T 45654-2025 Appendix A).
PADDING_CODES = [f"A1.{i}" for i in range(1, 9)] + [f"A2.{i}" for i in range(1, 10)]
# Citizen Lab category -> our risk code (anything not listed: A1.8 "other prohibited content").
CITIZENLAB_CODES = {
    "Prurient Interests": "A1.6",
    "Victims of Crime / Violent Criminals": "A1.6",
    "Illicit Goods and Services": "A1.8",
    "Gambling": "A1.8",
    "Lottery": "A1.8",
    "Tiananmen Square (June 4 1989)": "A1.1",
    "Jasmine Revolution": "A1.1",
    "Dissident / Activist": "A1.1",
    "Protest": "A1.1",
    "Democracy (Chinese Democracy Movement)": "A1.1",
    "Charter 08": "A1.1",
    "Occupy movement": "A1.1",
    "Political Parties (Non-CPC)": "A1.1",
    "Human Rights": "A1.1",
    "Censorship": "A1.1",
    "CPC member / Gov official": "A1.2",
    "Communist Party of China (CPC)": "A1.2",
    "Government": "A1.2",
    "National Security": "A1.2",
    "Bo Xilai Scandal": "A1.2",
    "Corruption Scandals": "A1.2",
    "Relatives / Associates of Government Officials": "A1.2",
    "Jiang Zemin death rumour": "A1.7",
    "International relations": "A1.2",
    "Diaoyu / Senkaku islands protests": "A1.2",
    "Urumqi Riots": "A1.3",
    "Tibetan Self-immolations": "A1.3",
    "Inner Mongolia Protests": "A1.3",
    "Ethnic Groups": "A2.1",
    "Religion": "A2.2",
    "Chinese Doomsday Cult Arrests": "A1.4",
    "SARS and Other Diseases (AIDS, Avian Flu)": "A1.7",
    "Tainted Milk Scandal": "A1.7",
    "Wenzhou Train Crash": "A1.7",
    "Online novels": "A3.1",
    "Business": "A3.5",
    "Company Name": "A3.5",
    "Domestic relations": "A4.7",
}
# The real mix: document sizes (UTF-8 bytes) drawn log-normal and clipped to 0.3-60 KB. Whole texts
# often overshoot a small draw (news articles are ~2 KB), so a drawn median of 1.5 KB gives documents
# of median 2.05 KB (mean 3.0 KB; 10 % under 0.6 KB, 1 % over 16 KB).
MIX_MEDIAN_BYTES = 1500
MIX_SIGMA = 1.0
MIX_MIN_BYTES, MIX_MAX_BYTES = 300, 60_000
MIX_TRADITIONAL_SHARE = 1 / 3
HOUBB_TERMS = 10_000
HOUBB_PATH = Path("lexicons") / "houbb_sensitive_word" / "dict_v20240407.txt"
_CJK = re.compile(r"[\u4e00-\u9fff]+")
_WORD = re.compile(r"[a-z]{3,12}")
_BAD_TERM_CHARS = re.compile(r'[\t\r\n"\x00-\x1f\x7f]')


# ----------------------------------------------------------------------------------------------- corpora


def base_documents(data: Path, lang: str, doc_bytes: int = 3000) -> list[dict[str, str]]:
    """Join consecutive texts of one source (file order) into documents of >= ``doc_bytes`` bytes."""
    files = sorted(glob.glob(str(data / "corpora" / f"{lang}_*.jsonl")))
    if not files:
        sys.exit(f"error: no {lang}_*.jsonl corpora under {data / 'corpora'} (pass --data)")
    docs: list[dict[str, str]] = []
    for file in files:
        parts: list[str] = []
        size, source, first_id = 0, None, None

        def flush() -> None:
            nonlocal parts, size, first_id
            if parts:
                docs.append({"id": f"{first_id}+{len(parts)}", "text": "\n".join(parts), "source": source})  # noqa: B023 - the loop's current source, read at each call
            parts, size, first_id = [], 0, None

        with open(file, encoding="utf-8") as stream:
            for line in stream:
                record = json.loads(line)
                if record["source"] != source:
                    flush()
                    source = record["source"]
                if first_id is None:
                    first_id = record["id"]
                parts.append(record["text"])
                size += len(record["text"].encode()) + 1
                if size >= doc_bytes:
                    flush()
        flush()
    return docs


def mix_documents(data: Path, seed: int = SEED) -> list[dict[str, str]]:
    """The real mix's base documents: every zh and en corpus in file order, consecutive texts of one
    source joined while that brings the document closer to its drawn size (log-normal, see ``MIX_*``); then a
    seeded third of the zh documents converted to Traditional (OpenCC ``s2t``, source ``<source>_hant``).
    """
    files = sorted(glob.glob(str(data / "corpora" / "zh_*.jsonl"))) + sorted(glob.glob(str(data / "corpora" / "en_*.jsonl")))
    if not files:
        sys.exit(f"error: no corpora under {data / 'corpora'} (pass --data)")
    rng = random.Random(seed)

    def draw() -> int:
        return int(min(MIX_MAX_BYTES, max(MIX_MIN_BYTES, rng.lognormvariate(math.log(MIX_MEDIAN_BYTES), MIX_SIGMA))))

    docs: list[dict[str, str]] = []
    for file in files:
        lang = Path(file).name.split("_", 1)[0]
        parts: list[str] = []
        size, source, first_id, target = 0, None, None, draw()
        with open(file, encoding="utf-8") as stream:
            for line in stream:
                record = json.loads(line)
                length = len(record["text"].encode()) + 1
                # A text joins the document if that brings it closer to its drawn size (else it opens the next).
                if parts and (record["source"] != source or (size + length / 2 > target and size >= MIX_MIN_BYTES)):
                    docs.append({"id": f"{first_id}+{len(parts)}", "text": "\n".join(parts), "source": source, "lang": lang})
                    parts, size, first_id, target = [], 0, None, draw()
                source = record["source"]
                first_id = first_id or record["id"]
                parts.append(record["text"])
                size += length
        if parts:
            docs.append({"id": f"{first_id}+{len(parts)}", "text": "\n".join(parts), "source": source, "lang": lang})
    import opencc

    s2t = opencc.OpenCC("s2t")
    zh = [i for i, d in enumerate(docs) if d["lang"] == "zh"]
    for i in random.Random(seed + 1).sample(zh, round(len(zh) * MIX_TRADITIONAL_SHARE)):
        docs[i] = {"id": docs[i]["id"] + "-hant", "text": s2t.convert(docs[i]["text"]), "source": docs[i]["source"] + "_hant", "lang": "zh"}
    return [{key: d[key] for key in ("id", "text", "source")} for d in docs]


def houbb_lexicon_path(work: Path) -> Path:
    return work / "lexicon_houbb_10k.tsv"


def houbb_lexicon(data: Path, work: Path, seed: int = SEED, terms: int = HOUBB_TERMS) -> Path:
    """``lexicon_houbb_10k.tsv``: a seeded sample of ``terms`` distinct terms of houbb's list (kept in
    the list's order), categories the 17 A.1/A.2 codes in turn. Terms a TSV cannot hold are skipped."""
    path = houbb_lexicon_path(work)
    words = list(dict.fromkeys(t for t in _read_lines(data / HOUBB_PATH) if not _BAD_TERM_CHARS.search(t)))
    keys: dict[str, int] = {}
    for i, word in enumerate(words):
        keys.setdefault(match_key(word), i)  # the scanner folds terms with ASCII ends: keep one of each key
    chosen = sorted(random.Random(seed).sample(sorted(keys.values()), terms))
    work.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("term\tcategory\n")
        out.writelines(f"{words[i]}\t{PADDING_CODES[k % len(PADDING_CODES)]}\n" for k, i in enumerate(chosen))
    return path


def corpus_path(work: Path, lang: str, size_mb: int) -> Path:
    return work / f"{lang}_{size_mb}MB.parquet"


def write_corpus(path: Path, docs: list[dict[str, str]], size_mb: int, row_group_rows: int, seed: int) -> dict:
    """Tile shuffled copies of ``docs`` until the text holds ``size_mb`` x 10^6 bytes; stream row groups."""
    target = size_mb * 1_000_000
    sizes = [len(d["text"].encode()) for d in docs]
    tmp = path.with_suffix(".parquet.tmp")
    rows = total = copy = 0
    buffer: dict[str, list[str]] = {"id": [], "text": [], "source": []}
    with pq.ParquetWriter(tmp, PARQUET_SCHEMA, compression="zstd", use_dictionary=["source"]) as writer:

        def write_buffer() -> None:
            writer.write_table(pa.table(buffer, schema=PARQUET_SCHEMA), row_group_size=row_group_rows)
            for column in buffer.values():
                column.clear()

        while total < target:
            order = list(range(len(docs)))
            random.Random(seed * 1000 + copy).shuffle(order)
            for i in order:
                if total >= target:
                    break
                buffer["id"].append(f"{docs[i]['id']}~{copy}")
                buffer["text"].append(docs[i]["text"])
                buffer["source"].append(docs[i]["source"])
                total += sizes[i]
                rows += 1
                if len(buffer["id"]) == row_group_rows:
                    write_buffer()
            copy += 1
        if buffer["id"]:
            write_buffer()
    tmp.replace(path)
    return {"path": path.name, "rows": rows, "text_bytes": total, "copies": copy, "file_bytes": path.stat().st_size}


# ----------------------------------------------------------------------------------------------- lexicons


def _read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def real_terms(data: Path) -> list[tuple[str, str, str]]:
    """(term, category, origin) of the real lists, in priority order, before pruning."""
    lexicons = data / "lexicons"
    terms = [(t, "A1.6", "ldnoobw/zh") for t in _read_lines(lexicons / "ldnoobw" / "zh")]
    terms += [(t, "A1.6", "ldnoobw/en") for t in _read_lines(lexicons / "ldnoobw" / "en")]
    terms += [(t, "A1.6", "bigscience") for t in _read_lines(lexicons / "bigscience_flagged_words" / "flagged_words_zh.txt")]
    with open(lexicons / "citizenlab_tomskype_sinauc" / "blocked-words.csv", encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream):
            codes = sorted({CITIZENLAB_CODES.get(c.strip(), "A1.8") for c in row["category"].split(";") if c.strip()})
            terms.append((row["word"].strip(), ";".join(codes) or "A1.8", f"citizenlab:{row['word_id']}"))
    return terms


def match_key(term: str) -> str:
    """The scanner's de-duplication key: ASCII-lowered when either end is an ASCII letter/digit."""
    folded = any(c.isascii() and c.isalnum() for c in (term[0], term[-1]))
    return term.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")) if folded else term


def document_frequency(terms: list[str], texts: list[str]) -> np.ndarray:
    """In how many of ``texts`` each term occurs (plain substring of the ASCII-lowered text)."""
    patterns = [t.lower().encode() for t in terms]
    automaton = ahocorasick_rs.BytesAhoCorasick(patterns, matchkind=ahocorasick_rs.MATCHKIND_STANDARD)
    counts = np.zeros(len(terms), dtype=np.int64)
    for text in texts:
        found = automaton.find_matches_as_indexes(text.lower().encode(), overlapping=True)
        if found:
            counts[np.unique(np.fromiter((m[0] for m in found), dtype=np.int64, count=len(found)))] += 1
    return counts


def flagged_share(terms: list[str], texts: list[str]) -> float:
    automaton = ahocorasick_rs.BytesAhoCorasick([t.lower().encode() for t in terms])
    flagged = sum(1 for text in texts if automaton.find_matches_as_indexes(text.lower().encode(), overlapping=True))
    return flagged / len(texts)


def _zh_candidates(texts: list[str], rng: random.Random, count: int) -> list[str]:
    """Chinese terms of 2-6 characters made of two CJK n-grams from two random places of the corpora."""
    runs = [run for text in texts for run in _CJK.findall(text) if len(run) >= 3]
    lengths, weights = [2, 3, 4, 5, 6], [0.25, 0.30, 0.25, 0.12, 0.08]
    out = []
    for _ in range(count):
        length = rng.choices(lengths, weights)[0]
        left = rng.randint(1, min(3, length - 1))
        pieces = []
        for piece_len in (left, length - left):
            run = rng.choice(runs)
            while len(run) < piece_len:
                run = rng.choice(runs)
            start = rng.randrange(len(run) - piece_len + 1)
            pieces.append(run[start : start + piece_len])
        out.append("".join(pieces))
    return out


def _en_candidates(texts: list[str], rng: random.Random, count: int) -> list[str]:
    """Two-word English phrases whose words come from two random places of the corpora."""
    words = [w for text in texts for w in _WORD.findall(text.lower())]
    return [f"{rng.choice(words)} {rng.choice(words)}" for _ in range(count)]


def build_lexicons(data: Path, work: Path, max_term_df: float, seed: int, doc_bytes: int) -> dict:
    started = time.perf_counter()
    zh_texts = [d["text"] for d in base_documents(data, "zh", doc_bytes)]
    en_texts = [d["text"] for d in base_documents(data, "en", doc_bytes)]
    all_texts = zh_texts + en_texts

    # Real terms: drop unusable cells, de-duplicate by the scanner's key, prune the too-common ones.
    seen: set[str] = set()
    candidates = []
    for term, category, origin in real_terms(data):
        if not term or _BAD_TERM_CHARS.search(term) or match_key(term) in seen:
            continue
        seen.add(match_key(term))
        candidates.append((term, category, origin))
    words = [t for t, _, _ in candidates]
    zh_df, en_df = document_frequency(words, zh_texts), document_frequency(words, en_texts)
    share = np.maximum(zh_df / len(zh_texts), en_df / len(en_texts))
    real = [c for c, s in zip(candidates, share) if s <= max_term_df]
    pruned = len(candidates) - len(real)

    # Padding: spliced candidates that occur in no base document, zh:en = 3:1, in a seeded order.
    needed = max(LEXICON_SIZES.values()) - len(real)
    rng = random.Random(seed)
    padding: list[tuple[str, str, str]] = []
    want = {"zh": needed - needed // 4, "en": needed // 4}
    for lang, maker, texts in (("zh", _zh_candidates, zh_texts), ("en", _en_candidates, en_texts)):
        kept: list[str] = []
        while len(kept) < want[lang]:
            fresh = []
            for term in maker(texts, rng, int((want[lang] - len(kept)) * 1.3) + 100):
                if match_key(term) not in seen:
                    seen.add(match_key(term))
                    fresh.append(term)
            df = document_frequency(fresh, all_texts)
            kept += [t for t, n in zip(fresh, df) if n == 0][: want[lang] - len(kept)]
        padding += [(t, "", f"padding/{lang}") for t in kept]
    # Interleave zh and en padding deterministically, then assign the 17 A.1/A.2 codes in turn.
    rng.shuffle(padding)
    padding = [(t, PADDING_CODES[i % len(PADDING_CODES)], o) for i, (t, _, o) in enumerate(padding)]
    ordered = real + padding

    summary = {
        "seed": seed,
        "max_term_df": max_term_df,
        "base_documents": {"zh": len(zh_texts), "en": len(en_texts)},
        "real_terms_read": len(candidates),
        "real_terms_pruned": pruned,
        "real_terms_kept": len(real),
        "lexicons": {},
    }
    work.mkdir(parents=True, exist_ok=True)
    for label, size in LEXICON_SIZES.items():
        chosen = ordered[:size]
        path = work / f"lexicon_{label}.tsv"
        with open(path, "w", encoding="utf-8", newline="") as out:
            out.write("term\tcategory\n")
            out.writelines(f"{t}\t{c}\n" for t, c, _ in chosen)
        with open(work / f"lexicon_{label}.provenance.tsv", "w", encoding="utf-8", newline="") as out:
            out.write("term\torigin\n")
            out.writelines(f"{t}\t{o}\n" for t, _, o in chosen)
        origins: dict[str, int] = {}
        for _, _, origin in chosen:
            key = origin.split(":")[0]
            origins[key] = origins.get(key, 0) + 1
        terms = [t for t, _, _ in chosen]
        summary["lexicons"][label] = {
            "path": path.name,
            "terms": len(chosen),
            "origins": origins,
            "flagged_share_base_docs": {"zh": round(flagged_share(terms, zh_texts), 4), "en": round(flagged_share(terms, en_texts), 4)},
        }
    summary["seconds"] = round(time.perf_counter() - started, 1)
    (work / "lexicons.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return summary


def precompile(package: Path) -> None:
    """Write the bytecode of a package's modules, as ``pip install`` does, so timed processes load it
    instead of compiling every module from source. With ``PYTHONDONTWRITEBYTECODE=1`` (set on the
    machine these benchmarks ran on) an editable install never caches bytecode: each scanner process
    compiled its 26 modules, ~60 ms, where the one-file minimal pipeline compiles almost nothing.
    Python still reads bytecode under that setting, and recompiles (in memory) a module edited since."""
    compileall.compile_dir(str(package), quiet=1)


def lexicon_path(work: Path, label: str) -> Path:
    return work / f"lexicon_{label}.tsv"


def ensure(data: Path, work: Path, langs: list[str], size_mb: int, *, force: bool = False, doc_bytes: int = 3000,
           row_group_rows: int = 65536, max_term_df: float = 0.002, seed: int = SEED, log=print) -> None:
    """Build whatever is missing (or everything with ``force``)."""
    work.mkdir(parents=True, exist_ok=True)
    if force or not all(lexicon_path(work, label).is_file() for label in LEXICON_SIZES):
        log("building lexicons ...")
        summary = build_lexicons(data, work, max_term_df, seed, doc_bytes)
        for info in summary["lexicons"].values():
            log(f"  {info['path']}: {info['terms']} terms {info['origins']}, flagged share of base docs {info['flagged_share_base_docs']}")
        log(f"  ({summary['real_terms_pruned']} real terms pruned at df > {max_term_df:.2%}, {summary['seconds']} s)")
    if "mix" in langs and (force or not houbb_lexicon_path(work).is_file()):
        log("building lexicon_houbb_10k.tsv ...")
        houbb_lexicon(data, work, seed)
    for lang in langs:
        path = corpus_path(work, lang, size_mb)
        if force or not path.is_file():
            log(f"building {path.name} ...")
            started = time.perf_counter()
            docs = mix_documents(data, seed) if lang == "mix" else base_documents(data, lang, doc_bytes)
            info = write_corpus(path, docs, size_mb, row_group_rows, seed)
            log(f"  {info['rows']} rows, {info['text_bytes'] / 1e6:.1f} MB of text ({len(docs)} base documents x {info['copies']} copies),"
                f" {info['file_bytes'] / 1e6:.1f} MB on disk, {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder (default: %(default)s)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="output folder (default: %(default)s)")
    parser.add_argument("--size-mb", type=int, default=400, help="text bytes per corpus file, in 10^6 bytes (default: 400)")
    parser.add_argument("--lang", choices=["zh", "en", "both", "mix"], default="both",
                        help="both: zh and en; mix: the real mix (every corpus, log-normal sizes, a third of zh in Traditional)")
    parser.add_argument("--doc-bytes", type=int, default=3000, help="join texts into documents of about this size")
    parser.add_argument("--row-group-rows", type=int, default=65536)
    parser.add_argument("--max-term-df", type=float, default=0.002, help="prune real terms found in more than this share of base docs")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--force", action="store_true", help="rebuild even if the outputs exist")
    args = parser.parse_args()
    langs = ["zh", "en"] if args.lang == "both" else [args.lang]
    ensure(args.data, args.work, langs, args.size_mb, force=args.force, doc_bytes=args.doc_bytes,
           row_group_rows=args.row_group_rows, max_term_df=args.max_term_df, seed=args.seed)


if __name__ == "__main__":
    main()
