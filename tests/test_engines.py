"""The optional Hyperscan engine against the default ahocorasick-rs engine: every rule of the
matching contract (raw and normalised), random lexicons and documents, and whole annotations."""

from __future__ import annotations

import builtins
import json

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner
from conftest import make_lexicon, without_timing
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_matcher import CASES as RAW_CASES
from test_normalize import ALPHABET, LAYOUTS, STEP_SETS
from test_normalize import CASES as NORMALISATION_CASES

import scanner
from scanner.cli import cli
from scanner.io.cache import CACHE_ENV
from scanner.match.hits import Hits
from scanner.match.matcher import Matcher
from scanner.match.normalize import DEFAULT_STEPS

pytest.importorskip("hyperscan")

pytestmark = pytest.mark.usefixtures("t2s_mode")


def canonical(hits: Hits) -> np.ndarray:
    """Hits as rows of (row, start, end, term, steps), sorted: engines may report in another order."""
    table = np.stack([hits.row, hits.start, hits.end, hits.term, hits.steps], axis=1).astype(np.int64)
    return table[np.lexsort(table.T[::-1])] if len(table) else table


def same_hits(lexicon: scanner.Lexicon, column, steps=()) -> bool:
    default, hyperscan = (Matcher(lexicon, steps, engine=e).find(column) for e in ("ahocorasick", "hyperscan"))
    return default.rows == hyperscan.rows and np.array_equal(canonical(default), canonical(hyperscan))


@pytest.mark.parametrize(("terms", "text"), [c[1:3] for c in RAW_CASES], ids=[c[0] for c in RAW_CASES])
def test_every_raw_rule_gives_the_same_hits(terms, text):
    assert same_hits(make_lexicon(*[(t, "A1.6") for t in terms]), pa.array([text, None, text]))


@pytest.mark.parametrize(("steps", "terms", "text"), [c[1:4] for c in NORMALISATION_CASES], ids=[c[0] for c in NORMALISATION_CASES])
def test_every_normalisation_rule_gives_the_same_hits(steps, terms, text):
    assert same_hits(make_lexicon(*[(t, "A1.6") for t in terms]), pa.array([text, "", text]), steps)


@given(
    terms=st.lists(st.text(ALPHABET, min_size=1, max_size=4).filter(str.strip), min_size=1, max_size=6),
    docs=st.lists(st.one_of(st.none(), st.text(ALPHABET, max_size=30)), min_size=1, max_size=8),
    steps=st.sampled_from([(), *STEP_SETS]),
    layout=st.sampled_from(sorted(LAYOUTS)),
)
@settings(max_examples=300, deadline=None)
@example(terms=["aa"], docs=["aaa", "aa aa"], steps=(), layout="string")
@example(terms=["干①\u00ad"], docs=["\u00ad乾\ufe0f轮\u200b, 乾1，+*K"], steps=DEFAULT_STEPS, layout="string")
def test_random_lexicons_and_documents_give_the_same_hits(terms, docs, steps, layout):
    assert same_hits(make_lexicon(*[(t, "A1.6") for t in terms]), LAYOUTS[layout](docs), steps)


def test_annotations_are_identical(sample_dir):
    lines = [json.loads(line) for name in ("zh_forum.jsonl", "en_web.jsonl") for line in (sample_dir / name).read_text(encoding="utf-8").splitlines()]
    table = pa.Table.from_pylist([{"text": doc.get("text")} for doc in lines])
    lexicon = scanner.load_lexicons()
    annotated = [
        scanner.Scanner(lexicon, scanner.ScanOptions(langid=False, tokens="off", engine=e)).annotate(table, evidence=True) for e in ("ahocorasick", "hyperscan")
    ]
    assert annotated[0].equals(annotated[1]) and sum(annotated[0]["hits"].to_pylist()) > 0


def test_unknown_engine_and_missing_package_are_config_errors(monkeypatch):
    lexicon = make_lexicon(("sex", "A1.6"))
    with pytest.raises(scanner.ConfigError, match="unknown matching engine 'regex'"):
        Matcher(lexicon, engine="regex")
    real_import = builtins.__import__

    def without_hyperscan(name, *args, **kwargs):
        if name == "hyperscan":
            msg = "No module named 'hyperscan'"
            raise ImportError(msg)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_hyperscan)
    with pytest.raises(scanner.ConfigError, match=r"pip install 'corpus-scanner\[hyperscan\]'"):
        Matcher(lexicon, engine="hyperscan")


def test_scan_with_hyperscan_gives_the_default_report_but_for_the_recorded_engine(sample_dir, tmp_path):
    reports = {}
    for engine in ("ahocorasick", "hyperscan"):
        out = tmp_path / engine
        result = CliRunner().invoke(cli, ["scan", str(sample_dir), "--out", str(out), "--engine", engine, "--workers", "1", "--no-progress"])
        assert result.exit_code in (0, 1), result.output
        reports[engine] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert reports["hyperscan"]["options"]["engine"] == "hyperscan"
    stripped = [{k: v for k, v in without_timing(r).items() if k != "options"} for r in reports.values()]
    assert stripped[0] == stripped[1] and stripped[0]["totals"]["hits"] > 0


class CountingDatabases:
    """Stands in for ``hyperscan.Database`` and counts the databases compiled."""

    def __init__(self, real):
        self.real, self.built = real, 0

    def __call__(self, *args, **kwargs):
        self.built += 1
        return self.real(*args, **kwargs)


@pytest.fixture
def cache_folder(tmp_path, monkeypatch):
    import hyperscan

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    counting = CountingDatabases(hyperscan.Database)
    monkeypatch.setattr(hyperscan, "Database", counting)
    return tmp_path / "cache", counting


CACHE_TERMS = (("中国人", "A1.6"), ("sex", "A1.6"), ("傻逼", "A1.6"))
CACHE_TEXT = pa.array(["中國人 SEX 傻　逼", None, "class 中国人民", "傻逼傻逼"])


def test_the_hyperscan_database_is_compiled_once_and_then_loaded_from_the_cache(cache_folder):
    folder, counting = cache_folder
    lexicon = make_lexicon(*CACHE_TERMS)
    assert same_hits(lexicon, CACHE_TEXT, DEFAULT_STEPS)
    built = counting.built  # 1, or 2 where the Traditional text takes the twin matcher (t2s_mode)
    assert built >= 1 and len(list((folder / "hyperscan").iterdir())) == built
    assert same_hits(lexicon, CACHE_TEXT, DEFAULT_STEPS)
    assert counting.built == built
    assert same_hits(make_lexicon(*CACHE_TERMS[:2]), CACHE_TEXT, DEFAULT_STEPS)  # other patterns, other entries
    assert counting.built > built and len(list((folder / "hyperscan").iterdir())) == counting.built


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "empty"])
def test_a_damaged_cache_entry_is_rebuilt(cache_folder, damage):
    folder, counting = cache_folder
    lexicon = make_lexicon(*CACHE_TERMS)
    Matcher(lexicon, DEFAULT_STEPS, engine="hyperscan")
    (entry,) = (folder / "hyperscan").iterdir()
    data = entry.read_bytes()
    data = {"flip a byte": data[:-100] + bytes([data[-100] ^ 1]) + data[-99:], "truncate": data[: len(data) // 2], "empty": b""}[damage]
    entry.write_bytes(data)
    Matcher(lexicon, DEFAULT_STEPS, engine="hyperscan")
    assert counting.built == 2
    Matcher(lexicon, DEFAULT_STEPS, engine="hyperscan")
    assert counting.built == 2  # the rebuilt entry was stored again
    assert same_hits(lexicon, CACHE_TEXT, DEFAULT_STEPS)


def test_no_cache_where_the_folder_cannot_be_written_or_is_switched_off(cache_folder, tmp_path, monkeypatch):
    _, counting = cache_folder
    lexicon = make_lexicon(*CACHE_TERMS)
    (tmp_path / "a-file").write_text("not a folder")
    for setting in (str(tmp_path / "a-file" / "cache"), ""):
        monkeypatch.setenv(CACHE_ENV, setting)
        before = counting.built
        assert same_hits(lexicon, CACHE_TEXT, DEFAULT_STEPS)
        once = counting.built - before
        assert same_hits(lexicon, CACHE_TEXT, DEFAULT_STEPS)
        assert once >= 1 and counting.built == before + 2 * once  # compiled again: nothing was kept
    assert list(tmp_path.iterdir()) == [tmp_path / "a-file"]
