"""Hits: every occurrence of a term in a column, as parallel numpy arrays, and the step bits they carry."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scanner.match.normalize import STEPS

STEP_BITS = {step: 1 << i for i, step in enumerate(STEPS)}


def step_names(mask: int) -> list[str]:
    """Bitmask of ``STEP_BITS`` -> step names in pipeline order."""
    return [step for step, bit in STEP_BITS.items() if mask & bit]


@dataclass(frozen=True)
class Hits:
    """Every hit in a column of ``rows`` documents, as parallel numpy arrays (one entry per hit).

    ``row`` is the document's index in the column, ``term`` the pattern id (index into
    ``Lexicon.patterns``: a term id below ``len(Lexicon.terms)``, an allow context or a rule part
    above), ``start``/``end`` UTF-8 byte offsets into that (original) document, and
    ``steps`` a bitmask (``STEP_BITS``) of the normalisations the hit needed (0: matched as written).
    """

    rows: int
    row: np.ndarray
    term: np.ndarray
    start: np.ndarray
    end: np.ndarray
    steps: np.ndarray

    def __len__(self) -> int:
        return len(self.row)

    def take(self, mask: np.ndarray) -> Hits:
        """The hits where ``mask`` is True."""
        return Hits(self.rows, self.row[mask], self.term[mask], self.start[mask], self.end[mask], self.steps[mask])

    def inside(self, spans: Hits) -> np.ndarray:
        """Per hit: does it lie within one of ``spans`` (hits of the same column) of its document?
        With spans sorted by (row, start), a hit is inside iff the largest end among the spans of its row
        starting at or before it reaches its end."""
        if not len(spans) or not len(self):
            return np.zeros(len(self), dtype=bool)
        order = np.lexsort((spans.start, spans.row))
        row, start, end = spans.row[order], spans.start[order], spans.end[order]
        key = row * _ROW_STRIDE + start
        # The running maximum of the ends, restarted at each row: keys of a later row are always larger.
        reach = np.maximum.accumulate(row * _ROW_STRIDE + end) - row * _ROW_STRIDE
        last = np.searchsorted(key, self.row * _ROW_STRIDE + self.start, side="right") - 1
        found = last >= 0
        last = np.maximum(last, 0)
        return found & (row[last] == self.row) & (reach[last] >= self.end)


_ROW_STRIDE = 1 << 40
"""Rows and byte offsets folded into one sortable int64 key (documents are below 1 TiB)."""


def empty_hits(rows: int) -> Hits:
    empty = np.zeros(0, dtype=np.int64)
    return Hits(rows=rows, row=empty, term=empty, start=empty, end=empty, steps=empty)


def concat_hits(parts: list[Hits], row_offsets: list[int]) -> Hits:
    rows = sum(p.rows for p in parts)
    if not parts:
        return empty_hits(0)
    return Hits(
        rows=rows,
        row=np.concatenate([p.row + off for p, off in zip(parts, row_offsets)]),
        term=np.concatenate([p.term for p in parts]),
        start=np.concatenate([p.start for p in parts]),
        end=np.concatenate([p.end for p in parts]),
        steps=np.concatenate([p.steps for p in parts]),
    )
