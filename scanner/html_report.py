"""report.html: one self-contained page (inline CSS and SVG, no scripts, no network requests).

Order: checks first (pass/fail at a glance), sources and the language x source matrix, the flagged
share bar chart with the 5 % line, categories and top terms, domestic/foreign and source-type
shares, the lexicon audit, and provenance.
"""

from __future__ import annotations

from html import escape
from typing import Any

from scanner.i18n import label, requirement, risk_name
from scanner.render import format_threshold, format_value, percent

_CSS = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:2rem;color:#1b1f24;max-width:72rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:700}.not-assessed{color:#9a6700;font-weight:600}
.noisy{background:#fff8c5}.small{font-size:.8rem;color:#57606a}code{font-size:.85rem}
"""


def _cell(value: Any, css: str = "") -> str:
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    classes = " ".join(c for c in (css, "num" if numeric else "") if c)
    return f"<td class=\"{classes}\">{escape(str(value))}</td>" if classes else f"<td>{escape(str(value))}</td>"


def _table(header: list[str], rows: list[list[Any]], table_id: str = "", row_classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        css = f" class=\"{row_classes[i]}\"" if row_classes and row_classes[i] else ""
        body.append(f"<tr{css}>" + "".join(c if isinstance(c, str) and c.startswith("<td") else _cell(c) for c in row) + "</tr>")
    ident = f" id=\"{table_id}\"" if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _status_cell(status: str, lang: str) -> str:
    return f"<td class=\"{escape(status)}\">{escape(label(status, lang))}</td>"


def _bar_chart(report: dict[str, Any], lang: str) -> str:
    """Horizontal bars of flagged share per source, with the limit as a dashed line (inline SVG)."""
    sources = list(report["by_source"].items())
    limit = report["checks"][0]["threshold"]
    top = max([limit * 2, *(s["flagged_share"] for _, s in sources)])
    width, left, bar, gap = 640, 180, 18, 6
    height = len(sources) * (bar + gap) + 30
    scale = (width - left - 60) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{escape(label("flagged_chart", lang))}">']
    for i, (name, s) in enumerate(sources):
        y = i * (bar + gap) + 10
        color = "#cf222e" if s["flagged_share"] > limit else "#2da44e"
        parts.append(f'<text x="{left - 6}" y="{y + bar - 5}" text-anchor="end" font-size="12">{escape(name[:28])}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{max(s["flagged_share"] * scale, 1):.1f}" height="{bar}" fill="{color}"/>')
        parts.append(f'<text x="{left + s["flagged_share"] * scale + 4:.1f}" y="{y + bar - 5}" font-size="11">{percent(s["flagged_share"])}</text>')
    x = left + limit * scale
    parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 15}" stroke="#1b1f24" stroke-dasharray="4 3"/>')
    parts.append(f'<text x="{x:.1f}" y="{height - 3}" font-size="11" text-anchor="middle">{percent(limit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render(report: dict[str, Any], lang: str) -> str:
    L = lambda key: label(key, lang)  # noqa: E731 - a local shorthand keeps the tables readable
    t = report["totals"]
    lex = report["lexicon"]
    sections = [f"<h1>{escape(L('title'))}</h1>"]
    sections.append(
        f"<p class=\"small\">{escape(L('profile'))}: <code>{escape(report['profile'])}</code> · {escape(L('lexicon'))}: "
        f"<code>{escape(lex['name'])} {escape(lex['version'])}</code> · {escape(L('documents'))}: {t['documents']} · "
        f"{escape(L('flagged_share'))}: {percent(t['flagged_share'])}</p>"
    )
    sections.append(f"<h2>{escape(L('checks'))}</h2>")
    sections.append(
        _table(
            [L("check"), L("status"), L("value"), L("threshold"), L("offending"), L("requirement")],
            [
                [f"{L(c['id'])} ({c['id']})", _status_cell(c["status"], lang), format_value(c), format_threshold(c), ", ".join(c["offending"]) or "-", requirement(c, lang)]
                for c in report["checks"]
            ],
            table_id="checks",
        )
    )
    sections.append(f"<h2>{escape(L('sources'))}</h2>")
    sections.append(
        _table(
            [L("source"), L("documents"), L("flagged"), L("flagged_share"), L("verdict"), L("type"), L("origin"), L("registered")],
            [
                [name, s["documents"], s["flagged_documents"], percent(s["flagged_share"]), _status_cell(s["verdict"], lang), L(s["type"]), L(s["origin"]), L("yes") if s["registered"] else L("no")]
                for name, s in report["by_source"].items()
            ],
            table_id="sources",
        )
    )
    languages = sorted({code for s in report["by_source"].values() for code in s["languages"]})
    sections.append(f"<h2>{escape(L('matrix'))}</h2>")
    sections.append(
        _table([L("source"), *languages], [[name, *(s["languages"].get(code, 0) for code in languages)] for name, s in report["by_source"].items()], table_id="matrix")
    )
    sections.append(f"<h2>{escape(L('flagged_chart'))}</h2>{_bar_chart(report, lang)}")
    sections.append(f"<h2>{escape(L('categories'))}</h2>")
    sections.append(_table([L("code"), L("name"), L("documents"), L("hits")], [[code, risk_name(c, lang), c["documents"], c["hits"]] for code, c in report["by_category"].items()]))
    sections.append(f"<h2>{escape(L('top_terms'))}</h2><p class=\"small\">{escape(L('noisy_note'))}</p>")
    terms = report["top_terms"][:30]
    sections.append(
        _table(
            [L("term"), L("documents"), L("hits"), L("share"), L("noisy")],
            [[r["term"], r["documents"], r["hits"], percent(r["document_share"]), L("yes") if r["noisy"] else ""] for r in terms],
            table_id="top-terms",
            row_classes=["noisy" if r["noisy"] else "" for r in terms],
        )
    )
    for key, block in (("origins", report["by_origin"]), ("source_types", report["by_source_type"])):
        sections.append(f"<h2>{escape(L(key))}</h2>")
        sections.append(_table([L("origin" if key == "origins" else "type"), L("documents"), L("chars"), L("share")], [[L(k), v["documents"], v["chars"], percent(v["share_of_chars"])] for k, v in block.items()]))
    audit = report["lexicon_audit"]
    sections.append(f"<h2>{escape(L('lexicon_audit'))}</h2>")
    sections.append(_table([L("rule"), L("value"), L("threshold"), L("status")], [[r["rule"], r["value"], r["threshold"], _status_cell(r["status"], lang)] for r in audit["rules"]], table_id="audit"))
    sections.append(
        "<ul>"
        f"<li>{escape(L('duplicates'))}: {len(audit.get('duplicates', []))}</li>"
        f"<li>{escape(L('never_match'))}: {len(audit.get('never_match', []))}</li>"
        f"<li>{escape(L('single_char_cjk'))}: {escape(', '.join(audit.get('single_char_cjk', [])) or '-')}</li>"
        "</ul>"
    )
    sample = report["human_sample"]
    sections.append(f"<h2>{escape(L('human_sample'))}</h2><p>{escape(L('sample_size'))}: {sample['size']} / {sample['requested']} · {escape(L('seed'))}: <code>{escape(sample['seed'])}</code></p>")
    prov = report["provenance"]
    sections.append(f"<h2>{escape(L('provenance'))}</h2><ul>")
    sections.append(f"<li>{escape(L('tool'))}: {escape(report['tool']['name'])} {escape(report['tool']['version'])}</li>")
    sections.append(f"<li>{escape(L('lexicon'))}: {escape(lex['name'])} {escape(lex['version'])} · {escape(L('fingerprint'))} <code>{escape(lex['fingerprint'])}</code></li>")
    sections.append(f"<li>{escape(L('langid_model'))}: <code>{escape(str((report['langid'] or {}).get('sha256', '-')))}</code></li>")
    sections.append(f"<li>{escape(L('command'))}: {escape('; '.join(prov['commands']) or '-')}</li>")
    sections.append(f"<li>{escape(L('started'))}: {escape(str(prov['started_at']))} · {escape(L('finished'))}: {escape(str(prov['finished_at']))}</li></ul>")
    sections.append(_table([L("inputs"), L("bytes"), L("documents"), L("fingerprint")], [[i["path"], i["bytes"], i["rows"], i.get("fingerprint", "")] for i in report["inputs"]], table_id="inputs"))
    if report["rejected"] or report["errors"]:
        sections.append(f"<h2>{escape(L('errors'))}</h2><ul>")
        sections += [f"<li><code>{escape(r)}</code>: {n}</li>" for r, n in sorted(report["rejected"].items())]
        sections += [f"<li><code>{escape(e['shard'])}</code>: {escape(e['reason'])}</li>" for e in report["errors"]]
        sections.append("</ul>")
    html_lang = "zh-CN" if lang == "zh" else "en"
    return (
        f"<!DOCTYPE html><html lang=\"{html_lang}\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{escape(L('title'))}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(sections)}</body></html>\n"
    )
