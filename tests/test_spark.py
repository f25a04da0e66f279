"""scanner.spark on a local SparkSession (local[2]): reports equal to the CLI's on the same rows, re-runs,
annotations, bad input. Needs the [spark] extra and a Java runtime (skipped without, except under CI); the comparisons
with the CLI use the first 1,000 lines of each shared corpus (skipped without them), ``-m slow`` all."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None:  # skipped locally, a failure under CI, which installs it (.ci/run)
    reason = "no Java runtime for Spark (apt-get install -y default-jre-headless)"
    if os.environ.get("CI"):
        pytest.fail(reason + "; CI must install it (.ci/run)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)

from shared_corpora import assert_same_report, cli_report, cli_scan, corpora_files, sample_ids, write_subset  # noqa: E402

import scanner  # noqa: E402
from scanner import spark as scanner_spark  # noqa: E402
from scanner.io.readers import Columns  # noqa: E402

pytestmark = pytest.mark.spark
JSON_SCHEMA = "id string, text string, source string"
NO_LANGID = scanner.ScanOptions(langid=False)


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # loopback only, also for the JVM's own start-up
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("scanner-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.files.maxPartitionBytes", str(1 << 20))  # several partitions even of small files
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def subset(tmp_path_factory) -> Path:
    return write_subset(tmp_path_factory.mktemp("corpora"), 1000)


@pytest.fixture(scope="module")
def subset_cli(subset, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("cli")
    return out, cli_scan([str(subset)], out)


def test_scan_report_equals_cli(spark, subset, subset_cli, tmp_path):
    cli_out, cli = subset_cli
    df = spark.read.schema(JSON_SCHEMA).json(str(subset))
    partitions = df.rdd.getNumPartitions()
    assert partitions >= 4
    result = scanner_spark.scan(df, tmp_path)
    assert_same_report(result.report, cli)
    assert sample_ids(tmp_path) == sample_ids(cli_out)  # ids from the id column: the CLI's human sample
    # one stats file per partition, in the CLI's format and with its provenance block, so the two could share an OUT
    shards = sorted((tmp_path / "shards").glob("part-*.json"))
    assert len(shards) == partitions
    document = json.loads(shards[0].read_text())
    cli_document = json.loads(next((cli_out / "shards").glob("*.json")).read_text())
    assert document["format"] == cli_document["format"] == "scanner-shard-stats/1"
    assert document["run"] == cli_document["run"]
    assert document["unit"] | {"partition": 0} == {"path": None, "engine": "spark", "dataset": "spark", "partition": 0}
    assert [s["path"] for s in result.report["shards"]] == [f"spark/part-{p:05d}" for p in range(partitions)]
    assert result.report["errors"] == []
    assert_same_report(cli_report(tmp_path), cli)  # `scanner report OUT` merges the partitions' files alone
    # the compiled scanner is built once per Python worker and reused by its later partitions
    workers = {p["worker_pid"] for p in result.partitions}
    assert sum(p["built_scanner"] for p in result.partitions) <= len(workers) < len(result.partitions)


def test_rerun_replaces_partition_files(spark, tmp_path):
    rows = [(str(i), f"document {i} about brazzers" if i % 7 == 0 else f"document {i}", ["news", "web"][i % 2]) for i in range(400)]
    df = spark.createDataFrame(rows, JSON_SCHEMA)
    first = scanner_spark.scan(df.repartition(4), tmp_path, options=NO_LANGID)
    assert len(list((tmp_path / "shards").glob("*.json"))) == 4
    second = scanner_spark.scan(df.coalesce(2), tmp_path, options=NO_LANGID)  # fewer partitions: the other two go
    for sub, pattern in (("shards", "*.json"), ("ids", "*.npy"), ("samples/candidates", "*.parquet"), ("samples/reserve", "*.parquet"), ("plans", "*.json")):
        assert len(list((tmp_path / sub).glob(pattern))) == (1 if sub == "plans" else 2), sub
    assert second.report["totals"] == first.report["totals"] and second.report["totals"]["documents"] == 400
    assert second.report["errors"] == [] and second.report["duplicate_ids"]["documents"] == 0
    # another dataset name in the same OUT is kept beside it, and both are merged
    scanner_spark.scan(df.coalesce(1), tmp_path, options=NO_LANGID, name="other", report=False)
    assert cli_report(tmp_path)["totals"]["documents"] == 800
    # an OUT of other options is refused before any work
    other_options = scanner.ScanOptions(langid=False, normalize="none")
    with pytest.raises(scanner.ConfigError, match="another scan options"):
        scanner_spark.scan(df, tmp_path, options=other_options, name="third")
    # ... unless forced, which replaces that scan whole (as scanner scan --force)
    third = scanner_spark.scan(df.coalesce(1), tmp_path, options=other_options, name="third", force=True)
    assert [s["path"] for s in third.report["shards"]] == ["third/part-00000"] and third.report["totals"]["documents"] == 400


def test_annotate_equals_scanner_annotate(spark, tmp_path):
    rows = [{"id": str(i), "text": text, "source": "web" if i % 2 else None} for i, text in enumerate(["watch brazzers now", "今天天气很好", "", None, "plain english text", "porn and more"] * 5)]
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    annotated = scanner_spark.annotate(spark.read.parquet(str(path))).toArrow().sort_by("id")
    table = pa.Table.from_pylist(rows).sort_by("id")
    annotated_here = scanner.Scanner(scanner.load_lexicons()).annotate(table, shard="spark")
    expected = annotated_here.select(list(range(table.num_columns, annotated_here.num_columns)))  # the appended columns
    assert annotated.column_names == ["id", "text", *scanner_spark.ANNOTATION_COLUMNS]  # the input `source` is replaced
    assert expected.column_names == list(scanner_spark.ANNOTATION_COLUMNS)
    for column in scanner_spark.ANNOTATION_COLUMNS:
        assert annotated[column].to_pylist() == expected[column].to_pylist(), column
    assert 0 < sum(annotated["unsafe"].to_pylist()) < sum(annotated["flagged"].to_pylist())  # "porn" is a medium-severity term


def test_large_batches_are_cut_and_rows_numbered_across_them(spark):
    df = spark.range(20000).selectExpr("concat('document ', id, if(id % 5000 = 0, ' brazzers', '')) as text").coalesce(1)
    rows = scanner_spark.annotate(df, options=NO_LANGID, name="crawl").select("doc_id", "flagged", "source").collect()
    assert [r.doc_id for r in rows] == [f"crawl/part-00000:{i}" for i in range(20000)]  # Arrow batches of 10,000 rows, cut to 8,192
    assert sum(r.flagged for r in rows) == 4
    assert {r.source for r in rows} == {"crawl"}  # neither source nor URL: the dataset's name


def test_bad_input_as_the_readers_contract_says(spark, tmp_path):
    """Nulls, empty strings, non-UTF-8 binary text, integer ids with a null, empty and null sources, a
    float column: the same counts as `scanner scan` of the same Parquet file."""
    texts = [b"plain text", None, b"", b"\xff\xfe not utf-8", b"watch brazzers now", "中文文本".encode()]
    table = pa.table(
        {
            "text": pa.array(texts, pa.binary()),
            "id": pa.array([1, 2, 3, 4, None, 6], pa.int64()),
            "source": pa.array(["a", None, "", "a", "b", None]),
            "score": pa.array([1.0, 2.0, None, 4.0, 5.0, 6.0]),
        }
    )
    parquet = tmp_path / "bad.parquet"
    pq.write_table(table, parquet)
    cli = cli_scan([str(parquet)], tmp_path / "cli", "--no-langid")
    df = spark.read.parquet(str(parquet)).coalesce(1)
    report = scanner_spark.scan(df, tmp_path / "spark", options=NO_LANGID, name="bad").report
    assert report["rejected"] == cli["rejected"] == {"invalid_utf8": 1}
    assert report["totals"] == cli["totals"]
    assert report["totals"]["rows_read"] == 6 and report["totals"]["empty_documents"] == 2  # null and ""
    # rows without a source take the fallback: the file name in the CLI, the dataset's name here (both "bad")
    assert report["by_source"] == cli["by_source"] and set(report["by_source"]) == {"a", "b", "bad"}
    assert report["duplicate_ids"] == cli["duplicate_ids"]
    # annotate returns a row per row, so a non-UTF-8 text fails the job as Scanner.annotate raises
    with pytest.raises(Exception, match="UTF-8"):
        scanner_spark.annotate(df, options=NO_LANGID).collect()
    assert scanner_spark.annotate(df.filter("id IS NULL OR id != 4"), options=NO_LANGID).count() == 5


def test_unreadable_columns_fail_on_the_driver_with_the_readers_message(spark, tmp_path):
    numbers = spark.createDataFrame([(1, "x")], "text int, id string")
    with pytest.raises(scanner.ShardError, match="column 'text' has type int32; expected a string column"):
        scanner_spark.scan(numbers, tmp_path)
    with pytest.raises(scanner.ShardError, match="'text' has type int32"):
        scanner_spark.annotate(numbers)
    with pytest.raises(scanner.ShardError, match="no text column 'text'; columns found: body, id"):
        scanner_spark.scan(spark.createDataFrame([("x", "1")], "body string, id string"), tmp_path)
    with pytest.raises(scanner.ShardError, match="no id column 'doc'"):
        scanner_spark.annotate(spark.createDataFrame([("x", "1")], "body string, id string"), options=scanner.ScanOptions(columns=Columns(text="body", id="doc")))
    assert not (tmp_path / "shards").exists()  # nothing was started


def test_malformed_json_lines_are_rejected_not_dropped(spark, tmp_path):
    jsonl = tmp_path / "input" / "mixed.jsonl"
    jsonl.parent.mkdir()
    jsonl.write_text('{"id": "1", "text": "fine"}\n{"id": "2", "text": broken\n{"id": "3", "text": "watch brazzers"}\n{"id": "4", "text": null}\n')
    cli = cli_scan([str(jsonl)], tmp_path / "cli", "--no-langid")
    df = spark.read.schema("id string, text string, _corrupt_record string").json(str(jsonl))
    report = scanner_spark.scan(df, tmp_path / "spark", options=NO_LANGID).report
    assert report["rejected"] == cli["rejected"] == {"malformed_json": 1}
    assert report["totals"] == cli["totals"]


@pytest.mark.slow
def test_full_corpora_report_equals_cli(spark, tmp_path):
    files = [str(p) for p in corpora_files()]
    cli = cli_scan(files, tmp_path / "cli")
    df = spark.read.schema(JSON_SCHEMA).json(files)
    result = scanner_spark.scan(df, tmp_path / "spark", expected_documents=df.count())
    assert_same_report(result.report, cli)
    assert sample_ids(tmp_path / "spark") == sample_ids(tmp_path / "cli")
