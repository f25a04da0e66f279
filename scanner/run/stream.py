"""A work unit batch by batch: the one per-batch step and the one unit-writing tail of every scan.

``StreamUnit`` is what a work unit accumulates while its batches go by (exact counters, rejected rows,
sample candidates, id hashes) and how it is written into OUT at its end (sample candidates, id hashes,
then the stats file, the done marker; each atomically, through ``scanner.evidence.outfolder``).
``run_shard`` (``scanner.run.unit``) feeds it the batches it reads from a file (``add_result``); the
engine integrations (``scanner.spark``: a partition, ``scanner.datatrove``: a rank) feed it the Arrow
tables they hold in memory (``add``), cut to the readers' batch bounds. So a unit's files do not
depend on how its documents arrived, and ``scanner report OUT`` merges both kinds.

For the engines: ``ScannerSpec`` is the small picklable recipe a worker process builds the compiled
scanner from, once per process; ``prepare_stream_output`` readies OUT for a job whose units are not
files, as ``scanner.run.scan.run_scan`` does for files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scanner.evidence.outfolder import OutputFolder
from scanner.evidence.result import BatchResult
from scanner.evidence.sampling import CandidateCollector, IdHashes, doc_hashes, split_at_cutoff
from scanner.evidence.stats import ShardStats
from scanner.io.discovery import Shard
from scanner.io.readers import (
    BATCH_BYTES,
    BATCH_ROWS,
    DocumentBatch,
    resolve_columns,
    scanned_document_batch,
    to_document_batch,
)
from scanner.lexicon.load import Lexicon, load_lexicons
from scanner.scan import BASE_ANNOTATION_SCHEMA, Scanner, ScanOptions, describe_run

MALFORMED_JSON = "malformed_json"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def stream_shard(label: str, engine: str) -> Shard:
    """The ``Shard`` that names a unit fed from memory (no file): ``label`` in the report, sample
    candidates and generated ids; ``Shard.name`` (``<last part of label>-<hash of label>``) in OUT."""
    return Shard(path=label, label=label, format=engine, compression=None, bytes=0)


class StreamUnit:
    """One work unit's accumulators, fed batch by batch, and its outputs.

    ``shard`` names the unit: ``shard.name`` is its outputs' file stem, ``shard.label`` its name in the
    report, in sample candidates and in generated ids (``<label>:<row>``). ``fallback_source`` is the
    source of documents with neither a source nor a URL (default ``shard.stem``, the file name, as the
    CLI). ``expected_documents``: the rows of the whole scan, or a lower bound, which sets the sample's
    rank cut-offs (``scanner.evidence.sampling``); None keeps every candidate's text and token count,
    always correct, which a unit fed from memory needs (it has no file to read a text back from) unless
    the count is known. ``collect=False``: annotations only (``add``), no statistics.
    """

    def __init__(
        self,
        scanner: Scanner,
        shard: Shard,
        *,
        fallback_source: str | None = None,
        expected_documents: int | None = None,
        collect: bool = True,
    ) -> None:
        self.scanner = scanner
        self.shard = shard
        self.fallback_source = fallback_source or shard.stem
        self.expected_documents = expected_documents
        self.collect = collect
        self.started = now()
        self.rows = 0  # rows handed to ``add``: generated ids and sample rows number them across the unit
        self.input_bytes = shard.bytes  # a file's size; for a unit fed from memory, the Arrow bytes received
        self.failed = False
        self.stats = ShardStats()
        self.candidates = CandidateCollector(scanner.options.sample, expected_documents)
        self.id_hashes = IdHashes()

    # -- the per-batch step --------------------------------------------------------------------

    def add_result(self, batch: DocumentBatch, result: BatchResult) -> None:
        """The per-batch step of every scan: sample candidates, id hashes, exact counters, rejected rows."""
        options = self.scanner.options
        hashes = doc_hashes(result.doc_id.to_pylist(), options.sample.seed)
        self.id_hashes.add(hashes)
        rows = np.flatnonzero(self.candidates.wanted(hashes) & (result.doc_bytes > 0))
        if len(rows):
            with_text = self.candidates.keeps_text(hashes[rows])
            every = options.token_mode.every_document  # counted for every row anyway
            with_tokens = np.ones(len(rows), dtype=bool) if every else self.candidates.counts_tokens(hashes[rows])
            tokens = self.scanner.candidate_tokens(result, rows[with_tokens])
            self.candidates.add(result.sample_rows(batch, self.shard.label, hashes, rows, with_text, with_tokens, tokens, options.sample.text_chars))
        self.stats.update(self.scanner.count(result))
        for reason, count in batch.rejected.items():
            self.stats.reject(reason, count)
        self.stats.rows_read += len(result.doc_bytes) + sum(batch.rejected.values())

    def add(
        self,
        data: pa.Table | pa.RecordBatch,
        *,
        strict: bool = False,
        rejected_column: str | None = None,
        fallback_source: str | None = None,
    ) -> pa.Table:
        """Scan Arrow data held in memory (columns chosen by ``ScanOptions.columns``, as the CLI chooses
        them) and return the annotation columns of its documents (``BASE_ANNOTATION_SCHEMA``), in order.

        ``strict`` (annotation): one document per row, and a row that cannot be one raises ``ShardError``
        (as ``Scanner.annotate``). Otherwise (a scan) such rows are rejected, counted and left out of the
        result: binary text, id, source or URL that is not UTF-8 (``invalid_utf8``), and rows whose
        ``rejected_column`` is set (``malformed_json``: Spark's JSON reader puts unparsable lines there).
        ``fallback_source`` overrides the unit's for this data (datatrove: the file it came from).
        Large data is cut into the readers' batches (``BATCH_ROWS`` rows, about ``BATCH_BYTES`` of text),
        so the scanner's working copies stay as small as a CLI worker's whatever the engine hands over."""
        table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
        source = fallback_source or self.fallback_source
        parts = [self._add(part, source, strict=strict, rejected_column=rejected_column) for part in self._slices(table)]
        return parts[0] if len(parts) == 1 else pa.concat_tables(parts)

    def _slices(self, table: pa.Table) -> list[pa.Table]:
        """Zero-copy slices of at most ``BATCH_ROWS`` rows and about ``BATCH_BYTES`` of text."""
        column = self.scanner.options.columns.text
        if table.num_rows <= 1 or column not in table.column_names:
            return [table]
        text = table[column]
        kind = text.type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind)):
            return [table]
        if table.num_rows <= BATCH_ROWS and text.nbytes <= BATCH_BYTES:
            return [table]
        ends = np.cumsum(np.asarray(pc.fill_null(pc.binary_length(text), 0), dtype=np.int64))
        parts, start = [], 0
        while start < table.num_rows:
            limit = (ends[start - 1] if start else 0) + BATCH_BYTES
            stop = max(start + 1, min(int(np.searchsorted(ends, limit, side="right")), start + BATCH_ROWS))
            parts.append(table.slice(start, stop - start))
            start = stop
        return parts

    def _add(self, table: pa.Table, fallback_source: str, *, strict: bool, rejected_column: str | None) -> pa.Table:
        first, count = self.rows, table.num_rows
        self.rows += count
        self.input_bytes += table.nbytes
        if self.failed or count == 0:
            return BASE_ANNOTATION_SCHEMA.empty_table()
        where = self.shard.label
        roles = resolve_columns(table.column_names, self.scanner.options.columns, where)
        if strict:
            batch = to_document_batch(table, roles, where, first)
        else:
            malformed = np.asarray(table[rejected_column].is_valid(), dtype=bool) if rejected_column in table.column_names else None
            if malformed is not None and malformed.any():
                kept = np.flatnonzero(~malformed)
                batch = scanned_document_batch(table.filter(pa.array(~malformed)), roles, where, first)
                rejected = {**batch.rejected, MALFORMED_JSON: batch.rejected.get(MALFORMED_JSON, 0) + int(np.count_nonzero(malformed))}
                # row numbers (generated ids, sample rows) stay those of the rows as received
                batch = dataclasses.replace(batch, row_number=first + kept[batch.row_number - first], rejected=rejected)
            else:
                batch = scanned_document_batch(table, roles, where, first)
        result = self.scanner.analyse(batch, where, fallback_source)
        if self.collect:
            self.add_result(batch, result)
        return result.annotations(evidence=False)

    # -- the tail ------------------------------------------------------------------------------

    def fail(self, reason: str) -> None:
        """The unit cannot be read (a ``ShardError``, or its file went away): it records the error and
        nothing else (no counts, no sample candidates, no ids), so the report lists it, the screened share
        drops and a re-run scans it again. Data added later is ignored."""
        self.failed = True
        self.stats = ShardStats(errors=[*self.stats.errors, {"shard": self.shard.label, "reason": reason}])
        self.candidates = CandidateCollector(self.scanner.options.sample, self.expected_documents)
        self.id_hashes = IdHashes()

    def write(self, folder: OutputFolder, identity: dict[str, Any], *, command: str = "", fingerprint: str | None = None) -> ShardStats:
        """Write the unit's sample candidates, id hashes and, last, its stats file (the done marker),
        each atomically; returns its stats. ``identity`` (``scanner.evidence.outfolder.unit_identity`` for a
        file) is what a re-run compares to decide whether the unit is done; ``fingerprint`` the input file's."""
        stats = self.stats
        stats.inputs = [{"path": self.shard.label, "bytes": self.input_bytes, "rows": stats.rows_read, "fingerprint": fingerprint}]
        folder.write_candidates(self.shard.name, *split_at_cutoff(self.candidates.result(), self.candidates.text_cutoff))
        folder.write_id_hashes(self.shard.name, self.id_hashes.result())
        provenance = {"command": command, "started_at": self.started, "finished_at": now()}
        shard = self.shard if self.input_bytes == self.shard.bytes else dataclasses.replace(self.shard, bytes=self.input_bytes)
        folder.write_unit(shard, self.scanner.describe(), stats, identity, provenance)
        return stats


# -- engines: one compiled scanner per worker process ------------------------------------------

_SCANNERS: OrderedDict[str, Scanner] = OrderedDict()
_SCANNERS_KEPT = 4  # a long-lived worker that sees several lexicons or options keeps the last few
_SCANNERS_LOCK = threading.Lock()


@dataclass(frozen=True)
class ScannerSpec:
    """What a worker process needs to build the scanner: the pickled (Lexicon, ScanOptions), and a hash
    of them that keys the process's cache of compiled scanners. Small (the lexicon's terms, not the
    automaton), so it travels with every task; nothing but this recipe, built by the driver, is unpickled."""

    payload: bytes
    key: str

    @classmethod
    def of(cls, lexicons: Lexicon | Iterable[str | Path] = (), options: ScanOptions | None = None) -> ScannerSpec:
        """Load the lexicons now, on the driver, so a bad lexicon fails before any job starts (paths;
        none: the bundled default)."""
        lexicon = lexicons if isinstance(lexicons, Lexicon) else load_lexicons([str(p) for p in lexicons])
        payload = pickle.dumps((lexicon, options or ScanOptions()), protocol=pickle.HIGHEST_PROTOCOL)
        return cls(payload, hashlib.sha256(payload).hexdigest())

    @property
    def options(self) -> ScanOptions:
        return pickle.loads(self.payload)[1]

    def run(self) -> dict[str, Any]:
        """The provenance block every unit of the job carries (``Scanner.describe()``), without compiling."""
        return describe_run(*pickle.loads(self.payload))

    def scanner(self) -> tuple[Scanner, bool]:
        """(this process's compiled and warmed-up scanner, whether this call built it)."""
        with _SCANNERS_LOCK:
            cached = _SCANNERS.get(self.key)
            if cached is not None:
                _SCANNERS.move_to_end(self.key)
                return cached, False
            built = Scanner(*pickle.loads(self.payload)).warmed_up()
            _SCANNERS[self.key] = built
            while len(_SCANNERS) > _SCANNERS_KEPT:
                _SCANNERS.popitem(last=False)
            return built, True


def prepare_stream_output(folder: OutputFolder, run: dict[str, Any], units: list[Shard], owned: Callable[[str], bool], *, force: bool = False) -> None:
    """Make OUT ready for an engine job whose units are ``units`` (a dataset's partitions or ranks), as
    ``run_scan`` does for files: refuse an OUT holding units of another lexicon, options or tool version
    (``ConfigError``; with ``force``, delete that scan instead, as ``scanner scan --force``), create the
    folders, delete the outputs of this dataset's units of earlier runs that are not among ``units``
    (``owned(name)``: whether a unit name is one of this dataset's, however it was cut) and the plans that
    list them, then write the plan of ``units``, so the report of a job that died says "planned, not
    scanned yet" instead of covering part of the data."""
    if not force:
        folder.refuse_foreign_units(units, run)
    folder.prepare(units, annotate=False, run=run, force=force)
    wanted = {unit.name for unit in units}
    folder.drop_units(lambda name: owned(name) and name not in wanted)
    if units:
        folder.write_plan(units, None, run)


def merge_stats(stats: Iterable[ShardStats]) -> ShardStats:
    total = ShardStats()
    for part in stats:
        total.absorb(part)
    return total
