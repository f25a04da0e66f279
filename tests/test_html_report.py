"""report.html: layout, languages, escaping and self-containment; rendered in real headless Chromium.

A tiny corpus is written and scanned through the CLI once per report language. The browser tests
need Debian's ``chromium`` (``/usr/bin/chromium``, or ``$CHROMIUM``) and the ``playwright`` package
(its own browser downloads are never used): without them they skip locally and fail under CI.
"""

from __future__ import annotations

import json
import os
import re
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from scanner.report.i18n import LANGUAGES, label, requirement

CHECK_IDS = [
    "source-unsafe-share",
    "blocklisted-sources",
    "source-diversity",
    "source-traceability",
    "technical-spot-check",
    "human-spot-check",
    "keyword-library",
    "foreign-open-source-share",
]
# The order the issue asks for; other sections (human sample, errors) may sit in between.
SECTION_ORDER = ["checks", "sources", "matrix", "flagged-chart", "categories", "top-terms", "origins", "source-types", "lexicon-audit", "provenance"]
HOSTILE = '<img src=x onerror="alert(1)">'  # a source name that must come out as text, not markup
LEXICON_CSV = "term,category\nweather,A1.6\nporn,A1.6\n傻逼,A4.3\n"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def corpus_rows() -> list[dict[str, str]]:
    """news passes (0 %), forum and web fail, 'weather' hits 10 of 35 documents and so is noisy."""
    rows = [{"id": f"n{i}", "text": f"第{i}号公告：今天市场运行平稳，各项指标正常。", "source": "news"} for i in range(20)]
    rows += [{"id": f"f{i}", "text": "你这个傻逼！" if i == 0 else f"楼主说得对，第{i}楼支持。", "source": "forum"} for i in range(4)]
    rows += [{"id": f"w{i}", "text": f"The weather report number {i} says it will rain tomorrow.", "source": "web"} for i in range(10)]
    rows += [{"id": "h0", "text": "no porn here, just a music review of the new album.", "source": HOSTILE}]
    return rows


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> dict[str, Path]:
    """Output folder per report language, each from ``scanner scan`` on the same tiny corpus."""
    root = tmp_path_factory.mktemp("html")
    corpus = root / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in corpus_rows()), encoding="utf-8")
    lexicon = root / "lexicon.csv"
    lexicon.write_text(LEXICON_CSV, encoding="utf-8")
    outs = {}
    for lang in LANGUAGES:
        out = root / f"out-{lang}"
        args = ["scan", str(corpus), "--out", str(out), "--lexicon", str(lexicon), "--workers", "1", "--report-lang", lang]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        outs[lang] = out
    return outs


def page(out: Path) -> str:
    return (out / "report.html").read_text(encoding="utf-8")


def report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


class _Collector(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Collector()
    parser.feed(html)
    return parser.tags


@pytest.mark.parametrize("lang", LANGUAGES)
def test_sections_come_in_the_required_order(scans, lang):
    sections = [a["id"].removeprefix("section-") for t, a in tags(page(scans[lang])) if t == "section"]
    assert [s for s in sections if s in SECTION_ORDER] == SECTION_ORDER
    first_table = next(a.get("id") for t, a in tags(page(scans[lang])) if t == "table")
    assert first_table == "checks"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_page_is_self_contained(scans, lang):
    html = page(scans[lang])
    found = tags(html)
    assert not [t for t, _ in found if t in ("script", "iframe", "object", "embed", "base", "form")]
    for tag, attrs in found:
        for name in ("src", "href", "srcset", "action", "poster", "data"):
            value = attrs.get(name)
            assert value is None or value.startswith("data:"), f"<{tag} {name}={value!r}> would load something"
    assert "url(" not in html and "@import" not in html
    csp = next(a["content"] for t, a in found if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp


@pytest.mark.parametrize("lang", LANGUAGES)
def test_checks_labels_and_requirements_in_the_page_language(scans, lang):
    html = page(scans[lang])
    rows = [a["data-check"] for t, a in tags(html) if t == "tr" and "data-check" in a]
    assert rows == CHECK_IDS
    for check in report(scans[lang])["checks"]:
        assert escape(label(check["id"], lang)) in html
        assert escape(requirement(check, lang)) in html
    assert label("checks", lang) in html and label("provenance", lang) in html
    other = "en" if lang == "zh" else "zh"
    assert label("provenance", other) not in html


def test_source_verdicts_and_noisy_terms(scans):
    html = page(scans["en"])
    data = report(scans["en"])
    assert data["by_source"]["news"]["verdict"] == "pass" and data["by_source"]["forum"]["verdict"] == "fail"
    assert next(r for r in data["top_terms"] if r["term"] == "weather")["noisy"]
    noisy_rows = re.findall(r'<tr class="noisy"><td>([^<]*)</td>', html)
    assert noisy_rows == ["weather"]
    chart = html[html.index('<svg xmlns="http://www.w3.org/2000/svg" id="flagged-chart"') :]
    chart = chart[: chart.index("</svg>")]
    assert chart.count("<rect ") == len(data["by_source"]) and 'stroke-dasharray="4 3"' in chart and "5.00 %" in chart


def test_data_is_escaped(scans):
    html = page(scans["en"])
    assert HOSTILE not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert not [a for t, a in tags(html) if t == "img"]


def test_data_is_inert_in_the_markdown_report(tmp_path):
    """Source names with HTML, a table bar or a line break stay inert, one-line table cells in report.md."""
    corpus = tmp_path / "corpus.jsonl"
    rows = [{"text": "no porn here", "source": HOSTILE}, {"text": "the weather", "source": "a|b\nc"}]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "lexicon.csv").write_text(LEXICON_CSV, encoding="utf-8")
    args = ["scan", str(corpus), "--out", str(tmp_path / "out"), "--lexicon", str(tmp_path / "lexicon.csv"), "--report-lang", "en"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    lines = (tmp_path / "out" / "report.md").read_text(encoding="utf-8").splitlines()
    assert not [line for line in lines if HOSTILE in line]
    hostile = [line for line in lines if "onerror" in line]
    assert hostile and all("&lt;img src=x onerror=" in line and line.startswith("| ") and line.endswith(" |") for line in hostile)
    barred = [line for line in lines if line.startswith("| a\\|b c |")]
    assert len(barred) == 1 and not [line for line in lines if line.startswith("c |")]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_provenance_is_complete(scans, lang):
    html = page(scans[lang])
    data = report(scans[lang])
    for value in (
        data["tool"]["version"],
        data["lexicon"]["version"],
        data["lexicon"]["fingerprint"],
        data["langid"]["sha256"],
        data["provenance"]["started_at"],
        data["provenance"]["finished_at"],
        *(i["fingerprint"] for i in data["inputs"]),
    ):
        assert value and value in html
    assert data["provenance"]["commands"] and all(escape(c) in html for c in data["provenance"]["commands"])


def _playwright():
    """The sync API, or skip (locally) / fail (under CI) naming what is missing."""
    missing = []
    try:
        from playwright import sync_api
    except ImportError:
        sync_api = None
        missing.append("the playwright package (pip install -e '.[dev]')")
    if not CHROMIUM.is_file():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if missing:
        reason = "headless Chromium test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI must install it (.ci/run)")
        pytest.skip(reason)
    return sync_api


@pytest.fixture(scope="module")
def browser():
    sync_api = _playwright()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_page_in_headless_chromium(scans, browser, lang):
    path = scans[lang] / "report.html"
    url = path.as_uri()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    # Any http(s)/ws request is aborted before it leaves the machine, and recorded below.
    context.route(re.compile(r"^(https?|wss?)://"), lambda route: route.abort())
    tab = context.new_page()
    tab.on("request", lambda request: requests.append(request.url))
    tab.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error" else None)
    tab.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    tab.goto(url, wait_until="load")
    tab.wait_for_load_state("networkidle")

    table = tab.locator("table#checks")
    assert table.is_visible()
    box = table.bounding_box()
    assert box is not None and box["y"] < 900, "the checks table must be on the first screen"
    assert tab.locator("table#checks tbody tr").count() == len(CHECK_IDS)
    ids = tab.eval_on_selector_all("table#checks tbody tr", "rows => rows.map(r => r.dataset.check)")
    assert ids == CHECK_IDS
    statuses = tab.eval_on_selector_all("table#checks tbody tr td:nth-child(2)", "cells => cells.map(c => c.className)")
    assert set(statuses) <= {"pass", "fail", "not-assessed"} and "fail" in statuses and "pass" in statuses
    assert tab.locator("#flagged-chart").is_visible()
    assert tab.evaluate("document.documentElement.lang") == ("zh-CN" if lang == "zh" else "en")
    context.close()

    assert errors == []
    assert requests == [url], f"the page made requests besides itself: {requests}"
