"""One work unit, start to finish: the single loop every executor runs (skip if done, scan, write).

A unit is done when its stats file exists, was written last (after its annotations, sample candidates
and id hashes) and carries the unit's identity (``scanner.evidence.outfolder.unit_identity``). Re-runs
skip done units, redo changed ones and units that recorded an error; ``force`` redoes all. Every
output is written atomically, so a run killed at any moment leaves only complete files.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cached_property

from scanner.errors import ShardError
from scanner.evidence.outfolder import OutputFolder, unit_identity
from scanner.io.discovery import Shard, fingerprint
from scanner.io.readers import UNIT_BYTES
from scanner.run.progress import UnitResult
from scanner.run.stream import StreamUnit
from scanner.scan import ANNOTATION_SCHEMA, Scanner


@dataclass(frozen=True)
class RunConfig:
    """What one ``scanner scan`` invocation does, besides which shards it reads.

    ``out`` is a local folder or a URI; ``workers`` ``None`` means every core (of this machine, or of
    the Ray cluster); ``unit_bytes`` is the target text per Parquet work unit. ``expected_documents``
    is set by ``run_scan`` from the plan, for the sample's rank cut-offs (``sampling``); it changes
    no result, so it is not part of a unit's identity.
    """

    out: str
    annotate: bool = False
    workers: int | None = None
    force: bool = False
    unit_bytes: int = UNIT_BYTES
    command: str = ""
    stop_on_rejection: bool = False
    expected_documents: int | None = None

    @cached_property
    def folder(self) -> OutputFolder:
        return OutputFolder(self.out)


def run_shard(scanner: Scanner, shard: Shard, config: RunConfig, on_batch: Callable[[int, int], None] | None = None) -> UnitResult:
    """Scan one work unit unless it is already done; write its annotations, sample candidates and id
    hashes, then its stats file (the done marker), each atomically. An unreadable unit is recorded in
    the stats' ``errors`` instead of raising, so the run goes on. ``on_batch(documents, bytes)``
    follows each batch. Each batch goes through ``StreamUnit``'s per-batch step, and the unit is
    written by its tail, as the engines' units are (``scanner.run.stream``)."""
    folder = config.folder
    identity = unit_identity(shard, scanner.describe(), annotate=config.annotate)
    if not config.force:
        done = folder.completed(shard, identity)
        if done is not None:
            return UnitResult(done, skipped=True)
    folder.delete_annotations(shard.name)
    unit = StreamUnit(scanner, shard, expected_documents=config.expected_documents)
    try:
        with ExitStack() as stack:
            writer = stack.enter_context(folder.annotations_writer(shard.name, ANNOTATION_SCHEMA)) if config.annotate else None
            for batch, result in scanner.iter_shard(shard):
                unit.add_result(batch, result)
                if writer is not None and len(result.doc_bytes):
                    writer.write_table(result.annotations())
                if on_batch is not None:
                    on_batch(len(result.doc_bytes), int(result.doc_bytes.sum()))
    except ShardError as e:
        unit.fail(str(e))
    file_fingerprint = None
    try:
        file_fingerprint = fingerprint(shard)
    except OSError as e:  # the file went away (or became unreadable) after it was read or planned
        unit.fail(f"{shard.label}: cannot be read now: {e}")
    stats = unit.write(folder, identity, command=config.command, fingerprint=file_fingerprint)
    return UnitResult(stats, skipped=False)
