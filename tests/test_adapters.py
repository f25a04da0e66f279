"""Library adapters: pyarrow tables and batch streams, polars DataFrame/LazyFrame, HF datasets."""

from __future__ import annotations

import pickle

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import make_lexicon, synthetic_rows, write_parquet

import scanner
from scanner.adapters import Annotator
from scanner.scan import BASE_ANNOTATION_SCHEMA

LEXICON = make_lexicon(("sex", "A1.6"), ("傻逼", "A4.3"), ("中国人", "A1.1;A1.3"))
SCANNER = scanner.Scanner(LEXICON, scanner.ScanOptions(langid=False))
ROWS = [{"text": t, "source": s} for t, s in [("傻逼 sex", "a"), ("plain", "b"), (None, "a"), ("中国人民", ""), ("ok", "b")]]
TABLE = pa.Table.from_pylist(ROWS, schema=pa.schema([("text", pa.string()), ("source", pa.string())]))


def test_table_and_batch_stream_number_rows_across_batches_and_keep_stats():
    annotator = Annotator(SCANNER, shard="s")
    batches = list(annotator.batches(TABLE.to_batches(max_chunksize=2)))
    out = pa.Table.from_batches(batches)
    assert out.column_names == ["text", *BASE_ANNOTATION_SCHEMA.names], "the input's source column is replaced"
    assert out.column("doc_id").to_pylist() == [f"s:{i}" for i in range(5)]
    assert out.column("flagged").to_pylist() == [True, False, False, True, False]
    assert out.column("source").to_pylist() == ["a", "b", "a", "s", "b"]
    assert annotator.stats == SCANNER.stats_of([TABLE], "s")
    assert annotator.stats.rows_read == 5


def test_polars_dataframe_and_lazyframe_agree():
    frame = pl.from_arrow(TABLE)
    eager = Annotator(SCANNER, shard="p").polars(frame)
    assert isinstance(eager, pl.DataFrame) and eager.columns == ["text", *BASE_ANNOTATION_SCHEMA.names]
    annotator = Annotator(SCANNER, shard="p")
    lazy = annotator.polars(pl.concat([frame.lazy()] * 3))
    assert isinstance(lazy, pl.LazyFrame)
    collected = lazy.collect(engine="streaming")
    assert collected.equals(pl.concat([eager] * 3).with_columns(pl.Series("doc_id", [f"p:{i}" for i in range(15)])))
    assert annotator.stats.totals["documents"] == 15 and annotator.stats.totals["flagged_documents"] == 6


def test_hf_datasets_map_adds_the_annotation_columns():
    datasets = pytest.importorskip("datasets")
    dataset = datasets.Dataset.from_list(ROWS)
    annotator = Annotator(SCANNER, shard="hf")
    mapped = dataset.map(annotator.hf, batched=True, batch_size=2, with_indices=True)
    assert mapped.column_names == ["text", *BASE_ANNOTATION_SCHEMA.names], "the input's source column is replaced"
    assert mapped["doc_id"] == [f"hf:{i}" for i in range(5)]
    assert mapped["flagged"] == [True, False, False, True, False]
    assert mapped["categories"][3] == ["A1.1", "A1.3"]
    assert annotator.stats.totals["documents"] == 5

    arrow = dataset.with_format("arrow").map(Annotator(SCANNER, shard="hf").hf, batched=True, batch_size=2, with_indices=True)
    assert arrow["doc_id"].to_pylist() == mapped["doc_id"]


@pytest.mark.parametrize("num_proc", [None, 2])
def test_hf_datasets_map_types_the_annotations_when_the_first_batch_has_no_hit(num_proc):
    """Regression: a first batch without hits returned only empty lists, which datasets typed null, so a
    later hit failed to cast (python format only; arrow was typed)."""
    datasets = pytest.importorskip("datasets")
    dataset = datasets.Dataset.from_dict({"text": ["plain", "傻逼 sex", "ok", "sex"]})  # with num_proc=2, 2 rows per process
    mapped = dataset.map(Annotator(SCANNER, shard="hf").hf, batched=True, batch_size=1, with_indices=True, num_proc=num_proc)
    assert mapped.features["terms"] == mapped.features["categories"] == datasets.List(datasets.Value("string"))
    assert mapped["terms"] == [[], ["sex", "傻逼"], [], ["sex"]]
    assert mapped["doc_id"] == [f"hf:{i}" for i in range(4)]


def test_annotator_pickles_as_its_lexicon_and_options():
    copy = pickle.loads(pickle.dumps(Annotator(SCANNER, shard="x")))
    assert copy.scanner.lexicon == LEXICON and copy.shard == "x"
    assert copy.table(TABLE).column("hits").to_pylist() == [2, 0, 0, 1, 0]


def test_example_cleaning_job_filters_and_reports(tmp_path, lexicon_file):
    from pipelines.clean_job import clean

    rows = synthetic_rows(500, seed=31)
    write_parquet(tmp_path / "in.parquet", rows, row_group_rows=100)
    report = clean([str(tmp_path / "in.parquet")], tmp_path / "clean", [lexicon_file])
    kept = pq.read_table(next((tmp_path / "clean" / "data").glob("*.parquet")))
    assert report["totals"]["documents"] == 500
    assert kept.num_rows == 500 - report["totals"]["unsafe_documents"] > 0
    assert report["totals"]["unsafe_documents"] == report["totals"]["flagged_documents"]  # a lexicon without severities
    assert kept.column_names == ["id", "text", "source", "language"]
    assert not any(term in (text or "") for text in kept.column("text").to_pylist() for term in ("傻逼", "中国人"))
    assert (tmp_path / "clean" / "scan" / "report.md").is_file()
