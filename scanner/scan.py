"""One unit of work: document batches -> match, language, source -> annotations and ``ShardStats``.

``Scanner`` is the library entry point: compiled once per process (the automaton) and reusable
across batches and threads. ``annotate`` serves cleaning jobs; ``scan_shard`` serves the CLI and
the executors, streaming a shard batch by batch so memory stays bounded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scanner.langid import UNDETERMINED, LanguageIdentifier
from scanner.lexicon import Lexicon
from scanner.matcher import Hits, Matcher
from scanner.readers import Columns, DocumentBatch, Shard, read_batches, resolve_columns, to_document_batch
from scanner.sampling import CandidateCollector, IdHashes, SampleSpec, doc_hashes
from scanner.sources import Registry, resolve_sources
from scanner.stats import BatchCounts, ShardStats
from scanner.taxonomy import RISK_CODES, codes_from_mask

ANNOTATION_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("flagged", pa.bool_()),
        ("hits", pa.int64()),
        ("categories", pa.list_(pa.string())),
        ("terms", pa.list_(pa.string())),
        ("language", pa.string()),
        ("source", pa.string()),
    ]
)


@dataclass(frozen=True)
class ScanOptions:
    """Everything besides the lexicon that changes a scan's results (hashed into ``digest``)."""

    columns: Columns = field(default_factory=Columns)
    langid: bool = True
    registry: Registry = field(default_factory=Registry)
    sample: SampleSpec = field(default_factory=SampleSpec)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class BatchResult:
    """Per-document results of one batch, aligned with its rows."""

    doc_id: pa.Array
    hits_per_doc: np.ndarray
    category_mask: np.ndarray
    terms: pa.Array
    language: pa.Array
    source: pa.Array
    doc_bytes: np.ndarray
    doc_chars: np.ndarray
    hits: Hits
    pair_row: np.ndarray
    pair_term: np.ndarray

    @property
    def flagged(self) -> np.ndarray:
        return self.hits_per_doc > 0

    def sample_rows(self, batch: DocumentBatch, shard_label: str, hashes: np.ndarray, rows: np.ndarray) -> pa.Table:
        """The columns sample candidates keep (``scanner.sampling.CANDIDATE_SCHEMA``) for ``rows`` only."""
        take = pa.array(rows)
        annotations = self.annotations(rows)
        return pa.table(
            {
                "hash": pa.array(hashes[rows], pa.uint64()),
                "doc_id": annotations["doc_id"],
                "shard": pa.array([shard_label] * len(rows), pa.string()),
                "row": pa.array(batch.row_number[rows], pa.int64()),
                "source": annotations["source"],
                "language": annotations["language"],
                "flagged": annotations["flagged"],
                "hits": annotations["hits"],
                "terms": annotations["terms"],
                "categories": annotations["categories"],
                "text": batch.text.take(take),
            }
        )

    def annotations(self, rows: np.ndarray | None = None) -> pa.Table:
        """The annotation columns (``ANNOTATION_SCHEMA``) of every document, or of ``rows`` only."""
        columns = [self.doc_id, pa.array(self.flagged), pa.array(self.hits_per_doc, pa.int64()), None, self.terms, self.language, self.source]
        masks = self.category_mask
        if rows is not None:
            take = pa.array(rows)
            columns = [c.take(take) if c is not None else None for c in columns]
            masks = masks[rows]
        columns[3] = _category_lists(masks)
        return pa.Table.from_arrays(columns, schema=ANNOTATION_SCHEMA)


def _category_lists(masks: np.ndarray) -> pa.Array:
    """list<string> of sorted risk codes per document, from category bitmasks."""
    lists: dict[int, list[str]] = {0: []}
    values: list[str] = []
    offsets = np.zeros(len(masks) + 1, dtype=np.int32)
    for i, mask in enumerate(masks.tolist()):
        if mask not in lists:
            lists[mask] = codes_from_mask(mask)
        values.extend(lists[mask])
        offsets[i + 1] = len(values)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=pa.string()))


class Scanner:
    """A lexicon compiled for matching, plus language ID; build once, use from any thread.

    >>> import pyarrow as pa, scanner
    >>> s = scanner.Scanner(scanner.load_lexicons(), scanner.ScanOptions(langid=False))
    >>> s.annotate(pa.table({"text": ["hello"]})).column_names[-7:]
    ['doc_id', 'flagged', 'hits', 'categories', 'terms', 'language', 'source']
    """

    def __init__(self, lexicon: Lexicon, options: ScanOptions | None = None) -> None:
        self.lexicon = lexicon
        self.options = options or ScanOptions()
        self.matcher = Matcher(lexicon)
        self.langid = LanguageIdentifier() if self.options.langid else None

    def describe(self) -> dict:
        """Provenance for every output: lexicon, language model and the options digest."""
        from scanner import __version__

        return {
            "tool": {"name": "scanner", "version": __version__},
            "lexicon": self.lexicon.describe(),
            "langid": self.langid.describe() if self.langid else None,
            "options": {"digest": self.options.digest(), **asdict(self.options)},
        }

    def analyse(self, batch: DocumentBatch, shard_label: str, fallback_source: str) -> BatchResult:
        """Match, identify and attribute every document of one batch."""
        text = batch.text
        rows = len(text)
        hits = self.matcher.find(text)
        hits_per_doc = np.bincount(hits.row, minlength=rows).astype(np.int64)
        # Distinct (document, term) pairs, sorted by document then term id (= written-text order).
        term_count = len(self.lexicon.terms)
        pairs = np.unique(hits.row * term_count + hits.term)
        pair_row, pair_term = pairs // term_count, pairs % term_count
        category_mask = np.zeros(rows, dtype=np.int64)
        np.bitwise_or.at(category_mask, pair_row, self.matcher.term_category_mask[pair_term])
        term_offsets = np.concatenate([[0], np.cumsum(np.bincount(pair_row, minlength=rows))]).astype(np.int32)
        terms = pa.ListArray.from_arrays(pa.array(term_offsets), self.matcher.term_text.take(pa.array(pair_term)))
        generated = pa.array([f"{shard_label}:{n}" for n in batch.row_number.tolist()], type=pa.string())
        doc_id = generated if batch.id is None else pc.coalesce(batch.id, generated)
        language = self.langid.identify(text) if self.langid else pa.array([UNDETERMINED] * rows, type=pa.string())
        return BatchResult(
            doc_id=doc_id,
            hits_per_doc=hits_per_doc,
            category_mask=category_mask,
            terms=terms,
            language=language,
            source=resolve_sources(rows, batch.source, batch.url, shard_label, fallback_source, self.options.registry),
            doc_bytes=np.asarray(pc.fill_null(pc.binary_length(text), 0), dtype=np.int64),
            doc_chars=np.asarray(pc.fill_null(pc.utf8_length(text), 0), dtype=np.int64),
            hits=hits,
            pair_row=pair_row,
            pair_term=pair_term,
        )

    def count(self, result: BatchResult) -> BatchCounts:
        """The batch's contribution to ``ShardStats`` (exact integer counters)."""
        flagged = result.flagged
        term_count = len(self.lexicon.terms)
        term_hits = np.bincount(result.hits.term, minlength=term_count)
        term_docs = np.bincount(result.pair_term, minlength=term_count)
        by_term = {
            self.lexicon.terms[i].text: {"documents": int(term_docs[i]), "hits": int(term_hits[i])}
            for i in np.flatnonzero(term_hits)
        }
        by_category = {}
        masks = self.matcher.term_category_mask
        for bit, code in enumerate(RISK_CODES):
            documents = int(np.count_nonzero(result.category_mask >> bit & 1))
            if documents:
                by_category[code] = {"documents": documents, "hits": int(term_hits[(masks >> bit & 1) == 1].sum())}
        table = pa.table(
            {
                "language": result.language,
                "source": result.source,
                "flagged": pa.array(flagged.astype(np.int64)),
                "chars": pa.array(result.doc_chars),
                "bytes": pa.array(result.doc_bytes),
            }
        )
        by_language = {
            row["language"]: {"documents": row["flagged_count"], "chars": row["chars_sum"], "flagged_documents": row["flagged_sum"]}
            for row in table.group_by("language").aggregate([("flagged", "count"), ("flagged", "sum"), ("chars", "sum")]).to_pylist()
        }
        by_source = {
            row["source"]: {
                "documents": row["flagged_count"],
                "flagged_documents": row["flagged_sum"],
                "chars": row["chars_sum"],
                "bytes": row["bytes_sum"],
                "languages": {},
            }
            for row in table.group_by("source").aggregate([("flagged", "count"), ("flagged", "sum"), ("chars", "sum"), ("bytes", "sum")]).to_pylist()
        }
        for row in table.group_by(["source", "language"]).aggregate([("flagged", "count")]).to_pylist():
            by_source[row["source"]]["languages"][row["language"]] = row["flagged_count"]
        totals = {
            "documents": len(flagged),
            "empty_documents": int(np.count_nonzero(result.doc_bytes == 0)),
            "bytes": int(result.doc_bytes.sum()),
            "chars": int(result.doc_chars.sum()),
            "flagged_documents": int(np.count_nonzero(flagged)),
            "hits": len(result.hits),
        }
        return BatchCounts(totals, by_category, by_language, by_source, by_term)

    def annotate(self, data: pa.Table | pa.RecordBatch, shard: str = "", first_row: int = 0, stats: ShardStats | None = None) -> pa.Table:
        """``data`` with the annotation columns appended (doc_id, flagged, hits, categories, terms,
        language, source). Columns named by ``ScanOptions.columns`` are read; a missing text column
        raises ``ShardError`` naming the columns present. Generated ids are ``<shard>:<row>``, rows
        numbered from ``first_row`` (a chunk of a longer stream). With ``stats``, the data's counts
        are added to it in the same pass (cleaning jobs that annotate and keep statistics)."""
        table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
        roles = resolve_columns(table.column_names, self.options.columns, shard or "table")
        result = self.analyse(to_document_batch(table, roles, shard or "table", first_row), shard, shard or "unknown")
        if stats is not None:
            stats.update(self.count(result))
            stats.rows_read += table.num_rows
        annotated = table
        for name, column in zip(ANNOTATION_SCHEMA.names, result.annotations().columns):
            annotated = annotated.append_column(name, column)
        return annotated

    def stats_of(self, data: Iterable[pa.Table | pa.RecordBatch], shard: str = "") -> ShardStats:
        """Shard statistics of an iterator of Arrow tables or batches (one logical shard)."""
        stats = ShardStats()
        seen = 0
        for part in data:
            roles = resolve_columns(part.column_names, self.options.columns, shard or "table")
            batch = to_document_batch(part, roles, shard or "table", seen)
            seen += part.num_rows
            stats.update(self.count(self.analyse(batch, shard, shard or "unknown")))
        stats.rows_read = seen
        return stats

    def iter_shard(self, shard: Shard) -> Iterator[tuple[DocumentBatch, BatchResult]]:
        """Stream a shard's batches with their results (raises ``ShardError`` if it is unreadable)."""
        for batch in read_batches(shard, self.options.columns):
            yield batch, self.analyse(batch, shard.label, shard.stem)

    def scan_shard(
        self,
        shard: Shard,
        annotations: pq.ParquetWriter | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        candidates: CandidateCollector | None = None,
        id_hashes: IdHashes | None = None,
    ) -> ShardStats:
        """Scan one shard into statistics, writing annotations if a writer is given, collecting sample
        candidates and id hashes if collectors are given. ``on_progress(documents, bytes)`` runs per batch."""
        stats = ShardStats()
        for batch, result in self.iter_shard(shard):
            if candidates is not None or id_hashes is not None:
                hashes = doc_hashes(result.doc_id.to_pylist(), self.options.sample.seed)
                if id_hashes is not None:
                    id_hashes.add(hashes)
                if candidates is not None:
                    rows = np.flatnonzero(candidates.wanted(hashes) & (result.doc_bytes > 0))
                    if len(rows):
                        candidates.add(result.sample_rows(batch, shard.label, hashes, rows))
            stats.update(self.count(result))
            for reason, rows in batch.rejected.items():
                stats.reject(reason, rows)
            stats.rows_read += len(result.doc_bytes) + sum(batch.rejected.values())
            if annotations is not None and len(result.doc_bytes):
                annotations.write_table(result.annotations())
            if on_progress is not None:
                on_progress(len(result.doc_bytes), int(result.doc_bytes.sum()))
        return stats
