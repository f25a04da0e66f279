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
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scanner.detect.datatype import char_counts, data_types, detect_code
from scanner.detect.language import UNDETERMINED, LanguageIdentifier
from scanner.detect.source import Registry, resolve_sources
from scanner.detect.tokens import DEFAULT_TOKENIZER, TOKEN_MODES, count_tokens
from scanner.errors import ConfigError
from scanner.evidence.sampling import CandidateCollector, IdHashes, SampleSpec, doc_hashes, truncate_texts
from scanner.evidence.stats import BatchCounts, ShardStats
from scanner.io.discovery import Shard
from scanner.io.readers import Columns, DocumentBatch, read_batches, resolve_columns, to_document_batch
from scanner.lexicon.load import Lexicon
from scanner.lexicon.taxonomy import RISK_CODES
from scanner.match.engines import DEFAULT_ENGINE
from scanner.match.hits import STEP_BITS, Hits
from scanner.match.matcher import Matcher
from scanner.match.normalize import DEFAULT_STEPS, STEPS, parse_steps
from scanner.match.textview import offsets_and_data

MATCH_TYPE = pa.struct(
    [
        ("term", pa.string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("original", pa.string()),
        ("normalizations", pa.list_(pa.string())),
    ]
)
ANNOTATION_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("flagged", pa.bool_()),
        ("hits", pa.int64()),
        ("categories", pa.list_(pa.string())),
        ("terms", pa.list_(pa.string())),
        ("language", pa.string()),
        ("source", pa.string()),
        ("normalizations", pa.list_(pa.string())),
        ("matches", pa.list_(MATCH_TYPE)),
    ]
)
"""Per-document annotations; the last two are the evidence columns: ``normalizations`` (steps any hit
of the document needed, pipeline order) and ``matches`` (every hit, by start: the term as written,
UTF-8 byte offsets ``start``/``end`` into the original text, the ``original`` text there, and the
steps that hit needed)."""
EVIDENCE_COLUMNS = 2
# What ``Scanner.annotate`` appends by default: the annotation columns without the evidence ones.
BASE_ANNOTATION_SCHEMA = pa.schema(list(ANNOTATION_SCHEMA)[:-EVIDENCE_COLUMNS])


@dataclass(frozen=True)
class ScanOptions:
    """Everything besides the lexicon that changes a scan's results (hashed into ``digest``).

    ``normalize``: normalisation steps (names from ``scanner.match.normalize.STEPS``, or a string such as
    ``"none"``, ``"all"`` or ``"nfkc,t2s"``); stored as a tuple in pipeline order. ``engine``: the
    matching engine (``scanner.match.matcher.ENGINES``); results are identical, so only speed differs.
    ``tokenizer_sha256`` is set from the ``tokenizer.json`` file, if one counts tokens: a file
    changed in place changes the counts, so it must change the digest (and redo the units) too.
    """

    columns: Columns = field(default_factory=Columns)
    langid: bool = True
    registry: Registry = field(default_factory=Registry)
    sample: SampleSpec = field(default_factory=SampleSpec)
    normalize: tuple[str, ...] = DEFAULT_STEPS
    tokens: str = "estimate"
    tokenizer: str = DEFAULT_TOKENIZER
    engine: str = DEFAULT_ENGINE
    tokenizer_sha256: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "normalize", parse_steps(self.normalize))
        if self.tokens not in TOKEN_MODES:
            msg = f"tokens must be one of {', '.join(TOKEN_MODES)}, not {self.tokens!r}"
            raise ConfigError(msg)
        if self.tokens != "off" and self.tokenizer != DEFAULT_TOKENIZER:
            try:
                object.__setattr__(self, "tokenizer_sha256", hashlib.sha256(Path(self.tokenizer).read_bytes()).hexdigest())
            except OSError as e:
                msg = f"tokenizer {self.tokenizer!r} is neither {DEFAULT_TOKENIZER} nor a readable tokenizer.json file ({e})"
                raise ConfigError(msg) from e

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
    text: pa.Array
    term_text: pa.Array
    data_type: pa.Array
    doc_tokens: np.ndarray | None  # only in ``tokens="exact"`` mode

    @property
    def flagged(self) -> np.ndarray:
        return self.hits_per_doc > 0

    def sample_rows(
        self,
        batch: DocumentBatch,
        shard_label: str,
        hashes: np.ndarray,
        rows: np.ndarray,
        with_text: np.ndarray,
        with_tokens: np.ndarray,
        tokens: np.ndarray | None,
        text_chars: int,
    ) -> pa.Table:
        """The columns sample candidates keep (``scanner.evidence.sampling.CANDIDATE_SCHEMA``) for ``rows`` only;
        text, cut to ``text_chars`` characters, only where ``with_text`` (else null); ``tokens`` are the
        full-text token counts of the rows where ``with_tokens`` (None: none counted)."""
        take = pa.array(rows)
        doc_tokens = np.zeros(len(rows), dtype=np.int64)
        if tokens is not None:
            doc_tokens[with_tokens] = tokens
        annotations = self.annotations(rows, evidence=False)
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
                "text": truncate_texts(batch.text.take(_with_nulls(rows, with_text)), text_chars),  # a null index takes a null
                "data_type": self.data_type.take(take),
                "doc_bytes": pa.array(self.doc_bytes[rows], pa.int64()),
                "doc_tokens": _with_nulls(doc_tokens, with_tokens if tokens is not None else np.zeros(len(rows), dtype=bool)),
            }
        )

    def annotations(self, rows: np.ndarray | None = None, *, evidence: bool = True) -> pa.Table:
        """The annotation columns (``ANNOTATION_SCHEMA``); without ``evidence``, the first seven only;
        with ``rows``, of those documents only (and without evidence)."""
        columns = [self.doc_id, pa.array(self.flagged), pa.array(self.hits_per_doc, pa.int64()), self.terms, self.language, self.source]
        masks = self.category_mask
        if rows is not None:
            take = pa.array(rows)
            columns = [c.take(take) for c in columns]
            masks = masks[rows]
        columns.insert(3, _bit_lists(masks, RISK_CODES))
        schema = ANNOTATION_SCHEMA
        if evidence and rows is None:
            columns += self._evidence()
        else:
            schema = BASE_ANNOTATION_SCHEMA
        return pa.Table.from_arrays(columns, schema=schema)

    def _evidence(self) -> list[pa.Array]:
        """``normalizations`` and ``matches`` per document (hits ordered by start, end, term id)."""
        hits = self.hits
        rows = len(self.doc_bytes)
        order = np.lexsort((hits.term, hits.end, hits.start, hits.row))
        row, start, end, steps = hits.row[order], hits.start[order], hits.end[order], hits.steps[order]
        doc_steps = np.zeros(rows, dtype=np.int64)
        np.bitwise_or.at(doc_steps, row, steps)
        offsets, data = offsets_and_data(self.text)
        lengths = end - start
        text_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        gather = np.repeat(start + offsets[row] - text_offsets[:-1], lengths) + np.arange(int(text_offsets[-1]))
        original = pa.LargeStringArray.from_buffers(len(row), pa.py_buffer(text_offsets), pa.py_buffer(np.frombuffer(data, dtype=np.uint8)[gather]))
        matches = pa.StructArray.from_arrays(
            [self.term_text.take(pa.array(hits.term[order])), pa.array(start), pa.array(end), original.cast(pa.string()), _bit_lists(steps, STEPS)],
            fields=list(MATCH_TYPE),
        )
        match_offsets = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=rows))]).astype(np.int32)
        return [_bit_lists(doc_steps, STEPS), pa.ListArray.from_arrays(pa.array(match_offsets), matches)]


def _with_nulls(values: np.ndarray, valid: np.ndarray) -> pa.Array:
    """int64 array, null where not ``valid`` (``pa.array(mask=...)`` would import numpy.ma: 30 ms per worker)."""
    bitmap = np.packbits(valid, bitorder="little")
    return pa.Array.from_buffers(pa.int64(), len(values), [pa.py_buffer(bitmap), pa.py_buffer(np.ascontiguousarray(values, dtype=np.int64))])


def _bit_lists(masks: np.ndarray, names: tuple[str, ...]) -> pa.Array:
    """list<string> per bitmask: the names of its set bits, in bit order (risk codes: sorted)."""
    bits = np.arange(len(names), dtype=np.int64)
    item, bit = np.nonzero((masks[:, None] >> bits[None, :]) & 1)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(item, minlength=len(masks)))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(names, type=pa.string()).take(pa.array(bit)))


def describe_run(lexicon: Lexicon, options: ScanOptions, langid: LanguageIdentifier | None = None) -> dict:
    """Provenance for every output of a scan: tool version, lexicon, language model and the options
    (with their digest). Units can only be merged into one report where these are the same."""
    from scanner.version import __version__

    if langid is None and options.langid:
        langid = LanguageIdentifier()
    return {
        "tool": {"name": "scanner", "version": __version__},
        "lexicon": lexicon.describe(),
        "langid": langid.describe() if options.langid else None,
        "options": {"digest": options.digest(), **asdict(options)},
    }


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
        self.matcher = Matcher(lexicon, self.options.normalize, self.options.engine)
        self._code_sources = pa.array([e.name for e in self.options.registry.entries if e.data_type == "code"], pa.string())
        self.langid = LanguageIdentifier() if self.options.langid else None
        self._description: dict | None = None

    def warmed_up(self) -> Scanner:
        """Load now what loads lazily on first use (the language-ID model, the tokenizer of the
        token estimate, the provenance block), so processes forked from here share those pages
        instead of each loading its own copy. Returns self."""
        self.describe()
        if self.langid is not None:
            self.langid.identify(pa.array(["warm-up"]))
        if self.options.tokens != "off":
            count_tokens(["warm-up"], self.options.tokenizer)
        return self

    def describe(self) -> dict:
        """Provenance for every output (``describe_run``), computed once per scanner (the lexicon's
        audit and hash take ~30 ms for 10k terms); treat it as read-only."""
        if self._description is None:
            self._description = describe_run(self.lexicon, self.options, self.langid)
        return self._description

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
        doc_id = batch.id
        if doc_id is None or doc_id.null_count:  # only then build ``<shard>:<row>`` ids (a Python loop)
            generated = pa.array([f"{shard_label}:{n}" for n in batch.row_number.tolist()], type=pa.string())
            doc_id = generated if doc_id is None else pc.coalesce(doc_id, generated)
        language = self.langid.identify(text) if self.langid else pa.array([UNDETERMINED] * rows, type=pa.string())
        source = resolve_sources(rows, batch.source, batch.url, shard_label, fallback_source, self.options.registry)
        doc_chars = char_counts(text)
        is_code = detect_code(text, doc_chars) | np.asarray(pc.is_in(source, self._code_sources), dtype=bool)
        return BatchResult(
            doc_id=doc_id,
            hits_per_doc=hits_per_doc,
            category_mask=category_mask,
            terms=terms,
            language=language,
            source=source,
            doc_bytes=np.asarray(pc.fill_null(pc.binary_length(text), 0), dtype=np.int64),
            doc_chars=doc_chars,
            hits=hits,
            pair_row=pair_row,
            pair_term=pair_term,
            text=text,
            term_text=self.matcher.term_text,
            data_type=data_types(language, is_code),
            doc_tokens=count_tokens(text, self.options.tokenizer) if self.options.tokens == "exact" else None,
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
        table = table.append_column("data_type", result.data_type)
        aggregates = [("bytes", "count"), ("bytes", "sum")]
        if result.doc_tokens is not None:
            table = table.append_column("tokens", pa.array(result.doc_tokens))
            aggregates.append(("tokens", "sum"))
        for row in table.group_by(["source", "data_type"]).aggregate(aggregates).to_pylist():
            cell = {"documents": row["bytes_count"], "bytes": row["bytes_sum"]}
            if "tokens_sum" in row:
                cell["tokens"] = row["tokens_sum"]
            by_source[row["source"]].setdefault("data_types", {})[row["data_type"]] = cell
        totals = {
            "documents": len(flagged),
            "empty_documents": int(np.count_nonzero(result.doc_bytes == 0)),
            "bytes": int(result.doc_bytes.sum()),
            "chars": int(result.doc_chars.sum()),
            "flagged_documents": int(np.count_nonzero(flagged)),
            "hits": len(result.hits),
        }
        by_normalization = {
            step: int(np.count_nonzero(result.hits.steps & bit)) for step, bit in STEP_BITS.items() if np.any(result.hits.steps & bit)
        }
        return BatchCounts(totals, by_category, by_language, by_source, by_term, by_normalization)

    def annotate(
        self, data: pa.Table | pa.RecordBatch, shard: str = "", first_row: int = 0, stats: ShardStats | None = None, *, evidence: bool = False
    ) -> pa.Table:
        """``data`` with the annotation columns appended (doc_id, flagged, hits, categories, terms,
        language, source; with ``evidence``, also normalizations and matches as in the annotation
        files). Columns named by ``ScanOptions.columns`` are read; a missing text column raises
        ``ShardError`` naming the columns present. Generated ids are ``<shard>:<row>``, rows numbered
        from ``first_row`` (a chunk of a longer stream). With ``stats``, the data's counts are added
        to it in the same pass (cleaning jobs that annotate and keep statistics)."""
        table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
        roles = resolve_columns(table.column_names, self.options.columns, shard or "table")
        result = self.analyse(to_document_batch(table, roles, shard or "table", first_row), shard, shard or "unknown")
        if stats is not None:
            stats.update(self.count(result))
            stats.rows_read += table.num_rows
        annotated = table
        columns = result.annotations(evidence=evidence)
        for name, column in zip(columns.column_names, columns.columns):
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

    def _candidate_tokens(self, result: BatchResult, rows: np.ndarray) -> np.ndarray | None:
        """Full-text token counts of these sample candidates: the estimate mode's only tokenizing
        (about ``SampleSpec.tokens`` documents per corpus, see ``scanner.evidence.sampling``)."""
        if result.doc_tokens is not None:
            return result.doc_tokens[rows]
        if self.options.tokens == "estimate":
            return count_tokens(result.text.take(pa.array(rows)), self.options.tokenizer)
        return None

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
                        with_text = candidates.keeps_text(hashes[rows])
                        exact = self.options.tokens == "exact"  # counted for every row anyway
                        with_tokens = np.ones(len(rows), dtype=bool) if exact else candidates.counts_tokens(hashes[rows])
                        tokens = self._candidate_tokens(result, rows[with_tokens])
                        candidates.add(result.sample_rows(batch, shard.label, hashes, rows, with_text, with_tokens, tokens, self.options.sample.text_chars))
            stats.update(self.count(result))
            for reason, rows in batch.rejected.items():
                stats.reject(reason, rows)
            stats.rows_read += len(result.doc_bytes) + sum(batch.rejected.values())
            if annotations is not None and len(result.doc_bytes):
                annotations.write_table(result.annotations())
            if on_progress is not None:
                on_progress(len(result.doc_bytes), int(result.doc_bytes.sum()))
        return stats
