"""Apache Spark: annotate a DataFrame, or scan it into an output folder (extra ``.[spark]``: pyspark >= 3.5).

    from scanner import spark as scanner_spark
    annotated = scanner_spark.annotate(df)          # + doc_id, flagged, hits, categories, terms, language, source, ...
    result = scanner_spark.scan(df, out="OUT")      # OUT/shards/*.json, one per partition, and the report

Both run through ``DataFrame.mapInArrow``: Arrow record batches go straight from the JVM into the
matcher, and each executor Python process compiles the scanner once and reuses it for every task it
runs (Spark reuses its Python workers, ``spark.python.worker.reuse``, default on; ``ScannerSpec``).
Each batch goes through the same per-batch step as a ``scanner scan`` of a file (``StreamUnit``), so
a partition's outputs are a CLI unit's, and ``scanner report OUT`` merges them into the usual report.

Units. Partition ``p`` of the dataset ``name`` (default ``"spark"``) is the unit labelled
``<name>/part-<p:05d>``, written as ``OUT/shards/part-<p:05d>-<hash of the label>.json``. A re-run
replaces the dataset's files: before the job the driver deletes the outputs of ``name``'s partitions
of earlier runs that this run does not have, and writes the plan of this run's, so the report of a job
that died says "planned, not scanned yet". Units of other dataset names (and of ``scanner scan``) in
the same OUT are kept and merged, provided they were made with the same lexicon and options.

Ids and sources. Columns are chosen as in the CLI (``ScanOptions.columns``: text, and id, source,
url if present). Ids come from the id column, so the human sample (bottom-k of a keyed hash of the id)
is the CLI's; rows without one get ``<name>/part-<p:05d>:<row>``, which is stable only while the
partitioning is (Spark knows no line numbers): give corpora an id column. Documents with neither
source nor URL get the source ``name`` (the CLI uses the file name).

Bad input, as the readers' contract (``docs/inputs.md``) says for a columnar shard: null and empty
texts are empty documents; binary text is decoded as UTF-8 and, in ``scan``, rows whose binary text,
id, source or URL are not UTF-8 are rejected (``invalid_utf8``) while ``annotate``, one row per row,
fails as ``Scanner.annotate`` raises; non-string ids, sources and URLs are cast to strings. A missing
column, or a text column of another type, is the error the readers give a shard
(``ShardError``: "no text column 'text'; columns found: ...", "column 'text' has type int32; expected
a string column"), raised on the driver before any task: every partition shares the schema. Rows
whose ``_corrupt_record`` is set (Spark's JSON reader in PERMISSIVE mode, when the schema has that
column) are rejected as ``malformed_json``, so rows read = documents + rejected rows.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyspark import TaskContext
from pyspark.sql import DataFrame
from pyspark.sql import types as T  # noqa: N812 - pyspark's own spelling
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_type

from scanner.errors import ShardError
from scanner.evidence.outfolder import OutputFolder
from scanner.evidence.stats import ShardStats
from scanner.io.discovery import Shard
from scanner.io.readers import resolve_columns, to_document_batch
from scanner.lexicon.load import Lexicon
from scanner.report.build import write_report
from scanner.resources import arrow_cpu_threads
from scanner.run.stream import ScannerSpec, StreamUnit, merge_stats, prepare_stream_output, stream_shard
from scanner.scan import BASE_ANNOTATION_SCHEMA, ScanOptions

ANNOTATION_COLUMNS = tuple(BASE_ANNOTATION_SCHEMA.names)
"""The columns ``annotate`` appends: ``Scanner.annotate``'s (doc_id, flagged, hits, categories, terms,
language, source, then the other detectors' columns)."""
CORRUPT_RECORD = "_corrupt_record"  # Spark's default spark.sql.columnNameOfCorruptRecord
ENGINE = "spark"
_RESULT = "partition int, stats string, worker_pid int, built_scanner boolean, seconds double"
_RESULT_SCHEMA = pa.schema([("partition", pa.int32()), ("stats", pa.string()), ("worker_pid", pa.int32()), ("built_scanner", pa.bool_()), ("seconds", pa.float64())])
_PART = re.compile(r"^part-(\d{5,})-[0-9a-f]{10}$")


@dataclass
class ScanResult:
    """What ``scan`` returns: the merged statistics of this run's partitions, the report (None with
    ``report=False``) and, per partition, the Python worker that scanned it (``worker_pid``), whether it
    compiled the scanner there (``built_scanner``) and its seconds in Python."""

    stats: ShardStats
    report: dict[str, Any] | None
    partitions: list[dict[str, Any]] = field(default_factory=list)


def _unit(name: str, partition: int) -> Shard:
    return stream_shard(f"{name}/part-{partition:05d}", ENGINE)


def _owned_by(name: str, unit: str) -> bool:
    """Whether a unit name is one of dataset ``name``'s partitions (any partition number)."""
    match = _PART.match(unit)
    return match is not None and _unit(name, int(match.group(1))).name == unit


def _input_columns(schema: T.StructType, options: ScanOptions, name: str, rejected_column: str | None) -> list[str]:
    """The columns the scanner reads, chosen as the CLI chooses them, checked on the driver by the readers
    themselves (an empty Arrow table of those columns' types): what would fail every partition raises
    ``ShardError`` with the readers' message before any task starts."""
    names = schema.fieldNames()
    roles = resolve_columns(names, options.columns, name)
    selected = list(dict.fromkeys(column for column in roles.values() if column is not None))
    try:
        arrow = pa.schema([pa.field(column, to_arrow_type(schema[column].dataType)) for column in selected])
    except (TypeError, ValueError):  # a type pyarrow cannot hold: left to the tasks, which record it per partition
        arrow = None
    if arrow is not None:
        to_document_batch(arrow.empty_table(), roles, name, 0)
    if rejected_column is not None and rejected_column in names:
        selected.append(rejected_column)
    return selected


# -- annotate ----------------------------------------------------------------------------------


def _annotate_partition(spec: ScannerSpec, name: str, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    with arrow_cpu_threads(1):  # a Python worker is one core, as the CLI's workers
        scanner, _ = spec.scanner()
        unit = StreamUnit(scanner, _unit(name, TaskContext.get().partitionId()), fallback_source=name, collect=False)
        for batch in batches:
            annotations = unit.add(batch, strict=True)
            kept = [i for i, column in enumerate(batch.schema.names) if column not in ANNOTATION_COLUMNS]
            arrays = [batch.column(i) for i in kept] + [annotations.column(c).combine_chunks() for c in ANNOTATION_COLUMNS]
            yield pa.RecordBatch.from_arrays(arrays, names=[batch.schema.names[i] for i in kept] + list(ANNOTATION_COLUMNS))


def annotate(df: DataFrame, lexicons: Lexicon | Iterable[str | Path] = (), options: ScanOptions | None = None, *, name: str = "spark") -> DataFrame:
    """``df`` with the annotation columns appended (``ANNOTATION_COLUMNS``, as ``Scanner.annotate``); an
    input column with an annotation column's name (often ``source``) is replaced by it. Lazy, like any
    transformation. ``lexicons``: paths (default: the bundled lexicon) or a ``Lexicon``. Every column
    travels to Python and back: select the ones you need first if rows are wide."""
    spec = ScannerSpec.of(lexicons, options)
    _input_columns(df.schema, spec.options, name, None)
    fields = [f for f in df.schema.fields if f.name not in ANNOTATION_COLUMNS] + list(from_arrow_schema(BASE_ANNOTATION_SCHEMA).fields)
    return df.mapInArrow(functools.partial(_annotate_partition, spec, name), T.StructType(fields))


# -- scan --------------------------------------------------------------------------------------


def _scan_partition(
    spec: ScannerSpec, name: str, out: str, expected_documents: int | None, rejected_column: str | None, command: str, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    started = time.perf_counter()
    with arrow_cpu_threads(1):
        scanner, built = spec.scanner()
        partition = TaskContext.get().partitionId()
        unit = StreamUnit(scanner, _unit(name, partition), fallback_source=name, expected_documents=expected_documents)
        try:
            for batch in batches:
                unit.add(batch, rejected_column=rejected_column)
        except ShardError as e:  # e.g. an id column that cannot be cast to strings: the unit is an error, as in the CLI
            unit.fail(str(e))
        stats = unit.write(OutputFolder(out), {"path": None, "engine": ENGINE, "dataset": name, "partition": partition}, command=command)
    row = {"partition": [partition], "stats": [json.dumps(stats.to_dict())], "worker_pid": [os.getpid()], "built_scanner": [built], "seconds": [time.perf_counter() - started]}
    yield pa.RecordBatch.from_pydict(row, schema=_RESULT_SCHEMA)


def scan(
    df: DataFrame,
    out: str | Path,
    lexicons: Lexicon | Iterable[str | Path] = (),
    options: ScanOptions | None = None,
    *,
    name: str = "spark",
    expected_documents: int | None = None,
    force: bool = False,
    report: bool = True,
    report_lang: str = "zh",
) -> ScanResult:
    """Scan every row of ``df`` into ``out`` (a path or URI every executor and the driver reach) as
    ``scanner scan`` scans files: one unit per partition (``OUT/shards/<unit>.json`` with the run's
    provenance, sample candidates, id hashes), the plan, and with ``report`` the report
    (``report.json``/``.md``/``.html``, the human sample), which ``scanner report OUT`` rebuilds from the
    folder alone. ``lexicons``: paths (default: the bundled lexicon) or a ``Lexicon``.

    ``expected_documents``: the row count of the whole DataFrame (``df.count()``), or a lower bound. It
    sets the sample's rank cut-offs, so only about k + 10 sqrt(k) candidate texts are kept in all; None
    (default) keeps up to k per partition, always correct. Never pass an overestimate: a sampled text
    above a cut-off cannot be read back from a DataFrame, and the report would fail naming the partition.
    An ``out`` holding a scan made with another lexicon, options or tool version is refused (``ConfigError``)
    unless ``force``, which deletes that scan first (as ``scanner scan --force``).
    """
    out = str(out)
    spec = ScannerSpec.of(lexicons, options)
    columns = _input_columns(df.schema, spec.options, name, CORRUPT_RECORD)
    rejected_column = CORRUPT_RECORD if CORRUPT_RECORD in columns else None
    run = spec.run()
    folder = OutputFolder(out)
    owned = functools.partial(_owned_by, name)
    try:
        partitions = df.rdd.getNumPartitions()
    except Exception:  # noqa: BLE001 - Spark Connect has no RDDs: the old files are cleared now, the plan written after the job
        partitions = None
    prepare_stream_output(folder, run, [_unit(name, p) for p in range(partitions or 0)], owned, force=force)
    command = f"scanner.spark.scan(name={name!r})"
    task = functools.partial(_scan_partition, spec, name, out, expected_documents, rejected_column, command)
    rows = sorted(df.select(*[df[c] for c in columns]).mapInArrow(task, _RESULT).collect(), key=lambda r: r["partition"])
    done = [row["partition"] for row in rows]
    if done != list(range(partitions or 0)):  # no plan yet, or adaptive execution changed the partitioning
        prepare_stream_output(folder, run, [_unit(name, p) for p in done], owned)
    stats = merge_stats(ShardStats.from_dict(json.loads(row["stats"])) for row in rows)
    details = [{key: row[key] for key in ("partition", "worker_pid", "built_scanner", "seconds")} for row in rows]
    return ScanResult(stats, write_report(out, lang=report_lang) if report else None, details)
