"""Annotate the data structures cleaning jobs already hold: pyarrow, polars, HF ``datasets``.

Each adapter appends the annotation columns (``doc_id``, ``flagged``, ``hits``, ``categories``,
``terms``, then the detectors' columns ``language``, ``source``, ``pii`` ...; see ``scanner.scan.BASE_ANNOTATION_SCHEMA``) and adds what it saw to
``Annotator.stats`` in the same pass, so a job can filter on ``flagged`` and still report on the
whole input. An input column that has an annotation column's name (often ``source``) is replaced,
as ``datasets.map`` does with returned columns. Generated document ids (when there is no id column) are ``<shard>:<row>``, with rows
numbered across the whole stream, not per batch.

>>> import pyarrow as pa, scanner
>>> annotator = Annotator(scanner.Scanner(scanner.load_lexicons(), scanner.ScanOptions(langid=False)))
>>> annotator.table(pa.table({"text": ["hello"]})).column("flagged").to_pylist()
[False]
>>> annotator.stats.totals["documents"]
1
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa

from scanner.evidence.stats import ShardStats
from scanner.lexicon.load import Lexicon
from scanner.scan import BASE_ANNOTATION_SCHEMA, Scanner, ScanOptions

_ROW_INDEX = "__scanner_row"


def _rebuild(lexicon: Lexicon, options: ScanOptions, shard: str) -> Annotator:
    return Annotator(Scanner(lexicon, options), shard)


class Annotator:
    """Annotates tables, batch streams, polars frames and HF batches, and keeps their statistics.

    Thread-safe (polars runs UDFs on its own threads). Pickles as its lexicon and options, so it
    can be shipped to worker processes (``datasets.map(num_proc=...)``); statistics gathered in
    another process stay there, so keep ``stats`` only from single-process runs.
    """

    def __init__(self, scanner: Scanner, shard: str = "") -> None:
        self.scanner = scanner
        self.shard = shard
        self.stats = ShardStats()
        self._next_row = 0
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[Callable[..., Annotator], tuple[Lexicon, ScanOptions, str]]:
        return _rebuild, (self.scanner.lexicon, self.scanner.options, self.shard)

    def table(self, data: pa.Table | pa.RecordBatch, first_row: int | None = None) -> pa.Table:
        """``data`` plus the annotation columns; rows are numbered on from the previous call unless
        ``first_row`` says where this chunk starts."""
        with self._lock:
            start = self._next_row if first_row is None else first_row
            self._next_row = start + data.num_rows
        batch_stats = ShardStats()
        annotated = self.scanner.annotate(data, self.shard, first_row=start, stats=batch_stats)
        with self._lock:
            self.stats = self.stats + batch_stats
        inputs = data.num_columns
        kept = [i for i, name in enumerate(data.schema.names) if name not in BASE_ANNOTATION_SCHEMA.names]
        return annotated.select(kept + list(range(inputs, annotated.num_columns)))

    def batches(self, data: Iterable[pa.RecordBatch | pa.Table]) -> Iterator[pa.RecordBatch]:
        """Annotated record batches of a stream of batches or tables (lazy: one in memory at a time)."""
        for part in data:
            yield from self.table(part).to_batches()

    def polars(self, frame: Any) -> Any:
        """A polars ``DataFrame`` or ``LazyFrame`` with the annotation columns; a LazyFrame stays lazy
        and streamable (ids come from a row index taken before any chunking)."""
        import polars as pl

        if isinstance(frame, pl.DataFrame):
            return pl.from_arrow(self.table(frame.to_arrow()))
        annotation_schema = dict(pl.from_arrow(BASE_ANNOTATION_SCHEMA.empty_table()).schema)
        schema = {name: kind for name, kind in frame.collect_schema().items() if name not in annotation_schema}

        def annotate_chunk(chunk: pl.DataFrame) -> pl.DataFrame:
            first_row = int(chunk[_ROW_INDEX][0]) if chunk.height else 0
            return pl.from_arrow(self.table(chunk.drop(_ROW_INDEX).to_arrow(), first_row))

        return frame.with_row_index(_ROW_INDEX).map_batches(annotate_chunk, schema={**schema, **annotation_schema}, streamable=True)

    def hf(self, batch: Mapping[str, Any] | pa.Table, indices: Sequence[int]) -> pa.Table:
        """For ``Dataset.map(annotator.hf, batched=True, with_indices=True)``, in the default (python) or
        ``arrow`` format (other formats' batches go through ``pa.table``). Returns the whole annotated
        batch as a table, which ``datasets`` keeps with its Arrow types: returned lists would be typed
        from the first batch alone, and one without hits holds only empty lists (typed null), so a later
        hit would fail to cast. A returned table replaces the batch, so ``remove_columns`` does not apply."""
        rows = getattr(batch, "pa_table", None)  # the default format's LazyBatch holds its Arrow rows
        return self.table(rows if rows is not None else pa.table(batch), indices[0] if len(indices) else 0)
