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
from datetime import datetime, timezone
from functools import cached_property

from scanner.errors import ShardError
from scanner.evidence.outfolder import OutputFolder, unit_identity
from scanner.evidence.sampling import CandidateCollector, IdHashes, split_at_cutoff
from scanner.evidence.stats import ShardStats
from scanner.io.discovery import Shard, fingerprint
from scanner.io.readers import UNIT_BYTES
from scanner.run.progress import UnitResult
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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_shard(scanner: Scanner, shard: Shard, config: RunConfig, on_batch: Callable[[int, int], None] | None = None) -> UnitResult:
    """Scan one work unit unless it is already done; write its annotations, sample candidates and id
    hashes, then its stats file (the done marker), each atomically. An unreadable unit is recorded in
    the stats' ``errors`` instead of raising, so the run goes on. ``on_batch(documents, bytes)``
    follows each batch."""
    folder = config.folder
    run = scanner.describe()
    identity = unit_identity(shard, run, annotate=config.annotate)
    if not config.force:
        done = folder.completed(shard, identity)
        if done is not None:
            return UnitResult(done, skipped=True)
    started = _now()
    folder.delete_annotations(shard.name)
    candidates, id_hashes = CandidateCollector(scanner.options.sample, config.expected_documents), IdHashes()
    try:
        with ExitStack() as stack:
            writer = stack.enter_context(folder.annotations_writer(shard.name, ANNOTATION_SCHEMA)) if config.annotate else None
            stats = scanner.scan_shard(shard, writer, on_batch, candidates, id_hashes)
    except ShardError as e:
        stats = ShardStats(errors=[{"shard": shard.label, "reason": str(e)}])
        candidates, id_hashes = CandidateCollector(scanner.options.sample, config.expected_documents), IdHashes()
    try:
        file_fingerprint = fingerprint(shard)
    except OSError as e:  # the file went away (or became unreadable) after it was read or planned
        stats = ShardStats(errors=[*stats.errors, {"shard": shard.label, "reason": f"{shard.label}: cannot be read now: {e}"}])
        file_fingerprint = None
    stats.inputs = [{"path": shard.label, "bytes": shard.bytes, "rows": stats.rows_read, "fingerprint": file_fingerprint}]
    folder.write_candidates(shard.name, *split_at_cutoff(candidates.result(), candidates.text_cutoff))
    folder.write_id_hashes(shard.name, id_hashes.result())
    provenance = {"command": config.command, "started_at": started, "finished_at": _now()}
    folder.write_unit(shard, run, stats, identity, provenance)
    return UnitResult(stats, skipped=False)
