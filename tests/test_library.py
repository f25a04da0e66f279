"""The library API a cleaning job uses: annotate tables and batches, statistics from batch iterators."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pytest
from conftest import make_lexicon

import scanner

LEXICON = make_lexicon(("sex", "A1.6"), ("傻逼", "A4.3"), ("中国人", "A1.1;A1.3"))


def test_annotate_appends_the_annotation_columns():
    s = scanner.Scanner(LEXICON)
    table = pa.table({"text": ["傻逼 sex 傻逼", "hello world, a plain English sentence", None], "id": [1, 2, 3], "extra": [0, 0, 0]})
    out = s.annotate(table)
    assert out.column_names == ["text", "id", "extra", "doc_id", "flagged", "hits", "categories", "terms", "language", "source", "pii", "classifier_score", "classifier_label", "unsafe", "unsafe_reason"]
    rows = out.to_pylist()
    assert [r["doc_id"] for r in rows] == ["1", "2", "3"]
    assert [r["flagged"] for r in rows] == [True, False, False]
    assert [r["hits"] for r in rows] == [3, 0, 0]
    assert rows[0]["categories"] == ["A1.6", "A4.3"]
    assert rows[0]["terms"] == ["sex", "傻逼"]
    assert rows[1]["language"] == "en" and rows[2]["language"] == "und"


def test_annotate_record_batch_and_filter():
    s = scanner.Scanner(LEXICON, scanner.ScanOptions(langid=False))
    batch = pa.record_batch({"text": pa.array(["中国人民", "天气"], pa.large_string())})
    out = s.annotate(batch, shard="part-0")
    assert out.column("doc_id").to_pylist() == ["part-0:0", "part-0:1"]
    assert out.filter(pa.compute.invert(out.column("flagged"))).column("text").to_pylist() == ["天气"]


def test_annotate_names_the_columns_when_text_is_missing():
    with pytest.raises(scanner.ShardError, match="no text column 'text'; columns found: body"):
        scanner.Scanner(LEXICON).annotate(pa.table({"body": ["x"]}))


def test_stats_of_batches_equals_stats_of_whole():
    s = scanner.Scanner(LEXICON, scanner.ScanOptions(langid=False))
    table = pa.table({"text": ["sex", "傻逼傻逼", "", "中国人", "ok"], "source": ["a", "b", "a", "b", "a"]})
    whole = s.stats_of([table])
    parts = s.stats_of(table.to_batches(max_chunksize=2))
    assert whole == parts
    assert whole.totals["flagged_documents"] == 3 and whole.totals["hits"] == 4
    assert whole.by_source["a"]["documents"] == 3


def test_custom_column_names():
    options = scanner.ScanOptions(columns=scanner.io.readers.Columns(text="content", source="site"), langid=False)
    out = scanner.Scanner(LEXICON, options).annotate(pa.table({"content": ["sex"], "site": ["x.cn"]}))
    assert out.column("source").to_pylist() == ["x.cn"]


def test_annotate_with_evidence_maps_hits_to_the_original_text():
    s = scanner.Scanner(LEXICON, scanner.ScanOptions(langid=False))
    out = s.annotate(pa.table({"text": ["Ｓｅｘ, 傻逼", "ok"]}), evidence=True)
    assert out.column_names[-2:] == ["normalizations", "matches"]
    row = out.to_pylist()[0]
    assert row["normalizations"] == ["nfkc"]
    assert [(m["term"], m["original"], m["normalizations"]) for m in row["matches"]] == [("sex", "Ｓｅｘ", ["nfkc"]), ("傻逼", "傻逼", [])]
    assert out.to_pylist()[1]["matches"] == []


def test_import_scanner_imports_neither_engine():
    """The Spark and datatrove integrations load only when asked (``scanner.spark``, ``scanner.datatrove``),
    so ``import scanner`` costs what it did before them, installed or not."""
    code = (
        "import sys, scanner, scanner.run.unit, scanner.cli\n"
        "loaded = {m.split('.')[0] for m in sys.modules} | {m for m in sys.modules if m.startswith('scanner.')}\n"
        "print(sorted(loaded & {'pyspark', 'py4j', 'datatrove', 'scanner.spark', 'scanner.datatrove'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
