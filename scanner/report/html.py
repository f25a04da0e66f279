"""report.html: one self-contained page (inline CSS and SVG, no scripts, no network requests).

Order: checks first (pass/fail at a glance), sources and the language x source matrix, the flagged
share bar chart with the 5 % line, categories and top terms, domestic/foreign and source-type
shares, the lexicon audit, the human sample, and provenance. Each part is a ``<section
id="section-...">``; the checks table is ``#checks`` with one ``<tr data-check="ID">`` per check.
A Content-Security-Policy of ``default-src 'none'`` makes the "no network" promise enforced by the browser.
"""

from __future__ import annotations

from html import escape
from typing import Any

from scanner.report.filing import filing_rows, method_note
from scanner.report.format import (
    extra_sections,
    format_threshold,
    format_value,
    normalization_rows,
    percent,
    shown_languages,
)
from scanner.report.i18n import check_language, label, requirement, risk_name
from scanner.report.markdown import human_check_notes, status_mark

_CSS = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:2rem;color:#1b1f24;max-width:72rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:700}.not-assessed{color:#9a6700;font-weight:600}
.noisy{background:#fff8c5}.small{font-size:.8rem;color:#57606a}code{font-size:.85rem}code.id{white-space:nowrap}li code{overflow-wrap:anywhere}
"""
# No scripts, no fetches of any kind; inline <style> and data: images only.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


class _Raw(str):
    """A cell already rendered as ``<td ...>``; everything else is escaped (source names and terms come from data)."""


def _cell(value: Any, css: str = "") -> str:
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    classes = " ".join(c for c in (css, "num" if numeric else "") if c)
    return f"<td class=\"{classes}\">{escape(str(value))}</td>" if classes else f"<td>{escape(str(value))}</td>"


def _table(header: list[str], rows: list[list[Any]], table_id: str = "", row_attrs: list[dict[str, str]] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        attrs = "".join(f' {k}="{escape(v)}"' for k, v in (row_attrs[i] if row_attrs else {}).items() if v)
        body.append(f"<tr{attrs}>" + "".join(c if isinstance(c, _Raw) else _cell(c) for c in row) + "</tr>")
    ident = f" id=\"{table_id}\"" if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _status_cell(status: str, lang: str, mark: str = "") -> _Raw:
    return _Raw(f"<td class=\"{escape(status)}\">{escape(label(status, lang))}{escape(mark)}</td>")


def _num_cell(text: str) -> _Raw:
    """A pre-formatted number such as "5.00 %": right-aligned, never wrapped."""
    return _Raw(f"<td class=\"num\">{escape(text)}</td>")


def _code_cell(text: str) -> _Raw:
    return _Raw(f"<td><code>{escape(text)}</code></td>")


def _share_cell(share: float) -> _Raw:
    """The percentage with a small inline bar, so shares compare at a glance."""
    bar = f'<svg width="100" height="10" aria-hidden="true"><rect width="100" height="10" fill="#eaeef2"/><rect width="{100 * share:.1f}" height="10" fill="#0969da"/></svg>'
    return _Raw(f"<td class=\"num\">{bar} {escape(percent(share))}</td>")


def _limit(report: dict[str, Any]) -> float:
    return next(c["threshold"] for c in report["checks"] if c["id"] == "source-unsafe-share")


def _bar_chart(report: dict[str, Any], lang: str) -> str:
    """Horizontal bars of the unsafe share per source (what the 5 % rule judges), with the limit as a dashed
    line (inline SVG; the element keeps its historical id ``flagged-chart``)."""
    sources = list(report["by_source"].items())
    limit = _limit(report)
    top = max([limit * 2, *(s["unsafe_share"] for _, s in sources)]) or 1.0
    width, left, bar, gap = 680, 200, 18, 6
    height = len(sources) * (bar + gap) + 30
    scale = (width - left - 70) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="flagged-chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label("flagged_chart", lang))}">']
    for i, (name, s) in enumerate(sources):
        y = i * (bar + gap) + 10
        share = s["unsafe_share"]
        color = "#cf222e" if share > limit else "#2da44e"
        shown = name if len(name) <= 28 else name[:27] + "…"
        parts.append(f'<g><title>{escape(name)}: {percent(share)}</title>')
        parts.append(f'<text x="{left - 6}" y="{y + bar - 5}" text-anchor="end" font-size="12">{escape(shown)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{max(share * scale, 1):.1f}" height="{bar}" fill="{color}"/>')
        parts.append(f'<text x="{left + share * scale + 4:.1f}" y="{y + bar - 5}" font-size="11">{percent(share)}</text></g>')
    x = left + limit * scale
    parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 15}" stroke="#1b1f24" stroke-dasharray="4 3"/>')
    parts.append(f'<text x="{x:.1f}" y="{height - 3}" font-size="11" text-anchor="middle">{percent(limit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: dict[str, Any], lang: str = "zh") -> str:
    """report.html: the same content as report.md, one self-contained page (inline CSS, no scripts)."""
    lang = check_language(lang)
    L = lambda key: label(key, lang)  # noqa: E731, N806 - a local shorthand keeps the tables readable
    t = report["totals"]
    lex = report["lexicon"]
    sections: list[tuple[str, str, list[str]]] = []  # (id, heading, body parts)

    def section(ident: str, heading: str, *body: str) -> None:
        sections.append((ident, heading, list(body)))

    checks = report["checks"]
    section(
        "checks",
        L("checks"),
        _table(
            [L("check"), L("status"), L("value"), L("threshold"), L("offending"), L("requirement")],
            [
                [_Raw(f"<td>{escape(L(c['id']))}<br><code class=\"id\">{escape(c['id'])}</code></td>"), _status_cell(c["status"], lang, status_mark(c, lang)), _num_cell(format_value(c)), _num_cell(format_threshold(c)), ", ".join(c["offending"]) or "-", requirement(c, lang)]
                for c in checks
            ],
            table_id="checks",
            row_attrs=[{"data-check": c["id"]} for c in checks],
        ),
    )
    by_source = report["by_source"]
    section(
        "sources",
        L("sources"),
        _table(
            [L("source"), L("documents"), L("flagged"), L("flagged_share"), L("unsafe"), L("unsafe_share"), L("verdict"), L("type"), L("origin"), L("registered")],
            [
                [name, s["documents"], s["flagged_documents"], _num_cell(percent(s["flagged_share"])), s["unsafe_documents"], _num_cell(percent(s["unsafe_share"])), _status_cell(s["verdict"], lang), L(s["type"]), L(s["origin"]), L("yes") if s["registered"] else L("no")]
                for name, s in by_source.items()
            ],
            table_id="sources",
        ),
    )
    languages, other = shown_languages(report)
    section(
        "matrix",
        L("matrix"),
        _table(
            [L("source"), *languages, *([L("other_languages")] if other else []), L("documents")],
            [
                [name, *(s["languages"].get(code, 0) for code in languages), *([sum(n for code, n in s["languages"].items() if code in other)] if other else []), s["documents"]]
                for name, s in by_source.items()
            ],
            table_id="matrix",
        ),
    )
    section("flagged-chart", L("flagged_chart"), _bar_chart(report, lang))
    section(
        "categories",
        L("categories"),
        _table([L("code"), L("name"), L("documents"), L("hits")], [[code, risk_name(c, lang), c["documents"], c["hits"]] for code, c in report["by_category"].items()], table_id="categories"),
    )
    section("normalizations", L("normalizations"), _table([L("step"), L("hits"), L("share")], normalization_rows(report), table_id="normalizations"))
    terms = report["top_terms"][:30]
    section(
        "top-terms",
        L("top_terms"),
        f"<p class=\"small\">{escape(L('noisy_note'))}</p>",
        _table(
            [L("term"), L("documents"), L("hits"), L("share"), L("noisy")],
            [[r["term"], r["documents"], r["hits"], _num_cell(percent(r["document_share"])), L("yes") if r["noisy"] else ""] for r in terms],
            table_id="top-terms",
            row_attrs=[{"class": "noisy" if r["noisy"] else ""} for r in terms],
        ),
    )
    for ident, key, column, block in (("origins", "origins", "origin", report["by_origin"]), ("source-types", "source_types", "type", report["by_source_type"])):
        section(
            ident,
            L(key),
            _table([L(column), L("documents"), L("chars"), L("share")], [[L(k), v["documents"], v["chars"], _share_cell(v["share_of_chars"])] for k, v in block.items()], table_id=ident),
        )
    for extra in extra_sections(report, lang):
        section(extra.ident, extra.heading, f"<p class=\"small\">{escape(extra.note)}</p>" if extra.note else "", _table(extra.header, extra.rows, table_id=extra.ident))
    audit = report["lexicon_audit"]
    single_class = ' class="fail"' if audit.get("single_char_cjk") else ""  # they flag large shares of ordinary text
    lint = [
        f"<li>{escape(L('duplicates'))}: {len(audit.get('duplicates', []))} {escape(', '.join(d['term'] for d in audit.get('duplicates', [])[:20]))}</li>",
        f"<li>{escape(L('never_match'))}: {len(audit.get('never_match', []))} "
        f"{escape('; '.join(repr(n['term']) + ' (' + n['reason'] + ')' for n in audit.get('never_match', [])[:20]))}</li>",
        f"<li{single_class}>{escape(L('single_char_cjk'))} ({len(audit.get('single_char_cjk', []))}): {escape(', '.join(audit.get('single_char_cjk', [])) or '-')}</li>",
    ]
    section(
        "lexicon-audit",
        L("lexicon_audit"),
        f"<p>{escape(L('lexicon'))}: <code>{escape(lex['name'])} {escape(lex['version'])}</code> · {lex['terms']} · "
        f"{escape(L('status'))}: <span class=\"{escape(audit['verdict'])}\">{escape(L(audit['verdict']))}</span></p>",
        _table([L("rule"), L("value"), L("threshold"), L("status")], [[r["rule"], r["value"], r["threshold"], _status_cell(r["status"], lang)] for r in audit["rules"]], table_id="audit"),
        f"<ul>{''.join(lint)}</ul>",
    )
    filing = report.get("filing_table")
    if filing:
        rows = filing_rows(filing, lang)
        section("filing-table", L("filing_table"), f"<p>{escape(method_note(filing, lang))}</p>", _table(rows[0], rows[1:], table_id="filing-table"))
    sample = report["human_sample"]
    notes, estimates = human_check_notes(report, lang)
    section(
        "human-sample",
        L("human_sample"),
        f"<p>{escape(L('sample_size'))}: {sample['size']} / {sample['requested']} · {escape(L('seed'))}: <code>{escape(str(sample['seed']))}</code></p>",
        *(f"<p>{escape(note)}</p>" for note in notes),
        *([f"<h3>{escape(L('per_source_estimates'))}</h3>", _table([L("source"), L("judged"), L("pass_rate"), L("interval")], [[n, j, _num_cell(r), _num_cell(i)] for n, j, r, i in estimates], table_id="human-by-source")] if estimates else []),
    )
    prov = report["provenance"]
    langid = report["langid"] or {}
    commands = "".join(f"<br><code>{escape(c)}</code>" for c in prov["commands"]) or "-"
    section(
        "provenance",
        L("provenance"),
        "<ul>"
        f"<li>{escape(L('tool'))}: <code>{escape(report['tool']['name'])} {escape(report['tool']['version'])}</code></li>"
        f"<li>{escape(L('profile'))}: <code>{escape(report['profile'])}</code></li>"
        f"<li>{escape(L('lexicon'))}: <code>{escape(lex['name'])} {escape(lex['version'])}</code> · {escape(L('fingerprint'))} <code>{escape(lex['fingerprint'])}</code></li>"
        f"<li>{escape(L('langid_model'))}: <code>{escape(str(langid.get('model', '-')))}</code> <code>{escape(str(langid.get('sha256', '-')))}</code></li>"
        f"<li>{escape(L('command'))}: {commands}</li>"
        f"<li>{escape(L('started'))}: {escape(str(prov['started_at']))} · {escape(L('finished'))}: {escape(str(prov['finished_at']))}</li>"
        "</ul>",
        _table(
            [L("inputs"), L("bytes"), L("documents"), L("fingerprint")],
            [[i["path"], i["bytes"], i["rows"], _code_cell(i.get("fingerprint") or "-")] for i in report["inputs"]],
            table_id="inputs",
        ),
    )
    if report["rejected"] or report["errors"]:
        items = [f"<li><code>{escape(r)}</code>: {n}</li>" for r, n in sorted(report["rejected"].items())]
        items += [f"<li><code>{escape(e['shard'])}</code>: {escape(e['reason'])}</li>" for e in report["errors"]]
        section("errors", L("errors"), f"<ul>{''.join(items)}</ul>")

    summary = (
        f"<p class=\"small\">{escape(L('profile'))}: <code>{escape(report['profile'])}</code> · {escape(L('lexicon'))}: "
        f"<code>{escape(lex['name'])} {escape(lex['version'])}</code> · {escape(L('documents'))}: {t['documents']} · "
        f"{escape(L('flagged_share'))}: {percent(t['flagged_share'])} · {escape(L('unsafe_share'))}: {percent(t['unsafe_share'])}</p>"
    )
    body = "".join(f"<section id=\"section-{ident}\"><h2>{escape(heading)}</h2>{''.join(parts)}</section>" for ident, heading, parts in sections)
    html_lang = "zh-CN" if lang == "zh" else "en"
    return (
        f"<!DOCTYPE html><html lang=\"{html_lang}\"><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_CSP}\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"data:,\">"
        f"<title>{escape(L('title'))}</title><style>{_CSS}</style></head>"
        f"<body><h1>{escape(L('title'))}</h1>{summary}{body}</body></html>\n"
    )
