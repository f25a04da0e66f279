"""The local executor: the units of a scan on this machine's cores.

``workers`` = the number of cores used, each worker one core (Parquet is decoded with
``use_threads=False``, Arrow's CPU pool and the tokenizers get one thread):

- language ID on: worker *processes*. Forked ones inherit the scanner the driver compiled and warmed
  up (automaton, language-ID model, tokenizer: pages shared); spawned ones (``_start_method``)
  compile their own. fastText's ``predict`` holds the GIL, so threads would not scale;
- language ID off: worker *threads* sharing one compiled scanner. Matching (ahocorasick-rs) and
  Parquet decoding release the GIL, so threads scale without process start-up or pickling.

Stopping (Ctrl-C, SIGTERM, any error in the driver): the driver takes a signal's exception at a safe
point (``scanner.resources.deferred_interrupts``), within 0.2 s; pending units are cancelled and running ones are
abandoned at their next batch (``Stopped``, raised from ``run_shard``'s ``on_batch``); a unit writes its
outputs only at its end, each atomically and the stats file last, so an abandoned unit leaves nothing
and a re-run scans it again. Threads cannot be killed, so this is how they stop: within one batch
(~16 MiB of text, well under a second or two). Worker processes ignore SIGINT (a Ctrl-C reaches the whole
process group; the driver decides) and are stopped the same way, cooperatively, because killing one while
it writes a result into the pool's pipe could leave the driver waiting for the rest of the message;
those still alive ``STOP_GRACE`` seconds later are terminated (SIGTERM, then SIGKILL), so no worker
outlives the driver. A SIGTERM sent to a worker itself still ends it at once.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from contextlib import nullcontext
from typing import Any

import pyarrow as pa

from scanner.evidence.stats import ShardStats
from scanner.io import storage
from scanner.io.discovery import Shard
from scanner.lexicon.load import Lexicon
from scanner.resources import arrow_cpu_threads, deferred_interrupts, fork_ready
from scanner.run.progress import Tracker, UnitResult
from scanner.run.unit import RunConfig, run_shard
from scanner.scan import Scanner, ScanOptions

STOP_GRACE = 5.0
"""Seconds a stopping run gives worker processes to abandon their units before terminating them."""


class Stopped(Exception):  # noqa: N818 - a state, not a fault
    """The run is stopping: raised in a unit's batch loop, it abandons the unit (nothing of it is written)."""


def _run_unit(scanner: Scanner, unit: Shard, config: RunConfig, report: Callable[[tuple[str, int, int]], None], stop: Any) -> UnitResult:
    """``run_shard`` that gives up at the next batch once ``stop`` (a threading or multiprocessing
    Event) is set, and does not start at all if it already is (units queued before the stop)."""

    def on_batch(documents: int, size: int) -> None:
        if stop.is_set():
            raise Stopped
        report((unit.name, documents, size))

    if stop.is_set():
        raise Stopped
    return run_shard(scanner, unit, config, on_batch)


def _drain(events: Any, tracker: Tracker) -> None:
    while not events.empty():
        tracker.batch(*events.get())


def _should_stop(config: RunConfig, total: ShardStats) -> bool:
    """``--strict``: stop handing out units once a row was rejected or a unit failed."""
    return config.stop_on_rejection and bool(total.rejected_rows or total.errors)


def _drive(pool: Executor, submit: Callable[[Shard], Future], units: list[Shard], tracker: Tracker, events: Any, config: RunConfig) -> ShardStats:
    """Submit every unit, then merge results as they complete while relaying batch progress."""
    total = ShardStats()
    with deferred_interrupts() as check:  # Ctrl-C is raised here, not inside wait()'s lock handling
        pending = {submit(unit): unit for unit in units}
        while pending:
            done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            check()
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
_worker_stop: Any = None


def _init_worker(scanner: Scanner | tuple[Lexicon, ScanOptions], events: Any, stop: Any) -> None:
    """A forked worker inherits the driver's compiled scanner (pages shared copy-on-write); a spawned
    one compiles its own from (lexicon, options). Signals: SIGINT is ignored (the driver stops the
    workers, see the module docstring) and SIGTERM ends the worker, whatever handler a fork inherited."""
    global _worker_scanner, _worker_events, _worker_stop  # noqa: PLW0603 - one compiled scanner per worker process
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    pa.set_cpu_count(1)  # a worker is one core (see scanner.resources)
    _worker_scanner = scanner if isinstance(scanner, Scanner) else Scanner(*scanner)
    _worker_events, _worker_stop = events, stop


def _run_in_worker(shard: Shard, config: RunConfig) -> UnitResult:
    return _run_unit(_worker_scanner, shard, config, _worker_events.put, _worker_stop)


def _still_running(processes: list[Any], timeout: float) -> list[Any]:
    """The processes that have not exited within ``timeout`` seconds (waits on their sentinels, so
    it never reaps a process the pool's own thread is about to join)."""
    deadline = time.monotonic() + timeout
    alive = list(processes)
    while alive and (left := deadline - time.monotonic()) > 0:
        ready = multiprocessing.connection.wait([p.sentinel for p in alive], left)
        alive = [p for p in alive if p.sentinel not in ready]
    return alive


def _stop_processes(pool: ProcessPoolExecutor, stop: Any) -> None:
    """Stop a process pool now: running units are abandoned at their next batch, pending ones
    cancelled; workers alive after ``STOP_GRACE`` seconds are terminated, then killed.
    ``ProcessPoolExecutor`` has no public handle on its processes before Python 3.14
    (``terminate_workers``), so they are taken from ``_processes`` (there since 3.2), before
    ``shutdown`` drops it; likewise its manager thread, which is joined at the end: left running, it
    can close its wake-up pipe while the interpreter's exit hook writes to it (an ``OSError`` at exit)."""
    stop.set()
    processes = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    stubborn = _still_running(processes, STOP_GRACE)
    for process in stubborn:
        process.terminate()
    for process in _still_running(stubborn, 1.0):
        process.kill()
    if manager is not None:
        manager.join(STOP_GRACE)


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
        with arrow_cpu_threads(1), deferred_interrupts() as check:  # Ctrl-C abandons the unit at its next batch

            def on_batch(documents: int, size: int, name: str) -> None:
                check()
                tracker.batch(name, documents, size)

            for unit in units:
                result = run_shard(scanner, unit, config, lambda docs, size, name=unit.name: on_batch(docs, size, name))
                tracker.finished(unit, result)
                total.absorb(result.stats)
                if _should_stop(config, total):
                    break
        return total
    if not (options.langid or options.classifier):  # fastText (language ID, the classifier) holds the GIL
        scanner = Scanner(lexicon, options).warmed_up()  # before the threads: each would load the tokenizer
        events: Any = queue.SimpleQueue()
        stop = threading.Event()
        with ThreadPoolExecutor(max_workers=workers) as pool:  # on leaving, waits for the threads: one batch each once stopped
            try:
                return _drive(pool, lambda unit: pool.submit(_run_unit, scanner, unit, config, events.put, stop), units, tracker, events, config)
            except BaseException:
                stop.set()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    method = _start_method(units, config)
    context = multiprocessing.get_context(method)
    events = context.SimpleQueue()
    stop = context.Event()
    scanner: Scanner | tuple[Lexicon, ScanOptions] = (lexicon, options)
    if method == "fork":
        scanner = Scanner(lexicon, options).warmed_up()
    with (
        fork_ready() if method == "fork" else nullcontext(),
        ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(scanner, events, stop)) as pool,
    ):
        try:
            return _drive(pool, lambda unit: pool.submit(_run_in_worker, unit, config), units, tracker, events, config)
        except BaseException:
            _stop_processes(pool, stop)
            raise
