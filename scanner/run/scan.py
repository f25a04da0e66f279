"""Run a scan: plan work units, then one ``run_shard`` loop that every executor only feeds.

``run_scan`` plans the units (``readers.plan_units``), clears outputs of earlier plans of the same
files and hands the units to an executor: ``local`` (here) or one registered under the
``scanner.executors`` entry-point group (``ray``, in ``pipelines``), so the library never imports an
engine.

Local parallelism, ``workers`` = the number of cores used, each worker one core (Parquet is decoded
with ``use_threads=False``, Arrow's CPU pool and the tokenizers get one thread):

- language ID on: worker *processes*. Forked ones inherit the scanner the driver compiled and warmed
  up (automaton, language-ID model, tokenizer: pages shared); spawned ones (``_start_method``)
  compile their own. fastText's ``predict`` holds the GIL, so threads would not scale;
- language ID off: worker *threads* sharing one compiled scanner. Matching (ahocorasick-rs) and
  Parquet decoding release the GIL, so threads scale without process start-up or pickling.

Resumption: a unit is done when its stats file exists, was written last (after its annotations)
and carries the unit's identity: input path, size, mtime (content SHA-256 where the filesystem keeps
no mtime), row-group range, a digest of the run's provenance (tool version, lexicon fingerprint,
language-ID model, options digest) and whether annotations were written. Re-runs skip done units,
redo changed ones and units that recorded an error; ``force`` redoes all. Every output is written
atomically, so a run killed at any moment leaves only complete files, and a re-run yields the
report of an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import multiprocessing
import os
import queue
import re
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import pyarrow as pa

from scanner.errors import ConfigError, ShardError
from scanner.evidence.sampling import CandidateCollector, IdHashes, split_at_cutoff
from scanner.evidence.stats import ShardStats
from scanner.io import storage
from scanner.io.discovery import Shard
from scanner.io.readers import UNIT_BYTES, plan_units
from scanner.lexicon.load import Lexicon
from scanner.report.build import MERGED_PROVENANCE, PLANS, SHARD_FORMAT
from scanner.resources import arrow_cpu_threads, fork_ready
from scanner.scan import ANNOTATION_SCHEMA, Scanner, ScanOptions, describe_run

EXECUTOR_GROUP = "scanner.executors"
_OUTPUT_NAME = re.compile(r"^(?P<file>.+-[0-9a-f]{10})(?:-rg\d+-\d+)?$")


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
    def folder(self) -> storage.Folder:
        return storage.Folder(self.out)


@dataclass(frozen=True)
class UnitResult:
    """A unit's statistics, and whether they were read back from a completed earlier run."""

    stats: ShardStats
    skipped: bool


@dataclass
class Progress:
    """Counters for a progress display. ``documents``/``bytes`` were scanned in this run; ``work_*``
    are estimated text bytes of the units (done out of total; skipped units leave the total)."""

    documents: int = 0
    bytes: int = 0
    units_done: int = 0
    units_skipped: int = 0
    units_total: int = 0
    work_done: int = 0
    work_total: int = 0


ProgressCallback = Callable[[Progress], None]


@dataclass
class Tracker:
    """Turns per-batch and per-unit events into ``Progress``; executors report, the caller displays."""

    units: list[Shard]
    callback: ProgressCallback | None = None
    progress: Progress = field(default_factory=Progress)
    _credited: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.progress.units_total = len(self.units)
        self.progress.work_total = sum(u.work_bytes for u in self.units)
        self._by_name = {u.name: u for u in self.units}

    def batch(self, unit: str, documents: int, size: int) -> None:
        """``documents`` of ``size`` text bytes of ``unit`` were scanned."""
        credited = self._credited.setdefault(unit, [0, 0, 0])
        work = min(size, self._by_name[unit].work_bytes - credited[2])
        credited[0] += documents
        credited[1] += size
        credited[2] += work
        self.progress.documents += documents
        self.progress.bytes += size
        self.progress.work_done += work
        self._notify()

    def finished(self, unit: Shard, result: UnitResult) -> None:
        """Top up what batch events did not report (all of it, for executors that send none)."""
        documents, size, work = self._credited.pop(unit.name, [0, 0, 0])
        if result.skipped:
            self.progress.units_skipped += 1
            self.progress.work_total -= unit.work_bytes
        else:
            self.progress.documents += result.stats.totals["documents"] - documents
            self.progress.bytes += result.stats.totals["bytes"] - size
            self.progress.work_done += unit.work_bytes - work
        self.progress.units_done += 1
        self._notify()

    def _notify(self) -> None:
        if self.callback is not None:
            self.callback(self.progress)


# (units, lexicon, options, config, tracker) -> merged stats of the units.
ExecutorFunction = Callable[[list[Shard], Lexicon, ScanOptions, RunConfig, Tracker], ShardStats]


def _content_sha256(shard: Shard) -> str:
    fs, path = storage.resolve(shard.path)
    digest = hashlib.sha256()
    with fs.open_input_stream(path, compression=None) as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def unit_identity(shard: Shard, run: dict[str, Any], annotate: bool) -> dict[str, Any]:
    """What a unit's outputs were made from; a stored identity that differs means "scan again"."""
    return {
        "path": shard.path,
        "bytes": shard.bytes,
        "mtime_ns": shard.mtime_ns,
        "sha256": _content_sha256(shard) if shard.mtime_ns is None else None,
        "row_groups": list(shard.row_groups) if shard.row_groups else None,
        "run": hashlib.sha256(json.dumps(run, sort_keys=True).encode()).hexdigest(),
        "annotations": annotate,
    }


def _completed(folder: storage.Folder, shard: Shard, identity: dict[str, Any]) -> ShardStats | None:
    """The stats of an earlier, complete, error-free scan of this very unit, else None."""
    if not folder.exists("shards", f"{shard.name}.json"):
        return None
    try:
        document = folder.read_json("shards", f"{shard.name}.json")
        stored = dict(document["unit"])
        stats = ShardStats.from_dict(document["stats"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    inputs_match = all(stored.get(key) == value for key, value in identity.items() if key != "annotations")
    if not inputs_match or stats.errors:
        return None
    if identity["annotations"] and not (stored.get("annotations") and folder.exists("annotations", f"{shard.name}.parquet")):
        return None
    return stats


def input_fingerprint(shard: Shard) -> str:
    """SHA-256 over the file size and its first and last MiB: cheap, content-based, machine-independent.
    Computed once per file and process, not once per work unit (a file may have dozens); not cached
    where the filesystem keeps no mtime, since a rewrite of the same size would go unnoticed."""
    if shard.mtime_ns is None:
        return _file_fingerprint.__wrapped__(shard.path, shard.bytes, None)
    return _file_fingerprint(shard.path, shard.bytes, shard.mtime_ns)


@lru_cache(maxsize=256)
def _file_fingerprint(location: str, size: int, mtime_ns: int | None, window: int = 1 << 20) -> str:
    fs, path = storage.resolve(location)
    digest = hashlib.sha256(str(size).encode())
    with fs.open_input_file(path) as f:
        digest.update(f.read(window))
        if size > window:
            f.seek(max(size - window, window))
            digest.update(f.read(window))
    return digest.hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_shard(
    scanner: Scanner, shard: Shard, config: RunConfig, on_batch: Callable[[int, int], None] | None = None
) -> UnitResult:
    """Scan one work unit unless it is already done; write its annotations, sample candidates and id
    hashes, then its stats file (the done marker), each atomically. An unreadable unit is recorded in
    the stats' ``errors`` instead of raising, so the run goes on. ``on_batch(documents, bytes)``
    follows each batch."""
    folder = config.folder
    run = scanner.describe()
    identity = unit_identity(shard, run, config.annotate)
    if not config.force:
        done = _completed(folder, shard, identity)
        if done is not None:
            return UnitResult(done, skipped=True)
    started = _now()
    annotations = ("annotations", f"{shard.name}.parquet")
    folder.delete(*annotations)
    candidates, id_hashes = CandidateCollector(scanner.options.sample, config.expected_documents), IdHashes()
    try:
        with ExitStack() as stack:
            writer = stack.enter_context(folder.parquet_writer(annotations, ANNOTATION_SCHEMA)) if config.annotate else None
            stats = scanner.scan_shard(shard, writer, on_batch, candidates, id_hashes)
    except ShardError as e:
        stats = ShardStats(errors=[{"shard": shard.label, "reason": str(e)}])
        candidates, id_hashes = CandidateCollector(scanner.options.sample, config.expected_documents), IdHashes()
    try:
        fingerprint = input_fingerprint(shard)
    except OSError as e:  # the file went away (or became unreadable) after it was read or planned
        stats = ShardStats(errors=[*stats.errors, {"shard": shard.label, "reason": f"{shard.label}: cannot be read now: {e}"}])
        fingerprint = None
    stats.inputs = [{"path": shard.label, "bytes": shard.bytes, "rows": stats.rows_read, "fingerprint": fingerprint}]
    for part, table in zip(("candidates", "reserve"), split_at_cutoff(candidates.result(), candidates.text_cutoff)):
        with folder.parquet_writer(("samples", part, f"{shard.name}.parquet"), table.schema) as sample_writer:
            sample_writer.write_table(table)
    ids = io.BytesIO()
    np.save(ids, id_hashes.result(), allow_pickle=False)
    folder.write_bytes(("ids", f"{shard.name}.npy"), ids.getvalue())
    provenance = {"command": config.command, "started_at": started, "finished_at": _now()}
    write_stats(folder, shard, run, stats, identity, provenance)
    return UnitResult(stats, skipped=False)


def write_stats(
    folder: storage.Folder,
    shard: Shard,
    run: dict[str, Any],
    stats: ShardStats,
    identity: dict[str, Any] | None = None,
    provenance: dict[str, str] | None = None,
) -> None:
    """Write a unit's stats file, ``OUT/shards/<unit>.json``, which ``scanner report`` merges.
    ``run`` is ``Scanner.describe()``; ``identity`` (``unit_identity``) lets a re-run skip the unit;
    ``provenance`` holds the command line and timestamps."""
    document = {
        "format": SHARD_FORMAT,
        "shard": {"path": shard.label, "format": shard.format, "bytes": shard.bytes, "fingerprint": (stats.inputs or [{}])[0].get("fingerprint")},
        "unit": identity,
        "run": run,
        "provenance": provenance or {},
        "stats": stats.to_dict(),
    }
    folder.write_json(("shards", f"{shard.name}.json"), document)


def refuse_mixed_output(config: RunConfig, units: list[Shard], lexicon: Lexicon, options: ScanOptions) -> None:
    """Before any work: a ``ConfigError`` if the output folder already holds units of other inputs
    made with another lexicon, language model, options or tool version (``describe_run``), which the
    report could not merge with this scan's. One such unit is read: a folder is all of one kind, and
    reading every unit would cost each job of a large array. Units of this plan do not count, since
    they are redone when their provenance differs."""
    folder = config.folder
    if not folder.is_dir("shards"):
        return
    planned = {f"{u.name}.json" for u in units}
    other = next((name for name in folder.names("shards", suffix=".json") if name not in planned), None)
    if other is None:
        return
    try:
        stored = folder.read_json("shards", other)["run"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # an unreadable stats file is the report's to name
    run = describe_run(lexicon, options)
    for key, what in MERGED_PROVENANCE:
        if json.dumps(stored.get(key), sort_keys=True) != json.dumps(run[key], sort_keys=True):
            msg = f"{folder.uri('shards', other)} was made with another {what}, so no report could merge it with this scan; scan into a fresh --out"
            raise ConfigError(msg)


def prepare_output(config: RunConfig, units: list[Shard]) -> None:
    """Create the output folders and delete outputs of other plans of these files (e.g. another
    row-group split of a rewritten Parquet file), so no row is counted twice. Files not being
    scanned now are left alone: other jobs of a batch array may own them."""
    folder = config.folder
    try:
        for sub in ("shards", "samples/candidates", "samples/reserve", "ids", PLANS, *(["annotations"] if config.annotate else [])):
            folder.makedirs(*sub.split("/"))
    except OSError as e:
        msg = f"{config.out}: cannot be the output folder ({e})"
        raise ConfigError(msg) from e
    wanted = {u.name for u in units}
    files = {u.file_name for u in units}
    for sub, suffix in (("shards", ".json"), ("annotations", ".parquet"), ("samples/candidates", ".parquet"), ("samples/reserve", ".parquet"), ("ids", ".npy")):
        for name in folder.names(*sub.split("/"), suffix=suffix):
            match = _OUTPUT_NAME.match(name.removesuffix(suffix))
            if match and match["file"] in files and name.removesuffix(suffix) not in wanted:
                folder.delete(*sub.split("/"), name)
    for name in folder.names(PLANS, suffix=".json"):  # a plan of other units of these files will not be finished
        try:
            planned = folder.read_json(PLANS, name)["units"]
        except (OSError, ValueError, KeyError, TypeError):
            planned = {"": None}  # unreadable: replaced by this run's plan
        if any((m := _OUTPUT_NAME.match(unit)) is None or (m["file"] in files and unit not in wanted) for unit in planned):
            folder.delete(PLANS, name)


def record_plan(config: RunConfig, units: list[Shard]) -> None:
    """Write ``OUT/plans/<digest>.json``, the units this run is to scan (unit name -> file label and
    bytes), before any of them: the report then tells an interrupted or running scan, whose planned
    units have no stats file yet, from a finished one. One plan per distinct set of units, so the
    jobs of an array each keep theirs and a re-run rewrites its own."""
    planned = {u.name: {"label": u.label, "bytes": u.bytes} for u in units}
    digest = hashlib.sha256("\n".join(sorted(planned)).encode()).hexdigest()[:16]
    config.folder.write_json((PLANS, f"{digest}.json"), {"units": planned})


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


def expected_documents(units: list[Shard], bytes_per_document: int = 64 << 10) -> int:
    """Rows the plan will read (``Shard.expected_rows``); where a format tells nothing (Arrow), a
    deliberate underestimate of one document per 64 KiB, so the rank cut-offs err generous."""
    return sum(u.expected_rows if u.expected_rows is not None else u.bytes // bytes_per_document for u in units)


def get_executor(name: str) -> ExecutorFunction:
    """``local`` or an executor registered under the ``scanner.executors`` entry-point group."""
    if name == "local":
        return run_local
    from importlib.metadata import entry_points  # ~8 ms to import, which local runs need not pay

    registered = {ep.name: ep for ep in entry_points(group=EXECUTOR_GROUP)}
    if name not in registered:
        msg = f"unknown executor {name!r}; available: {', '.join(['local', *sorted(registered)])}"
        raise ConfigError(msg)
    try:
        return registered[name].load()
    except ImportError as e:
        msg = f"executor {name!r} cannot be loaded ({e}); install its extra: pip install 'corpus-scanner[{name}]'"
        raise ConfigError(msg) from e


def _outside_output(shards: list[Shard], config: RunConfig) -> list[Shard]:
    """The shards that are not the scan's own outputs: an output folder inside an input folder
    would otherwise be read back by the next run (its annotations, samples and reports)."""
    if not config.folder.local:
        return shards
    inside = os.path.realpath(config.folder.root) + os.sep
    return [shard for shard in shards if not shard.path.startswith(inside)]


def run_scan(
    shards: list[Shard],
    lexicon: Lexicon,
    options: ScanOptions,
    config: RunConfig,
    on_progress: ProgressCallback | None = None,
    executor: str = "local",
) -> ShardStats:
    """Scan every shard with the named executor and return the merged stats of this run's units."""
    run_units = get_executor(executor)
    units = plan_units(_outside_output(shards, config), options.columns, config.unit_bytes)
    refuse_mixed_output(config, units, lexicon, options)
    prepare_output(config, units)
    record_plan(config, units)
    config = dataclasses.replace(config, expected_documents=expected_documents(units))
    return run_units(units, lexicon, options, config, Tracker(units, on_progress))
