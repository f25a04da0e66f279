"""Hugging Face datatrove: a pipeline step that tags documents and writes scan statistics (extra ``.[datatrove]``).

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from scanner.datatrove import ComplianceFilter, ComplianceTagger

    LocalPipelineExecutor(
        pipeline=[
            JsonlReader("corpus/"),
            ComplianceTagger(out="scan-out"),                            # metadata, and OUT/shards/*.json per rank
            ComplianceFilter(exclusion_writer=JsonlWriter("removed/")),  # optional: drop unsafe documents
            JsonlWriter("clean/"),
        ],
        tasks=2, workers=2, logging_dir="logs/",
    ).run()
    # then: scanner report scan-out

``ComplianceTagger`` sets on each ``Document.metadata``: ``flagged``, ``unsafe`` and ``unsafe_reason`` (the
policy's verdict and why), ``hits``, ``categories``, ``terms``, ``language`` and ``source`` (the resolved source, replacing a
``source`` the reader put there, as ``Scanner.annotate`` replaces a ``source`` column), each after an
optional ``metadata_prefix``. With ``out``, each task (rank) is one work unit, labelled
``<name>/rank-<rank:05d>-of-<tasks:05d>``: it writes its counters, sample candidates and id hashes into
OUT as a ``scanner scan`` unit does (``scanner.run.stream.StreamUnit``), so ``scanner report OUT``
merges the ranks into the usual report.

Batching: datatrove passes one ``Document`` at a time. The tagger buffers up to ``batch_size``
documents (or ``batch_bytes`` of text, or until the input file changes), scans them as one Arrow table
in one pass, sets the metadata and yields the documents on, in order: memory holds one batch.

Ids and sources: the id is ``Document.id`` (the reader's ``id_key``, default ``id``, the CLI's id
column); datatrove's readers give documents without one ``<file>/<line>``, not the CLI's
``<file>:<line>``, so only corpora with ids get the CLI's human sample. The source is
``metadata["source"]``, else the host of ``metadata["url"]`` (``ScanOptions.columns`` may name other
keys), else the input file's name without its suffix (``metadata["file_path"]``, which datatrove's disk
readers add), exactly as the CLI attributes it.

Rows datatrove's readers drop never reach the tagger, so they are not in the report: empty texts
(which the CLI counts as empty documents), malformed JSON lines (which the CLI rejects and counts),
and the rest of a JSONL file after an invalid UTF-8 byte. datatrove's own statistics
(``logging_dir/stats``) show the documents each reader yielded.

Resumption: datatrove skips the ranks it completed (``logging_dir``); their stats files stay. Every
rank writes the plan of all ranks when it starts, so the report of a job with an unfinished rank says
"planned, not scanned yet". A run with another number of tasks deletes the old ranks' files.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from scanner.evidence.outfolder import OutputFolder
from scanner.io.discovery import Shard
from scanner.io.readers import BATCH_BYTES
from scanner.lexicon.load import Lexicon
from scanner.resources import arrow_cpu_threads
from scanner.run.stream import ScannerSpec, StreamUnit, prepare_stream_output, stream_shard
from scanner.scan import ScanOptions

ENGINE = "datatrove"
METADATA = ("flagged", "unsafe", "unsafe_reason", "hits", "categories", "terms", "language", "source")
"""The metadata keys the tagger sets (after ``metadata_prefix``), from the annotation columns of these names."""
_RANK = re.compile(r"^rank-(\d{5,})-of-(\d{5,})-[0-9a-f]{10}$")


def _unit(name: str, rank: int, world_size: int) -> Shard:
    return stream_shard(f"{name}/rank-{rank:05d}-of-{world_size:05d}", ENGINE)


def _owned_by(name: str, unit: str) -> bool:
    """Whether a unit name is one of dataset ``name``'s ranks (any rank, any number of tasks)."""
    match = _RANK.match(unit)
    return match is not None and _unit(name, int(match.group(1)), int(match.group(2))).name == unit


@functools.lru_cache(maxsize=1024)
def _file_stem(path: str) -> str:
    """The CLI's source of a document without source or URL: its file's name without the suffix."""
    return stream_shard(path, ENGINE).stem


class ComplianceTagger(PipelineStep):
    """Tags each document's metadata and, with ``out`` (a path or URI), writes this rank's scan statistics.

    ``lexicons``: paths (default: the bundled lexicon) or a ``Lexicon``, loaded when the step is built, so
    a bad lexicon fails before the executor starts; each worker process compiles the scanner once.
    ``name`` labels this pipeline's units in OUT (several pipelines may share an OUT under different
    names if they use the same lexicon and options). ``expected_documents``: the documents of the whole
    job, or a lower bound, for the sample's rank cut-offs (None, the default, is always correct and keeps
    up to k sample texts per rank; ``scanner.run.stream.StreamUnit``). An ``out`` holding a scan made with
    another lexicon, options or tool version is refused (``ConfigError``) unless ``force``, which deletes
    that scan when a rank starts (as ``scanner scan --force``; the ranks of this job are kept).
    """

    name = "🛡️ Compliance tagger"
    type = "🏷 - TAGGER"

    def __init__(
        self,
        out: str | Path | None = None,
        lexicons: Lexicon | Iterable[str | Path] = (),
        options: ScanOptions | None = None,
        *,
        name: str = "datatrove",
        batch_size: int = 2048,
        batch_bytes: int = BATCH_BYTES,
        expected_documents: int | None = None,
        metadata_prefix: str = "",
        force: bool = False,
    ) -> None:
        super().__init__()
        self.out = str(out) if out is not None else None
        self.spec = ScannerSpec.of(lexicons, options)
        columns = self.spec.options.columns
        self.columns = (columns.text, columns.id or "id", columns.source or "source", columns.url or "url")
        self.dataset = name
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.expected_documents = expected_documents
        self.keys = [metadata_prefix + key for key in METADATA]
        self.force = force

    def _batches(self, data: DocumentsPipeline) -> Iterator[list[Document]]:
        """Consecutive documents of one input file, at most ``batch_size`` of them and about ``batch_bytes`` of text."""
        batch: list[Document] = []
        size, current = 0, None
        for doc in data:
            path = doc.metadata.get("file_path")
            if batch and (path != current or len(batch) >= self.batch_size or size >= self.batch_bytes):
                yield batch
                batch, size = [], 0
            batch.append(doc)
            current = path
            size += len(doc.text) if doc.text else 0
        if batch:
            yield batch

    def _table(self, docs: list[Document]) -> pa.Table:
        text, id_, source, url = self.columns

        def strings(key: str) -> pa.Array:
            values = [doc.metadata.get(key) for doc in docs]
            return pa.array([v if v is None or isinstance(v, str) else str(v) for v in values], pa.string())

        return pa.table(
            {
                text: pa.array([doc.text for doc in docs], pa.large_string()),
                id_: pa.array([None if doc.id is None else str(doc.id) for doc in docs], pa.string()),
                source: strings(source),
                url: strings(url),
            }
        )

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data is None:
            return
        with arrow_cpu_threads(1):  # a task is one core, as the CLI's workers
            yield from self._run(data, rank, world_size)

    def _run(self, data: DocumentsPipeline, rank: int, world_size: int) -> DocumentsPipeline:
        with self.track_time("unit"):
            scanner, built = self.spec.scanner()
        self.stat_update("scanner_built" if built else "scanner_reused", unit="task")
        folder = OutputFolder(self.out) if self.out is not None else None
        if folder is not None:
            units = [_unit(self.dataset, r, world_size) for r in range(world_size)]
            prepare_stream_output(folder, scanner.describe(), units, functools.partial(_owned_by, self.dataset), force=self.force)
        unit = StreamUnit(scanner, _unit(self.dataset, rank, world_size), fallback_source=self.dataset, expected_documents=self.expected_documents, collect=folder is not None)
        for docs in self._batches(data):
            path = docs[0].metadata.get("file_path")
            with self.track_time("batch"):
                annotations = unit.add(self._table(docs), fallback_source=_file_stem(path) if path else None)
                values = zip(*(annotations.column(key).to_pylist() for key in METADATA))
                for doc, row in zip(docs, values):
                    doc.metadata.update(zip(self.keys, row))
            self.stat_update("batches", unit="task")
            self.stat_update("documents", value=len(docs), unit="batch")
            self.stat_update("unsafe", value=sum(doc.metadata[self.keys[1]] for doc in docs), unit="batch")
            yield from docs
        if folder is not None:
            command = f"datatrove ComplianceTagger(name={self.dataset!r}) rank {rank} of {world_size} (pid {os.getpid()})"
            unit.write(folder, {"path": None, "engine": ENGINE, "dataset": self.dataset, "rank": rank, "world_size": world_size}, command=command)


class ComplianceFilter(BaseFilter):
    """Drops the documents ``ComplianceTagger`` found unsafe (``metadata[prefix + "unsafe"]``); with an
    ``exclusion_writer``, datatrove writes them there with ``metadata["filter_reason"] = "unsafe"`` and
    the tagger's metadata (unsafe_reason, terms, categories ...). Put it after the tagger: the statistics then cover
    every document, kept or dropped."""

    name = "🛡️ Compliance filter"

    def __init__(self, exclusion_writer: DiskWriter | None = None, metadata_prefix: str = "") -> None:
        super().__init__(exclusion_writer)
        self.key = metadata_prefix + "unsafe"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self.key not in doc.metadata:
            msg = f"document {doc.id!r} has no {self.key!r} metadata: put ComplianceTagger before ComplianceFilter"
            raise ValueError(msg)
        return (False, "unsafe") if doc.metadata[self.key] else True
