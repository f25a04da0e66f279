"""One batch's per-document results, and the annotation and sample-candidate rows built from them.

Annotation columns (``Scanner.annotate``, ``OUT/annotations``): the keyword columns (``doc_id``,
``flagged``, ``hits``, ``categories``, ``terms``), then each detector's columns in registration order
(``scanner.detect.registry``), then the two evidence columns: ``normalizations`` (steps any hit of the
document needed, pipeline order) and ``matches`` (every hit, by start: the term as written, UTF-8 byte
offsets ``start``/``end`` into the original text, the ``original`` text there, and the steps that hit
needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from scanner.arrays import bit_lists, offsets_and_data, with_nulls
from scanner.evidence.sampling import truncate_texts
from scanner.io.readers import DocumentBatch
from scanner.lexicon.taxonomy import RISK_CODES
from scanner.match.hits import Hits
from scanner.match.normalize import STEPS

KEYWORD_FIELDS = (
    pa.field("doc_id", pa.string()),
    pa.field("flagged", pa.bool_()),
    pa.field("hits", pa.int64()),
    pa.field("categories", pa.list_(pa.string())),
    pa.field("terms", pa.list_(pa.string())),
)
MATCH_TYPE = pa.struct(
    [
        ("term", pa.string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("original", pa.string()),
        ("normalizations", pa.list_(pa.string())),
    ]
)
EVIDENCE_FIELDS = (pa.field("normalizations", pa.list_(pa.string())), pa.field("matches", pa.list_(MATCH_TYPE)))


def annotation_schema(detector_fields: tuple[pa.Field, ...], *, evidence: bool) -> pa.Schema:
    """The annotation columns: keyword columns, the detectors' columns, and with ``evidence`` the two evidence columns."""
    return pa.schema([*KEYWORD_FIELDS, *detector_fields, *(EVIDENCE_FIELDS if evidence else ())])


@dataclass
class BatchResult:
    """Per-document results of one batch, aligned with its rows. ``values`` are the detectors' values
    by name (``language``, ``source``, ``data_type``, ...); ``schema`` the full annotation schema."""

    doc_id: pa.Array
    hits_per_doc: np.ndarray
    category_mask: np.ndarray
    terms: pa.Array
    doc_bytes: np.ndarray
    doc_chars: np.ndarray
    hits: Hits
    pair_row: np.ndarray
    pair_term: np.ndarray
    text: pa.Array
    term_text: pa.Array
    values: dict[str, Any]
    schema: pa.Schema
    batch: Any = None
    """The detectors' view of the batch (``scanner.detect.base.Batch``), for their counters."""

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
                "text": truncate_texts(batch.text.take(with_nulls(rows, with_text)), text_chars),  # a null index takes a null
                "data_type": self.values["data_type"].take(take),
                "doc_bytes": pa.array(self.doc_bytes[rows], pa.int64()),
                "doc_tokens": with_nulls(doc_tokens, with_tokens if tokens is not None else np.zeros(len(rows), dtype=bool)),
                "unsafe": annotations["unsafe"],
                "unsafe_reason": annotations["unsafe_reason"],
            }
        )

    def annotations(self, rows: np.ndarray | None = None, *, evidence: bool = True) -> pa.Table:
        """The annotation columns (``schema``); without ``evidence``, those before the evidence columns;
        with ``rows``, of those documents only (and without evidence)."""
        keyword = [self.doc_id, pa.array(self.flagged), pa.array(self.hits_per_doc, pa.int64()), bit_lists(self.category_mask, RISK_CODES), self.terms]
        detected = [_as_arrow(self.values[f.name], f.type) for f in list(self.schema)[len(KEYWORD_FIELDS) : len(self.schema) - len(EVIDENCE_FIELDS)]]
        columns = keyword + detected
        with_evidence = evidence and rows is None
        if rows is not None:
            take = pa.array(rows)
            columns = [c.take(take) for c in columns]
        if with_evidence:
            return pa.Table.from_arrays(columns + self._evidence(), schema=self.schema)
        return pa.Table.from_arrays(columns, schema=pa.schema(list(self.schema)[: len(self.schema) - len(EVIDENCE_FIELDS)]))

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
            [self.term_text.take(pa.array(hits.term[order])), pa.array(start), pa.array(end), original.cast(pa.string()), bit_lists(steps, STEPS)],
            fields=list(MATCH_TYPE),
        )
        match_offsets = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=rows))]).astype(np.int32)
        return [bit_lists(doc_steps, STEPS), pa.ListArray.from_arrays(pa.array(match_offsets), matches)]


def _as_arrow(values: Any, kind: pa.DataType) -> pa.Array:
    return values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values, kind)


