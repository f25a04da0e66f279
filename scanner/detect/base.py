"""The detector seam: one per-document signal beside the keyword hits, in one module each.

A detector declares
- ``Options``: a frozen dataclass of its options, with defaults. ``scanner.scan.ScanOptions`` is built
  from every registered detector's ``Options``, so they are part of the one scan config, of
  ``ScanOptions.digest()`` and of every output's provenance;
- ``columns``: the annotation columns it adds (``Scanner.annotate``, ``OUT/annotations``), in order;
- ``detect``: its per-document values for one batch, by name (the ``columns`` among them, as Arrow
  arrays or numpy arrays aligned with the batch's rows); detectors run in registration order and see
  the values of those before them (``Batch.values``);
- ``count``: its exact counters for the batch, as a partial ``ShardStats`` tree (``{"totals": ...,
  "by_source": {source: {...}}, ...}``) of integers, which merge by addition like every other counter;
- ``report`` and ``section``: what it derives into report.json from the merged statistics, and the
  table it adds to report.md and report.html.

Adding a detector is one module plus one line in ``scanner.detect.registry.DETECTORS``; the scan loop,
the statistics and the report stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scanner.arrays import byte_mask, offsets_and_data
from scanner.io.readers import DocumentBatch
from scanner.match.hits import Hits

Counts = dict[str, Any]
"""A partial ``ShardStats`` tree: field name -> nested ``{key: int | dict}``, added into the stats."""


@dataclass
class Batch:
    """One batch as detectors see it: the documents, their keyword hits (terms only, without those inside
    allow contexts) and sizes, and the values of the detectors that ran before (``values``, by name:
    ``source``, ``language`` ...)."""

    documents: DocumentBatch
    doc_id: pa.Array
    shard: str
    fallback_source: str
    hits: Hits
    hits_per_doc: np.ndarray
    doc_bytes: np.ndarray
    doc_chars: np.ndarray
    values: dict[str, Any] = field(default_factory=dict)
    parts: Hits | None = None
    """Hits of co-occurrence rule parts that are not terms themselves (None: the lexicon has no rules)."""
    allowed_hits: int = 0
    """Term hits removed because they lie inside an allow context."""

    @property
    def rows(self) -> int:
        return len(self.doc_bytes)

    @property
    def text(self) -> pa.Array:
        return self.documents.text

    @cached_property
    def byte_classes(self) -> ByteClasses:
        """The batch's text classified byte by byte, once for every detector that reads bytes (code
        detection, personal information)."""
        return byte_classes(self.text)

    @cached_property
    def _sources(self) -> tuple[np.ndarray, list[str]]:
        return codes_of(self.values["source"])

    def per_source(self, weights: np.ndarray) -> dict[str, int]:
        """Sum of ``weights`` (a count or a mask per document) per source, sources with a zero sum left out."""
        codes, names = self._sources
        sums = np.bincount(codes, weights=weights, minlength=len(names)) if len(codes) else np.zeros(0)
        return {names[i]: int(sums[i]) for i in np.flatnonzero(sums)}


NEWLINE, CODE_SYMBOL, DIGIT, AT_SIGN, FULLWIDTH_LEAD = 1, 2, 4, 8, 16
"""Byte classes of ``byte_classes``: a line feed; a code symbol (``CODE_SYMBOLS``); an ASCII digit; ``@``;
``0xEF``, the lead byte of the full-width forms (U+F000-FFFF, among them ``０-９``, ``＠``, ``Ａ-ｚ``)."""
CODE_SYMBOLS = "{}[]()=;<>_*/\\|"
"""The ASCII symbols code is dense with (not ``@ # & $``: tweets are full of them)."""
_CLASS_OF_BYTE = (
    byte_mask("\n").astype(np.uint8) * NEWLINE
    | byte_mask(CODE_SYMBOLS).astype(np.uint8) * CODE_SYMBOL
    | byte_mask("0123456789").astype(np.uint8) * DIGIT
    | byte_mask("@").astype(np.uint8) * AT_SIGN
)
_CLASS_OF_BYTE[0xEF] = FULLWIDTH_LEAD
_TRANSLATION = bytes(_CLASS_OF_BYTE.tolist())


@dataclass(frozen=True)
class ByteClasses:
    """The bytes of a string column that the byte-level detectors look at, found in one pass over its
    data buffer (``byte_classes``): their positions in the buffer, ascending, and their class.

    All of them are ASCII bytes or a lead byte, which never occur inside a multi-byte UTF-8 character,
    so a position is always a character's start.
    """

    offsets: np.ndarray
    raw: np.ndarray
    position: np.ndarray
    kind: np.ndarray

    def of(self, kind: int) -> np.ndarray:
        """Positions of the bytes of one class."""
        return self.position[self.kind == kind]

    def counts(self, kind: int, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        """Per range ``[start, stop)`` of the buffer (``start <= stop``): the bytes of ``kind`` in it."""
        running = np.concatenate([[0], np.cumsum(self.kind == kind)])
        return running[np.searchsorted(self.position, stop)] - running[np.searchsorted(self.position, start)]


def byte_classes(texts: pa.Array | pa.ChunkedArray) -> ByteClasses:
    """Classify every byte of the column's text (``NEWLINE`` ... ``FULLWIDTH_LEAD``) in one pass.

    Cost: ``bytes.translate`` through a 256-byte table and one ``flatnonzero`` over the batch, ~1 ns per
    byte; the rest is per classified byte (in Chinese text a few %, in English ~3 %). A lookup with
    numpy (``table[raw]``) took 3x longer, and separate passes for each detector (newlines and symbols
    among the ASCII bytes, then ``@``, ``0xEF`` and digits) 4-6x on text that is mostly ASCII.
    """
    texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    offsets, data = offsets_and_data(texts)
    raw = np.frombuffer(data, dtype=np.uint8)
    base, stop = (int(offsets[0]), int(offsets[-1])) if len(offsets) else (0, 0)
    classes = np.frombuffer(bytes(memoryview(data)[base:stop]).translate(_TRANSLATION), dtype=np.uint8)
    position = np.flatnonzero(classes != 0)
    return ByteClasses(offsets, raw, position + base, classes[position])


@dataclass(frozen=True)
class Section:
    """A table a detector adds to report.md and report.html: a heading key and column keys of
    ``scanner.report.i18n`` (or literal text), and rows of values."""

    ident: str
    heading: str
    header: list[str]
    rows: list[list[Any]]
    note: str = ""


@dataclass(frozen=True)
class NoOptions:
    """For detectors without options of their own."""


class Detector:
    """Base class: override ``detect`` and whatever else the detector contributes (see the module docstring)."""

    name: ClassVar[str]
    Options: ClassVar[type] = NoOptions
    columns: ClassVar[tuple[pa.Field, ...]] = ()

    def __init__(self, options: Any, lexicon: Any) -> None:
        """``options``: the scan's ``ScanOptions`` (holding this detector's ``Options`` fields);
        ``lexicon``: the compiled scan's lexicon."""
        self.options = options
        self.lexicon = lexicon

    def warm_up(self) -> None:
        """Load now what would load lazily on first use (models), before worker processes fork."""

    def describe(self) -> dict[str, Any] | None:
        """Provenance beyond the options (a model's hash), or None."""
        return None

    def detect(self, batch: Batch) -> dict[str, Any]:
        raise NotImplementedError

    def count(self, batch: Batch) -> Counts:
        return {}

    @classmethod
    def report(cls, stats: Any, report: dict[str, Any]) -> None:
        """Add what this detector derives from the merged ``stats`` to ``report`` (report.json), in place."""

    @classmethod
    def sections(cls, report: dict[str, Any], lang: str) -> list[Section]:
        """The tables this detector adds to report.md and report.html."""
        return []


def group_counts(first: np.ndarray, first_size: int, second: np.ndarray, second_size: int, weights: np.ndarray | None = None) -> np.ndarray:
    """``(first_size, second_size)`` sums of ``weights`` (or counts) per pair of codes, by one bincount."""
    return np.bincount(first * second_size + second, weights=weights, minlength=first_size * second_size).reshape(first_size, second_size)


def codes_of(values: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Dictionary codes of a string array and the names they stand for."""
    encoded = pc.dictionary_encode(values)
    return np.asarray(encoded.indices, dtype=np.int64), encoded.dictionary.to_pylist()
