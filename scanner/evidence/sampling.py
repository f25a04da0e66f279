"""Order-free samples: bottom-k of a keyed hash of document identity.

A document's rank is ``blake2b(doc_id, key=seed)`` (64 bits), so whether it is sampled depends
only on its id and the seed, never on which worker saw it or in which order. Each shard keeps its
own bottom-k candidates (globally and per source); the report merges candidates and keeps the
bottom-k again, which equals the bottom-k of the whole corpus. Empty documents are not sampled.
Ties (equal hashes, e.g. duplicate ids) break on doc_id, then shard and row.

Texts are the costly part of a candidate (k rows per unit, a thousand characters each), and almost
none survive the merge; tokenizing (estimate mode) costs more still. So from the planned row count a
run derives *rank cut-offs* (``rank_cutoff``): only candidates whose hash is at or below the text
cut-off keep their text, about k + 10 sqrt(k) documents in the whole corpus, and only those below
the token cut-off (for the first ``SampleSpec.tokens`` of the sample) have their tokens counted. The
other candidates keep their small columns, which decide the sample exactly; a sampled document
without text or tokens (a cut-off was too low: many empty rows, or a resumed run planned other
files) is read back from its input at report time (``scanner.report.build``).

A unit writes its candidates in two parts (``split_at_cutoff``): those at or below the text cut-off
(*held*, with the cut-off in the file's metadata) and the rest (*reserve*). When units are about k
documents each, nearly every document is a candidate, yet only ~k + 10 sqrt(k) per corpus lie at or
below the cut-off; if k merged held rows do (``held_rows_decide``), no reserved row can rank among
the first k, so the report reads the reserve only when a cut-off fell short.

Resource usage: hashing costs ~1 us per document in Python; a shard's candidate file holds at most
k + sources x k_per_source rows, texts truncated to ``text_chars`` characters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scanner.arrays import keyed_hashes

DEFAULT_SEED = "gbt45654-2025"
CANDIDATE_SCHEMA = pa.schema(
    [
        ("hash", pa.uint64()),
        ("doc_id", pa.string()),
        ("shard", pa.string()),
        ("row", pa.int64()),
        ("source", pa.string()),
        ("language", pa.string()),
        ("flagged", pa.bool_()),
        ("hits", pa.int64()),
        ("terms", pa.list_(pa.string())),
        ("categories", pa.list_(pa.string())),
        ("text", pa.string()),
        # For the filing table's token estimate: full-document bytes and tokens (null with --tokens off,
        # and above the token rank cut-off).
        ("data_type", pa.string()),
        ("doc_bytes", pa.int64()),
        ("doc_tokens", pa.int64()),
        # The unsafe policy's verdict, for evaluation against human verdicts (null in files from before it).
        ("unsafe", pa.bool_()),
        ("unsafe_reason", pa.string()),
    ]
)
_SORT_KEYS = [("hash", "ascending"), ("doc_id", "ascending"), ("shard", "ascending"), ("row", "ascending")]
CUTOFF_KEY = b"scanner.text_cutoff"
"""Schema metadata of a unit's held candidates: the rank cut-off below which it holds every candidate
(absent: it holds all of them, as files written before the split did)."""


@dataclass(frozen=True)
class SampleSpec:
    """How samples are drawn: size of the human sample, optional per-source size, key, text limit,
    and how many of the sample the token estimate tokenizes."""

    size: int = 4000
    per_source: int = 0
    seed: str = DEFAULT_SEED
    text_chars: int = 1000
    tokens: int = 1000  # estimate mode: the first this many of the sample (by rank) are tokenized


def rank_cutoff(expected_documents: int, k: int) -> int | None:
    """A hash at or below which the bottom-k of ``expected_documents`` uniform 64-bit hashes lies,
    unless the count falls short by over 10 standard deviations (the margin also absorbs a few empty
    rows); None (keep everything) when the corpus is not much larger than k."""
    wanted = k + 10 * math.sqrt(k) + 100
    if k <= 0 or wanted >= expected_documents:
        return None
    return int(wanted / expected_documents * 2**64)


def truncate_texts(texts: pa.Array | pa.ChunkedArray, chars: int) -> pa.Array:
    """The first ``chars`` characters of each text, as ``string`` (what candidates and samples store)."""
    return pc.utf8_slice_codeunits(texts, 0, chars).cast(pa.string())


def doc_hashes(doc_ids: Iterable[str], seed: str) -> np.ndarray:
    """A document's rank: the 64-bit keyed BLAKE2b of its id (``scanner.arrays.keyed_hashes``)."""
    return keyed_hashes(doc_ids, seed)


def _within_source_rank_mask(sources: list[str], limit: int) -> np.ndarray:
    """For rows already in rank order: True for the first ``limit`` rows of each source."""
    seen: dict[str, int] = {}
    mask = np.zeros(len(sources), dtype=bool)
    for i, source in enumerate(sources):
        rank = seen.get(source, 0)
        mask[i] = rank < limit
        seen[source] = rank + 1
    return mask


def keep_candidates(table: pa.Table, spec: SampleSpec) -> pa.Table:
    """Rows that can still end up in the global bottom-k or a per-source bottom-k, in rank order.
    The rank order is found on the small columns and the texts are moved once (a ``sort_by`` and a
    ``filter`` would move them twice; that dominated the report's merge)."""
    order = pc.sort_indices(table.select([key for key, _ in _SORT_KEYS]), sort_keys=_SORT_KEYS).to_numpy()
    keep = np.zeros(len(order), dtype=bool)
    keep[: spec.size] = True
    if spec.per_source:
        keep |= _within_source_rank_mask(table["source"].take(pa.array(order)).to_pylist(), spec.per_source)
    return table.take(pa.array(order[keep]))


class CandidateCollector:
    """A shard's sample candidates, pruned after every batch so memory stays bounded.

    ``wanted(hashes)`` lets the caller skip building rows that cannot enter the sample: once k rows
    are held, only hashes at or below the current k-th smallest can (without per-source samples).
    """

    def __init__(self, spec: SampleSpec, expected_documents: int | None = None) -> None:
        """``expected_documents``: the run's planned row count, which sets the rank cut-offs (None:
        every candidate keeps its text and tokens). Per-source samples need texts of small sources
        wherever they rank, so they keep every text."""
        self.spec = spec
        known = expected_documents is not None
        self._text_cutoff = rank_cutoff(expected_documents, spec.size) if known and not spec.per_source else None
        self._token_cutoff = rank_cutoff(expected_documents, min(spec.tokens, spec.size)) if known else None
        self._parts: list[pa.Table] = []
        self._hashes = np.zeros(0, dtype=np.uint64)  # hashes of the rows held in ``_parts``
        self._cutoff: int | None = None

    def wanted(self, hashes: np.ndarray) -> np.ndarray:
        if self.spec.size == 0 and not self.spec.per_source:
            return np.zeros(len(hashes), dtype=bool)
        if self.spec.per_source:
            return np.ones(len(hashes), dtype=bool)
        cutoff = self._cutoff
        if len(hashes) > self.spec.size:  # within one batch, too, only the k smallest can enter
            in_batch = int(np.partition(hashes, self.spec.size - 1)[self.spec.size - 1])
            cutoff = in_batch if cutoff is None else min(cutoff, in_batch)
        return np.ones(len(hashes), dtype=bool) if cutoff is None else hashes <= cutoff

    @property
    def text_cutoff(self) -> int | None:
        """The hash at or below which candidates keep their text (None: all do)."""
        return self._text_cutoff

    def keeps_text(self, hashes: np.ndarray) -> np.ndarray:
        """Which of these candidates store their text (see the module docstring)."""
        return _at_or_below(hashes, self._text_cutoff)

    def counts_tokens(self, hashes: np.ndarray) -> np.ndarray:
        """Which of these candidates have their tokens counted in estimate mode (those keep text too)."""
        return _at_or_below(hashes, self._token_cutoff) & self.keeps_text(hashes)

    def add(self, table: pa.Table) -> None:
        """``table`` has the CANDIDATE_SCHEMA columns (``hash`` from ``doc_hashes`` with this spec's
        seed, texts cut to ``spec.text_chars`` by ``truncate_texts``) and only non-empty documents.
        Rows are pruned (a sort that moves texts) only when two samples' worth have piled up; the
        cut-off needs hashes alone."""
        self._parts.append(table.select(CANDIDATE_SCHEMA.names).cast(CANDIDATE_SCHEMA))
        self._hashes = np.concatenate([self._hashes, table["hash"].to_numpy()])
        if self.spec.size and len(self._hashes) >= self.spec.size:
            self._cutoff = int(np.partition(self._hashes, self.spec.size - 1)[self.spec.size - 1])
        if len(self._hashes) > 2 * max(self.spec.size, self.spec.per_source, 1):
            self._parts = [self.result()]
            self._hashes = self._parts[0]["hash"].to_numpy()

    def result(self) -> pa.Table:
        if not self._parts:
            return CANDIDATE_SCHEMA.empty_table()
        return keep_candidates(pa.concat_tables(self._parts), self.spec)


def split_at_cutoff(candidates: pa.Table, cutoff: int | None) -> tuple[pa.Table, pa.Table]:
    """(held, reserve): the candidates at or below ``cutoff``, with it in their schema metadata
    (``CUTOFF_KEY``), and the others; with no cut-off, all are held."""
    if cutoff is None:
        return candidates, candidates.schema.empty_table()
    below = _at_or_below(candidates["hash"].to_numpy(), cutoff)
    held = candidates.filter(pa.array(below))
    return held.replace_schema_metadata({CUTOFF_KEY: str(cutoff).encode()}), candidates.filter(pa.array(~below))


def held_cutoff(schema: pa.Schema) -> int | None:
    """The cut-off a held-candidates file was split at (None: it holds every candidate of its unit)."""
    value = (schema.metadata or {}).get(CUTOFF_KEY)
    return None if value is None else int(value)


def held_rows_decide(merged: pa.Table, cutoffs: Iterable[int | None], spec: SampleSpec) -> bool:
    """Whether ``merge_candidates`` over the held files alone gives the exact samples. Each unit holds
    its candidates at or below its cut-off; if the k-th merged row lies at or below the lowest one, a
    reserved row (above its unit's cut-off) ranks after it, and every document of the corpus-wide
    bottom-k, being in its unit's bottom-k and at or below that cut-off, is held. Per-source samples
    hold everything (``CandidateCollector`` sets no cut-off for them)."""
    limits = [c for c in cutoffs if c is not None]
    if not limits:
        return True
    if spec.per_source:
        return False
    if spec.size == 0:
        return True
    return merged.num_rows >= spec.size and int(merged["hash"][spec.size - 1].as_py()) <= min(limits)


def _at_or_below(hashes: np.ndarray, cutoff: int | None) -> np.ndarray:
    return np.ones(len(hashes), dtype=bool) if cutoff is None else hashes <= np.uint64(cutoff)


class IdHashes:
    """Sorted 64-bit hashes of every document id of a shard: duplicates across shards are found by
    merging these at report time (8 bytes per document; collisions are negligible below ~1e8 ids)."""

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []

    def add(self, hashes: np.ndarray) -> None:
        self._parts.append(hashes)

    def result(self) -> np.ndarray:
        return np.sort(np.concatenate(self._parts)) if self._parts else np.zeros(0, dtype=np.uint64)


def duplicate_counts(id_hashes: Iterable[np.ndarray]) -> dict[str, int]:
    """Documents whose id is shared with another document, and how many distinct ids are shared."""
    parts = list(id_hashes)
    if not parts:
        return {"documents": 0, "distinct_ids": 0}
    _, counts = np.unique(np.concatenate(parts), return_counts=True)
    shared = counts[counts > 1]
    return {"documents": int(shared.sum()), "distinct_ids": len(shared)}


def merge_candidates(tables: Iterable[pa.Table], spec: SampleSpec) -> pa.Table:
    """Merge per-shard candidates with the collector a shard uses (rows above the running k-th hash
    are dropped unsorted, pruning only when two samples' worth piled up); the result holds every
    sample's rows, in rank order."""
    merged = CandidateCollector(spec)
    for table in tables:
        for name in CANDIDATE_SCHEMA.names[len(table.schema) :]:  # files written before the token columns existed
            table = table.append_column(name, pa.nulls(table.num_rows, CANDIDATE_SCHEMA.field(name).type))
        wanted = merged.wanted(table["hash"].to_numpy())
        if wanted.any():
            merged.add(table.filter(pa.array(wanted)))
    return merged.result()


def human_sample(candidates: pa.Table, spec: SampleSpec) -> pa.Table:
    """The human spot-check sample: the corpus-wide bottom-k, i.e. the first k rows of
    ``merge_candidates``' result, which is in rank order."""
    return candidates.slice(0, spec.size)


def per_source_samples(candidates: pa.Table, spec: SampleSpec) -> pa.Table:
    """Per-source bottom-k (k = ``spec.per_source``) of ``merge_candidates``' rank-ordered result,
    sorted by source, then rank."""
    chosen = candidates.filter(pa.array(_within_source_rank_mask(candidates["source"].to_pylist(), spec.per_source)))
    return chosen.sort_by([("source", "ascending"), *_SORT_KEYS])


def wilson_interval(passed: int, total: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95 % Wilson score interval of a pass rate (0..1); (0, 1) when there is no data."""
    if total == 0:
        return 0.0, 1.0
    p = passed / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * ((p * (1 - p) / total + z * z / (4 * total * total)) ** 0.5) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
