"""Exact, mergeable per-shard statistics.

``ShardStats`` is a commutative monoid: ``a + b == b + a``, ``(a + b) + c == a + (b + c)`` and
``ShardStats()`` is the identity, so threads, processes, Ray workers and re-runs all merge to
the same report. Every counter is an exact integer; shares are derived at report time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TOTAL_FIELDS = ("documents", "empty_documents", "bytes", "chars", "flagged_documents", "hits")


def _add_into(target: dict, source: dict) -> dict:
    """Add the nested ``{key: int | dict}`` tree ``source`` into ``target`` key-wise; returns ``target``."""
    for key, value in source.items():
        if key not in target:
            target[key] = _copy_nested(value)
        elif isinstance(value, dict):
            _add_into(target[key], value)
        else:
            target[key] += value
    return target


def _copy_nested(value: Any) -> Any:
    return {k: _copy_nested(v) for k, v in value.items()} if isinstance(value, dict) else value


def _merge_inputs(inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per input file, sorted by path: the work units of one file (row-group ranges of a
    Parquet file) add up their rows; ``bytes`` is the file's size, the same in every unit."""
    merged: dict[str, dict[str, Any]] = {}
    for entry in inputs:
        if entry["path"] in merged:
            seen = merged[entry["path"]]
            seen["rows"] += entry["rows"]
            seen["bytes"] = max(seen["bytes"], entry["bytes"])
        else:
            merged[entry["path"]] = dict(entry)
    return [merged[path] for path in sorted(merged)]


def _sorted_nested(value: Any) -> Any:
    """Keys sorted at every level, so equal stats serialise to identical JSON."""
    return {k: _sorted_nested(value[k]) for k in sorted(value)} if isinstance(value, dict) else value


@dataclass
class ShardStats:
    """Counters for one shard (or, after merging, for many).

    - ``totals``: documents, empty_documents, bytes (UTF-8), chars (code points), flagged_documents, hits,
      and what detectors count in total (e.g. ``pii``);
    - ``by_category``: code -> {documents, hits}; a document counts once per category it hits;
    - ``by_language``: code -> {documents, chars, flagged_documents};
    - ``by_source``: name -> {documents, flagged_documents, chars, bytes, languages: {code: documents}};
    - ``by_term``: term -> {documents, hits};
    - ``by_normalization``: step -> hits that needed it (a hit needing two steps counts under both);
    - ``rows_read`` and ``rejected`` (reason -> rows): rows read = documents + sum(rejected);
    - ``inputs``: [{path, bytes, rows}], one per input file merged in; ``errors``: [{shard, reason}].
    """

    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOTAL_FIELDS, 0))
    by_category: dict[str, dict[str, int]] = field(default_factory=dict)
    by_language: dict[str, dict[str, int]] = field(default_factory=dict)
    by_source: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_term: dict[str, dict[str, int]] = field(default_factory=dict)
    by_normalization: dict[str, int] = field(default_factory=dict)
    rows_read: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def __add__(self, other: ShardStats) -> ShardStats:
        """The merge of two stats, leaving both untouched."""
        merged = ShardStats()
        merged.absorb(self)
        merged.absorb(other)
        return merged

    def absorb(self, other: ShardStats) -> None:
        """Add ``other`` into these stats in place: merging many units with ``+`` would copy the
        growing accumulator once per unit (quadratic in the number of terms and sources)."""
        for name in ("totals", "by_category", "by_language", "by_source", "by_term", "by_normalization", "rejected"):
            _add_into(getattr(self, name), getattr(other, name))
        self.rows_read += other.rows_read
        self.inputs = _merge_inputs(self.inputs + other.inputs)
        self.errors = sorted(self.errors + other.errors, key=lambda e: (e["shard"], e["reason"]))

    def update(self, batch: BatchCounts) -> None:
        """Add one batch's counts in place (the hot-loop form of ``+``)."""
        for name, counts in batch.items():
            _add_into(getattr(self, name), counts)

    def reject(self, reason: str, rows: int = 1) -> None:
        """Count rows that could not become documents, under a short stable reason code."""
        self.rejected[reason] = self.rejected.get(reason, 0) + rows

    @property
    def rejected_rows(self) -> int:
        return sum(self.rejected.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "totals": dict(self.totals),
            "by_category": _sorted_nested(self.by_category),
            "by_language": _sorted_nested(self.by_language),
            "by_source": _sorted_nested(self.by_source),
            "by_term": _sorted_nested(self.by_term),
            "by_normalization": _sorted_nested(self.by_normalization),
            "rows_read": self.rows_read,
            "rejected": _sorted_nested(self.rejected),
            "inputs": list(self.inputs),
            "errors": list(self.errors),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, copy: bool = True) -> ShardStats:
        """Stats from ``to_dict``'s form; ``copy=False`` adopts ``data``'s nested dicts (for data
        nobody else holds, such as a freshly parsed file merged straight away)."""
        nested = _copy_nested if copy else (lambda value: value)
        return cls(
            totals={**nested(data["totals"]), **{k: int(data["totals"].get(k, 0)) for k in TOTAL_FIELDS}},
            by_category=nested(data.get("by_category", {})),
            by_language=nested(data.get("by_language", {})),
            by_source=nested(data.get("by_source", {})),
            by_term=nested(data.get("by_term", {})),
            by_normalization=nested(data.get("by_normalization", {})),
            rows_read=int(data.get("rows_read", 0)),
            rejected=nested(data.get("rejected", {})),
            inputs=[dict(i) for i in data.get("inputs", [])],
            errors=[dict(e) for e in data.get("errors", [])],
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ShardStats) and self.to_dict() == other.to_dict()


class BatchCounts(dict):
    """One batch's contribution: ``ShardStats`` field name (``totals``, ``by_source`` ...) -> counts in the
    same nested ``{key: int | dict}`` shape, from the keyword counters and each detector."""

    def add(self, counts: dict[str, Any]) -> None:
        """Add a detector's partial tree (``scanner.detect.base.Counts``) in place."""
        for name, tree in counts.items():
            _add_into(self.setdefault(name, {}), tree)
