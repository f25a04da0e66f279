"""Run a scan: plan the work units, record the plan, then hand the units to an executor.

``run_scan`` plans the units (``scanner.io.readers.plan_units``), refuses an output folder holding units
of another scan (another lexicon, options ...) unless ``force``, which deletes that scan's outputs
instead, clears outputs of earlier plans of the same files and stale filing tables, records the
plan and hands the units to an executor: ``local`` (``scanner.run.local``) or one registered under the
``scanner.executors`` entry-point group (``ray``, in ``pipelines``), so the library never imports an
engine. Every executor runs the same per-unit loop, ``scanner.run.unit.run_shard``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

from scanner.errors import ConfigError
from scanner.evidence.stats import ShardStats
from scanner.io.discovery import Shard
from scanner.io.readers import plan_units
from scanner.lexicon.load import Lexicon
from scanner.run.local import run_local
from scanner.run.progress import ProgressCallback, Tracker
from scanner.run.unit import RunConfig
from scanner.scan import ScanOptions, describe_run

EXECUTOR_GROUP = "scanner.executors"

# (units, lexicon, options, config, tracker) -> merged stats of the units.
ExecutorFunction = Callable[[list[Shard], Lexicon, ScanOptions, RunConfig, Tracker], ShardStats]


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


def plan(shards: list[Shard], options: ScanOptions, config: RunConfig) -> list[Shard]:
    """The work units of a scan (what ``--dry-run`` shows): the shards outside OUT, Parquet ones cut
    into row-group ranges of about ``config.unit_bytes`` of text."""
    return plan_units(_outside_output(shards, config), options.columns, config.unit_bytes)


def run_scan(
    shards: list[Shard],
    lexicon: Lexicon,
    options: ScanOptions,
    config: RunConfig,
    on_progress: ProgressCallback | None = None,
    executor: str = "local",
    skipped: list[dict[str, str]] | None = None,
) -> ShardStats:
    """Scan every shard with the named executor and return the merged stats of this run's units.
    ``skipped``: files of the input folders that are not shards (``scanner.io.discovery.Discovery``),
    recorded with the plan so the report lists them."""
    run_units = get_executor(executor)
    units = plan(shards, options, config)
    run = describe_run(lexicon, options)
    if not config.force:
        config.folder.refuse_foreign_units(units, run)
    config.folder.prepare(units, annotate=config.annotate, run=run, force=config.force)
    config.folder.write_plan(units, skipped, run)
    config = dataclasses.replace(config, expected_documents=expected_documents(units))
    return run_units(units, lexicon, options, config, Tracker(units, on_progress))
