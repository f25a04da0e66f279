"""Named normalisation steps that let disguised keywords match, with every hit mapped back to the original.

Steps, in pipeline order (each can be switched on or off; text and terms go through the same steps):

- ``invisible``: delete Default_Ignorable_Code_Point characters (zero-width space and joiners, soft
  hyphen, BOM, bidi controls, variation selectors, tag characters): ``f\u200bu\u00adck`` -> ``fuck``.
- ``nfkc``: replace each character by its NFKC form, so full-width and compatibility forms become
  plain ones (``ｆｕｃｋ`` -> ``fuck``, ``①`` -> ``1``, ``⼈`` -> ``人``). It is applied per character:
  combining sequences are not recomposed, which keeps the map back to the original exact. The
  sentence punctuation of Chinese text (``，：；？！（）…``) is kept: it is in nearly every Chinese
  document, and folding it to ASCII would only let terms with ASCII punctuation match across it.
- ``casefold``: Unicode case folding of non-ASCII characters (``ß`` -> ``ss``, Kelvin sign -> ``k``).
  ASCII case stays with the matching contract (folded at ASCII-alphanumeric term ends, exact inside).
- ``separators``: delete a run of spaces, punctuation and symbols (Unicode categories Z*, P*, S*)
  whose neighbours are both Han characters (``法*轮 功`` -> ``法轮功``). A term with one Han character
  has no gap between Han characters, so single-character CJK terms never match through this step.
- ``repeats``: collapse a run of one repeated character (ASCII case aside) to its first character
  (``法法轮轮功`` -> ``法轮功``, ``fuuUck`` -> ``fuck``); a term then matches where each of its own runs
  is at least as long in the text (``ass`` needs two ``s``), so doubled characters inside terms keep
  their meaning. A hit ends after the whole run of its last character.
- ``t2s``: Traditional -> Simplified Chinese, character by character (``暴亂`` -> ``暴乱``), with the
  table OpenCC's ``t2s`` conversion gives each character on its own. It applies to terms written in
  Simplified only: a term written with Traditional characters (``幹``) keeps matching as written,
  since its Simplified form (``干``) is often an ordinary word.

``normalize`` is the plain-Python definition of the pipeline (used for terms, for attributing hits to
steps, and by ``scanner.reference``); ``scanner.match.textview`` applies the steps before ``t2s`` to whole
Arrow columns with numpy, and the matcher covers ``t2s`` by adding Traditional spellings of terms.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from scanner.errors import ConfigError
from scanner.io import cache
from scanner.lexicon.terms import ascii_lower, is_ascii_alnum

STEPS = ("invisible", "nfkc", "casefold", "separators", "repeats", "t2s")
CHAR_STEPS = frozenset({"invisible", "nfkc", "casefold", "t2s"})
"""Steps that map each character on its own (no context): handled without rewriting whole columns."""
DEFAULT_STEPS = ("invisible", "nfkc", "casefold", "t2s")
"""The safe set: cheap on the hot path and measured not to raise flagged documents on clean text
(benchmarks/VARIANTS.md). ``separators`` and ``repeats`` rewrite every document and cost precision."""

# Default_Ignorable_Code_Point, Unicode 15.1 DerivedCoreProperties.txt (inclusive ranges).
DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip
# Full-width sentence punctuation of Chinese text and the ellipsis, which nfkc leaves alone.
NFKC_KEPT = frozenset("\uff01\uff08\uff09\uff0c\uff1a\uff1b\uff1f\u2026")
# Han ideographs: CJK Unified Ideographs with extensions A-H and the compatibility blocks, and the
# ideographic number zero 〇 (U+3007) of Chinese numerals such as 二〇二四.
HAN_RANGES = ((0x3007, 0x3007), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F), (0x30000, 0x323AF))
# Code points that NFKC or case folding can change: nothing above plane 2 but the tag block, which is ignorable.
CHANGEABLE_RANGES = ((0x80, 0x2FFFF), (0xE0000, 0xE0FFF))


_INVISIBLE = frozenset(chr(c) for low, high in DEFAULT_IGNORABLE for c in range(low, high + 1))


def is_invisible(char: str) -> bool:
    return char in _INVISIBLE


def is_han(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in HAN_RANGES)


def is_separator(char: str) -> bool:
    """Spaces, punctuation and symbols (Unicode categories Z*, P*, S*); not line breaks (the line and
    paragraph separators U+2028/U+2029 are Zl/Zp) or letters."""
    category = unicodedata.category(char)
    return category[0] in "ZPS" and category not in ("Zl", "Zp")


@functools.lru_cache(maxsize=1)
def t2s_table() -> dict[str, str]:
    """Traditional -> Simplified for single characters, from OpenCC's ``t2s`` conversion of each Han
    character alone; chained entries are closed (``薴`` -> ``苧`` -> ``苎`` becomes ``薴`` -> ``苎``).

    Resource usage: ~40 ms for the ~94,000 Han code points (5,119 characters change, OpenCC 1.4.2),
    once per installation: the table is kept in ``scanner.io.cache`` (``tables_key``) and loads in ~1 ms.
    """
    table = cache.cached_arrays("tables", (b"t2s", tables_key()), _t2s_arrays)
    return dict(zip(map(chr, table["traditional"].tolist()), map(chr, table["simplified"].tolist())))


def _t2s_arrays() -> dict[str, np.ndarray]:
    import opencc

    chars = [chr(c) for low, high in HAN_RANGES for c in range(low, high + 1)]
    converted = opencc.OpenCC("t2s").convert("\n".join(chars)).split("\n")
    table = {a: b for a, b in zip(chars, converted) if a != b and len(b) == 1}
    for a, b in table.items():
        while b in table and table[b] != b:
            b = table[b]
        table[a] = b
    return {"traditional": np.array([ord(a) for a in table], dtype=np.int32), "simplified": np.array([ord(b) for b in table.values()], dtype=np.int32)}


@functools.lru_cache(maxsize=1)
def tables_key() -> bytes:
    """What the character-level steps' tables are built from, for ``scanner.io.cache`` keys: the
    installed OpenCC, the Unicode version of ``unicodedata`` and this module's source."""
    return cache.entry_key(cache.installed_package("opencc"), unicodedata.unidata_version.encode(), cache.source_digest(__file__)).encode()


def map_char(char: str, step: str) -> str:
    """One character-level step applied to one character (``step`` in ``CHAR_STEPS``)."""
    if step == "invisible":
        return "" if is_invisible(char) else char
    if step == "nfkc":
        return char if char in NFKC_KEPT else unicodedata.normalize("NFKC", char)
    if step == "casefold":
        return char if char.isascii() else char.casefold()
    return t2s_table().get(char, char)


@dataclass(frozen=True)
class Normalized:
    """A normalised string and, per normalised character, where it came from.

    ``origin[i]`` is the (start, end) range of original character indices that character ``i`` stands
    for (a run collapsed by ``repeats`` covers the whole run; one character expanded into several by
    ``nfkc`` gives each the same range). ``runs[i]`` is how many equal characters ``i`` collapsed (1
    without ``repeats``). Deleted characters belong to no normalised character.
    """

    text: str
    origin: tuple[tuple[int, int], ...]
    runs: tuple[int, ...]


def normalize(text: str, steps: Iterable[str]) -> Normalized:
    """Apply ``steps`` (names from ``STEPS``, applied in pipeline order) to ``text``, literally."""
    active = set(steps)
    chars = [(c, i, i + 1, 1) for i, c in enumerate(text)]
    for step in STEPS:
        if step not in active:
            continue
        if step in CHAR_STEPS:
            chars = [(out, s, e, r) for c, s, e, r in chars for out in map_char(c, step)]
        elif step == "separators":
            chars = [chars[i] for i in range(len(chars)) if not _between_han(chars, i)]
        else:
            collapsed: list[tuple[str, int, int, int]] = []
            for c, s, e, r in chars:
                if collapsed and ascii_lower(collapsed[-1][0]) == ascii_lower(c):
                    prev = collapsed[-1]
                    collapsed[-1] = (prev[0], prev[1], e, prev[3] + r)
                else:
                    collapsed.append((c, s, e, r))
            chars = collapsed
    return Normalized("".join(c[0] for c in chars), tuple((c[1], c[2]) for c in chars), tuple(c[3] for c in chars))


def _between_han(chars: list[tuple[str, int, int, int]], i: int) -> bool:
    """True if ``chars[i]`` is a separator whose nearest non-separator neighbours are both Han."""
    if not is_separator(chars[i][0]):
        return False
    before = next((c for c, *_ in reversed(chars[:i]) if not is_separator(c)), None)
    after = next((c for c, *_ in chars[i + 1 :] if not is_separator(c)), None)
    return before is not None and after is not None and is_han(before) and is_han(after)


def term_steps(term: str, steps: Iterable[str]) -> tuple[str, ...]:
    """The steps that apply to ``term``: all of ``steps``, less ``t2s`` if it would change the term
    (a term written with Traditional characters matches as written)."""
    active = tuple(s for s in STEPS if s in set(steps))
    if "t2s" in active:
        without = active[:-1]  # t2s is the last step
        table = t2s_table()
        if any(c in table for c in normalize(term, without).text):
            return without
    return active


def same_match(span: Normalized, term: Normalized) -> bool:
    """Does ``span`` read as ``term`` under the matching contract? ASCII case is ignored when the
    (normalised) term has an ASCII-alphanumeric end; every run must be at least as long as the term's."""
    folded = bool(term.text) and (is_ascii_alnum(term.text[0]) or is_ascii_alnum(term.text[-1]))
    a, b = (ascii_lower(span.text), ascii_lower(term.text)) if folded else (span.text, term.text)
    return a == b and all(x >= y for x, y in zip(span.runs, term.runs))


def needed_steps(span: str, term: str, steps: Iterable[str]) -> tuple[str, ...]:
    """The steps a hit needed: those without which ``span`` (the original text of the hit) would not
    read as ``term``. When no single step is indispensable although raw text differs (the Kelvin sign
    is folded by ``nfkc`` and by ``casefold`` alike), every step that changes the span or the term is named.
    """
    if span == term:
        return ()  # the same text reads the same under any steps: none is needed (the common hit)
    active = list(term_steps(term, steps))
    needed = tuple(s for s in active if not _matches_with(span, term, [x for x in active if x != s]))
    if needed or _matches_with(span, term, []):
        return needed
    return tuple(s for s in active if normalize(span, [s]).text != span or normalize(term, [s]).text != term)


def _matches_with(span: str, term: str, steps: list[str]) -> bool:
    return same_match(normalize(span, steps), normalize(term, steps))


def parse_steps(value: str | Iterable[str]) -> tuple[str, ...]:
    """``"none"``, ``"all"``, ``"default"`` or a comma-separated list of step names -> steps in
    pipeline order. An unknown name raises ``ConfigError`` listing the known ones."""
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else [str(n).strip() for n in value]
    names = [n for n in names if n]
    chosen: set[str] = set()
    for name in names:
        if name == "none":
            continue
        if name == "all":
            chosen.update(STEPS)
        elif name == "default":
            chosen.update(DEFAULT_STEPS)
        elif name in STEPS:
            chosen.add(name)
        else:
            msg = f"unknown normalisation {name!r} (known: {', '.join(STEPS)}, or none, default, all)"
            raise ConfigError(msg)
    return tuple(s for s in STEPS if s in chosen)


@functools.lru_cache(maxsize=1)
def t2s_preimages() -> dict[str, tuple[str, ...]]:
    """Simplified character -> the Traditional characters ``t2s`` turns into it. Matching every
    spelling of a term built from these finds Traditional text without converting any document."""
    inverse: dict[str, list[str]] = {}
    for traditional, simplified in sorted(t2s_table().items()):
        inverse.setdefault(simplified, []).append(traditional)
    return {k: tuple(v) for k, v in inverse.items()}
