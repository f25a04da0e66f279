"""Shard discovery and readers: expansion, de-duplication, typing, bounded batches, rejected lines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import make_lexicon, write_jsonl

import scanner
from scanner.errors import ConfigError, ShardError
from scanner.io import readers
from scanner.io.discovery import discover_shards
from scanner.io.readers import Columns, read_batches


def test_directories_globs_and_spellings_name_each_file_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/a.jsonl", "d/sub/b.parquet", "d/.hidden.jsonl", "d/notes.md"):
        (tmp_path / name).write_text("", encoding="utf-8")
    shards = discover_shards(["d", "d/sub/../a.jsonl", "d/**/*.parquet", str(tmp_path / "d" / "a.jsonl")])
    assert [s.label for s in shards] == ["d/a.jsonl", "d/sub/b.parquet"]
    assert [s.format for s in shards] == ["jsonl", "parquet"]
    assert len({s.name for s in shards}) == 2 and all("/" not in s.name for s in shards)


def test_symlinked_duplicate_is_scanned_once(tmp_path):
    (tmp_path / "a.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "a.jsonl")
    assert len(discover_shards([str(tmp_path)])) == 1


def test_shard_stem_strips_compound_suffixes(tmp_path):
    path = tmp_path / "web.part-1.jsonl.zst"
    path.write_bytes(b"")
    (shard,) = discover_shards([str(path)])
    assert (shard.format, shard.compression, shard.stem) == ("jsonl", "zstd", "web.part-1")


def test_parquet_batches_are_bounded_and_numbered(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "BATCH_ROWS", 100)
    pq.write_table(pa.table({"text": [f"t{i}" for i in range(250)]}), tmp_path / "t.parquet", row_group_size=250)
    batches = list(read_batches(discover_shards([str(tmp_path / "t.parquet")])[0], Columns()))
    assert [len(b.text) for b in batches] == [100, 100, 50]
    assert np.array_equal(np.concatenate([b.row_number for b in batches]), np.arange(250))


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (pa.array([b"abc", None], pa.binary()), ["abc", None]),
        (pa.array(["x", "y"]).dictionary_encode(), ["x", "y"]),
        (pa.array(["x", "y"], pa.large_string()), ["x", "y"]),
    ],
    ids=["binary", "dictionary", "large_string"],
)
def test_string_like_text_columns_are_read(tmp_path, column, expected):
    pq.write_table(pa.table({"text": column}), tmp_path / "t.parquet")
    (batch,) = read_batches(discover_shards([str(tmp_path / "t.parquet")])[0], Columns())
    assert batch.text.to_pylist() == expected


def test_non_string_text_column_is_a_shard_error(tmp_path):
    pq.write_table(pa.table({"text": [1, 2]}), tmp_path / "t.parquet")
    with pytest.raises(ShardError, match="column 'text' has type int64; expected a string column"):
        list(read_batches(discover_shards([str(tmp_path / "t.parquet")])[0], Columns()))


def write_columnar(path, table):
    if path.suffix == ".arrow":
        with pa.ipc.new_file(path, table.schema) as writer:
            writer.write_table(table)
    else:
        pq.write_table(table, path)


@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
def test_rows_with_invalid_utf8_binary_values_are_rejected_and_keep_row_numbers(tmp_path, monkeypatch, suffix):
    monkeypatch.setattr(readers, "BATCH_ROWS", 16)
    texts = [f"row {i}".encode() for i in range(40)]
    ids = [str(i).encode() for i in range(40)]
    texts[2], texts[33], ids[20] = b"\xff\xfe bad", b"bad \xc3", b"\xff"
    write_columnar(tmp_path / f"t{suffix}", pa.table({"text": pa.array(texts, pa.binary()), "id": pa.array(ids, pa.binary())}))
    batches = list(read_batches(discover_shards([str(tmp_path / f"t{suffix}")])[0], Columns()))
    kept = [i for i in range(40) if i not in (2, 20, 33)]
    assert np.concatenate([b.row_number for b in batches]).tolist() == kept
    assert [t for b in batches for t in b.text.to_pylist()] == [f"row {i}" for i in kept]
    assert [i for b in batches for i in b.id.to_pylist()] == [str(i) for i in kept]
    assert [b.rejected for b in batches] == [{"invalid_utf8": 1}, {"invalid_utf8": 1}, {"invalid_utf8": 1}]


def test_annotate_fails_on_invalid_utf8_binary_rather_than_drop_rows():
    table = pa.table({"text": pa.array([b"ok", b"\xff\xfe"], pa.binary())})
    with pytest.raises(ShardError, match="column 'text' of type binary cannot be read as UTF-8"):
        scanner.Scanner(make_lexicon(("sex", "A1.6")), scanner.ScanOptions(langid=False)).annotate(table)


def one_jsonl_batch(tmp_path: Path, lines: list[bytes]):
    """The one batch of a JSONL file of these lines."""
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (batch,) = read_batches(discover_shards([str(tmp_path / "a.jsonl")])[0], Columns())
    return batch


def test_jsonl_bad_lines_are_rejected_with_reasons(tmp_path):
    lines = [
        b'{"text": "ok", "id": 7}',
        b'{"text": "broken"',
        b'{"text": "bad \xff utf8"}',
        b"[1, 2]",
        b'{"body": "no text"}',
        b'{"text": 5}',
        b"",
        b'{"text": null}',
    ]
    batch = one_jsonl_batch(tmp_path, lines)
    assert batch.text.to_pylist() == ["ok", None]
    assert batch.id.to_pylist() == ["7", None]
    assert batch.row_number.tolist() == [0, 7]
    assert batch.rejected == {"malformed_json": 1, "invalid_utf8": 1, "not_an_object": 1, "missing_text": 1, "text_not_string": 1}


def test_jsonl_lone_surrogate_escapes_are_rejected_as_invalid_utf8(tmp_path):
    lines = [
        b'{"id": "s0", "text": "ok"}',
        b'{"id": "s1", "text": "lone surrogate \\ud800 here"}',
        b'{"id": "s2 \\udfff", "text": "bad id"}',
        b'{"id": "s3", "text": "bad source", "source": "\\ud83d"}',
        b'{"id": "s4", "text": "bad url", "url": "http://x/\\udc00"}',
        b'{"id": ["s5", "\\ud800"], "text": "bad id inside a list"}',
        b'{"id": "s6", "text": "pair \\ud83d\\ude00 kept", "url": "a \\\\ud800 is just text"}',
        b'{"id": "s7", "text": "the bytes \xed\xa0\x80 of a surrogate"}',
    ]
    batch = one_jsonl_batch(tmp_path, lines)
    assert batch.text.to_pylist() == ["ok", "pair \U0001f600 kept"]
    assert batch.url.to_pylist() == [None, "a \\ud800 is just text"]
    assert batch.row_number.tolist() == [0, 6]
    assert batch.rejected == {"invalid_utf8": 6}


@pytest.mark.parametrize("role", ["id", "source", "url"])
def test_jsonl_named_field_no_line_holds_names_the_fields_found(tmp_path, role):
    write_jsonl(tmp_path / "a.jsonl", [{"id": 1, "text": "x"}, {"text": "y", "meta": 2}])
    with pytest.raises(ShardError, match=f"no {role} field 'doc_{role}'; fields found: id, meta, text"):
        list(read_batches(discover_shards([str(tmp_path / "a.jsonl")])[0], Columns(**{role: f"doc_{role}"})))


def test_jsonl_named_field_missing_from_the_first_batch_fails_before_any_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "BATCH_ROWS", 2)
    write_jsonl(tmp_path / "a.jsonl", [{"id": i, "text": "x"} for i in range(5)])
    with pytest.raises(ShardError, match="no id field 'doc_id'; fields found: id, text"):
        next(read_batches(discover_shards([str(tmp_path / "a.jsonl")])[0], Columns(id="doc_id")))


def test_jsonl_named_field_some_lines_lack_reads_as_null(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"text": "x"}, {"text": "y", "doc_id": "d1"}])
    (batch,) = read_batches(discover_shards([str(tmp_path / "a.jsonl")])[0], Columns(id="doc_id"))
    assert batch.id.to_pylist() == [None, "d1"]


def test_jsonl_without_the_text_field_names_the_fields_found(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"content": "x", "id": 1}) + "\n", encoding="utf-8")
    with pytest.raises(ShardError, match="no text field 'text'; fields found: content, id"):
        list(read_batches(discover_shards([str(tmp_path / "a.jsonl")])[0], Columns()))


def test_truncated_gzip_is_a_shard_error(tmp_path):
    import gzip

    data = gzip.compress(b'{"text": "hello"}\n' * 1000)
    (tmp_path / "a.jsonl.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ShardError, match="cannot read"):
        list(read_batches(discover_shards([str(tmp_path / "a.jsonl.gz")])[0], Columns()))


def test_corrupt_parquet_is_a_shard_error(tmp_path):
    (tmp_path / "a.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ShardError, match="not a readable Parquet file"):
        list(read_batches(discover_shards([str(tmp_path / "a.parquet")])[0], Columns()))


def test_explicit_missing_id_column_is_a_shard_error(tmp_path):
    pq.write_table(pa.table({"text": ["x"]}), tmp_path / "t.parquet")
    with pytest.raises(ShardError, match="no id column 'doc'; columns found: text"):
        list(read_batches(discover_shards([str(tmp_path / "t.parquet")])[0], Columns(id="doc")))


def test_missing_paths_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        discover_shards([str(tmp_path / "nope")])


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst"])
def test_planned_jsonl_row_estimate_errs_low_and_is_exact_for_small_files(tmp_path, suffix):
    import gzip

    import zstandard

    def write(path, count):
        data = "".join(json.dumps({"id": str(i), "text": "文本 " * (i % 50 + 5)}, ensure_ascii=False) + "\n" for i in range(count)).encode()
        path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else zstandard.compress(data) if suffix.endswith(".zst") else data)

    write(tmp_path / f"big{suffix}", 30_000)
    write(tmp_path / f"small{suffix}", 40)
    big, small = readers.plan_units(discover_shards([str(tmp_path / f"big{suffix}"), str(tmp_path / f"small{suffix}")]), Columns())
    assert 0 < big.expected_rows < 30_000  # low, so the sample's rank cut-offs err generous
    if suffix == ".jsonl":
        assert big.expected_rows > 0.3 * 30_000  # halved; compressed readers read ahead, so theirs err lower
    assert small.expected_rows == 40


def save_dataset_dict(folder: Path) -> Path:
    datasets = pytest.importorskip("datasets")
    splits = {"train": datasets.Dataset.from_dict({"text": ["a", "b"]}), "test": datasets.Dataset.from_dict({"text": ["c"]})}
    datasets.DatasetDict(splits).save_to_disk(str(folder))
    return folder


def test_hf_dataset_dict_folder_contributes_the_arrow_files_of_its_splits(tmp_path):
    """Regression: a saved DatasetDict's dataset_dict.json was scanned as a JSONL shard."""
    folder = save_dataset_dict(tmp_path / "dd")
    shards = discover_shards([str(folder)])
    assert [s.label for s in shards] == [f"{folder.as_posix()}/{split}/data-00000-of-00001.arrow" for split in ("test", "train")]
    assert [t for s in shards for b in read_batches(s, Columns()) for t in b.text.to_pylist()] == ["c", "a", "b"]


def test_hf_dataset_dict_behind_a_uri_contributes_the_arrow_files_of_its_splits(tmp_path):
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    memory.put(str(save_dataset_dict(tmp_path / "dd")), f"/{tmp_path.name}/dd", recursive=True)
    try:
        labels = [s.label for s in discover_shards([f"memory://{tmp_path.name}/dd"])]
    finally:
        memory.rm(f"/{tmp_path.name}", recursive=True)
    assert labels == [f"memory://{tmp_path.name}/dd/{split}/data-00000-of-00001.arrow" for split in ("test", "train")]


def test_hf_dataset_dict_listing_a_missing_split_is_a_config_error(tmp_path):
    folder = save_dataset_dict(tmp_path / "dd")
    (folder / "dataset_dict.json").write_text('{"splits": ["train", "validation"]}', encoding="utf-8")
    with pytest.raises(ConfigError, match="lists splits that are not save_to_disk Dataset folders: validation"):
        discover_shards([str(folder)])


def test_file_uris_name_the_local_paths(tmp_path):
    """Regression: a file:// input was taken as a relative path and did not exist. It now scans (and is
    labelled) as the path it names."""
    (tmp_path / "d").mkdir()
    write_jsonl(tmp_path / "d" / "a.jsonl", [{"text": "x"}])
    pq.write_table(pa.table({"text": ["y"]}), tmp_path / "d" / "b.parquet")
    save_dataset_dict(tmp_path / "dd")
    for path in ("d/a.jsonl", "d", "d/*.parquet", "dd"):
        spelled = f"{tmp_path.as_posix()}/{path}"
        assert discover_shards([f"file://{spelled}"]) == discover_shards([spelled]), path
    assert len(discover_shards([f"file://{tmp_path.as_posix()}/d", str(tmp_path / "d" / "a.jsonl")])) == 2
