"""One pass over the units' stats files of an output folder: summed stats, the provenance blocks they
must share, per-file row accounting."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scanner.errors import ConfigError
from scanner.evidence.outfolder import MERGED_PROVENANCE, UnitFile
from scanner.evidence.stats import ShardStats


@dataclass
class Merged:
    """What one pass over the unit files yields: summed stats, the provenance blocks all units share
    (``run``: tool, lexicon, langid, options), the units' provenance (commands, times), per-file row
    accounting, where each file (by label) was read from, and the names of the units merged."""

    stats: ShardStats
    run: dict[str, Any]
    provenance: list[dict[str, Any]]
    shards: list[dict[str, Any]]
    locations: dict[str, str]
    units: set[str]


def merge_units(units: Iterable[UnitFile]) -> Merged:
    """One pass, so only one unit's document is held at a time. Units made with different provenance
    (another lexicon, options, tool version) are a ConfigError: no report can merge them."""
    stats, runs, provenance, shards, locations, names = ShardStats(), {}, [], {}, {}, set()
    classifier = None  # its block (the threshold in force) follows from the options, which must be one
    for unit in units:
        document = unit.document
        names.add(unit.name)
        unit_stats = unit.stats()
        stats.absorb(unit_stats)  # absorb copies what it keeps
        for key, _ in MERGED_PROVENANCE:
            runs.setdefault(key, {}).setdefault(json.dumps(document["run"][key], sort_keys=True), document["run"][key])
        classifier = document["run"].get("classifier")
        provenance.append(document.get("provenance", {}))
        _add_row_accounting(shards, document["shard"]["path"], unit_stats)
        if (document.get("unit") or {}).get("path"):
            locations[document["shard"]["path"]] = document["unit"]["path"]
    run = {}
    for key, what in MERGED_PROVENANCE:
        if len(runs[key]) > 1:
            msg = f"shard statistics in this folder were made with more than one {what}; scan into a fresh --out"
            raise ConfigError(msg)
        run[key] = next(iter(runs[key].values()))
    run["classifier"] = classifier
    return Merged(stats, run, provenance, [shards[path] for path in sorted(shards)], locations, names)


def _add_row_accounting(shards: dict[str, dict[str, Any]], path: str, stats: ShardStats) -> None:
    """Add one unit's rows to its file's entry: rows read = documents + rejected rows (by reason);
    errors end a unit. Units of one file merge, so the figures do not depend on the unit split."""
    entry = shards.setdefault(path, {"path": path, "rows_read": 0, "documents": 0, "rejected": {}, "errors": []})
    entry["rows_read"] += stats.rows_read
    entry["documents"] += stats.totals["documents"]
    for reason, rows in stats.rejected.items():
        entry["rejected"][reason] = entry["rejected"].get(reason, 0) + rows
    entry["errors"] = sorted(entry["errors"] + [e["reason"] for e in stats.errors])
