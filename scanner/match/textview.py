"""Normalise a whole Arrow string column at once (numpy over its buffers), keeping the map back.

``normalize_column`` decodes the UTF-8 data buffer into code points, applies the character-level
steps through one dense lookup table, applies ``separators`` and ``repeats`` with shifted-array
comparisons, and re-encodes. It does what ``scanner.match.normalize.normalize`` does to each string (the
tests hold them equal) without a Python loop per document or per character.

Resource usage: ~20 numpy passes over the characters, ~50 bytes of arrays per character; on Chinese
text it runs at ~15-25 MB/s (2 shared cores, benchmarks/VARIANTS.md), so the matcher uses it on whole
columns (in 4 MB slices) only when ``separators`` or ``repeats`` is on, and otherwise on short
windows around rare characters.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from scanner.arrays import offsets_and_data
from scanner.io import cache
from scanner.match.normalize import (
    CHANGEABLE_RANGES,
    CHAR_STEPS,
    DEFAULT_IGNORABLE,
    HAN_RANGES,
    STEPS,
    is_separator,
    map_char,
    t2s_table,
    tables_key,
)

_MAX_CODE = 0x110000
_BLOCK = 64


@dataclass(frozen=True)
class CharTable:
    """The character-level steps as arrays: ``index[cp]`` is -1 for an unchanged code point, else the
    position of its replacement (``cps[offsets[k]:offsets[k + 1]]``, possibly empty)."""

    index: np.ndarray
    offsets: np.ndarray
    cps: np.ndarray


@functools.lru_cache(maxsize=8)
def char_table(steps: tuple[str, ...]) -> CharTable:
    """Lookup arrays for the character-level steps among ``steps`` (cached per step set).

    Resource usage: 5 MB per process and step set; building takes ~0.03-0.1 s, so the arrays are kept
    in ``scanner.io.cache``, keyed by the steps, what the steps are built from (``tables_key``) and this
    module's source, and load in ~3 ms.
    """
    char_steps = tuple(s for s in STEPS if s in steps and s in CHAR_STEPS)
    parts = (b"char_table", " ".join(char_steps).encode(), tables_key(), cache.source_digest(__file__))
    changes = cache.cached_arrays("tables", parts, lambda: _char_changes(char_steps))
    index = np.full(_MAX_CODE, -1, dtype=np.int32)
    index[changes["codes"]] = np.arange(len(changes["codes"]), dtype=np.int32)
    return CharTable(index, changes["offsets"], changes["cps"])


def _char_changes(char_steps: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The code points the steps change (``codes``, ascending) and their replacements, in
    ``CharTable``'s layout."""
    codes, offsets, cps = [], [0], []
    for code in sorted(_changed_by_any(char_steps)):
        char = out = chr(code)
        for step in char_steps:
            out = map_char(out, step) if len(out) == 1 else "".join(map_char(c, step) for c in out)
        if out != char:
            codes.append(code)
            cps.extend(ord(c) for c in out)
            offsets.append(len(cps))
    return {"codes": np.array(codes, dtype=np.int64), "offsets": np.array(offsets, dtype=np.int64), "cps": np.array(cps, dtype=np.int32)}


def _changed_by_any(steps: tuple[str, ...]) -> set[int]:
    """Code points that at least one of ``steps`` changes on its own (only these can change at all).

    Checked 64 code points at a time first: a block that is NFKC-normalised and its own case fold
    holds none (a character NFKC changes alone is changed inside any string too, and case folding
    maps character by character), so only the few other blocks are tested per character (3x faster).
    """
    changed: set[int] = set()
    if "t2s" in steps:
        changed.update(map(ord, t2s_table()))
    if "invisible" in steps:
        changed.update(c for low, high in DEFAULT_IGNORABLE for c in range(low, high + 1))
    nfkc, casefold = "nfkc" in steps, "casefold" in steps
    for low, high in CHANGEABLE_RANGES if nfkc or casefold else ():
        for first in range(low, high + 1, _BLOCK):
            if 0xD800 <= first < 0xE000:
                continue  # surrogates (the ranges start on a multiple of the block size, as 0xD800 is)
            text = "".join(map(chr, range(first, min(first + _BLOCK, high + 1))))
            if (not nfkc or unicodedata.is_normalized("NFKC", text)) and (not casefold or text.casefold() == text):
                continue
            changed.update(
                ord(c) for c in text if (nfkc and not unicodedata.is_normalized("NFKC", c)) or (casefold and c.casefold() != c)
            )
    return changed


@functools.lru_cache(maxsize=1)
def _character_classes() -> tuple[np.ndarray, np.ndarray]:
    """(is separator, is Han) per code point; separators (Z*, P*, S*) all lie in planes 0 and 1."""
    separator = np.zeros(_MAX_CODE, dtype=bool)
    separator[[c for c in range(0x20000) if not 0xD800 <= c < 0xE000 and is_separator(chr(c))]] = True
    han = np.zeros(_MAX_CODE, dtype=bool)
    for low, high in HAN_RANGES:
        han[low : high + 1] = True
    return separator, han


@dataclass(frozen=True)
class View:
    """A normalised column and, per normalised character, where it came from.

    ``array`` is a ``large_string`` array with one row per input row (nulls become empty strings).
    Per normalised character ``k`` (in buffer order): ``byte_start[k]`` its byte offset in
    ``array``'s data buffer; ``origin_start[k]``/``origin_end[k]`` the byte range of the original
    characters it stands for, as offsets into the original array's data buffer; ``runs[k]`` the length
    of the run ``repeats`` collapsed into it (1 otherwise).
    """

    array: pa.Array
    byte_start: np.ndarray
    origin_start: np.ndarray
    origin_end: np.ndarray
    runs: np.ndarray

    def to_original(self, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """View byte spans [start, end) (non-empty, on character boundaries) -> original byte spans."""
        first = np.searchsorted(self.byte_start, start)
        last = np.searchsorted(self.byte_start, end) - 1
        return self.origin_start[first], self.origin_end[last]


def normalize_column(array: pa.Array, steps: tuple[str, ...]) -> View:
    """Apply ``steps`` to every string of ``array`` (``string`` or ``large_string``).

    ``t2s``, when asked for, applies last, character by character (the matcher asks for it only on
    short windows; elsewhere it matches Traditional spellings of terms or leaves ``t2s`` out). It
    cannot be combined with ``separators`` or ``repeats``, which come before it in the pipeline.
    """
    if "t2s" in steps and {"separators", "repeats"} & set(steps):
        msg = "normalize_column applies t2s with the character steps only"
        raise ValueError(msg)
    offsets, data = offsets_and_data(array)
    raw = np.frombuffer(data, dtype=np.uint8)
    starts = np.flatnonzero((raw[offsets[0] : offsets[-1]] & 0xC0) != 0x80) + offsets[0]
    cp, length = code_points_at(raw, starts)
    row = np.searchsorted(offsets, starts, side="right") - 1
    origin_start, origin_end = starts, starts + length

    table = char_table(steps)
    mapped = table.index[cp]
    changed = np.flatnonzero(mapped >= 0)
    if len(changed):
        count = np.ones(len(cp), dtype=np.int64)
        count[changed] = table.offsets[mapped[changed] + 1] - table.offsets[mapped[changed]]
        source = np.repeat(np.arange(len(cp)), count)
        sizes = count[changed]
        within = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        out = cp[source]
        out[np.repeat((np.cumsum(count) - count)[changed], sizes) + within] = table.cps[np.repeat(table.offsets[mapped[changed]], sizes) + within]
        cp, row, origin_start, origin_end = out, row[source], origin_start[source], origin_end[source]
    runs = np.ones(len(cp), dtype=np.int64)
    if "separators" in steps and len(cp):
        keep = ~_separators_between_han(cp, row)
        cp, row, origin_start, origin_end = cp[keep], row[keep], origin_start[keep], origin_end[keep]
    if "repeats" in steps and len(cp):
        folded = np.where((cp >= 0x41) & (cp <= 0x5A), cp + 0x20, cp)
        first = np.ones(len(cp), dtype=bool)
        first[1:] = (folded[1:] != folded[:-1]) | (row[1:] != row[:-1])
        heads = np.flatnonzero(first)
        runs = np.diff(np.append(heads, len(cp)))
        origin_end = origin_end[heads + runs - 1]
        cp, row, origin_start = cp[heads], row[heads], origin_start[heads]

    encoded, byte_start = _encode(cp)
    row_bytes = np.bincount(row, weights=np.diff(np.append(byte_start, len(encoded))), minlength=len(array))
    view_offsets = np.concatenate([[0], np.cumsum(row_bytes)]).astype(np.int64)
    view = pa.LargeStringArray.from_buffers(len(array), pa.py_buffer(view_offsets), pa.py_buffer(encoded))
    return View(view, byte_start, origin_start, origin_end, runs)


def _separators_between_han(cp: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Mask of separators whose nearest non-separator neighbours in the same row are both Han."""
    is_separator_cp, is_han_cp = _character_classes()
    separator = is_separator_cp[cp]
    positions = np.arange(len(cp))
    before = np.maximum.accumulate(np.where(separator, -1, positions))
    after = np.minimum.accumulate(np.where(separator, len(cp), positions)[::-1])[::-1]
    ok = separator & (before >= 0) & (after < len(cp))
    before, after = np.clip(before, 0, len(cp) - 1), np.clip(after, 0, len(cp) - 1)
    return ok & (row[before] == row) & (row[after] == row) & is_han_cp[cp[before]] & is_han_cp[cp[after]]


def code_points_at(raw: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Code points and byte lengths of the UTF-8 characters starting at ``starts`` (valid UTF-8)."""
    lead = raw[starts].astype(np.int32)
    length = 1 + (lead >= 0xC0).astype(np.int64) + (lead >= 0xE0) + (lead >= 0xF0)
    cp = lead & np.array([0, 0x7F, 0x1F, 0x0F, 0x07], dtype=np.int32)[length]
    for k in (1, 2, 3):
        more = np.flatnonzero(length > k)
        cp[more] = (cp[more] << 6) | (raw[starts[more] + k] & 0x3F)
    return cp, length


def _encode(cp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of ``cp`` and each character's byte offset in them."""
    length = 1 + (cp >= 0x80).astype(np.int64) + (cp >= 0x800) + (cp >= 0x10000)
    byte_start = np.cumsum(length) - length
    out = np.zeros(int(length.sum()), dtype=np.uint8)
    marks = {2: 0xC0, 3: 0xE0, 4: 0xF0}
    ones = length == 1
    out[byte_start[ones]] = cp[ones]
    for size, mark in marks.items():
        sel = np.flatnonzero(length == size)
        value, at = cp[sel], byte_start[sel]
        out[at] = mark | (value >> (6 * (size - 1)))
        for k in range(1, size):
            out[at + k] = 0x80 | ((value >> (6 * (size - 1 - k))) & 0x3F)
    return out, byte_start


