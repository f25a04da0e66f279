"""Rare-character windows: the helpers that decide which hits a normalisation step can change.

The matcher finds the rare characters a step changes (and, with ``t2s``, the Traditional characters of
Simplified terms) in the same automaton pass as the terms, then recomputes hits only on short windows
around them (``scanner.match.matcher.Matcher._redo_near_rare``). These functions say which hits touch or
contain such a character, whether a window can hold a hit at all (``ImageNeighbours``), and how much of a
document is Traditional text (``traditional_shares``). Offsets are UTF-8 byte offsets into the column's
data buffer.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from scanner.arrays import offsets_and_data
from scanner.lexicon.terms import ascii_lower
from scanner.match.normalize import t2s_table
from scanner.match.textview import CharTable, code_points_at

T2S_SAMPLE_BYTES = 32
"""Bytes per sample of a document in ``traditional_shares`` (about 10 Han characters)."""

T2S_SAMPLES = 2
"""Samples per document in ``traditional_shares``: at its start and in its middle."""


_CODE_SHIFT = 21  # code points fit in 21 bits: (image, neighbour) pairs are one int64 key


@dataclass(frozen=True)
class ImageNeighbours:
    """Which characters a term holds right before and after the image of each "inside only" rare
    character whose image is one character (no-break space -> space, ``～`` -> ``~``).

    A hit holding such a character holds its image, so the characters beside it in the document,
    as the view reads them, must be ones a term holds beside the image there, or the image must
    begin (end) a term. Where neither holds on a side, no hit can contain the character and its
    window is skipped: most no-break spaces in Chinese text sit between Han characters or digits,
    while the terms holding a space are Latin phrases. Sides are judged conservatively: a deleted
    neighbour (``invisible``) or one whose image is several characters counts as possible, and
    a neighbour is taken as written, through the view's steps, and through ``t2s``.
    """

    image: np.ndarray  # per rare character: its one-character image, -1 if not judged here
    before: np.ndarray  # sorted keys image << _CODE_SHIFT | the character a term holds before it
    after: np.ndarray  # the same for the character after it
    starts: np.ndarray  # sorted images some term begins with
    ends: np.ndarray  # sorted images some term ends with
    table: CharTable  # the view's character steps

    @classmethod
    def build(cls, rare: list[str], inside_only: np.ndarray, table: CharTable, texts: list[str]) -> ImageNeighbours:
        image = np.full(len(rare), -1, dtype=np.int64)
        for i in np.flatnonzero(inside_only).tolist():
            k = table.index[ord(rare[i])]
            if table.offsets[k + 1] - table.offsets[k] == 1:
                image[i] = table.cps[table.offsets[k]]
        empty = np.zeros(0, dtype=np.int64)
        joined = ascii_lower("".join(texts))
        if not (image >= 0).any() or not joined:
            return cls(image, empty, empty, empty, empty, table)
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        ends = np.cumsum([len(t) for t in texts]) - 1  # each text's last character
        last = np.zeros(len(codes), dtype=bool)
        last[ends] = True
        first = np.roll(last, 1)
        is_image = np.zeros(0x110000, dtype=bool)
        is_image[image[image >= 0]] = True
        at = np.flatnonzero(is_image[codes])
        inner_before, inner_after = at[~first[at]], at[~last[at]]
        return cls(
            image,
            np.unique(codes[inner_before] << _CODE_SHIFT | codes[inner_before - 1]),
            np.unique(codes[inner_after] << _CODE_SHIFT | codes[inner_after + 1]),
            np.unique(codes[at[first[at]]]),
            np.unique(codes[at[last[at]]]),
            table,
        )

    def possible(self, raw: np.ndarray, rare_index, rare_start, rare_end, doc_start, doc_end) -> np.ndarray:
        """Per rare occurrence (buffer byte offsets): can a hit contain it?"""
        possible = np.ones(len(rare_index), dtype=bool)
        judged = np.flatnonzero(self.image[rare_index] >= 0)
        if not len(judged):
            return possible
        image = self.image[rare_index[judged]]
        before = _code_point_before(raw, rare_start[judged], doc_start[judged])
        after = _code_point_at(raw, rare_end[judged], doc_end[judged])
        possible[judged] = (_sorted_has(self.starts, image) | self._beside(self.before, image, before)) & (
            _sorted_has(self.ends, image) | self._beside(self.after, image, after)
        )
        return possible

    def _beside(self, keys: np.ndarray, image: np.ndarray, neighbour: np.ndarray) -> np.ndarray:
        """Could ``neighbour`` (-1: none, the document ends there) read, in the view, as a character a
        term holds beside ``image``? A neighbour the view deletes or turns into several characters
        is taken as possible."""
        table = self.table
        index = np.where(neighbour >= 0, table.index[np.maximum(neighbour, 0)], -1)
        changed = np.flatnonzero(index >= 0)
        size = np.ones(len(neighbour), dtype=np.int64)
        size[changed] = table.offsets[index[changed] + 1] - table.offsets[index[changed]]
        seen = neighbour.copy()
        replaced = changed[size[changed] == 1]
        seen[replaced] = table.cps[table.offsets[index[replaced]]]
        seen = np.where((seen >= 0x41) & (seen <= 0x5A), seen + 0x20, seen)  # patterns are ASCII-lowered
        simplified = t2s_codes()[np.maximum(seen, 0)].astype(np.int64)
        found = _sorted_has(keys, image << _CODE_SHIFT | seen) | _sorted_has(keys, image << _CODE_SHIFT | simplified)
        return (neighbour >= 0) & ((size != 1) | found)


@functools.lru_cache(maxsize=1)
def t2s_codes() -> np.ndarray:
    """Per code point: its ``t2s`` image (itself where t2s changes nothing)."""
    table = np.arange(0x110000, dtype=np.int32)
    t2s = t2s_table()
    table[[ord(c) for c in t2s]] = [ord(s) for s in t2s.values()]
    return table


def _sorted_has(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    if not len(keys):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(keys, values), len(keys) - 1)
    return keys[at] == values


def _code_point_before(raw: np.ndarray, position: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """The code point ending at each ``position`` (-1 where ``position`` is its document's start)."""
    has = position > floor
    start = position - has
    for _ in range(3):
        start -= has & (start > floor) & ((raw[start] & 0xC0) == 0x80)
    return np.where(has, code_points_at(raw, start)[0], -1)


def _code_point_at(raw: np.ndarray, position: np.ndarray, ceiling: np.ndarray) -> np.ndarray:
    """The code point starting at each ``position`` (-1 where ``position`` is its document's end)."""
    has = position < ceiling
    return np.where(has, code_points_at(raw, np.where(has, position, 0))[0], -1)


def touches(row, start, end, rare_row, rare_start, rare_end) -> np.ndarray:
    """Does each span [start, end) (buffer offsets) contain or border a rare character of its row?

    Rare characters are sorted and disjoint, so the last one starting at or before ``end`` decides.
    Offsets are shifted by the row number so that a rare character opening the next row (at the
    same buffer offset as this row's end) does not count as bordering.
    """
    if not len(rare_start) or not len(row):
        return np.zeros(len(row), dtype=bool)
    last = np.searchsorted(rare_start + rare_row, end + row, side="right") - 1
    found = last >= 0
    last = np.maximum(last, 0)
    return found & (rare_end[last] + rare_row[last] >= start + row) & (rare_row[last] == row)


@functools.lru_cache(maxsize=1)
def _traditional_bmp() -> np.ndarray:
    """Per BMP code point: does ``t2s`` change it?"""
    return t2s_codes()[:0x10000] != np.arange(0x10000)


def traditional_shares(array: pa.Array) -> np.ndarray:
    """Per document: the share of Traditional characters (``t2s`` changes them) among the characters of
    ``T2S_SAMPLES`` slices of ``T2S_SAMPLE_BYTES`` bytes, at the document's start and spread over it
    (0 for null and empty documents). Only three-byte characters that lie wholly in a slice count as
    Traditional (all but a few rare ones that ``t2s`` changes). Cost: one gather of the slices and a few
    numpy passes over them (~0.3 ms per 1,000 documents), whatever their length."""
    offsets, data = offsets_and_data(array)
    raw = np.frombuffer(data, dtype=np.uint8)
    start, size = offsets[:-1], np.diff(offsets)
    if not len(raw) or not len(start):
        return np.zeros(len(start), dtype=np.float64)
    traditional_code = _traditional_bmp()
    span = np.arange(T2S_SAMPLE_BYTES, dtype=np.int64)
    chars = np.zeros(len(start), dtype=np.int64)
    traditional = np.zeros(len(start), dtype=np.int64)
    for k in range(T2S_SAMPLES):
        skip = size * k // T2S_SAMPLES
        sample = raw.take((start + skip)[:, None] + span, mode="clip")  # documents x sample bytes
        inside = span < (size - skip)[:, None]
        chars += np.count_nonzero(inside & ((sample & 0xC0) != 0x80), axis=1)
        # Three-byte characters wholly inside the slice and the document: their code points.
        lead = sample[:, :-2]
        three = inside[:, 2:] & ((lead & 0xF0) == 0xE0)
        code = (lead.astype(np.uint16) & 0x0F) << 12 | (sample[:, 1:-1].astype(np.uint16) & 0x3F) << 6 | (sample[:, 2:] & 0x3F)
        traditional += np.count_nonzero(three & traditional_code[code], axis=1)
    return traditional / np.maximum(chars, 1)


def contains(row, start, end, rare_row, rare_start, rare_end) -> np.ndarray:
    """Does each span [start, end) (buffer offsets, on character boundaries) contain a rare
    character of its row? The last one starting before ``end`` decides (sorted and disjoint)."""
    if not len(rare_start) or not len(row):
        return np.zeros(len(row), dtype=bool)
    last = np.searchsorted(rare_start, end, side="left") - 1
    found = last >= 0
    last = np.maximum(last, 0)
    return found & (rare_start[last] >= start) & (rare_row[last] == row)
