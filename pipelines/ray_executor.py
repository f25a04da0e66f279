"""The ``ray`` executor: the same work units, the same ``run_shard`` loop, on a Ray cluster via Ray Data.

``scanner.run.scan.run_scan`` plans the units and prepares OUT on the driver, then calls ``run_ray``,
registered in the ``scanner.executors`` entry-point group. Ray Data makes a dataset of one row per
unit; ``map_batches`` hands each row to a ``UnitScanner`` actor, which compiled the scanner once in
its constructor, and which runs ``scanner.run.unit.run_shard``: it reads the unit from its path or URI,
writes the unit's annotations and stats file into OUT and returns the stats, which stream back to
the driver for progress and the merged result. Outputs are therefore byte-for-byte those of the
local executor, and resumption works the same way.

Why not ``ray.data.read_parquet``/``read_json``: their blocks cut and mix files freely and know
neither JSONL line numbers (generated document ids) nor our rejection reasons, so per-unit stats,
ids and resumption would need another layer to equal the local executor; reading inside the
actor keeps exactly one read-scan-write loop.

On a cluster (``RAY_ADDRESS``), every node must have this package installed and reach the inputs
and OUT by the same names: use URIs (``s3://``) or a shared filesystem.
"""

from __future__ import annotations

import json
import logging
import pickle
import signal
import threading
from typing import Any

import numpy as np
import ray
import ray.data

from scanner.evidence.stats import ShardStats
from scanner.io.discovery import Shard
from scanner.lexicon.load import Lexicon
from scanner.run.progress import Tracker, UnitResult
from scanner.run.unit import RunConfig, run_shard
from scanner.scan import Scanner, ScanOptions


class UnitScanner:
    """A Ray Data actor: compiles the scanner once, then scans the units it is handed."""

    def __init__(self, lexicon: Lexicon, options: ScanOptions, config: RunConfig) -> None:
        self.scanner = Scanner(lexicon, options)
        self.config = config

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        names, skipped, stats = [], [], []
        for payload in batch["unit"]:
            unit: Shard = pickle.loads(payload)
            result = run_shard(self.scanner, unit, self.config)
            names.append(unit.name)
            skipped.append(result.skipped)
            stats.append(json.dumps(result.stats.to_dict()))
        return {"unit": names, "skipped": skipped, "stats": stats}


def _init_keeping_sigterm() -> None:
    """``ray.init()``, which replaces the SIGTERM handler with ``sys.exit(15)``; the caller's handler
    (the CLI's: stop, exit 143) is put back, so SIGTERM stops a Ray scan as it stops a local one."""
    previous = signal.getsignal(signal.SIGTERM)
    ray.init(logging_level=logging.WARNING)
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)


def run_ray(units: list[Shard], lexicon: Lexicon, options: ScanOptions, config: RunConfig, tracker: Tracker) -> ShardStats:
    """Scan the units with one single-CPU actor per worker (default: one per cluster CPU).

    Joins the running Ray if there is one (tests start it), else ``ray.init()``, which connects to
    ``RAY_ADDRESS`` when it is set and starts a local Ray otherwise.
    """
    if not units:
        return ShardStats()
    if not ray.is_initialized():
        _init_keeping_sigterm()
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    cpus = int(ray.cluster_resources().get("CPU", 1))
    actors = max(1, min(config.workers or cpus, cpus, len(units)))
    by_name = {unit.name: unit for unit in units}
    ordered = sorted(units, key=lambda u: (-u.work_bytes, u.name))
    dataset = ray.data.from_items([{"unit": pickle.dumps(u)} for u in ordered], override_num_blocks=len(ordered))
    results = dataset.map_batches(
        UnitScanner,
        fn_constructor_args=(lexicon, options, config),
        batch_size=1,
        concurrency=actors,
        num_cpus=1,
    )
    total = ShardStats()
    for row in results.iter_rows():
        result = UnitResult(ShardStats.from_dict(json.loads(row["stats"])), bool(row["skipped"]))
        tracker.finished(by_name[row["unit"]], result)
        total.absorb(result.stats)
    return total
