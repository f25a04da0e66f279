"""Source attribution: name precedence, unregistered fallback names, default origins, URL spellings.

Each test pins one black-box defect with the tester's repro (REGRESSION notes name the old behaviour).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from scanner.cli import cli
from scanner.detect.source import Registry, load_registry, origin_of_host, resolve_sources

PRECEDENCE_REGISTRY = """
[[source]]
name = "alpha"
sources = ["beta"]
type = "open-source"
origin = "foreign"
licence = "MIT"

[[source]]
name = "beta"
type = "self-collected"
origin = "domestic"
reference = "r"

[[source]]
name = "example.cn"
domains = ["other.cn"]
type = "self-collected"
reference = "r"
blocklisted = true
"""


def registry_of(tmp_path: Path, toml: str) -> Registry:
    (tmp_path / "sources.toml").write_text(toml, encoding="utf-8")
    return load_registry(tmp_path / "sources.toml")


def test_exact_name_wins_over_an_earlier_sources_list(tmp_path):
    # REGRESSION: "beta" went to alpha, the first entry whose name or sources list held it.
    registry = registry_of(tmp_path, PRECEDENCE_REGISTRY)
    assert registry.attribute("beta", None, "s") == "beta"
    assert registry.attribute("alpha", None, "s") == "alpha"


def test_fallback_name_equal_to_a_registry_name_stays_unregistered(tmp_path):
    # REGRESSION: the host example.cn matched no rule yet was counted as the blocklisted "example.cn".
    registry = registry_of(tmp_path, PRECEDENCE_REGISTRY)
    urls = pa.array(["http://example.cn/a", "http://other.cn/b", None, "http://example.cn/c"])
    sources = pa.array([None, None, None, "example.cn"])
    resolved = resolve_sources(4, sources, urls, "beta.jsonl", "beta", registry).to_pylist()
    assert resolved == ["example.cn (unregistered)", "example.cn", "beta (unregistered)", "example.cn"]


def test_scan_reports_exact_names_and_unregistered_fallbacks(tmp_path):
    (tmp_path / "lex.csv").write_text("term,category\nporn,A1.6\n", encoding="utf-8")
    (tmp_path / "sources.toml").write_text(PRECEDENCE_REGISTRY, encoding="utf-8")
    rows = [
        {"id": "a0", "text": "A document from the beta feed.", "source": "beta"},
        {"id": "a1", "text": "A page on the unregistered host.", "url": "http://example.cn/a"},
        {"id": "a2", "text": "A page the example.cn entry registers.", "url": "http://other.cn/b"},
    ]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "part.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    args = ["scan", str(tmp_path / "in"), "--out", str(out), "--lexicon", str(tmp_path / "lex.csv"),
            "--sources", str(tmp_path / "sources.toml"), "--workers", "1", "--report-lang", "en"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    by_source = json.loads((out / "report.json").read_text(encoding="utf-8"))["by_source"]
    assert {name: s["documents"] for name, s in by_source.items()} == {
        "beta": 1, "example.cn": 1, "example.cn (unregistered)": 1,
    }
    unregistered = by_source["example.cn (unregistered)"]
    assert (unregistered["registered"], unregistered["blocklisted"], unregistered["origin"]) == (False, False, "domestic")
    assert by_source["example.cn"]["blocklisted"] is True


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("A.CN", "domestic"),  # REGRESSION: foreign (upper case missed the .cn rule)
        ("www.Gov.Cn.", "domestic"),
        ("a.xn--fiqs8s", "domestic"),  # REGRESSION: unknown (punycode of .中国 not decoded)
        ("a.中國", "domestic"),
        ("a.公司", "unknown"),  # REGRESSION: foreign (every non-ASCII suffix counted as a country)
        ("a.网络", "unknown"),
        ("a.在线", "unknown"),
        ("a.香港", "foreign"),
        ("a.台灣", "foreign"),
        ("a.рф", "foreign"),
        ("a.xn--p1ai", "foreign"),
        ("a.한국", "foreign"),
        ("BBC.CO.UK", "foreign"),
        ("example.COM", "unknown"),
    ],
)
def test_default_origin_reads_the_canonical_suffix(host, origin):
    assert origin_of_host(host) == origin


URL_REGISTRY = """
[[source]]
name = "iota"
url_prefixes = ["https://upper.example.org/"]
type = "self-collected"

[[source]]
name = "eta"
domains = ["例子.中国"]
type = "self-collected"

[[source]]
name = "beta"
domains = ["example.cn"]
type = "self-collected"

[[source]]
name = "upper"
domains = ["XN--FSQU00A.CN."]
url_prefixes = ["HTTP://Shop.Example.NET/Catalogue/"]
type = "self-collected"
"""


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://UPPER.EXAMPLE.ORG/x", "iota"),  # REGRESSION: None (scheme and host compared case-sensitively)
        ("http://xn--fsqu00a.xn--fiqs8s/6", "eta"),  # REGRESSION: None (punycode host vs U-label domain)
        ("http://例子.中国/5", "eta"),
        ("http://example.cn./z", "beta"),  # REGRESSION: None (trailing dot)
        ("http://user:pw@www.EXAMPLE.cn:8080/z", "beta"),
        ("http://例子.cn/", "upper"),  # the registry's own spelling is canonicalised at load
        ("http://shop.example.net/Catalogue/1", "upper"),
        ("http://shop.example.net/catalogue/1", None),  # paths stay case-sensitive
        ("http://example.cn.evil.com/", None),
    ],
)
def test_url_rules_match_equivalent_spellings(tmp_path, url, expected):
    assert registry_of(tmp_path, URL_REGISTRY).attribute(None, url, "s") == expected
