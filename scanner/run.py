"""Run a scan over many shards: one ``run_shard`` loop, executed in-process or in worker processes.

Language ID holds the GIL, so parallelism across shards uses processes; each worker compiles
the scanner once (in its initializer) and reuses it for every shard it is handed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from scanner.errors import ShardError
from scanner.lexicon import Lexicon
from scanner.outputs import atomic_write_json, temporary_sibling
from scanner.readers import Shard
from scanner.report import SHARD_FORMAT
from scanner.scan import ANNOTATION_SCHEMA, Scanner, ScanOptions
from scanner.stats import ShardStats

# on_progress(documents, text_bytes, shards_finished): called per batch in-process, per shard in a pool.
ProgressCallback = Callable[[int, int, int], None]


@dataclass(frozen=True)
class RunConfig:
    """What one ``scanner scan`` invocation does, besides which shards it reads."""

    out: Path
    annotate: bool = False
    workers: int = 1


def shard_stats_path(out: Path, shard: Shard) -> Path:
    return out / "shards" / f"{shard.name}.json"


def annotations_path(out: Path, shard: Shard) -> Path:
    return out / "annotations" / f"{shard.name}.parquet"


def run_shard(scanner: Scanner, shard: Shard, config: RunConfig, on_progress: ProgressCallback | None = None) -> ShardStats:
    """Scan one shard and write its stats file (and annotations) atomically; an unreadable shard is
    recorded in the stats' ``errors`` instead of raising, so the run goes on."""
    writer = None
    final_annotations = annotations_path(config.out, shard)
    tmp_annotations = temporary_sibling(final_annotations)
    try:
        if config.annotate:
            writer = pq.ParquetWriter(tmp_annotations, ANNOTATION_SCHEMA, compression="zstd")
        stats = scanner.scan_shard(shard, writer, on_progress and (lambda docs, size: on_progress(docs, size, 0)))
        if writer is not None:
            writer.close()
            writer = None
            os.replace(tmp_annotations, final_annotations)
    except ShardError as e:
        stats = ShardStats(inputs=[{"path": shard.label, "bytes": shard.bytes, "rows": 0}], errors=[{"shard": shard.label, "reason": str(e)}])
    finally:
        if writer is not None:
            writer.close()
        tmp_annotations.unlink(missing_ok=True)
    document = {"format": SHARD_FORMAT, "shard": {"path": shard.label, "format": shard.format, "bytes": shard.bytes}, "run": scanner.describe(), "stats": stats.to_dict()}
    atomic_write_json(shard_stats_path(config.out, shard), document)
    return stats


_worker_scanner: Scanner | None = None


def _init_worker(lexicon: Lexicon, options: ScanOptions) -> None:
    global _worker_scanner  # noqa: PLW0603 - one compiled scanner per worker process
    _worker_scanner = Scanner(lexicon, options)


def _run_in_worker(shard: Shard, config: RunConfig) -> ShardStats:
    return run_shard(_worker_scanner, shard, config)


def run_scan(
    shards: list[Shard],
    lexicon: Lexicon,
    options: ScanOptions,
    config: RunConfig,
    on_progress: ProgressCallback | None = None,
) -> ShardStats:
    """Scan every shard (in-process for one worker, else a process pool) and return the merged stats."""
    (config.out / "shards").mkdir(parents=True, exist_ok=True)
    if config.annotate:
        (config.out / "annotations").mkdir(parents=True, exist_ok=True)
    total = ShardStats()
    if config.workers <= 1 or len(shards) <= 1:
        scanner = Scanner(lexicon, options)
        for shard in shards:
            total = total + run_shard(scanner, shard, config, on_progress)
            if on_progress is not None:
                on_progress(0, 0, 1)
        return total
    with ProcessPoolExecutor(max_workers=min(config.workers, len(shards)), initializer=_init_worker, initargs=(lexicon, options)) as pool:
        futures = [pool.submit(_run_in_worker, shard, config) for shard in shards]
        for future in as_completed(futures):
            stats = future.result()
            total = total + stats
            if on_progress is not None:
                on_progress(stats.totals["documents"], stats.totals["bytes"], 1)
    return total
