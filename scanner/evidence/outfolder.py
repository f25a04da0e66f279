"""The output folder (OUT): the one module that knows its file names, formats and how units are identified.

Layout (``docs/outputs.md`` describes each file for users)::

    OUT/shards/<unit>.json                  a unit's exact counters, provenance and identity (written last: the done marker)
    OUT/annotations/<unit>.parquet          per-document annotations (--annotate)
    OUT/samples/candidates/<unit>.parquet   sample candidates at or below the unit's rank cut-off ("held")
    OUT/samples/reserve/<unit>.parquet      the unit's other candidates
    OUT/samples/human_sample.parquet        the merged human spot-check sample (written by the report)
    OUT/samples/human_labels.json           annotators' verdicts (``scanner sample import``)
    OUT/evaluation_labels.json              labels ``scanner evaluate`` measures against (or: the human verdicts)
    OUT/evaluation.json                     that evaluation (also in report.json)
    OUT/ids/<unit>.npy                      sorted 64-bit hashes of the unit's document ids
    OUT/plans/<digest>.json                 the units a run planned, written before any is scanned, and the
                                            files of its input folders it does not scan
    OUT/report.json, report.md, report.html the merged report

A unit's name is ``Shard.name``: ``<file>-<hash of its real path or URI>[-rg<start>-<end>]``. Writers (``scanner.run``)
and readers (``scanner.report``) both go through ``OutputFolder`` and never import each other. Every file
is written atomically (``scanner.io.storage.Folder``), so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scanner.errors import ConfigError
from scanner.evidence.stats import ShardStats
from scanner.io import storage
from scanner.io.discovery import Shard
from scanner.io.storage import Folder, read_ahead

SHARD_FORMAT = "scanner-shard-stats/1"
MERGED_PROVENANCE = (("tool", "tool version"), ("lexicon", "lexicon"), ("langid", "language-ID settings"), ("options", "scan options"))
"""The ``run`` blocks every unit of one report must share, with what they are called in messages."""
STATS, ANNOTATIONS, CANDIDATES, RESERVE, IDS, PLANS, SAMPLES = "shards", "annotations", "samples/candidates", "samples/reserve", "ids", "plans", "samples"
REPORT_FILES = ("report.json", "report.md", "report.html")
FILING_TABLES = ("filing_table.csv", "filing_table.xlsx")
HUMAN_SAMPLE = "human_sample.parquet"
HUMAN_LABELS = "human_labels.json"
EVALUATION_LABELS, EVALUATION = "evaluation_labels.json", "evaluation.json"
SAMPLE_SHEETS, SHEET_FORMATS = ("human_sample", "per_source_sample"), ("csv", "xlsx", "jsonl")
"""``samples/<sheet>.<format>``, what ``scanner sample export`` writes (``scanner.report.sheets.FORMATS``)."""
_UNIT_OUTPUTS = ((STATS, ".json"), (ANNOTATIONS, ".parquet"), (CANDIDATES, ".parquet"), (RESERVE, ".parquet"), (IDS, ".npy"))
_UNIT_NAME = re.compile(r"^(?P<file>.+-[0-9a-f]{10})(?:-rg\d+-\d+)?$")


def _parts(sub: str, *names: str) -> tuple[str, ...]:
    return (*sub.split("/"), *names)


def _content_sha256(shard: Shard) -> str:
    fs, path = storage.resolve(shard.path)
    digest = hashlib.sha256()
    with fs.open_input_stream(path, compression=None) as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def run_digest(run: dict[str, Any]) -> str:
    """A digest of the provenance blocks (``MERGED_PROVENANCE``) of a run's description (``Scanner.describe()``)."""
    return hashlib.sha256(json.dumps({key: run[key] for key, _ in MERGED_PROVENANCE}, sort_keys=True).encode()).hexdigest()


def unit_identity(shard: Shard, run: dict[str, Any], *, annotate: bool) -> dict[str, Any]:
    """What a unit's outputs were made from: input path, size, mtime (content SHA-256 where the
    filesystem keeps no mtime), row-group range, a digest of the run's provenance (tool version,
    lexicon, language model, options) and whether annotations were written. A stored identity that
    differs means "scan again"."""
    return {
        "path": shard.path,
        "bytes": shard.bytes,
        "mtime_ns": shard.mtime_ns,
        "sha256": _content_sha256(shard) if shard.mtime_ns is None else None,
        "row_groups": list(shard.row_groups) if shard.row_groups else None,
        "run": hashlib.sha256(json.dumps(run, sort_keys=True).encode()).hexdigest(),
        "annotations": annotate,
    }


@dataclass(frozen=True)
class UnitFile:
    """One ``OUT/shards/<unit>.json`` as read back: its name, where it was read from, and its document."""

    name: str
    uri: str
    document: dict[str, Any]

    def stats(self) -> ShardStats:
        """The unit's stats, checked as far as a merge relies on them: a file edited by hand (a missing or
        mistyped field, rows that do not add up) is a ConfigError naming it, not a traceback or a figure."""
        try:
            stats = ShardStats.from_dict(self.document["stats"], copy=False)
            run = self.document["run"]
            adds_up = stats.rows_read == stats.totals["documents"] + stats.rejected_rows
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            msg = f"{self.uri}: malformed shard statistics ({type(e).__name__}: {e}); scan again with --force"
            raise ConfigError(msg) from e
        if not (isinstance(run, dict) and all(key in run for key, _ in MERGED_PROVENANCE)):
            msg = f"{self.uri}: malformed shard statistics (no complete 'run' provenance block); scan again with --force"
            raise ConfigError(msg)
        if not adds_up:
            msg = f"{self.uri}: shard statistics that do not add up (rows read = documents + rejected rows); scan again with --force"
            raise ConfigError(msg)
        return stats


class OutputFolder:
    """OUT, a local folder or a URI, by what it holds rather than by path strings."""

    def __init__(self, location: str | Any) -> None:
        self.location = str(location)
        self.folder = Folder(location)

    def __reduce__(self) -> tuple:
        return OutputFolder, (self.location,)

    @property
    def local(self) -> bool:
        return self.folder.local

    @property
    def root(self) -> str:
        return self.folder.root

    def uri(self, *parts: str) -> str:
        return self.folder.uri(*parts)

    # -- units ---------------------------------------------------------------------------------

    def unit_names(self) -> list[str]:
        """Units with a stats file, sorted."""
        return [name.removesuffix(".json") for name in self.folder.names(STATS, suffix=".json")]

    def read_unit(self, name: str) -> UnitFile:
        """A unit's stats file; an unreadable or foreign file is a ConfigError naming it."""
        uri = self.folder.uri(STATS, f"{name}.json")
        try:
            document = self.folder.read_json(STATS, f"{name}.json")
        except (OSError, ValueError) as e:
            msg = f"{uri}: unreadable shard statistics: {e}"
            raise ConfigError(msg) from e
        if not isinstance(document, dict) or document.get("format") != SHARD_FORMAT:
            msg = f"{uri}: not a scanner shard statistics file (format {SHARD_FORMAT})"
            raise ConfigError(msg)
        return UnitFile(name, uri, document)

    def iter_units(self, threads: int = 1) -> Iterator[UnitFile]:
        """Every unit's stats file, sorted by name, read one at a time (with ``threads`` > 1, that many
        ahead) so a merge of many thousands of units holds few in memory; no stats at all is a
        ConfigError at once, an unreadable or foreign file when it is reached."""
        names = self.unit_names()
        if not names:
            msg = f"{self.folder.uri(STATS)}: no shard statistics found (run `scanner scan ... --out {self.location}` first)"
            raise ConfigError(msg)
        return read_ahead(self.read_unit, names, threads)

    def completed(self, shard: Shard, identity: dict[str, Any]) -> ShardStats | None:
        """The stats of an earlier, complete, error-free scan of this very unit, else None."""
        if not self.folder.exists(STATS, f"{shard.name}.json"):
            return None
        try:
            document = self.folder.read_json(STATS, f"{shard.name}.json")
            stored = dict(document["unit"])
            stats = ShardStats.from_dict(document["stats"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        inputs_match = all(stored.get(key) == value for key, value in identity.items() if key != "annotations")
        if not inputs_match or stats.errors:
            return None
        if identity["annotations"] and not (stored.get("annotations") and self.folder.exists(ANNOTATIONS, f"{shard.name}.parquet")):
            return None
        return stats

    def write_unit(
        self,
        shard: Shard,
        run: dict[str, Any],
        stats: ShardStats,
        identity: dict[str, Any] | None = None,
        provenance: dict[str, str] | None = None,
    ) -> None:
        """Write a unit's stats file, which ``scanner report`` merges. ``run`` is ``Scanner.describe()``;
        ``identity`` (``unit_identity``) lets a re-run skip the unit; ``provenance`` holds the command line
        and timestamps. Written last among a unit's files: it marks the unit done."""
        document = {
            "format": SHARD_FORMAT,
            "shard": {"path": shard.label, "format": shard.format, "bytes": shard.bytes, "fingerprint": (stats.inputs or [{}])[0].get("fingerprint")},
            "unit": identity,
            "run": run,
            "provenance": provenance or {},
            "stats": stats.to_dict(),
        }
        self.folder.write_json((STATS, f"{shard.name}.json"), document)

    def annotations_writer(self, unit: str, schema: pa.Schema) -> AbstractContextManager[pq.ParquetWriter]:
        return self.folder.parquet_writer(_parts(ANNOTATIONS, f"{unit}.parquet"), schema)

    def delete_annotations(self, unit: str) -> None:
        self.folder.delete(*_parts(ANNOTATIONS, f"{unit}.parquet"))

    def write_candidates(self, unit: str, held: pa.Table, reserve: pa.Table) -> None:
        """A unit's sample candidates: those at or below its rank cut-off, and the rest (``scanner.evidence.sampling``)."""
        for part, table in ((CANDIDATES, held), (RESERVE, reserve)):
            with self.folder.parquet_writer(_parts(part, f"{unit}.parquet"), table.schema) as writer:
                writer.write_table(table)

    def candidate_tables(self, *, reserve: bool, threads: int = 1) -> Iterator[pa.Table]:
        """Every unit's held (or, with ``reserve``, reserved) candidates, ``threads`` files ahead."""
        part = RESERVE if reserve else CANDIDATES

        # ParquetFile.read, not read_table: the dataset layer costs ~2 ms per file, and units are many.
        def read(name: str) -> pa.Table:
            return pq.ParquetFile(self.folder.fs.open_input_file(self.folder.path(*_parts(part, name)))).read(use_threads=False)

        return read_ahead(read, self.folder.names(*_parts(part), suffix=".parquet"), threads)

    def write_id_hashes(self, unit: str, hashes: np.ndarray) -> None:
        data = io.BytesIO()
        np.save(data, hashes, allow_pickle=False)
        self.folder.write_bytes((IDS, f"{unit}.npy"), data.getvalue())

    def id_hashes(self, threads: int = 1) -> Iterator[np.ndarray]:
        return read_ahead(lambda name: np.load(io.BytesIO(self.folder.read_bytes(IDS, name)), allow_pickle=False), self.folder.names(IDS, suffix=".npy"), threads)

    # -- plans ---------------------------------------------------------------------------------

    def _other_provenance(self, name: str, run: dict[str, Any]) -> str | None:
        """What of ``run`` (as ``MERGED_PROVENANCE`` names it) the unit ``name`` (a stats file name) was
        made with another of; None if none, or if the file is unreadable (the report names those)."""
        try:
            stored = self.folder.read_json(STATS, name)["run"]
            return next((what for key, what in MERGED_PROVENANCE if json.dumps(stored.get(key), sort_keys=True) != json.dumps(run[key], sort_keys=True)), None)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def _foreign_unit(self, units: list[Shard], run: dict[str, Any]) -> tuple[str, str] | None:
        """(stats file, what differs) of a unit made with another provenance than ``run``, if OUT holds
        any. Two units are read, the first of this plan and the first of other files: OUT holds one
        run's units (``refuse_foreign_units`` and ``prepare`` keep it so; a mixed folder made otherwise
        is still caught by the report's merge), and reading every unit would cost each job of a large
        array a read of every stats file."""
        names = self.folder.names(STATS, suffix=".json")
        planned = {f"{u.name}.json" for u in units}
        for name in (next((n for n in names if n in planned), None), next((n for n in names if n not in planned), None)):
            what = None if name is None else self._other_provenance(name, run)
            if what is not None:
                return name, what
        return None

    def refuse_foreign_units(self, units: list[Shard], run: dict[str, Any]) -> None:
        """Before any work, unless ``--force``: a ``ConfigError`` if OUT holds units, of these inputs or
        of others, made with another lexicon, language-ID settings, options or tool version (``run``:
        ``Scanner.describe()``). No report could merge those of other inputs with this scan's, and
        those of these inputs would be replaced without a word, leaving that scan's report and samples
        beside this one's."""
        found = self._foreign_unit(units, run)
        if found is not None:
            name, what = found
            msg = (
                f"{self.folder.uri(STATS, name)} was made with another {what}, so no report could merge it with this scan; scan into a fresh --out,"
                " or pass --force to replace that scan (its units, plans, reports, filing tables and samples are deleted)"
            )
            raise ConfigError(msg)

    def _drop_other_run(self, run: dict[str, Any]) -> set[str]:
        """Delete what a scan of another provenance left (see ``prepare``); returns its units' names.
        Files that describe that scan as a whole go first and each unit's stats file (its done marker)
        after its other outputs, so a run killed meanwhile leaves units that the next ``--force`` run
        still finds. A unit is read just before its deletion, so a unit that a job of this run has
        rescanned meanwhile is kept."""
        for name in (*REPORT_FILES, *FILING_TABLES):
            self.folder.delete(name)
        for name in (HUMAN_SAMPLE, *(f"{sheet}.{fmt}" for sheet in SAMPLE_SHEETS for fmt in SHEET_FORMATS)):
            self.folder.delete(SAMPLES, name)
        dropped = set()
        for name in self.folder.names(STATS, suffix=".json"):
            if self._other_provenance(name, run) is None:
                continue
            unit = name.removesuffix(".json")
            for sub, suffix in _UNIT_OUTPUTS[::-1]:  # STATS last
                self.folder.delete(*_parts(sub, f"{unit}{suffix}"))
            dropped.add(unit)
        return dropped

    def prepare(self, units: list[Shard], *, annotate: bool, run: dict[str, Any] | None = None, force: bool = False) -> None:
        """Create the folders, then delete what would otherwise stand beside, or mix into, this scan's report:

        - the filing tables (``filing_table.csv``/``.xlsx``): they copy the last report, and only
          ``scanner report --filing-table`` writes them again;
        - with ``force`` (``refuse_foreign_units`` refuses without it), if OUT holds units made with another
          provenance than ``run``: every such unit (all its outputs), and what the scanner wrote about
          that scan: its reports, human sample and sample sheets. Imported human verdicts
          (``human_labels.json``) are people's work on documents, not the scan's, so they stay; the
          report counts them only for documents of the current sample (``labels_outside_sample``);
        - with ``force``, plans of other runs (plans record their run's digest), which would call their
          units unfinished;
        - outputs and plans of other plans of these files (e.g. another row-group split of a rewritten
          Parquet file), so no row is counted twice.

        Otherwise files not being scanned now are left alone, units of other inputs made with this run's
        provenance and outputs of units without a stats file included: other jobs of a batch array may own them."""
        try:
            for sub in (STATS, CANDIDATES, RESERVE, IDS, PLANS, *([ANNOTATIONS] if annotate else [])):
                self.folder.makedirs(*_parts(sub))
        except OSError as e:
            msg = f"{self.location}: cannot be the output folder ({e})"
            raise ConfigError(msg) from e
        for name in FILING_TABLES:
            self.folder.delete(name)
        dropped = self._drop_other_run(run) if force and run is not None and self._foreign_unit(units, run) is not None else set()
        digest = run_digest(run) if run is not None else None
        wanted = {u.name for u in units}
        files = {u.file_name for u in units}
        for sub, suffix in _UNIT_OUTPUTS:
            for name in self.folder.names(*_parts(sub), suffix=suffix):
                match = _UNIT_NAME.match(name.removesuffix(suffix))
                if match and match["file"] in files and name.removesuffix(suffix) not in wanted:
                    self.folder.delete(*_parts(sub, name))
        for name in self.folder.names(PLANS, suffix=".json"):
            try:
                document = self.folder.read_json(PLANS, name)
                planned, planned_by = document["units"], document.get("run")
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                planned, planned_by = {"": None}, None  # unreadable: replaced by this run's plan
            if force and digest is not None and (planned_by not in (None, digest) or (planned_by is None and not dropped.isdisjoint(planned))):
                self.folder.delete(PLANS, name)  # another run's (a plan without a digest: one that listed a unit just dropped)
            elif any((m := _UNIT_NAME.match(unit)) is None or (m["file"] in files and unit not in wanted) for unit in planned):
                self.folder.delete(PLANS, name)  # a plan of other units of these files will not be finished

    def write_plan(self, units: list[Shard], skipped: list[dict[str, str]] | None = None, run: dict[str, Any] | None = None) -> None:
        """Write ``OUT/plans/<digest>.json``, the units a run is to scan (unit name -> file label and bytes)
        and the files of its input folders it does not scan (``skipped``: [{path, reason}]), before any
        unit: the report then tells an interrupted or running scan, whose planned units have no stats file
        yet, from a finished one. One plan per distinct set of units, so the jobs of an array each keep
        theirs and a re-run rewrites its own. ``run`` (``Scanner.describe()``) is recorded as its ``run_digest``,
        so that ``prepare(force=True)`` tells the plans of another scan from those of this scan's other jobs."""
        planned = {u.name: {"label": u.label, "bytes": u.bytes} for u in units}
        digest = hashlib.sha256("\n".join(sorted(planned)).encode()).hexdigest()[:16]
        document = {"units": planned, "skipped": list(skipped or [])} | ({"run": run_digest(run)} if run is not None else {})
        self.folder.write_json((PLANS, f"{digest}.json"), document)

    def planned(self, done: set[str]) -> tuple[dict[str, dict[str, Any]], list[dict[str, str]]]:
        """From the plans of every run: the units planned but not among the ``done`` units (those with a
        stats file), name -> {label, bytes}; and the files skipped, [{path, reason}], each once."""
        unfinished: dict[str, dict[str, Any]] = {}
        skipped: dict[str, str] = {}
        for plan in self.folder.names(PLANS, suffix=".json"):
            try:
                document = self.folder.read_json(PLANS, plan)
                unfinished.update({name: {"label": str(u["label"]), "bytes": int(u["bytes"])} for name, u in document["units"].items() if name not in done})
                skipped.update({str(s["path"]): str(s["reason"]) for s in document.get("skipped", [])})
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
                msg = f"{self.folder.uri(PLANS, plan)}: unreadable plan of a scan ({e}); delete it if no scan is running"
                raise ConfigError(msg) from e
        return dict(sorted(unfinished.items())), [{"path": path, "reason": reason} for path, reason in sorted(skipped.items())]

    def drop_units(self, stale: Callable[[str], bool]) -> None:
        """Delete every output of the units whose name ``stale`` claims (each stats file before the unit's
        other files, so none looks done meanwhile) and every plan listing one of them. For jobs whose units
        are not files (a Spark dataset's partitions, datatrove's ranks: ``scanner.run.stream``), which
        replace the units of their own earlier runs when the data is cut differently."""
        for sub, suffix in _UNIT_OUTPUTS:
            for name in self.folder.names(*_parts(sub), suffix=suffix):
                if stale(name.removesuffix(suffix)):
                    self.folder.delete(*_parts(sub, name))
        for name in self.folder.names(PLANS, suffix=".json"):
            try:
                planned = self.folder.read_json(PLANS, name)["units"]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not this job's to judge; the report names an unreadable plan
            if any(stale(unit) for unit in planned):
                self.folder.delete(PLANS, name)

    # -- samples, labels, reports --------------------------------------------------------------

    def labels(self) -> dict[str, Any] | None:
        """The imported human verdicts (``scanner sample import``), if any."""
        return self.folder.read_json(SAMPLES, HUMAN_LABELS) if self.folder.exists(SAMPLES, HUMAN_LABELS) else None

    def write_labels(self, document: dict[str, Any]) -> None:
        self.folder.write_json((SAMPLES, HUMAN_LABELS), document)

    def evaluation_labels(self) -> dict[str, Any] | None:
        """The labels ``scanner evaluate`` keeps (``scanner.report.evaluate.labels_document``), if any."""
        return self.folder.read_json(EVALUATION_LABELS) if self.folder.exists(EVALUATION_LABELS) else None

    def write_evaluation(self, labels: dict[str, Any], evaluation: dict[str, Any]) -> str:
        """Keep the labels and write their evaluation; returns where the evaluation went."""
        self.folder.write_json((EVALUATION_LABELS,), labels)
        self.folder.write_json((EVALUATION,), evaluation)
        return self.folder.uri(EVALUATION)

    def annotation_tables(self, columns: list[str]) -> Iterator[pa.Table]:
        """These columns of every unit's annotations (``--annotate``), one unit at a time."""
        for name in self.folder.names(ANNOTATIONS, suffix=".parquet"):
            yield pq.ParquetFile(self.folder.fs.open_input_file(self.folder.path(ANNOTATIONS, name))).read(columns=columns, use_threads=False)

    def write_human_sample(self, sample: pa.Table) -> None:
        self.folder.makedirs(SAMPLES)
        with self.folder.parquet_writer((SAMPLES, HUMAN_SAMPLE), sample.schema) as writer:
            writer.write_table(sample)

    def write_sample_sheet(self, name: str, data: bytes) -> str:
        """A sample sheet for annotators (``samples/<name>``); returns where it went."""
        self.folder.write_bytes((SAMPLES, name), data)
        return self.folder.uri(SAMPLES, name)

    def has_report(self) -> bool:
        return self.folder.exists(REPORT_FILES[0])

    def read_report(self) -> dict[str, Any]:
        return self.folder.read_json(REPORT_FILES[0])

    def write_report(self, report: dict[str, Any], markdown: str, html: str) -> None:
        self.folder.write_json((REPORT_FILES[0],), report)
        self.folder.write_bytes((REPORT_FILES[1],), markdown.encode())
        self.folder.write_bytes((REPORT_FILES[2],), html.encode())

    def write_attachment(self, name: str, data: bytes) -> str:
        """A file beside the report (the filing table ``filing_table.csv``/``.xlsx``); returns its URI."""
        self.folder.write_bytes((name,), data)
        return self.folder.uri(name)
