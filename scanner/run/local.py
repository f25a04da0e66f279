"""The local executor: the units of a scan on this machine's cores.

``workers`` = the number of cores used, each worker one core (Parquet is decoded with
``use_threads=False``, Arrow's CPU pool and the tokenizers get one thread):

- language ID on: worker *processes*. Forked ones inherit the scanner the driver compiled and warmed
  up (automaton, language-ID model, tokenizer: pages shared); spawned ones (``_start_method``)
  compile their own. fastText's ``predict`` holds the GIL, so threads would not scale;
- language ID off: worker *threads* sharing one compiled scanner. Matching (ahocorasick-rs) and
  Parquet decoding release the GIL, so threads scale without process start-up or pickling.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from contextlib import nullcontext
from typing import Any

import pyarrow as pa

from scanner.evidence.stats import ShardStats
from scanner.io import storage
from scanner.io.discovery import Shard
from scanner.lexicon.load import Lexicon
from scanner.resources import arrow_cpu_threads, fork_ready
from scanner.run.progress import Tracker, UnitResult
from scanner.run.unit import RunConfig, run_shard
from scanner.scan import Scanner, ScanOptions


def _drain(events: Any, tracker: Tracker) -> None:
    while not events.empty():
        tracker.batch(*events.get())


def _should_stop(config: RunConfig, total: ShardStats) -> bool:
    """``--strict``: stop handing out units once a row was rejected or a unit failed."""
    return config.stop_on_rejection and bool(total.rejected_rows or total.errors)


def _drive(pool: Executor, submit: Callable[[Shard], Future], units: list[Shard], tracker: Tracker, events: Any, config: RunConfig) -> ShardStats:
    """Submit every unit, then merge results as they complete while relaying batch progress."""
    total = ShardStats()
    pending = {submit(unit): unit for unit in units}
    while pending:
        done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
        _drain(events, tracker)
        for future in done:
            result = future.result()
            tracker.finished(pending.pop(future), result)
            total.absorb(result.stats)
        if _should_stop(config, total):
            for future in pending:
                future.cancel()
            break
    return total


_worker_scanner: Scanner | None = None
_worker_events: Any = None


def _init_worker(scanner: Scanner | tuple[Lexicon, ScanOptions], events: Any) -> None:
    """A forked worker inherits the driver's compiled scanner (pages shared copy-on-write); a spawned
    one compiles its own from (lexicon, options)."""
    global _worker_scanner, _worker_events  # noqa: PLW0603 - one compiled scanner per worker process
    pa.set_cpu_count(1)  # a worker is one core (see scanner.resources)
    _worker_scanner = scanner if isinstance(scanner, Scanner) else Scanner(*scanner)
    _worker_events = events


def _run_in_worker(shard: Shard, config: RunConfig) -> UnitResult:
    return run_shard(_worker_scanner, shard, config, lambda docs, size: _worker_events.put((shard.name, docs, size)))


def _start_method(units: list[Shard], config: RunConfig) -> str:
    """``fork`` where everything is local: 2 workers start in ~0.7 s instead of ~1.5 s with
    ``spawn`` (the import of pyarrow/numpy/scanner is inherited), 5 % of a 400 MB scan on 2 cores.
    ``spawn`` as soon as an object store is involved: its client (the AWS SDK in pyarrow) is not
    fork-safe once the driver has used it, and it has (to list inputs, read footers, plan)."""
    remote = any(storage.scheme_of(u.path) for u in units) or not config.folder.local
    return "spawn" if remote or "fork" not in multiprocessing.get_all_start_methods() else "fork"


def run_local(units: list[Shard], lexicon: Lexicon, options: ScanOptions, config: RunConfig, tracker: Tracker) -> ShardStats:
    """Scan the units on this machine: in-process for one worker, else threads or processes (see
    the module docstring). Largest units go first, so the last ones to finish are small."""
    units = sorted(units, key=lambda u: (-u.work_bytes, u.name))
    workers = min(config.workers or os.cpu_count() or 1, len(units))
    if workers <= 1:
        scanner = Scanner(lexicon, options)
        total = ShardStats()
        with arrow_cpu_threads(1):
            for unit in units:
                result = run_shard(scanner, unit, config, lambda docs, size, name=unit.name: tracker.batch(name, docs, size))
                tracker.finished(unit, result)
                total.absorb(result.stats)
                if _should_stop(config, total):
                    break
        return total
    if not options.langid:
        scanner = Scanner(lexicon, options).warmed_up()  # before the threads: each would load the tokenizer
        events: Any = queue.SimpleQueue()
        with ThreadPoolExecutor(max_workers=workers) as pool:

            def submit(unit: Shard) -> Future:
                return pool.submit(run_shard, scanner, unit, config, lambda docs, size: events.put((unit.name, docs, size)))

            return _drive(pool, submit, units, tracker, events, config)
    method = _start_method(units, config)
    context = multiprocessing.get_context(method)
    events = context.SimpleQueue()
    scanner: Scanner | tuple[Lexicon, ScanOptions] = (lexicon, options)
    if method == "fork":
        scanner = Scanner(lexicon, options).warmed_up()
    with (
        fork_ready() if method == "fork" else nullcontext(),
        ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(scanner, events)) as pool,
    ):
        return _drive(pool, lambda unit: pool.submit(_run_in_worker, unit, config), units, tracker, events, config)
