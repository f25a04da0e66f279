"""Run a scan over many shards: one ``run_shard`` loop, executed in-process or in worker processes.

Language ID holds the GIL, so parallelism across shards uses processes; each worker compiles
the scanner once (in its initializer) and reuses it for every shard it is handed.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from scanner.errors import ShardError
from scanner.lexicon import Lexicon
from scanner.outputs import atomic_write_bytes, atomic_write_json, temporary_sibling
from scanner.readers import Shard
from scanner.report import SHARD_FORMAT
from scanner.sampling import CandidateCollector, IdHashes
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
    command: str = ""
    stop_on_rejection: bool = False


def shard_stats_path(out: Path, shard: Shard) -> Path:
    return out / "shards" / f"{shard.name}.json"


def annotations_path(out: Path, shard: Shard) -> Path:
    return out / "annotations" / f"{shard.name}.parquet"


def candidates_path(out: Path, shard: Shard) -> Path:
    return out / "samples" / "candidates" / f"{shard.name}.parquet"


def id_hashes_path(out: Path, shard: Shard) -> Path:
    return out / "ids" / f"{shard.name}.npy"


def input_fingerprint(path: str, size: int, window: int = 1 << 20) -> str:
    """SHA-256 over the size and the first and last MiB: cheap, content-based, machine-independent."""
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        digest.update(f.read(window))
        if size > window:
            f.seek(max(size - window, window))
            digest.update(f.read(window))
    return digest.hexdigest()


def run_shard(scanner: Scanner, shard: Shard, config: RunConfig, on_progress: ProgressCallback | None = None) -> ShardStats:
    """Scan one shard and write its stats file (and annotations) atomically; an unreadable shard is
    recorded in the stats' ``errors`` instead of raising, so the run goes on."""
    started = _now()
    writer = None
    final_annotations = annotations_path(config.out, shard)
    tmp_annotations = temporary_sibling(final_annotations)
    candidates = CandidateCollector(scanner.options.sample)
    id_hashes = IdHashes()
    try:
        if config.annotate:
            writer = pq.ParquetWriter(tmp_annotations, ANNOTATION_SCHEMA, compression="zstd")
        stats = scanner.scan_shard(shard, writer, on_progress and (lambda docs, size: on_progress(docs, size, 0)), candidates, id_hashes)
        if writer is not None:
            writer.close()
            writer = None
            os.replace(tmp_annotations, final_annotations)
    except ShardError as e:
        stats = ShardStats(errors=[{"shard": shard.label, "reason": str(e)}])
        candidates, id_hashes = CandidateCollector(scanner.options.sample), IdHashes()
    finally:
        if writer is not None:
            writer.close()
        tmp_annotations.unlink(missing_ok=True)
    fingerprint = input_fingerprint(shard.path, shard.bytes)
    stats.inputs = [{"path": shard.label, "bytes": shard.bytes, "rows": stats.rows_read, "fingerprint": fingerprint}]
    sample_file = candidates_path(config.out, shard)
    tmp_sample = temporary_sibling(sample_file)
    pq.write_table(candidates.result(), tmp_sample, compression="zstd")
    os.replace(tmp_sample, sample_file)
    buffer = io.BytesIO()
    np.save(buffer, id_hashes.result(), allow_pickle=False)
    atomic_write_bytes(id_hashes_path(config.out, shard), buffer.getvalue())
    document = {
        "format": SHARD_FORMAT,
        "shard": {"path": shard.label, "format": shard.format, "bytes": shard.bytes, "fingerprint": fingerprint},
        "run": scanner.describe(),
        "provenance": {"command": config.command, "started_at": started, "finished_at": _now()},
        "stats": stats.to_dict(),
    }
    atomic_write_json(shard_stats_path(config.out, shard), document)
    return stats


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
    (config.out / "samples" / "candidates").mkdir(parents=True, exist_ok=True)
    (config.out / "ids").mkdir(parents=True, exist_ok=True)
    if config.annotate:
        (config.out / "annotations").mkdir(parents=True, exist_ok=True)
    total = ShardStats()
    if config.workers <= 1 or len(shards) <= 1:
        scanner = Scanner(lexicon, options)
        for shard in shards:
            total = total + run_shard(scanner, shard, config, on_progress)
            if on_progress is not None:
                on_progress(0, 0, 1)
            if config.stop_on_rejection and (total.rejected_rows or total.errors):
                break
        return total
    with ProcessPoolExecutor(max_workers=min(config.workers, len(shards)), initializer=_init_worker, initargs=(lexicon, options)) as pool:
        futures = [pool.submit(_run_in_worker, shard, config) for shard in shards]
        for future in as_completed(futures):
            stats = future.result()
            total = total + stats
            if on_progress is not None:
                on_progress(stats.totals["documents"], stats.totals["bytes"], 1)
            if config.stop_on_rejection and (total.rejected_rows or total.errors):
                for pending in futures:
                    pending.cancel()
                break
    return total
