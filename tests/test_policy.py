"""The unsafe policy: severities, allow contexts, co-occurrence rules, the policy file, the lexicon format
for them, the figures in report.json and the checks that judge them; the vectorised policy against the
naive reference on random text."""

from __future__ import annotations

import dataclasses
import json

import pyarrow as pa
import pytest
from click.testing import CliRunner
from conftest import write_jsonl
from hypothesis import example, given, settings
from hypothesis import strategies as st
from reference import naive_unsafe

import scanner
from scanner.cli import cli
from scanner.detect.policy import Policy, default_policy, load_policy
from scanner.errors import ConfigError, LexiconError
from scanner.lexicon.load import combine

TABLE = """term\tcategory\tseverity
性\tA1.6\thigh
性能\t\tallow
口交\tA1.6\t
地铁口交易\t\tallow
色情\tA1.6\tmedium
裸体\tA1.6\tmedium
法轮\tA1.1\tmedium
法轮功\tA1.1\tmedium
情色\tA1.6\tmedium
警察\tA1.8\tlow
女人&&强奸~10\tA2.5;A1.6\thigh
中国&&独立\tA1.3\tmedium
"""


@pytest.fixture(scope="module")
def lexicon(tmp_path_factory) -> scanner.Lexicon:
    path = tmp_path_factory.mktemp("policy") / "lex.tsv"
    path.write_text(TABLE, encoding="utf-8")
    return scanner.load_lexicon(path)


def _reasons(lexicon: scanner.Lexicon, texts: list[str | None], **options) -> list[str]:
    s = scanner.Scanner(lexicon, scanner.ScanOptions(langid=False, **options))
    return s.annotate(pa.table({"text": pa.array(texts, pa.string())}))["unsafe_reason"].to_pylist()


CASES = [
    ("这台电脑性能很好", ""),  # 性 inside the allow context 性能
    ("性别平等", "high:性"),
    ("地铁口交易市场", ""),  # 口交 inside 地铁口交易
    ("他说口交", "high:口交"),  # empty severity = high
    ("色情和裸体", "medium:2"),
    ("色情" + "。" * 30 + "裸体", ""),  # two medium terms 30 characters apart: beyond the 20-character window
    ("法轮功很坏", ""),  # 法轮 lies inside 法轮功: one medium term, counted once
    ("色情色", ""),  # 情色 overlaps 色情: one piece of text, one medium term
    ("色情情色", "medium:2"),  # side by side: two
    ("女人被强奸了", "cooccur:女人&&强奸~10"),  # rule parts need not be terms
    ("女人" + "啊" * 20 + "强奸", ""),  # 20 characters apart, window 10
    ("中国要独立", ""),  # a medium rule alone is one medium signal
    ("中国要独立，色情", "medium:2"),  # a medium rule and a medium term
    ("警察来了警察", ""),  # low terms never decide
    (None, ""),
]


@pytest.mark.parametrize(("text", "reason"), CASES)
def test_each_policy_rule(lexicon, text, reason):
    assert _reasons(lexicon, [text]) == [reason]
    assert naive_unsafe(lexicon, default_policy(), text) == reason


def test_flagged_counts_hits_outside_allow_contexts_only(lexicon):
    s = scanner.Scanner(lexicon, scanner.ScanOptions(langid=False))
    stats = scanner.ShardStats()
    out = s.annotate(pa.table({"text": ["性能性能", "性别", "女人被强奸了"]}), stats=stats)
    assert out["flagged"].to_pylist() == [False, True, False] and out["unsafe"].to_pylist() == [False, True, True]
    assert stats.totals["allowed_hits"] == 2 and stats.totals["unsafe_documents"] == 2
    assert stats.totals["unsafe_by_category"] == {"A1.6": 2, "A2.5": 1}


def test_the_medium_window_and_count_come_from_the_policy(lexicon):
    far = "色情" + "。" * 30 + "裸体"
    assert _reasons(lexicon, [far], policy=Policy(medium_window=None)) == ["medium:2"]
    assert _reasons(lexicon, ["色情和裸体"], policy=Policy(medium_min_terms=3)) == [""]
    assert naive_unsafe(lexicon, Policy(medium_window=None), far) == "medium:2"


ALPHABET = st.sampled_from(["性", "能", "色情", "裸体", "法轮", "功", "女人", "强奸", "中国", "独立", "警察", "口交", "地铁", "易", "。", "啊" * 5, "x"])


@given(st.lists(st.lists(ALPHABET, max_size=14).map("".join), min_size=1, max_size=6), st.sampled_from([20, 5, None]), st.sampled_from([1, 2, 3]))
@example(["法轮功法轮", "色情裸体色情"], 20, 2)
@settings(max_examples=150, deadline=None)
def test_the_vectorised_policy_equals_the_naive_reference(lexicon, texts, window, need):
    policy = Policy(medium_window=window, medium_min_terms=need)
    got = _reasons(lexicon, texts, policy=policy, normalize="none")
    assert got == [naive_unsafe(lexicon, policy, text) for text in texts]


def test_a_lexicon_without_severities_keeps_unsafe_equal_to_flagged_and_its_fingerprint(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("term,category\n傻逼,A4.3\nsex,A1.6\n", encoding="utf-8")
    tagged = tmp_path / "tagged.csv"
    tagged.write_text("term,category,severity\n傻逼,A4.3,high\nsex,A1.6,\n", encoding="utf-8")
    a, b = scanner.load_lexicon(plain), scanner.load_lexicon(tagged)
    assert a.fingerprint == b.fingerprint == scanner.Lexicon.from_terms("x", "1", [("傻逼", ["A4.3"]), ("sex", ["A1.6"])]).fingerprint
    medium = tmp_path / "medium.csv"
    medium.write_text("term,category,severity\n傻逼,A4.3,medium\nsex,A1.6,\n", encoding="utf-8")
    assert scanner.load_lexicon(medium).fingerprint != a.fingerprint
    s = scanner.Scanner(a, scanner.ScanOptions(langid=False))
    out = s.annotate(pa.table({"text": ["你个傻逼", "nothing", "sex"]}))
    assert out["unsafe"].to_pylist() == out["flagged"].to_pylist()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("性能\tA1.6\tallow", "allow context '性能' has a category"),
        ("色情\tA1.6\tsevere", "unknown severity 'severe'"),
        ("A&&B&&C\tA1.6\thigh", "must be A&&B or A&&B~K"),
        ("色情&&色情~3\tA1.6\thigh", "joins a term with itself"),
    ],
)
def test_bad_policy_rows_name_the_line(tmp_path, row, message):
    path = tmp_path / "lex.tsv"
    path.write_text(f"term\tcategory\tseverity\n好\tA1.6\t\n{row}\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=rf"lex.tsv:3: .*{message}"):
        scanner.load_lexicon(path)


def test_allow_contexts_and_rules_are_not_terms_and_survive_combining(lexicon, tmp_path):
    assert len(lexicon.terms) == 8 and lexicon.allow == ("地铁口交易", "性能") and len(lexicon.rules) == 2
    other = tmp_path / "other.csv"
    other.write_text("term,category\n赌博,A1.8\n", encoding="utf-8")
    merged = combine([lexicon, scanner.load_lexicon(other)])
    assert merged.allow == lexicon.allow and merged.rules == lexicon.rules and len(merged.terms) == 9
    assert merged.terms_by_category()["A1.6"] == 5  # terms only: 性, 口交, 色情, 情色, 裸体


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "p"\n[medium]\nmin_terms = 2\n', "must state its version"),
        ('version = "1"\n[medium]\nmin_term = 2\n', r"unknown key 'min_term' \(did you mean 'min_terms'\?\)"),
        ('version = "1"\n[medium]\nmin_terms = 0\n', "min_terms must be a whole number >= 1"),
        ('version = "1"\n[medium]\nwindow = "wide"\n', "window must be a number of characters"),
        ('version = "1"\nmediun = 3\n', r"unknown key 'mediun' \(did you mean 'medium'\?\)"),
    ],
)
def test_bad_policy_files_name_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"policy.toml.*{message}"):
        load_policy(path)


def test_a_policy_file_sets_the_thresholds_and_enters_the_options_digest(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text('name = "strict"\nversion = "2"\n[medium]\nmin_terms = 1\nwindow = "document"\n', encoding="utf-8")
    policy = load_policy(path)
    assert (policy.name, policy.version, policy.medium_min_terms, policy.medium_window) == ("strict", "2", 1, None) and len(policy.sha256) == 64
    assert scanner.ScanOptions(policy=path).digest() != scanner.ScanOptions().digest()
    assert scanner.ScanOptions().policy == default_policy() and default_policy().path == "bundled"


def test_report_and_checks_judge_unsafe_and_show_flagged(tmp_path):
    path = tmp_path / "lex.tsv"
    path.write_text(TABLE, encoding="utf-8")
    rows = [{"text": "这台电脑性能很好", "source": "tech"} for _ in range(20)] + [{"text": "性别平等", "source": "news"}]
    rows += [{"text": "警察来了", "source": "news"} for _ in range(19)]
    write_jsonl(tmp_path / "in.jsonl", rows)
    result = CliRunner().invoke(cli, ["scan", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "out"), "--lexicon", str(path), "--no-langid", "--no-progress", "--tokens", "off"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    news = report["by_source"]["news"]
    assert (news["flagged_documents"], news["unsafe_documents"], news["unsafe_share"]) == (20, 1, 0.05)
    assert report["by_source"]["tech"]["flagged_documents"] == 0 and report["totals"]["allowed_hits"] == 20
    source_check = next(c for c in report["checks"] if c["id"] == "source-unsafe-share")
    assert source_check["status"] == "pass" and source_check["value"] == 0.05  # flagged 100 % of news, unsafe 5 %
    technical = next(c for c in report["checks"] if c["id"] == "technical-spot-check")
    assert technical["value"] == pytest.approx(1 - 1 / 40)
    assert report["by_category"]["A1.6"]["unsafe_documents"] == 1 and report["options"]["policy"]["path"] == "bundled"
    assert "| 不安全文档 | 不安全比例 |" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")


def test_units_scanned_before_the_policy_read_unsafe_as_flagged():
    from scanner.detect.policy import PolicyDetector

    stats = scanner.ShardStats(totals={"documents": 4, "empty_documents": 0, "bytes": 8, "chars": 4, "flagged_documents": 2, "hits": 3},
                               by_category={"A1.6": {"documents": 2, "hits": 3}}, by_source={"s": {"documents": 4, "flagged_documents": 2}})
    report = {"totals": dict(stats.totals), "by_source": {"s": {"documents": 4}}, "by_category": {"A1.6": {"documents": 2, "hits": 3}}}
    PolicyDetector.report(stats, report)
    assert report["totals"]["unsafe_documents"] == 2 and report["by_source"]["s"]["unsafe_share"] == 0.5
    assert report["by_category"]["A1.6"]["unsafe_documents"] == 2
    assert dataclasses.asdict(default_policy())["version"]
