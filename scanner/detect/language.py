"""Language identification: script rules first, fastText's ``lid.176.ftz`` for the rest, offline, batched.

The model (917 KB, CC BY-SA 3.0, see ``scanner/models/NOTICE.md``) ships in the package, so no
download ever happens. fastText holds the GIL, grows with the prefix (on unspaced Chinese faster
than linearly) and is wrong on short posts: it labelled 27 % of the short COLD comments in
short_posts.tsv ``ja``/``en``/``sh``/``sr`` ... and 36 % of the short tweets ``nl``/``id``/``es`` ....
So, for the whole batch with Arrow kernels (no Python loop per document; the only loops are over
the model's answers, as before):

- only a bounded prefix of each document is looked at (``PREFIX_CHARS``);
- the *script shortcut* (unchanged) labels long plainly-Han prefixes ``zh`` on first-match regexes;
- other prefixes lose what no author writes as language: URLs, HTML entities, emoji tags
  (``[doge]``, ``[捂脸]``), ``#topics#``, ``#hashtags``, ``@mentions``, ``RT``, kaomoji. Nothing
  left with a letter: ``und`` (so a post of emoji tags or mentions alone is ``und``, like emoji);
- *script rules*, letters counted by script with Han and hangul weighing 2 (a syllable carries
  about what two Latin letters do): hangul-majority is ``ko``; kana other than ``の``, one kana run
  per <= 10 Han, CJK the majority is ``ja``; Han-majority otherwise is ``zh`` at any length,
  Traditional too, or ``yue`` when its Cantonese markers score >= 2 (``_YUE_STRONG``). The classes
  are defined by regular expressions, but counted in numpy from a per-code-point table of them
  (``_script_table``): a regex kernel compiles its pattern on every call, 2-20 million instructions
  for a Unicode class, which on the real-mix benchmark was most of language ID's time;
- text without CJK letters is ``en`` when enough of its words are English by wordfreq
  (``en_words.tsv``, ``EN_SHARE``), whatever the model would say: fastText is confidently wrong on
  English slang ("These hoes aint yours" fr 0.32, "pussy ass bitches" lb 0.77), no threshold on its
  probability separates that from real Dutch or Spanish. That test comes first, so English text
  never reaches the model (~7 us per prefix instead of ~34 us);
- the rest goes to fastText, cleaned, one ``predict`` per batch. A label whose script the text
  lacks (``ko`` for Latin text) gives way to the next one.

Measured (tests/data/short_posts.tsv, tests/test_langid_short.py; docs/design.md): the table's Chinese 100 % (was 73 %), English tweets 94.4 % (93.5 % before social-media spellings, ``_informal_kinds``; 64 % at first),
Japanese/Korean 100 %; on whole corpora the labels change only where the old ones were wrong
(news, wiki, BBC: 2 of 4,329 documents); cost per MB in 8,192-row batches x0.3 on COLD, x1.0-1.4 on
tweets, x1.7 on zh news (+2 ms/MB: the rules run only on the 3 % of documents that miss the shortcut).
On the real mix of benchmarks/bench_scan.py (zh, a third of it Traditional, and en; documents of ~2 KB),
the English test first and the table instead of ~14 regex calls per batch took language ID from
0.50-0.73 to 0.24-0.26 CPU s per 100 MB (the same labels).
Then (issue 18) ASCII rows read from their bytes (``_Split``, ``_ascii_english_counts``: 89 % of the mix's
rows that reach the rules), English words counted only on the rows the test reads, prefix lengths counted
only on uncut prefixes (``_prefix_lengths``) and kaomoji replaced by Python's ``re`` on the rows that hold
one: CPU time on the 400 MB mix 0.99 -> 0.75 s, on the zh case 0.40 -> 0.35 s (same run, medians of 7;
labels identical on both and on ../shared/data). The rest is mostly RE2 on whole prefixes (the slice, the
shortcut's two regexes, the cleaning), ~0.35 s of the mix's 0.75.
Codes are the model's own (``zh``, ``en``, ``yue`` ...), plus ``zh-Hans``/``zh-Hant`` when
``split_chinese`` is on; ``und`` marks empty text and text without a letter once cleaned.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scanner.arrays import offsets_and_data
from scanner.detect.base import Batch, Counts, Detector, codes_of, group_counts
from scanner.io import cache as disk_cache
from scanner.match.textview import code_points_at

MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "lid.176.ftz"
EN_WORDS_PATH = Path(__file__).resolve().parents[1] / "models" / "en_words.tsv"
PREFIX_CHARS = 200
SHORTCUT_MIN_CHARS = 100  # the cheap first-match shortcut for long plain Han (unchanged)
# >= 60 % three-byte characters (Han, CJK punctuation): Chinese with English words, numbers and links
# in it takes the shortcut too. At 80 % (2.6), 8.6 % of the zh benchmark's documents went to the model
# and 0.13 % disagreed with fastText on whole documents; at 60 %, 3.6 % and 0.10 %.
SHORTCUT_MIN_BYTES_PER_CHAR = 2.2
UNDETERMINED = "und"
_LABEL_PREFIX = "__label__"
# Characters written in Cantonese but not in Mandarin: they keep text off the shortcut.
_CANTONESE = "嘅咗喺哋冇乜嘢佢㗎啲唔係嚟噉咁睇瞓攞"
# Cantonese by rule, not by the model (lid.176 learnt yue from Traditional Wikipedia and calls
# Simplified-script Cantonese zh: 0 of the table's 3 Cantonese posts). Grammatical markers score 2,
# words that Mandarin posts also use (唔 "hmm", 乜 for 也, 酸嘢, 係 but not in 關係) 1; >= 2 is yue.
# On COLD's 37,480 posts this marks 6, all Cantonese.
_YUE_STRONG = "[咗嘅喺哋冇佢㗎啲嚟噉嗰喎]"
_YUE_WEAK = "[嘢睇瞓攞唔乜咁啱揾嘥冚]|(?:^|[^關关聯联])係"
_CANTONESE_ANY = "[咗嘅喺哋冇佢㗎啲嚟噉嗰喎嘢睇瞓攞唔乜咁啱揾嘥冚係]"
# Any letter that is neither Han nor ASCII (kana, hangul, Thai, Devanagari ...) keeps text off the shortcut.
_NOT_PLAIN_HAN = r"[^\p{Han}\p{P}\p{S}\p{N}\p{Z}\x00-\x7f]|[" + _CANTONESE + "]"
_HAN_RUN = r"\p{Han}{10}"

# What no author writes as language, replaced by a space, in one pass (RE2, leftmost alternative wins):
# URLs (up to a space or Han), HTML entities, emoji tags of 1-8 characters, #topic# (Weibo, no space),
# #hashtag, @mention with its colon, a standalone RT. Classes are ASCII or negated small sets:
# Unicode property classes (\p{L}) cost ~10 ms per call to build, whatever the batch.
_NOISE = "|".join(
    [
        r"(?i:https?://|www\.)[!-~]*",  # up to a space or a non-ASCII character (Han)
        r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});",
        r"\[[^\[\]\n]{1,8}\]",
        r"#[^#\s]{1,40}#",
        r"#[^\s#!-/:-@\[-^`{-~。，、！？：；（）【】「」]+",
        r"@[^\s@!-,/:-@\[-^`{-~。，、！？：；（）【】「」]+[:：]?",
        r"\bRT\b",
    ]
)
# Kaomoji: a bracket of <= 15 characters with no Han and no ASCII letter, with up to 3 arm characters.
# Their kana (ツ ノ っ ゝ) and Cyrillic/Greek (д ω) would otherwise count as letters.
_ARMS = r"[ヽヾノﾉっつツゝゞシｼロ٩۶ლ┐┌╯╰\\/_*~～♪♡✧]{0,3}"
_KAOMOJI = _ARMS + r"[(（][^()（）\p{Han}A-Za-z\n]{1,15}[)）]" + _ARMS
_NOISE_GATE = r"[@#&\[]|(?i:http|www\.)|RT"
# Any character that is not Han, ASCII, punctuation, symbol, digit or space: kana, hangul, other
# scripts, combining marks. Text without one needs no per-script count (the common case).
_NOT_HAN_OR_ASCII = r"[^\p{Han}\p{P}\p{S}\p{N}\p{Z}\x00-\x7f]"

_KANA = r"[\p{Hiragana}\p{Katakana}]"
_KANA_NOT_NO = r"[\x{3041}-\x{306D}\x{306F}-\x{309F}\p{Katakana}]"  # kana but の (Chinese posts write it for 的)
_KANA_RUN = r"[\p{Hiragana}\p{Katakana}ー]+"
# Japanese puts kana between kanji: >= 1 kana run per 10 Han (a kanji-heavy headline such as
# 日本政府、新型感染症対策の基本方針を決定 has 2 per 17). A Chinese post quoting one Japanese word
# (收礼物也就ありがとう) has 1 run per 45 Han, though its kana are 10 % of its CJK letters.
JA_HAN_PER_KANA_RUN = 10
# Labels that need a script the text has (bits: 1 Han, 2 kana, 4 hangul); else the model's next label is
# taken. Latin "oh my god I love Victoria Mitchell" came out ko 0.29, Han+Latin without kana ja.
_NEEDS = {"zh": 1, "yue": 1, "wuu": 1, "ja": 2, "ko": 4}
# A non-English label on text without CJK letters becomes en when >= 34 % of its words are English-
# preferred, or all of them are English words and one is preferred (en_words.tsv). At 25 % Taglish and
# Spanglish tweets flipped too; at 50 % 'I hate hoes' stayed nl.
EN_SHARE = 0.34
_MODEL_K = 5


def _prefix_lengths(texts: pa.Array | pa.ChunkedArray, prefixes: pa.Array, prefix_chars: int) -> tuple[np.ndarray, np.ndarray]:
    """(characters, bytes) of each prefix (0 for null). A prefix shorter in bytes than its text was cut, so it
    holds ``prefix_chars`` characters; only the uncut ones are counted (``utf8_length`` over every prefix
    was 9 % of language ID's time on the real mix)."""
    size = np.asarray(pc.fill_null(pc.binary_length(prefixes), 0), dtype=np.int64)
    whole = pc.fill_null(pc.binary_length(texts), 0)
    whole = np.asarray(whole.combine_chunks() if isinstance(whole, pa.ChunkedArray) else whole, dtype=np.int64)
    chars = np.full(len(size), prefix_chars, dtype=np.int64)
    uncut = np.flatnonzero(size == whole)
    if len(uncut):
        chars[uncut] = np.asarray(pc.fill_null(pc.utf8_length(prefixes.take(pa.array(uncut)) if len(uncut) < len(size) else prefixes), 0), dtype=np.int64)
    return chars, size


def _plainly_han(prefixes: pa.Array, lengths: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Prefixes that are long, mostly three-byte characters, hold a run of Han and no other script.

    Only first-match regexes and length kernels: ~10x cheaper than counting characters by script.
    ``lengths``: the prefixes' (characters, bytes), if known (``_prefix_lengths``).
    """
    if lengths is None:
        lengths = (np.asarray(pc.fill_null(pc.utf8_length(prefixes), 0), dtype=np.int64), np.asarray(pc.fill_null(pc.binary_length(prefixes), 0), dtype=np.int64))
    chars, size = lengths
    candidates = (chars >= SHORTCUT_MIN_CHARS) & (size >= SHORTCUT_MIN_BYTES_PER_CHAR * chars)
    at = np.flatnonzero(candidates)
    if len(at) < len(candidates):  # the regexes only where they decide (English text never does)
        if not len(at):
            return candidates
        prefixes = prefixes.take(pa.array(at))
    has_run = np.asarray(pc.fill_null(pc.match_substring_regex(prefixes, _HAN_RUN), False))
    foreign = np.asarray(pc.fill_null(pc.match_substring_regex(prefixes, _NOT_PLAIN_HAN), True))
    candidates[at] = has_run[at] & ~foreign[at] if len(at) == len(candidates) else has_run & ~foreign
    return candidates


def _where(texts: pa.Array, gate: str, pattern: str, replacement: str) -> pa.Array:
    """replace_substring_regex on the rows a cheap first-match gate selects (the others are left as they are)."""
    mask = pc.fill_null(pc.match_substring_regex(texts, gate), False)
    if not pc.any(mask).as_py():
        return texts
    return pc.replace_with_mask(texts, mask, pc.replace_substring_regex(texts.filter(mask), pattern, replacement))


def clean(texts: pa.Array) -> pa.Array:
    """Texts without URLs, entities, emoji tags, topics, hashtags, mentions, RT and kaomoji.

    Only rows holding one of ``@ # & [ ( （ http www RT`` are rewritten.
    """
    texts = _where(texts, _NOISE_GATE, _NOISE, " ")
    return _without_kaomoji(texts)


def _without_kaomoji(texts: pa.Array) -> pa.Array:
    """``replace_substring_regex(texts, _KAOMOJI, " ")``, by Python's ``re`` on the rows that hold one
    (RE2's first match finds them): Arrow compiles the pattern on every call, and compiling its negated
    class with ``\\p{Han}`` for a replacement took ~2 ms per batch (0.05 s per 400 MB, on the zh and the
    mix cases alike), whatever the rows; the few rows with a kaomoji take microseconds in Python."""
    mask = _matches(texts, "[(（]")
    at = np.flatnonzero(mask)
    if not len(at):
        return texts
    found = _matches(texts.take(pa.array(at)), _KAOMOJI)
    at = at[found]
    if not len(at):
        return texts
    mask[:] = False
    mask[at] = True
    pattern = _kaomoji_re()
    replaced = pa.array([pattern.sub(" ", text) for text in texts.take(pa.array(at)).to_pylist()], type=texts.type)
    return pc.replace_with_mask(texts, pa.array(mask), replaced)


@cache
def _kaomoji_re() -> re.Pattern:
    """``_KAOMOJI`` for Python's ``re``, ``\\p{Han}`` spelled out as the code points RE2 gives it
    (``_script_table``); greedy quantifiers and the leftmost match are the same in both engines."""
    han = np.flatnonzero(_script_table() & _HAN)
    breaks = np.flatnonzero(np.diff(han) != 1)
    first, last = np.r_[han[:1], han[breaks + 1]], np.r_[han[breaks], han[-1:]]
    han_class = "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in zip(first.tolist(), last.tolist()))
    return re.compile(_ARMS + r"[(（][^()（）" + han_class + r"A-Za-z\n]{1,15}[)）]" + _ARMS)


def _model_input(texts: pa.Array) -> pa.Array:
    """Line breaks, which fastText's predict refuses, become spaces. (Collapsing runs of punctuation
    too left the en share of 12,392 tweets at 98.89 %.)"""
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(texts, r"[\r\n\v\f\x{85}\x{2028}\x{2029}]", " "))


def _count(texts: pa.Array, pattern: str) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.count_substring_regex(texts, pattern), 0), dtype=np.int64)


def _matches(texts: pa.Array, pattern: str) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.match_substring_regex(texts, pattern), False))


# Character classes of the script rules, one bit each, per code point as Arrow's regex engine (RE2) reads
# them (``_script_table``): the rules count characters in numpy instead of calling a regex kernel per class
# and batch. Each such call compiles its pattern anew (a Unicode property class costs 2-20 million
# instructions to compile, ~1-7 ms), which was most of language ID's time on batches that need the rules.
_LETTER, _HAN, _KANA_BIT, _KANA_NOT_NO_BIT, _KANA_RUN_BIT, _HANGUL, _OTHER_SCRIPT, _CANTONESE_BIT, _APOSTROPHE, _ASCII_LETTER = (1 << i for i in range(10))
_CLASSES = {
    _LETTER: r"\pL",
    _HAN: r"\p{Han}",
    _KANA_BIT: _KANA,
    _KANA_NOT_NO_BIT: _KANA_NOT_NO,
    _KANA_RUN_BIT: _KANA_RUN.removesuffix("+"),
    _HANGUL: r"\p{Hangul}",
    _OTHER_SCRIPT: _NOT_HAN_OR_ASCII,
    _CANTONESE_BIT: _CANTONESE_ANY,
    _APOSTROPHE: "'",
    _ASCII_LETTER: "[A-Za-z]",
}


@cache
def _script_table() -> np.ndarray:
    """Per code point, the ``_CLASSES`` bits it has, found by RE2 itself (each class matched against every
    code point once: 0.1-0.3 s), kept in ``scanner.io.cache`` (keyed by the patterns and the pyarrow
    version, whose RE2 defines the classes) and loaded in a few ms after."""
    parts = (b"script_table", pa.__version__.encode(), "\n".join(f"{bit}:{pattern}" for bit, pattern in _CLASSES.items()).encode())
    return disk_cache.cached_arrays("tables", parts, _build_script_table)["bits"]


def _build_script_table() -> dict[str, np.ndarray]:
    """Every code point but the surrogates in one string; each class's characters replaced by NUL (which
    is in no class) in one regex call; where NUL appears, the class holds the code point."""
    codes = np.arange(0x110000, dtype=np.int64)
    codes = codes[(codes < 0xD800) | (codes > 0xDFFF)]
    every = pa.array([codes.astype("<u4").tobytes().decode("utf-32-le")], pa.large_string())
    bits = np.zeros(0x110000, dtype=np.uint16)
    for bit, pattern in _CLASSES.items():
        replaced = pc.replace_substring_regex(every, pattern, "\x00")[0].as_py()
        bits[codes[(np.frombuffer(replaced.encode("utf-32-le"), dtype=np.uint32) == 0) & (codes != 0)]] |= bit
    return {"bits": bits}


@dataclass(frozen=True)
class _Characters:
    """The characters of a string column in buffer order: code point, class bits, row, and whether the
    character before it is in the same row (null rows hold none)."""

    code: np.ndarray
    bits: np.ndarray
    row: np.ndarray
    continues: np.ndarray
    chars: np.ndarray  # per row
    byte_start: np.ndarray  # per character, in ``data``
    byte_end: np.ndarray
    data: pa.Buffer  # the column's data buffer (of its null-free copy, if it had nulls)

    @classmethod
    def of(cls, texts: pa.Array) -> _Characters:
        if texts.null_count:  # Arrow lets a null slot hold bytes; filled, it holds none
            texts = pc.fill_null(texts, "")
        offsets, data = offsets_and_data(texts)
        raw = np.frombuffer(data, dtype=np.uint8)
        starts = np.flatnonzero((raw[offsets[0] : offsets[-1]] & 0xC0) != 0x80) + offsets[0]
        code, length = code_points_at(raw, starts)
        chars = np.diff(np.searchsorted(starts, offsets))  # the characters starting in each row's bytes
        row = np.repeat(np.arange(len(texts)), chars)
        continues = np.ones(len(code), dtype=bool)
        continues[np.cumsum(chars)[:-1][chars[1:] > 0] if len(chars) else []] = False
        if len(continues):
            continues[0] = False
        return cls(code, _script_table().take(code), row, continues, chars, starts, starts + length, data)

    def per_row(self, rows: int, bits: list[int], run_bits: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
        """(the union of the class bits of each row's characters, per row and class of ``bits`` the
        characters of that class, then per class of ``run_bits`` its maximal runs), by one ``reduceat``
        over the rows' characters."""
        columns = [(self.bits & bit) != 0 for bit in bits]
        for bit in run_bits:
            inside = (self.bits & bit) != 0
            columns.append(inside & ~np.r_[False, inside[:-1] & self.continues[1:]])
        union = np.zeros(rows, dtype=np.uint16)
        counts = np.zeros((rows, len(columns)), dtype=np.int64)
        filled = np.flatnonzero(self.chars)
        if len(filled):
            first = (np.cumsum(self.chars) - self.chars)[filled]
            union[filled] = np.bitwise_or.reduceat(self.bits, first)
            counts[filled] = np.add.reduceat(np.column_stack(columns).view(np.uint8), first, axis=0, dtype=np.int64)
        return union, counts


@dataclass(frozen=True)
class _Split:
    """A null-free string column's rows split into those of ASCII bytes only and the others ("wide"), with
    the wide rows' characters decoded. On ASCII text the script rules need nothing but whether it has a
    letter, and its words come from its bytes; on the real mix of bench_scan 89 % of the rows that reach
    the rules are ASCII (English), so decoding them character by character was most of language ID's time."""

    ascii_at: np.ndarray
    ascii_texts: pa.Array | None
    wide_at: np.ndarray
    wide: _Characters | None

    @classmethod
    def of(cls, texts: pa.Array) -> _Split:
        rows = len(texts)
        ascii_rows = _ascii_rows(texts)
        ascii_at, wide_at = np.flatnonzero(ascii_rows), np.flatnonzero(~ascii_rows)
        pick = (lambda at: texts if len(at) == rows else texts.take(pa.array(at))) if rows else (lambda at: texts)
        return cls(
            ascii_at,
            pick(ascii_at) if len(ascii_at) else None,
            wide_at,
            _Characters.of(pick(wide_at)) if len(wide_at) else None,
        )


def _ascii_rows(texts: pa.Array) -> np.ndarray:
    """Rows of a null-free string column whose bytes are all ASCII (empty rows too)."""
    offsets, data = offsets_and_data(texts)
    raw = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]]
    rows = np.ones(len(texts), dtype=bool)
    rows[np.searchsorted(offsets, np.flatnonzero(raw >= 0x80) + offsets[0], side="right") - 1] = False
    return rows


def _rule_features(cleaned: pa.Array, split: _Split | None = None, ascii_words: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """What the script rules read from each cleaned prefix, as the regular expressions defined them:
    ``has_han``, ``has_ascii`` (an ASCII letter), ``other`` (a character of ``_NOT_HAN_OR_ASCII``), and
    the counts ``han``, ``letters``, ``kana``, ``kana_not_no``, ``kana_runs``, ``hangul`` where the rules
    count them (Han and ASCII text: Han characters and Han plus ASCII letters; text with another script:
    every class; Han alone: 1 and 1, as only ratios matter; else 0), and ``cantonese`` (a Cantonese
    character). ASCII rows have no Han and no other script, so everything but ``has_ascii`` is 0 or False
    there, and ``has_ascii`` is whether they have a word (``ascii_words``: their word counts, if known)."""
    n = len(cleaned)
    if cleaned.null_count:
        cleaned = pc.fill_null(cleaned, "")
    split = _Split.of(cleaned) if split is None else split
    out = {name: np.zeros(n, dtype=bool) for name in ("has_han", "has_ascii", "other", "cantonese")}
    out.update({name: np.zeros(n, dtype=np.int64) for name in ("han", "letters", "kana", "kana_not_no", "kana_runs", "hangul")})
    if len(split.ascii_at):
        words = _ascii_english_counts(split.ascii_texts)[0] if ascii_words is None else ascii_words
        out["has_ascii"][split.ascii_at] = words > 0
    if len(split.wide_at):
        for name, values in _character_features(split.wide, len(split.wide_at)).items():
            out[name][split.wide_at] = values
    return {name: out[name] for name in ("has_han", "has_ascii", "other", "han", "letters", "kana", "kana_not_no", "kana_runs", "hangul", "cantonese")}


def _character_features(characters: _Characters, n: int) -> dict[str, np.ndarray]:
    """``_rule_features`` of ``n`` rows from their decoded characters."""
    union, counts = characters.per_row(n, [_HAN, _LETTER, _ASCII_LETTER, _KANA_BIT, _KANA_NOT_NO_BIT, _HANGUL], (_KANA_RUN_BIT,))
    han, letters, ascii_letters, kana, kana_not_no, hangul, kana_runs = counts.T
    has_han, has_ascii, other = (union & _HAN) != 0, (union & _ASCII_LETTER) != 0, (union & _OTHER_SCRIPT) != 0
    han_ascii = has_han & has_ascii & ~other
    only_han = has_han & ~has_ascii & ~other
    zero = np.zeros(n, dtype=np.int64)
    return {
        "has_han": has_han,
        "has_ascii": has_ascii,
        "other": other,
        "han": np.where(han_ascii | other, han, np.where(only_han, 1, 0)),
        "letters": np.where(han_ascii, han + ascii_letters, np.where(other, letters, np.where(only_han, 1, 0))),
        "kana": np.where(other, kana, zero),
        "kana_not_no": np.where(other, kana_not_no, zero),
        "kana_runs": np.where(other, kana_runs, zero),
        "hangul": np.where(other, hangul, zero),
        "cantonese": (union & _CANTONESE_BIT) != 0,
    }


@cache
def _en_words() -> tuple[pa.Array, pa.Array]:
    """(known, preferred): wordfreq's top 50k English words, and those commoner in English than elsewhere."""
    known, preferred = [], []
    for line in EN_WORDS_PATH.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            word, flag = line.split("\t")
            known.append(word)
            if flag == "1":
                preferred.append(word)
    return pa.array(known, type=pa.string()), pa.array(preferred, type=pa.string())


def english_words(texts: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per text: words (letters and apostrophes, lower-cased, apostrophes trimmed from both ends; a run of
    apostrophes alone is no word), how many are English, how many English-preferred (wordfreq).

    The words are the runs of letters and apostrophes (``[^\\p{L}']+`` splits them), found in numpy from
    ``_script_table``; only the distinct words of the batch are looked up, in Python sets. (Splitting with
    the regex kernel and two ``is_in`` kernels, which build a hash table of the 49,000 words per call, cost
    ~3x more.) ASCII rows are read from their bytes (``_ascii_english_counts``)."""
    if texts.null_count:
        texts = pc.fill_null(texts, "")
    split = _Split.of(texts)
    counts = np.zeros((3, len(texts)), dtype=np.int64)
    if len(split.ascii_at):
        counts[:, split.ascii_at] = _ascii_english_counts(split.ascii_texts)
    if len(split.wide_at):
        counts[:, split.wide_at] = _english_counts(split.wide, len(split.wide_at))
    return counts[0], counts[1], counts[2]


# ASCII bytes as the English words read them: letters lower-cased, apostrophes kept, every other byte a space.
_ASCII_WORD_BYTES = np.full(256, ord(" "), dtype=np.uint8)
_ASCII_WORD_BYTES[list(b"abcdefghijklmnopqrstuvwxyz'")] = list(b"abcdefghijklmnopqrstuvwxyz'")
_ASCII_WORD_BYTES[list(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")] = list(b"abcdefghijklmnopqrstuvwxyz")


def _ascii_english_counts(texts: pa.Array) -> np.ndarray:
    """``english_words`` of a null-free column of ASCII text, as rows (words, English, English-preferred):
    in ASCII the letters are ``[A-Za-z]``, so the words are the runs of ``[a-z']`` of the text with its
    letters lowered and every other byte a space (one table lookup), split at the spaces and trimmed of
    apostrophes (Arrow kernels), and looked up with one ``index_in``: ~3x cheaper than by characters."""
    offsets, data = offsets_and_data(texts)
    raw = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]]
    lowered = pa.LargeStringArray.from_buffers(len(texts), pa.py_buffer(offsets - offsets[0]), pa.py_buffer(_ASCII_WORD_BYTES[raw]))
    tokens = pc.ascii_split_whitespace(lowered)
    words = pc.ascii_trim(pc.list_flatten(tokens), "'")
    row = np.asarray(pc.list_parent_indices(tokens), dtype=np.int64)
    real = np.asarray(pc.greater(pc.binary_length(words), 0))  # a run of apostrophes alone is no word
    return _counts_per_row(row[real], _word_kinds(words.filter(pa.array(real))), len(texts))


def _word_kinds(words: pa.Array) -> np.ndarray:
    """The kind of each lower-cased word: 0 unknown, 1 English, 2 English-preferred (``_en_word_kinds``, with
    social-media spellings read as the words they spell, ``_informal_kinds``)."""
    values, kinds_of = _en_word_index()
    return _informal_kinds(words, kinds_of[np.asarray(pc.fill_null(pc.index_in(words, value_set=values), -1), dtype=np.int64)])


def _counts_per_row(row: np.ndarray, kinds: np.ndarray, rows: int) -> np.ndarray:
    """(words, English words, English-preferred words) per row, from each word's row and kind."""
    return np.stack([np.bincount(row, weights=flags, minlength=rows).astype(np.int64) for flags in (np.ones(len(kinds), dtype=bool), kinds > 0, kinds > 1)])


@cache
def _en_word_index() -> tuple[pa.Array, np.ndarray]:
    """The English words as an Arrow array, and their kinds (``_en_word_kinds``) in its order, then a 0
    for what ``index_in`` does not find (-1)."""
    kinds = _en_word_kinds()
    return pa.array(list(kinds), type=pa.string()), np.array([*kinds.values(), 0], dtype=np.int64)


def _english_counts(characters: _Characters, rows: int) -> np.ndarray:
    """``english_words`` from decoded characters. A word runs from the first letter to the last one of a
    run of letters and apostrophes; lower-casing (Arrow's, one code point for one, letters stay letters)
    comes after cutting the words out, which gives the same words as cutting them from lowered text."""
    letter = (characters.bits & _LETTER) != 0
    in_word = letter | ((characters.bits & _APOSTROPHE) != 0)
    run = np.cumsum(in_word & ~np.r_[False, in_word[:-1] & characters.continues[1:]]) * in_word  # run number, 0 outside
    letters_at = np.flatnonzero(letter)
    words_of = run[letters_at]
    first_letter = letters_at[np.r_[True, words_of[1:] != words_of[:-1]]] if len(letters_at) else letters_at
    last_letter = letters_at[np.r_[words_of[1:] != words_of[:-1], True]] if len(letters_at) else letters_at
    word_row = characters.row[first_letter]
    start, end = characters.byte_start[first_letter], characters.byte_end[last_letter]
    sizes = end - start
    word_offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    gather = np.repeat(start - word_offsets[:-1], sizes) + np.arange(int(word_offsets[-1]))
    words = pa.LargeStringArray.from_buffers(len(sizes), pa.py_buffer(word_offsets), pa.py_buffer(np.frombuffer(characters.data, dtype=np.uint8)[gather]))
    encoded = pc.dictionary_encode(pc.utf8_lower(words))  # each distinct word looked up once
    return _counts_per_row(word_row, _word_kinds(encoded.dictionary)[np.asarray(encoded.indices, dtype=np.int64)], rows)


# Social-media spellings of English words (issue 18): a letter written 3+ times ("lmaooo", "chillllll", "Auburnnn")
# read once or twice, and a dropped g ("tweakin", "hatin'", words of 5+ letters): a word wordfreq does not know
# takes the kind of the English word it spells. Tuned on the even-id Davidson tweets: 9 of their 137 non-en
# labels become en, all English; no handwritten short sentence of 13 other languages changes, nor BBC news.
_ELONGATED = "|".join(letter * 3 for letter in "abcdefghijklmnopqrstuvwxyz")
_ELONGATION = re.compile(r"([a-z])\1{2,}")
_G_DROPPED_MIN = 5


def _informal_kinds(words: pa.Array, kinds: np.ndarray) -> np.ndarray:
    """``kinds`` (0 unknown, 1 English, 2 English-preferred) of lower-cased ``words``, with unknown ones that are
    social-media spellings of English words given those words' kinds (``_informal_kind``); the rare candidates
    are found with Arrow kernels, read in Python."""
    unknown = np.flatnonzero(kinds == 0)
    if not len(unknown):
        return kinds
    subset = words.take(pa.array(unknown))
    dropped_g = np.asarray(pc.and_(pc.ends_with(subset, "in"), pc.greater_equal(pc.utf8_length(subset), _G_DROPPED_MIN)))
    at = unknown[_matches(subset, _ELONGATED) | dropped_g]
    if not len(at):
        return kinds
    kinds = kinds.copy()
    lookup = _en_word_kinds()
    kinds[at] = [_informal_kind(word, lookup) for word in words.take(pa.array(at)).to_pylist()]
    return kinds


def _informal_kind(word: str, lookup: dict[str, int]) -> int:
    """The best kind among the English spellings of ``word``: its runs of 3+ equal letters (a-z) as one letter and as
    two, and with a g after a final ``in`` (5+ letters)."""
    spellings = [_ELONGATION.sub(r"\1", word), _ELONGATION.sub(r"\1\1", word)] if _ELONGATION.search(word) else []
    if word.endswith("in") and len(word) >= _G_DROPPED_MIN:
        spellings.append(word + "g")
    return max((lookup.get(spelling, 0) for spelling in spellings), default=0)


@cache
def _en_word_kinds() -> dict[str, int]:
    """English word -> 1 (known) or 2 (known and English-preferred); every preferred word is known."""
    known, preferred = _en_words()
    kinds = dict.fromkeys(known.to_pylist(), 1)
    kinds.update(dict.fromkeys(preferred.to_pylist(), 2))
    return kinds


# Split of zh (optional): characters that OpenCC's t2s changes and s2t does not (Traditional-only),
# against the reverse (Simplified-only). Left out of the Traditional set: characters the zh corpora
# use in otherwise Simplified text (乾隆, 店舖, names).
_SIMPLIFIED_USE = "乾舖於綝霑吒沖捱薹剋癒鐩"


@cache
def _script_classes() -> tuple[str, str]:
    """Regex classes of Traditional-only and Simplified-only characters (~0.2 s, once per process)."""
    import opencc

    t2s, s2t = opencc.OpenCC("t2s"), opencc.OpenCC("s2t")
    han = [chr(c) for r in ((0x3400, 0x4DC0), (0x4E00, 0xA000)) for c in range(*r)]
    trad = {c for c in han if t2s.convert(c) != c}
    simp = {c for c in han if s2t.convert(c) != c}
    trad, simp = trad - simp - set(_SIMPLIFIED_USE), simp - trad
    return "[" + "".join(sorted(trad)) + "]", "[" + "".join(sorted(simp)) + "]"


def chinese_script(texts: pa.Array) -> np.ndarray:
    """``zh-Hant`` where Traditional-only characters outnumber Simplified-only ones, ``zh-Hans`` for
    the reverse, ``zh`` where neither kind occurs or they tie."""
    trad_class, simp_class = _script_classes()
    trad, simp = _count(texts, trad_class), _count(texts, simp_class)
    return np.where(trad > simp, "zh-Hant", np.where(simp > trad, "zh-Hans", "zh")).astype(object)


class LanguageIdentifier:
    """Loads the model on first use (so the object pickles cheaply to worker processes).

    ``script_shortcut=False`` is fastText alone on the raw prefix (the benchmark's reference).
    """

    def __init__(
        self,
        model_path: Path = MODEL_PATH,
        prefix_chars: int = PREFIX_CHARS,
        *,
        script_shortcut: bool = True,
        split_chinese: bool = False,
    ) -> None:
        self.model_path = Path(model_path)
        self.prefix_chars = prefix_chars
        self.script_shortcut = script_shortcut
        self.split_chinese = split_chinese

    @cached_property
    def model_sha256(self) -> str:
        return hashlib.sha256(self.model_path.read_bytes()).hexdigest()

    @cached_property
    def _model(self):
        import fasttext

        return fasttext.load_model(str(self.model_path))

    def describe(self) -> dict[str, str | int | bool]:
        return {
            "model": self.model_path.name,
            "sha256": self.model_sha256,
            "prefix_chars": self.prefix_chars,
            "script_shortcut": self.script_shortcut,
            "rules": 3 if self.script_shortcut else 0,  # 2: cleaning, script rules, English words; 3: and social-media spellings
            "en_words_sha256": hashlib.sha256(EN_WORDS_PATH.read_bytes()).hexdigest() if self.script_shortcut else "-",
            "split_chinese": self.split_chinese,
        }

    def __getstate__(self) -> dict:
        return {
            "model_path": self.model_path,
            "prefix_chars": self.prefix_chars,
            "script_shortcut": self.script_shortcut,
            "split_chinese": self.split_chinese,
        }

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def _predict(self, texts: list[str], k: int) -> tuple[list[list[str]], list]:
        labels, probs = self._model.predict(texts, k=k)
        return [[label.removeprefix(_LABEL_PREFIX) for label in row] for row in labels], probs

    def identify(self, texts: pa.Array | pa.ChunkedArray) -> pa.Array:
        """One language code per text (``und`` for null, empty or letterless text)."""
        prefixes = pc.utf8_slice_codeunits(texts, 0, self.prefix_chars)
        if isinstance(prefixes, pa.ChunkedArray):
            prefixes = prefixes.combine_chunks()
        codes = np.full(len(prefixes), UNDETERMINED, dtype=object)
        if not self.script_shortcut:
            positions = np.flatnonzero(_matches(prefixes, r"\pL"))
            if len(positions):
                wanted = pc.replace_substring_regex(prefixes.take(pa.array(positions)), r"[\r\n\v\f\x{85}\x{2028}\x{2029}]", " ")
                labels, _ = self._predict(wanted.to_pylist(), k=1)
                codes[positions] = [row[0] if row else UNDETERMINED for row in labels]
            return pa.array(codes.tolist(), type=pa.string())
        lengths = _prefix_lengths(texts, prefixes, self.prefix_chars)
        plainly_han = _plainly_han(prefixes, lengths)
        codes[plainly_han] = "zh"
        # The rest, if it has a letter (checked only here: a plainly Han prefix has one).
        positions = np.flatnonzero(~plainly_han & (lengths[1] > 0))
        if len(positions):
            subset = prefixes.take(pa.array(positions)) if len(positions) < len(prefixes) else prefixes
            letter = _matches(subset, r"\pL")
            if not letter.all():
                positions, subset = positions[letter], subset.filter(pa.array(letter))
            if len(positions):
                codes[positions] = self._by_rules(clean(subset))
        if self.split_chinese:
            zh = np.flatnonzero(codes == "zh")
            if len(zh):
                codes[zh] = chinese_script(prefixes.take(pa.array(zh)))
        return pa.array(codes.tolist(), type=pa.string())

    def _by_rules(self, cleaned: pa.Array) -> np.ndarray:
        """Codes for cleaned prefixes: script rules, then the model for what they leave open.

        Letters are counted only where the decision needs it: Han with no other letter is zh
        outright, text without Han, kana or hangul goes to the model outright."""
        n = len(cleaned)
        split = _Split.of(cleaned)  # the wide rows decoded once, for the rules and the English words
        ascii_counts = _ascii_english_counts(split.ascii_texts) if len(split.ascii_at) else None  # all of them needed
        f = _rule_features(cleaned, split, None if ascii_counts is None else ascii_counts[0])
        has_han, has_ascii = f["has_han"], f["has_ascii"]
        han, letters, kana, kana_not_no, kana_runs, hangul = (f[k] for k in ("han", "letters", "kana", "kana_not_no", "kana_runs", "hangul"))
        has_letter = letters > 0
        cjk = han + kana
        korean = has_letter & (2 * hangul >= letters - hangul)
        japanese = has_letter & ~korean & (kana_not_no > 0) & (JA_HAN_PER_KANA_RUN * kana_runs >= han) & (2 * cjk >= letters - cjk)
        chinese = has_letter & ~korean & ~japanese & (han > 0) & (2 * han >= letters - han - kana)
        codes = np.full(n, UNDETERMINED, dtype=object)
        codes[korean] = "ko"
        codes[japanese] = "ja"
        codes[chinese] = "zh"
        at = np.flatnonzero(chinese & f["cantonese"])
        if len(at):
            subset = cleaned.take(pa.array(at))
            codes[at[2 * _count(subset, _YUE_STRONG) + _count(subset, _YUE_WEAK) >= 2]] = "yue"
        rest = np.flatnonzero((has_letter | (has_ascii & ~has_han)) & ~korean & ~japanese & ~chinese)
        if len(rest):
            scripts = has_han.astype(np.int64) | (kana > 0) * 2 | (hangul > 0) * 4
            english = np.zeros(n, dtype=bool)
            if (scripts[rest] == 0).any():
                words, known, preferred = np.zeros((3, n), dtype=np.int64)
                if ascii_counts is not None:
                    words[split.ascii_at], known[split.ascii_at], preferred[split.ascii_at] = ascii_counts
                wanted = np.zeros(n, dtype=bool)
                wanted[rest] = scripts[rest] == 0
                latin = split.wide_at[wanted[split.wide_at]]  # wide rows the test reads (not Chinese ones: 0.08 s of 0.9 on the mix)
                if len(latin):
                    characters = split.wide if len(latin) == len(split.wide_at) else _Characters.of(cleaned.take(pa.array(latin)))
                    words[latin], known[latin], preferred[latin] = _english_counts(characters, len(latin))
                english = (scripts == 0) & (preferred > 0) & ((preferred >= EN_SHARE * words) | (known == words))
            codes[rest[english[rest]]] = "en"  # without taking their text: the model would not be asked
            rest = rest[~english[rest]]
            if len(rest):
                codes[rest] = self._by_model(cleaned.take(pa.array(rest)), scripts[rest], english[rest])
        return codes

    def _by_model(self, texts: pa.Array, scripts: np.ndarray, english: np.ndarray) -> np.ndarray:
        """The model's label for cleaned ``texts`` (line breaks become spaces first, ``_model_input``),
        unless the text has no CJK letter (``scripts`` 0) and enough English words (``english``), which
        makes it ``en`` whatever the model says: that is tested first (``_by_rules``), so English text,
        the bulk of what reaches here, skips the model (~7 us per text against fastText's ~34 us). Words
        are the same with or without ``_model_input`` (it only turns separators into spaces and trims them)."""
        codes = np.full(len(texts), UNDETERMINED, dtype=object)
        codes[english] = "en"
        asked = np.flatnonzero(~english)
        if not len(asked):
            return codes
        texts, scripts = _model_input(texts.take(pa.array(asked))), scripts[asked]
        labels, _ = self._predict(texts.to_pylist(), k=1)
        model = np.array([row[0] if row else UNDETERMINED for row in labels], dtype=object)
        needs = np.array([_NEEDS.get(code, 0) for code in model], dtype=np.int64)
        wrong_script = np.flatnonzero(needs & scripts != needs)  # rare: ask again for more labels
        if len(wrong_script):
            labels, _ = self._predict(texts.take(pa.array(wrong_script)).to_pylist(), k=_MODEL_K)
            model[wrong_script] = [
                next((label for label in row if _NEEDS.get(label, 0) & bits == _NEEDS.get(label, 0)), row[0])
                for row, bits in zip(labels, scripts[wrong_script])
            ]
        codes[asked] = model
        return codes


@dataclass(frozen=True)
class LanguageOptions:
    langid: bool = True
    """Identify each document's language (off: every document is ``und``)."""


class LanguageDetector(Detector):
    """``language`` per document; ``by_language`` {code: documents, chars, flagged_documents} and, per
    source, ``languages`` {code: documents}."""

    name = "language"
    Options = LanguageOptions
    columns = (pa.field("language", pa.string()),)

    def __init__(self, options: Any, lexicon: Any) -> None:
        super().__init__(options, lexicon)
        self.identifier = LanguageIdentifier() if options.langid else None

    def warm_up(self) -> None:
        if self.identifier is not None:
            self.identifier.identify(pa.array(["warm-up"]))

    def describe(self) -> dict[str, Any] | None:
        return self.identifier.describe() if self.identifier is not None else None

    def detect(self, batch: Batch) -> dict[str, Any]:
        if self.identifier is None:
            return {"language": pa.array([UNDETERMINED] * batch.rows, type=pa.string())}
        return {"language": self.identifier.identify(batch.text)}

    def count(self, batch: Batch) -> Counts:
        language, names = codes_of(batch.values["language"])
        source, sources = codes_of(batch.values["source"])
        documents = np.bincount(language, minlength=len(names))
        chars = np.bincount(language, weights=batch.doc_chars, minlength=len(names))
        flagged = np.bincount(language, weights=batch.hits_per_doc > 0, minlength=len(names))
        by_language = {
            name: {"documents": int(documents[i]), "chars": int(chars[i]), "flagged_documents": int(flagged[i])} for i, name in enumerate(names) if documents[i]
        }
        pairs = group_counts(source, len(sources), language, len(names))
        by_source = {sources[s]: {"languages": {names[k]: int(pairs[s, k]) for k in np.flatnonzero(pairs[s])}} for s in range(len(sources))}
        return {"by_language": by_language, "by_source": by_source}
