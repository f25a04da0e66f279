"""Golden tests through the CLI: the same tiny corpus in every input format gives the same report."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
import zstandard
from click.testing import CliRunner
from conftest import REPO
from reference import naive_hits

import scanner
from scanner.cli import cli

GOLDEN = REPO / "tests" / "data" / "expected" / "tiny_report.json"
LEXICON_CSV = "term,category\nsex,A1.6\nporn,A1.6\n中国人,A1.1;A1.3\n傻逼,A4.3\n"
ROWS = [
    {"id": "d1", "text": "中国人民银行今天发布了新的货币政策报告，市场反应平稳。", "source": "news"},
    {"id": "d2", "text": "你这个傻逼，傻逼！", "source": "forum"},
    {"id": "d3", "text": "The class learned about sex education and biology in school today.", "source": "web"},
    {"id": "d4", "text": "", "source": "web"},
    {"id": "d5", "text": None, "source": "forum"},
    {"id": "d6", "text": "Assessment of the bass section: excellent, no porn here, just music.", "source": "web"},
    {"id": "d7", "text": "今天天气很好，我们去公园散步。", "source": "news"},
]
SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("source", pa.string())])


def write_jsonl(path: Path, opener=open) -> None:
    with opener(path, "wb") as f:
        for row in ROWS:
            f.write((json.dumps(row, ensure_ascii=False) + "\n").encode())


def write_zstd(path: Path) -> None:
    data = b"".join((json.dumps(r, ensure_ascii=False) + "\n").encode() for r in ROWS)
    path.write_bytes(zstandard.ZstdCompressor().compress(data))


def write_arrow_stream(path: Path) -> None:
    table = pa.Table.from_pylist(ROWS, schema=SCHEMA)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=3)


def write_hf_dataset(path: Path) -> None:
    import datasets

    datasets.Dataset.from_list(ROWS).save_to_disk(str(path))


WRITERS = {
    "parquet": ("tiny.parquet", lambda p: pq.write_table(pa.Table.from_pylist(ROWS, schema=SCHEMA), p, row_group_size=3)),
    "jsonl": ("tiny.jsonl", write_jsonl),
    "jsonl.gz": ("tiny.jsonl.gz", lambda p: write_jsonl(p, gzip.open)),
    "jsonl.zst": ("tiny.jsonl.zst", write_zstd),
    "feather": ("tiny.feather", lambda p: feather.write_feather(pa.Table.from_pylist(ROWS, schema=SCHEMA), p, chunksize=3)),
    "arrow-stream": ("tiny.arrow", write_arrow_stream),
    "hf-datasets": ("tiny_hf", write_hf_dataset),
}


def comparable(report: dict) -> dict:
    """The parts of report.json that must not depend on the input format or the machine."""
    keep = ("totals", "by_category", "by_language", "by_source", "top_terms", "checks", "rejected", "errors")
    return {k: report[k] for k in keep} | {"lexicon": {k: report["lexicon"][k] for k in ("fingerprint", "terms", "terms_by_category")}}


@pytest.fixture(scope="module")
def lexicon_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lex") / "tiny.csv"
    path.write_text(LEXICON_CSV, encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", WRITERS)
def test_every_format_gives_the_golden_report(tmp_path, lexicon_path, fmt):
    name, write = WRITERS[fmt]
    write(tmp_path / name)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["scan", str(tmp_path / name), "--out", str(out), "--lexicon", str(lexicon_path), "--annotate", "--workers", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert comparable(report) == json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert report["inputs"][0]["rows"] == len(ROWS)
    assert (out / "report.md").read_text(encoding="utf-8").startswith("# 语料安全扫描报告")
    assert "forum" in result.output and "FAIL" in result.output

    annotations = pa.concat_tables(pq.read_table(p) for p in sorted((out / "annotations").glob("*.parquet")))
    assert annotations.schema == scanner.scan.ANNOTATION_SCHEMA
    lexicon = scanner.load_lexicons([lexicon_path])
    categories = {t.text: t.categories for t in lexicon.terms}
    by_id = {row["doc_id"]: row for row in annotations.to_pylist()}
    assert sorted(by_id) == sorted(r["id"] for r in ROWS)
    for row in ROWS:
        naive = naive_hits(lexicon, row["text"])
        got = by_id[row["id"]]
        assert got["hits"] == len(naive)
        assert got["flagged"] == bool(naive)
        assert got["terms"] == sorted({t for t, _ in naive})
        assert got["categories"] == sorted({c for t, _ in naive for c in categories[t]})
        assert got["source"] == row["source"]


def test_report_command_rebuilds_the_same_report(tmp_path, lexicon_path):
    write_jsonl(tmp_path / "a.jsonl")
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(cli, ["scan", str(tmp_path / "a.jsonl"), "--out", str(out), "--lexicon", str(lexicon_path)]).exit_code == 0
    first = (out / "report.json").read_text(encoding="utf-8")
    (out / "report.json").unlink()
    (out / "report.md").unlink()
    result = runner.invoke(cli, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "report.json").read_text(encoding="utf-8") == first
    assert (out / "report.md").is_file()


def test_workers_do_not_change_the_report(tmp_path, lexicon_path):
    (tmp_path / "in").mkdir()
    for i in range(3):
        write_jsonl(tmp_path / "in" / f"part{i}.jsonl")
    reports = []
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}"
        result = CliRunner().invoke(cli, ["scan", str(tmp_path / "in"), "--out", str(out), "--lexicon", str(lexicon_path), "--workers", workers])
        assert result.exit_code == 0, result.output
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        report.pop("provenance")  # timestamps and command line
        reports.append(report)
    assert reports[0] == reports[1]
    assert reports[0]["totals"]["documents"] == 3 * len(ROWS)


def test_generated_ids_and_url_sources(tmp_path, lexicon_path):
    path = tmp_path / "noid.jsonl"
    path.write_text(
        '{"text": "傻逼", "url": "https://BBS.Example.cn/t/1"}\n{"text": "ok"}\n\n{"text": "fine", "url": "not a url"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["scan", str(path), "--out", str(out), "--lexicon", str(lexicon_path), "--annotate", "--no-langid"])
    assert result.exit_code == 0, result.output
    rows = pq.read_table(next((out / "annotations").glob("*.parquet"))).to_pylist()
    label = path.as_posix()
    assert [r["doc_id"] for r in rows] == [f"{label}:0", f"{label}:1", f"{label}:3"]
    assert [r["source"] for r in rows] == ["bbs.example.cn", "noid", "noid"]
    assert {r["language"] for r in rows} == {"und"}


def test_explicit_columns(tmp_path, lexicon_path):
    table = pa.table({"content": ["傻逼", "x"], "doc": [1, 2], "site": ["a", "b"]})
    pq.write_table(table, tmp_path / "t.parquet")
    out = tmp_path / "out"
    args = ["scan", str(tmp_path / "t.parquet"), "--out", str(out), "--lexicon", str(lexicon_path), "--annotate"]
    result = CliRunner().invoke(cli, [*args, "--text-column", "content", "--id-column", "doc", "--source-column", "site"])
    assert result.exit_code == 0, result.output
    rows = pq.read_table(next((out / "annotations").glob("*.parquet"))).to_pylist()
    assert [(r["doc_id"], r["source"], r["flagged"]) for r in rows] == [("1", "a", True), ("2", "b", False)]


def test_missing_text_column_is_reported_with_columns_found(tmp_path, lexicon_path):
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "t.parquet")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["scan", str(tmp_path / "t.parquet"), "--out", str(out), "--lexicon", str(lexicon_path)])
    assert result.exit_code == 5  # finished, with a failed shard
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["errors"][0]["shard"].endswith("t.parquet")
    assert "no text column 'text'; columns found: body" in report["errors"][0]["reason"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "nope.jsonl", "--out", "o"], "nope.jsonl: no such file or directory"),
        (["scan", "empty_dir", "--out", "o"], "directory holds no shards"),
        (["scan", "x.txt", "--out", "o"], "unknown shard format"),
        (["scan", "*.nothing", "--out", "o"], "matches no file"),
        (["report", "empty_dir"], "no shard statistics found"),
        (["scan", "one.jsonl", "--out", "x.txt"], "x.txt: cannot be the output folder"),
        (["scan", "one.jsonl", "--out", "o", "--unit-mb", "nan"], "Invalid value for '--unit-mb': nan is not a size"),
        (["scan", "one.jsonl", "--out", "o", "--unit-mb", "inf"], "Invalid value for '--unit-mb': inf is not in the range"),
        (["scan", "one.jsonl", "--out", "o", "--tokenizer", "x.txt"], "x.txt: not a Hugging Face tokenizer.json"),
        (["scan", "one.jsonl", "--out", "o", "--tokens", "exact", "--tokenizer", "x.txt"], "x.txt: not a Hugging Face tokenizer.json"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "x.txt").write_text("hello", encoding="utf-8")
    (tmp_path / "one.jsonl").write_text('{"text": "hello"}\n', encoding="utf-8")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "o").exists()  # before any work


def test_bad_lexicon_exits_2_naming_file_and_line(tmp_path):
    (tmp_path / "bad.csv").write_text("term,category\nsex,A7.1\n", encoding="utf-8")
    write_jsonl(tmp_path / "a.jsonl")
    result = CliRunner().invoke(cli, ["scan", str(tmp_path / "a.jsonl"), "--out", str(tmp_path / "o"), "--lexicon", str(tmp_path / "bad.csv")])
    assert result.exit_code == 2
    assert "bad.csv:2: unknown category 'A7.1'" in result.output


DISGUISED_ROWS = [
    {"id": "w1", "text": "ｓｅｘ education", "source": "web"},
    {"id": "w2", "text": "傻\u200b逼 and 傻逼", "source": "forum"},
    {"id": "w3", "text": "中國人民", "source": "news"},
    {"id": "w4", "text": "中*国*人", "source": "news"},
    {"id": "w5", "text": "plain text", "source": "web"},
]


def test_normalize_option_reports_the_steps_behind_each_hit(tmp_path, lexicon_path):
    path = tmp_path / "disguised.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in DISGUISED_ROWS), encoding="utf-8")
    outputs = {}
    for normalize in ("default", "none", "all"):
        out = tmp_path / normalize
        args = ["scan", str(path), "--out", str(out), "--lexicon", str(lexicon_path), "--annotate", "--no-langid", "--normalize", normalize]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        rows = {r["doc_id"]: r for r in pq.read_table(next((out / "annotations").glob("*.parquet"))).to_pylist()}
        outputs[normalize] = (json.loads((out / "report.json").read_text(encoding="utf-8")), rows)
    report, rows = outputs["default"]
    assert report["options"]["normalize"] == ["invisible", "nfkc", "casefold", "t2s"]
    assert report["by_normalization"] == {"invisible": 1, "nfkc": 1, "t2s": 1}
    assert rows["w1"]["matches"] == [{"term": "sex", "start": 0, "end": 9, "original": "ｓｅｘ", "normalizations": ["nfkc"]}]
    assert rows["w2"]["normalizations"] == ["invisible"]
    assert [(m["original"], m["normalizations"]) for m in rows["w2"]["matches"]] == [("傻\u200b逼", ["invisible"]), ("傻逼", [])]
    assert rows["w3"]["matches"][0]["original"] == "中國人" and rows["w3"]["normalizations"] == ["t2s"]
    assert not rows["w4"]["flagged"] and not rows["w5"]["flagged"]
    assert "## 变形归一化命中" in (tmp_path / "default" / "report.md").read_text(encoding="utf-8")

    report, rows = outputs["none"]
    assert report["by_normalization"] == {}
    assert [doc for doc, row in rows.items() if row["flagged"]] == ["w2"]
    assert all(m["normalizations"] == [] for row in rows.values() for m in row["matches"])

    report, rows = outputs["all"]
    assert rows["w4"]["matches"] == [{"term": "中国人", "start": 0, "end": 11, "original": "中*国*人", "normalizations": ["separators"]}]
    assert report["by_normalization"]["separators"] == 1


def test_unknown_normalisation_exits_2(tmp_path, lexicon_path):
    write_jsonl(tmp_path / "a.jsonl")
    result = CliRunner().invoke(cli, ["scan", str(tmp_path / "a.jsonl"), "--out", str(tmp_path / "o"), "--normalize", "nfkc,nfc"])
    assert result.exit_code == 2
    assert "unknown normalisation 'nfc'" in result.output


def test_console_command_hides_pandas_from_pyarrow_except_for_ray():
    """A local scan never hands pyarrow pandas objects, so the console command skips importing pandas
    (0.2 s per process); Ray Data needs pandas, so ``--executor ray`` keeps it."""
    code = (
        "import sys; from scanner.cli import hide_pandas_from_pyarrow as hide; import pyarrow as pa\n"
        "assert not hide(['scan', 'x', '--executor', 'ray']) and not hide(['scan', '--executor=ray'])\n"
        "assert hide(['scan', 'x', '--executor', 'local'])\n"
        "pa.table({'a': [1]}).to_pylist(); assert 'pandas' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_output_file_gets_the_usual_mode_for_new_files(tmp_path, lexicon_path):
    """Reports on a shared cluster are read by others: no output is private where new files are not."""
    pq.write_table(pa.Table.from_pylist(ROWS, schema=SCHEMA), tmp_path / "in.parquet", row_group_size=3)
    result = CliRunner().invoke(cli, ["scan", str(tmp_path / "in.parquet"), "--out", str(tmp_path / "o"), "--lexicon", str(lexicon_path), "--annotate"])
    assert result.exit_code in (0, 1), result.output
    (tmp_path / "plain").write_bytes(b"")
    expected = (tmp_path / "plain").stat().st_mode & 0o777
    modes = {p.relative_to(tmp_path / "o").as_posix(): p.stat().st_mode & 0o777 for p in (tmp_path / "o").rglob("*") if p.is_file()}
    assert {"report.json", "report.md", "report.html"} <= modes.keys() and any(name.startswith("shards/") for name in modes)
    assert set(modes.values()) == {expected}, modes
