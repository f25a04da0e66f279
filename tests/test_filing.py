"""The filing form's corpus-scale table: exact token counts, estimate intervals, sums, exports."""

from __future__ import annotations

import csv
import io
import json
import shutil
import warnings
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

import scanner
import scanner.tokens
from scanner.cli import cli
from scanner.filing import ROWS, build_filing_table, filing_row
from scanner.sources import load_registry
from scanner.tokens import count_tokens

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample"
CODE = "import os\n\ndef main(argv):\n    for name in argv:\n        print(os.path.basename(name))\n    return 0\n"


def direct(texts: list[str]) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        encoding = bpe_openai.get_encoding("o200k_base")
    return sum(len(encoding.encode_ordinary(t)) for t in texts)


TOKENIZER_TEXTS = ["你好，世界。", "Hello world!", CODE, "<|endoftext|> stays text", "", "emoji 🍆🍆 and 𠀀", "\ud800 lone surrogate"]


def test_bundled_tokenizer_counts_match_a_direct_count():
    texts = TOKENIZER_TEXTS[:-1]
    assert count_tokens(texts).tolist() == [direct([t]) for t in texts]


def test_bundled_tokenizer_gives_the_same_counts_through_bpe_openais_public_api(monkeypatch):
    """The extension-module path and the public-API fallback count alike, long texts in pieces too."""
    texts = [*TOKENIZER_TEXTS, "长文本" * 30_000]
    fast = count_tokens(texts).tolist()
    monkeypatch.setattr(scanner.tokens.importlib.util, "find_spec", lambda name: None)  # as if the module moved
    scanner.tokens._load.cache_clear()
    try:
        assert count_tokens(texts).tolist() == fast and fast[-1] > 0
    finally:
        scanner.tokens._load.cache_clear()


def test_user_tokenizer_json_counts_match_the_tokenizers_package(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    texts = ["the cat sat on the mat", "the dog sat", "猫 坐 在 垫子 上", CODE]
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    options = scanner.ScanOptions(langid=False, tokens="exact", tokenizer=str(path))
    stats = scanner.Scanner(scanner.load_lexicons(), options).stats_of([pa.table({"text": texts, "source": ["a", "a", "b", "b"]})])
    for source, mine in (("a", texts[:2]), ("b", texts[2:])):
        expected = sum(len(tokenizer.encode(t).ids) for t in mine)
        assert sum(c["tokens"] for c in stats.by_source[source]["data_types"].values()) == expected


def test_declared_code_sources_and_detected_code():
    registry = scanner.sources.Registry(entries=(scanner.sources.RegistrySource(name="repo", type="commercial", origin="domestic", data_type="code"),))
    options = scanner.ScanOptions(langid=False, registry=registry)
    stats = scanner.Scanner(scanner.load_lexicons(), options).stats_of([pa.table({"text": ["plain words", CODE, "plain words"], "source": ["repo", "web", "web"]})])
    assert set(stats.by_source["repo"]["data_types"]) == {"code"}
    assert stats.by_source["web"]["data_types"]["code"]["documents"] == 1


def test_rows_and_per_cell_sums_equal_the_totals():
    by_source = {
        "a": {"type": "open-source", "origin": "domestic"},
        "b": {"type": "open-source", "origin": "foreign"},
        "c": {"type": "open-source", "origin": "unknown"},
        "d": {"type": "unregistered", "origin": "unknown"},
        "e": {"type": "commercial", "origin": "foreign"},
    }
    counts = {name: {"zh": {"documents": 2, "bytes": 10 * (i + 1), "tokens": 5 * (i + 1)}, "code": {"documents": 1, "bytes": 3, "tokens": 1}} for i, name in enumerate(by_source)}
    table = build_filing_table(by_source, counts, "exact", "o200k_base")
    assert [filing_row(s["type"], s["origin"]) for s in by_source.values()] == ["open-source-domestic", "open-source-foreign", "other", "other", "commercial"]
    assert list(table["rows"]) == list(ROWS)
    for field in ("documents", "bytes", "tokens"):
        cells = [table["rows"][r][dt][field] for r in ROWS for dt in table["data_types"]]
        assert sum(cells) == table["totals"][field] == sum(table["row_totals"][r][field] for r in ROWS)
        assert table["totals"][field] == sum(table["data_type_totals"][dt][field] for dt in table["data_types"])
    assert table["totals"]["tokens"] == sum(5 * (i + 1) + 1 for i in range(5))
    assert table["shares"]["open-source-foreign"] == pytest.approx(23 / table["totals"]["bytes"])
    assert build_filing_table(by_source, counts, "off", "o200k_base")["totals"]["tokens"] is None


@pytest.fixture(scope="module")
def sample_scans(tmp_path_factory) -> dict[str, Path]:
    """The bundled example corpus scanned in exact and estimate mode."""
    base = tmp_path_factory.mktemp("filing")
    outs = {}
    for mode in ("exact", "estimate"):
        outs[mode] = base / mode
        args = ["scan", *map(str, sorted(SAMPLE.glob("*.jsonl"))), "--out", str(outs[mode]), "--sources", str(SAMPLE / "sources.toml"), "--tokens", mode, "--workers", "1", "--no-progress"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code in (0, 1), result.output
    return outs


def report_of(out: Path) -> dict:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_exact_mode_equals_direct_count_and_estimate_interval_covers_it(sample_scans):
    exact = report_of(sample_scans["exact"])["filing_table"]
    texts = [json.loads(line)["text"] or "" for f in sorted(SAMPLE.glob("*.jsonl")) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert exact["mode"] == "exact" and exact["totals"]["tokens"] == direct(texts)
    estimate = report_of(sample_scans["estimate"])["filing_table"]
    assert estimate["mode"] == "estimate" and estimate["totals"]["bytes"] == exact["totals"]["bytes"]
    low, high = estimate["totals"]["tokens_interval_95"]
    assert low <= exact["totals"]["tokens"] <= high
    for row in ROWS:
        low, high = estimate["row_totals"][row]["tokens_interval_95"]
        assert low <= exact["row_totals"][row]["tokens"] <= high


def test_check_is_appended_and_table_is_in_md_html_and_export(sample_scans, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(sample_scans["exact"], out)
    result = CliRunner().invoke(cli, ["report", str(out), "--filing-table", "csv"])
    assert result.exit_code in (0, 1), result.output
    report = report_of(out)
    assert report["checks"][-1]["id"] == "foreign-open-source-share" and report["checks"][-1]["basis"] == "practice"
    assert report["checks"][-1]["value"] == report["filing_table"]["shares"]["open-source-foreign"]
    assert "语料规模" in (out / "report.md").read_text(encoding="utf-8")
    assert 'id="section-filing-table"' in (out / "report.html").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO((out / "filing_table.csv").read_text(encoding="utf-8-sig"))))
    assert rows[0][0] == "来源类别" and len(rows[1]) == len(rows[0])
    assert CliRunner().invoke(cli, ["report", str(out), "--filing-table", "xlsx"]).exit_code in (0, 1)
    assert (out / "filing_table.xlsx").read_bytes()[:2] == b"PK"


def test_bad_token_options_are_config_errors(tmp_path):
    with pytest.raises(scanner.ConfigError):
        scanner.ScanOptions(tokens="approximate")
    with pytest.raises(scanner.ConfigError):
        scanner.ScanOptions(tokens="exact", tokenizer=str(tmp_path / "missing.json"))


SHARED = REPO.parent / "shared" / "data" / "corpora"
SHARED_SOURCES = REPO / "benchmarks" / "shared_sources.toml"  # illustrative types and origins


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs the real corpora in ../shared/data")
def test_default_estimate_interval_covers_a_direct_count_on_the_shared_corpora(tmp_path):
    """Default options (estimate mode, 1,000 documents tokenized) on every real corpus: each filing
    row's 95 % interval, and the total's, holds the direct o200k_base count of all its documents."""
    files = sorted(SHARED.glob("*.jsonl"))
    types = {s.name: (s.type, s.origin) for s in load_registry(SHARED_SOURCES).entries}
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["scan", *map(str, files), "--out", str(out), "--sources", str(SHARED_SOURCES), "--no-progress"])
    assert result.exit_code in (0, 1), result.output
    table = report_of(out)["filing_table"]
    assert table["mode"] == "estimate" and 900 < table["estimate_samples"] <= 1000  # cells with one document borrow a pooled ratio
    docs = [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    tokens = count_tokens([d["text"] or "" for d in docs])
    exact: dict[str, int] = {}
    for doc, count in zip(docs, tokens.tolist()):
        row = filing_row(*types[doc["source"]])
        exact[row] = exact.get(row, 0) + count
    low, high = table["totals"]["tokens_interval_95"]
    assert low <= sum(exact.values()) <= high
    for row, count in exact.items():
        low, high = table["row_totals"][row]["tokens_interval_95"]
        assert low <= count <= high, row
