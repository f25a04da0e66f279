"""One unit of work: document batches -> match, then the detectors -> annotations and ``ShardStats``.

``Scanner`` is the library entry point: compiled once per process (the automaton) and reusable
across batches and threads. ``annotate`` serves cleaning jobs; ``iter_shard`` streams a shard batch by
batch (memory stays bounded) for the per-unit loop of the CLI and the executors (``scanner.run.unit``),
which accumulates each batch's results in ``scanner.run.stream.StreamUnit``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scanner.detect.base import Batch, Detector
from scanner.detect.datatype import char_counts
from scanner.detect.registry import DETECTORS
from scanner.detect.tokens import count_tokens
from scanner.evidence.result import BatchResult, annotation_schema
from scanner.evidence.sampling import SampleSpec
from scanner.evidence.stats import BatchCounts, ShardStats
from scanner.io.discovery import Shard
from scanner.io.readers import Columns, DocumentBatch, read_batches, resolve_columns, to_document_batch
from scanner.lexicon.load import Lexicon
from scanner.lexicon.taxonomy import RISK_CODES
from scanner.lexicon.terms import ALLOW
from scanner.match.engines import DEFAULT_ENGINE
from scanner.match.hits import STEP_BITS, Hits
from scanner.match.matcher import Matcher
from scanner.match.normalize import DEFAULT_STEPS, parse_steps
from scanner.version import __version__

DETECTOR_FIELDS = tuple(f for detector in DETECTORS for f in detector.columns)
ANNOTATION_SCHEMA = annotation_schema(DETECTOR_FIELDS, evidence=True)
"""Per-document annotation columns (``scanner.evidence.result``): keyword columns, detector columns,
evidence columns."""
BASE_ANNOTATION_SCHEMA = annotation_schema(DETECTOR_FIELDS, evidence=False)
"""What ``Scanner.annotate`` appends by default: the annotation columns without the evidence ones."""
_DETECTOR_OPTIONS = tuple(dict.fromkeys(detector.Options for detector in DETECTORS))


@dataclass(frozen=True)
class ScanOptions(*_DETECTOR_OPTIONS):
    """Everything besides the lexicon that changes a scan's results (hashed into ``digest``): the
    fields below and every registered detector's ``Options`` (``langid``, ``registry``, ``tokens``,
    ``tokenizer`` ...; see ``scanner.detect``).

    ``normalize``: normalisation steps (names from ``scanner.match.normalize.STEPS``, or a string such as
    ``"none"``, ``"all"`` or ``"nfkc,t2s"``); stored as a tuple in pipeline order. ``engine``: the
    matching engine (``scanner.match.engines.ENGINES``); results are identical, so only speed differs.
    """

    columns: Columns = field(default_factory=Columns)
    sample: SampleSpec = field(default_factory=SampleSpec)
    normalize: tuple[str, ...] = DEFAULT_STEPS
    engine: str = DEFAULT_ENGINE

    def __post_init__(self) -> None:
        object.__setattr__(self, "normalize", parse_steps(self.normalize))
        for options in _DETECTOR_OPTIONS:
            check = options.__dict__.get("__post_init__")
            if check is not None:
                check(self)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def describe_run(lexicon: Lexicon, options: ScanOptions, detectors: list[Detector] | None = None) -> dict:
    """Provenance for every output of a scan: tool version, lexicon, language model and the options
    (with their digest). Units can only be merged into one report where these are the same."""
    if detectors is None:
        detectors = [detector(options, lexicon) for detector in DETECTORS]
    described = {d.name: d.describe() for d in detectors if d.name in ("language", "classifier")}
    return {
        "tool": {"name": "scanner", "version": __version__},
        "lexicon": lexicon.describe(),
        "langid": described["language"],
        "options": {"digest": options.digest(), **asdict(options)},
    } | ({"classifier": described["classifier"]} if described.get("classifier") else {})  # only with a model: identities of other scans stay


class Scanner:
    """A lexicon compiled for matching, plus the detectors (language, source, data type, tokens ...);
    build once, use from any thread.

    >>> import pyarrow as pa, scanner
    >>> s = scanner.Scanner(scanner.load_lexicons(), scanner.ScanOptions(langid=False))
    >>> s.annotate(pa.table({"text": ["hello"]})).column_names[:6]
    ['text', 'doc_id', 'flagged', 'hits', 'categories', 'terms']
    """

    def __init__(self, lexicon: Lexicon, options: ScanOptions | None = None) -> None:
        self.lexicon = lexicon
        self.options = options or ScanOptions()
        self.matcher = Matcher(lexicon, self.options.normalize, self.options.engine)
        # Per pattern id (``Lexicon.patterns``): allow contexts, which suppress the hits inside them.
        self._is_allow = np.array([t.severity == ALLOW for t in lexicon.patterns], dtype=bool)
        self.detectors = [detector(self.options, lexicon) for detector in DETECTORS]
        self._description: dict | None = None

    def warmed_up(self) -> Scanner:
        """Load now what loads lazily on first use (the language-ID model, the tokenizer of the
        token estimate, the provenance block), so processes forked from here share those pages
        instead of each loading its own copy. Returns self."""
        self.describe()
        for detector in self.detectors:
            detector.warm_up()
        return self

    def describe(self) -> dict:
        """Provenance for every output (``describe_run``), computed once per scanner (the lexicon's
        audit and hash take ~30 ms for 10k terms); treat it as read-only."""
        if self._description is None:
            self._description = describe_run(self.lexicon, self.options, self.detectors)
        return self._description

    def analyse(self, batch: DocumentBatch, shard_label: str, fallback_source: str) -> BatchResult:
        """Match every document of one batch, then run the detectors over it."""
        text = batch.text
        rows = len(text)
        hits, parts, allowed = self._term_hits(self.matcher.find(text))
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
        view = Batch(
            documents=batch,
            doc_id=doc_id,
            shard=shard_label,
            fallback_source=fallback_source,
            hits=hits,
            hits_per_doc=hits_per_doc,
            doc_bytes=np.asarray(pc.fill_null(pc.binary_length(text), 0), dtype=np.int64),
            doc_chars=char_counts(text),
            parts=parts,
            allowed_hits=allowed,
        )
        for detector in self.detectors:
            view.values.update(detector.detect(view))
        return BatchResult(
            doc_id=doc_id,
            hits_per_doc=hits_per_doc,
            category_mask=category_mask,
            terms=terms,
            doc_bytes=view.doc_bytes,
            doc_chars=view.doc_chars,
            hits=hits,
            pair_row=pair_row,
            pair_term=pair_term,
            text=text,
            term_text=self.matcher.term_text,
            values=view.values,
            schema=ANNOTATION_SCHEMA,
            batch=view,
        )

    def _term_hits(self, found: Hits) -> tuple[Hits, Hits | None, int]:
        """(term hits outside every allow context, hits of rule parts that are not terms, how many term
        hits an allow context suppressed). A lexicon without allow contexts or rules matches terms only."""
        if not (self.lexicon.allow or self.lexicon.rules):
            return found, None, 0
        is_term = found.term < len(self.lexicon.terms)
        is_allow = self._is_allow[found.term]
        inside = found.inside(found.take(is_allow)) & ~is_allow
        parts = found.take(~is_term & ~is_allow & ~inside) if self.lexicon.rules else None
        return found.take(is_term & ~inside), parts, int(np.count_nonzero(is_term & inside))

    def count(self, result: BatchResult) -> BatchCounts:
        """The batch's contribution to ``ShardStats`` (exact integer counters): the keyword counters here,
        then each detector's."""
        flagged = result.flagged
        term_count = len(self.lexicon.terms)
        term_hits = np.bincount(result.hits.term, minlength=term_count)
        term_docs = np.bincount(result.pair_term, minlength=term_count)
        by_term = {
            self.lexicon.terms[i].text: {"documents": int(term_docs[i]), "hits": int(term_hits[i])}
            for i in np.flatnonzero(term_hits)
        }
        by_category = {}
        masks = self.matcher.term_category_mask[:term_count]  # the terms' (allow contexts and rule parts follow)
        for bit, code in enumerate(RISK_CODES):
            documents = int(np.count_nonzero(result.category_mask >> bit & 1))
            if documents:
                by_category[code] = {"documents": documents, "hits": int(term_hits[(masks >> bit & 1) == 1].sum())}
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
        counts = BatchCounts({"totals": totals, "by_category": by_category, "by_term": by_term, "by_normalization": by_normalization})
        for detector in self.detectors:
            counts.add(detector.count(result.batch))
        return counts

    def annotate(
        self, data: pa.Table | pa.RecordBatch, shard: str = "", first_row: int = 0, stats: ShardStats | None = None, *, evidence: bool = False
    ) -> pa.Table:
        """``data`` with the annotation columns appended (doc_id, flagged, hits, categories, terms,
        then the detectors' columns, language, source, pii ...; with ``evidence``, also normalizations and matches as in the annotation
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

    def candidate_tokens(self, result: BatchResult, rows: np.ndarray) -> np.ndarray | None:
        """Full-text token counts of these sample candidates: the estimate mode's only tokenizing
        (about ``SampleSpec.tokens`` documents per corpus, see ``scanner.evidence.sampling``)."""
        if "doc_tokens" in result.values:
            return result.values["doc_tokens"][rows]
        if self.options.token_mode.sample:
            return count_tokens(result.text.take(pa.array(rows)), self.options.tokenizer)
        return None

    def iter_shard(self, shard: Shard) -> Iterator[tuple[DocumentBatch, BatchResult]]:
        """Stream a shard's batches with their results (raises ``ShardError`` if it is unreadable)."""
        for batch in read_batches(shard, self.options.columns):
            yield batch, self.analyse(batch, shard.label, shard.stem)
