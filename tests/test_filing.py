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
import scanner.detect.tokens
from scanner.cli import cli
from scanner.detect.source import load_registry
from scanner.detect.tokens import count_tokens
from scanner.report.filing import ROWS, _t95, build_filing_table, filing_row, filing_table_bytes, sample_ratios

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
    monkeypatch.setattr(scanner.detect.tokens.importlib.util, "find_spec", lambda name: None)  # as if the module moved
    scanner.detect.tokens._load.cache_clear()
    try:
        assert count_tokens(texts).tolist() == fast and fast[-1] > 0
    finally:
        scanner.detect.tokens._load.cache_clear()


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
    registry = scanner.detect.source.Registry(entries=(scanner.detect.source.RegistrySource(name="repo", type="commercial", origin="domestic", data_type="code"),))
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


def token_sample(docs: list[tuple[str, str, int, int]]) -> pa.Table:
    """A token sample as ``scanner.report.build`` hands it over: (source, data type, bytes, tokens) per document."""
    source, data_type, doc_bytes, doc_tokens = (list(column) for column in zip(*docs))
    return pa.table({"source": source, "data_type": data_type, "doc_bytes": pa.array(doc_bytes, pa.int64()), "doc_tokens": pa.array(doc_tokens, pa.int64())})


def test_estimate_is_exact_for_fully_tokenized_cells_and_covers_cells_unlike_the_pooled_ratio():
    """Sampled: 30 Chinese documents of "news" near 0.3 tokens/byte, the one document of "one"
    (44 tokens, the tiny-corpus defect), all 3 of "full", 3 code documents of "repo" near 0.6, one of
    the 5 Chinese documents of "tweets" (English tweets called Chinese, 0.5 tokens/byte) and 2 of the
    10 of "forum". The former rule gave "one" 34 [31, 37], "full" 44 [38, 50] and missed the rest."""
    news = [("news", "zh", 100, 28 + i % 5) for i in range(30)]
    sample = token_sample([*news, ("one", "zh", 110, 44), ("full", "zh", 50, 10), ("full", "zh", 80, 20), ("full", "zh", 60, 14),
                           ("repo", "code", 100, 58), ("repo", "code", 100, 60), ("repo", "code", 100, 62), ("tweets", "zh", 200, 100),
                           ("forum", "en", 100, 25), ("forum", "en", 100, 35)])
    by_source = {name: {"type": "commercial", "origin": "domestic"} for name in ("news", "one", "full", "repo", "tweets", "forum")}
    by_source["quiet"] = {"type": "self-collected", "origin": "domestic"}  # nothing of it was sampled

    def cell(documents: int, nbytes: int) -> dict[str, int]:
        return {"documents": documents, "bytes": nbytes}

    counts = {"news": {"zh": cell(300, 30_000)}, "one": {"zh": cell(1, 110)}, "full": {"zh": cell(4, 190)}, "repo": {"code": cell(30, 3_000)},
              "tweets": {"zh": cell(5, 1_000)}, "forum": {"en": cell(10, 1_000)}, "quiet": {"zh": cell(10, 1_000)}}
    truth = {"one": 44, "full": 44, "tweets": 500, "forum": 450, "quiet": 560}  # "full" holds an empty document besides the sampled three

    for name, tokens in truth.items():
        dt = next(iter(counts[name]))
        table = build_filing_table({name: by_source[name]}, {name: counts[name]}, "estimate", "o200k_base", sample_ratios(sample))
        row = filing_row(by_source[name]["type"], by_source[name]["origin"])
        got = table["rows"][row][dt]
        if name in ("one", "full"):
            assert got["tokens"] == tokens and got["tokens_interval_95"] == [tokens, tokens], name
        else:
            low, high = got["tokens_interval_95"]
            assert low <= tokens <= high, (name, got)
    table = build_filing_table(by_source, counts, "estimate", "o200k_base", sample_ratios(sample))
    assert table["estimate_samples"] == sample.num_rows and table["tokens_unavailable"] is None
    low, high = table["row_totals"]["commercial"]["tokens_interval_95"]
    assert low <= table["row_totals"]["commercial"]["tokens"] <= high


@pytest.mark.parametrize(("df", "quantile"), [(1, 12.7062), (2, 4.3027), (3, 3.1824), (4, 2.7764), (10, 2.2281), (30, 2.0423), (1000, 1.9623)])
def test_t_quantiles_match_the_t_table(df, quantile):
    assert _t95(df) == pytest.approx(quantile, abs=0.004)


def write_corpus(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": t, "source": "web"}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    return path


@pytest.mark.parametrize("sample_size", [0, 1])
def test_estimate_with_fewer_than_two_tokenized_documents_says_why_it_has_no_tokens(tmp_path, sample_size):
    """``--tokens estimate`` stays the mode; the tokens are null and report.md says why, in both languages."""
    corpus = write_corpus(tmp_path / "a.jsonl", ["The cat sat on the mat.", "A dog ran in the park today.", "Rain fell all night long."])
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["scan", str(corpus), "--out", str(out), "--no-langid", "--sample-size", str(sample_size), "--workers", "1", "--no-progress"])
    assert result.exit_code in (0, 1), result.output
    table = report_of(out)["filing_table"]
    assert table["mode"] == "estimate" and table["totals"]["tokens"] is None and "tokens_interval_95" not in table["totals"]
    assert table["estimate_samples"] == sample_size and table["tokens_unavailable"] == "too_few_tokenized_documents"
    assert f"仅 {sample_size} 篇文档被分词" in (out / "report.md").read_text(encoding="utf-8")
    assert CliRunner().invoke(cli, ["report", str(out), "--report-lang", "en"]).exit_code in (0, 1)
    md = (out / "report.md").read_text(encoding="utf-8")
    assert f"too few documents were tokenized for an estimate ({sample_size};" in md and "--tokens off" not in md


def test_estimate_of_a_one_document_corpus_is_its_exact_count(tmp_path):
    text = "The one document of this corpus, tokenized in full for the sample."
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["scan", str(write_corpus(tmp_path / "a.jsonl", [text])), "--out", str(out), "--no-langid", "--workers", "1", "--no-progress"])
    assert result.exit_code in (0, 1), result.output
    table = report_of(out)["filing_table"]
    assert table["mode"] == "estimate" and table["tokens_unavailable"] is None
    assert table["totals"]["tokens"] == direct([text]) and table["totals"]["tokens_interval_95"] == [direct([text])] * 2


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


def test_estimate_of_a_corpus_tokenized_whole_equals_the_exact_count(sample_scans):
    """The bundled sample (32 documents, 2 of them empty) lies whole in the token sample: every cell is exact."""
    exact = report_of(sample_scans["exact"])["filing_table"]
    report = report_of(sample_scans["estimate"])
    estimate = report["filing_table"]
    assert estimate["estimate_samples"] == report["totals"]["documents"] - report["totals"]["empty_documents"] == 30
    for row in ROWS:
        for dt in exact["data_types"]:
            tokens = exact["rows"][row][dt]["tokens"]
            assert estimate["rows"][row][dt]["tokens"] == tokens and estimate["rows"][row][dt]["tokens_interval_95"] == [tokens, tokens]


@pytest.mark.parametrize("mode", ["exact", "estimate"])
def test_xlsx_export_has_numeric_cells(sample_scans, mode):
    from openpyxl import load_workbook

    table = report_of(sample_scans[mode])["filing_table"]
    sheet = load_workbook(io.BytesIO(filing_table_bytes(table, "xlsx", "en"))).active
    rows = list(sheet.iter_rows(values_only=True))
    header, total = rows[0], rows[len(ROWS) + 1]
    assert total[0] == "total" and total[-1] == 1.0
    width = 4 if mode == "estimate" else 3  # bytes, GB, tokens (and the interval, as text)
    for i, dt in enumerate([*table["data_types"], "total"]):
        cell = table["totals"] if dt == "total" else table["data_type_totals"][dt]
        values = total[1 + width * i : 1 + width * (i + 1)]
        assert values[:3] == (cell["bytes"], cell["gb"], cell["tokens"]) and type(values[0]) is int and type(values[2]) is int
        assert header[1 + width * i].endswith("bytes")
        if mode == "estimate":
            assert values[3] == "[{}, {}]".format(*cell["tokens_interval_95"])
    assert rows[2][-1] == pytest.approx(table["shares"][ROWS[1]])


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
    assert table["mode"] == "estimate" and table["estimate_samples"] == 1000
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
