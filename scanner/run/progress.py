"""Progress of a run: executors report batches and finished units, the caller displays ``Progress``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from scanner.evidence.stats import ShardStats
from scanner.io.discovery import Shard


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


@dataclass(frozen=True)
class UnitResult:
    """A unit's statistics, and whether they were read back from a completed earlier run."""

    stats: ShardStats
    skipped: bool


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
