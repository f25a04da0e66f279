"""report.md (and, via ``scanner.report.html``, report.html) from a report dict, in Chinese or English."""

from __future__ import annotations

import html
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


def _md_text(value: Any) -> str:
    """A value from the data (a source name, a term, an error message) as inert Markdown on one
    line: raw HTML would be rendered by Markdown viewers, and a line break or ``|`` would break a table."""
    return " ".join(html.escape(str(value), quote=False).splitlines()).replace("|", "\\|")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(_md_text(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def status_mark(check: dict[str, Any], lang: str) -> str:
    """The mark beside a check's status: a borderline human spot check (its interval holds the threshold)."""
    return f" ⚠ {label('borderline', lang)}" if check.get("borderline") else ""


def human_check_notes(report: dict[str, Any], lang: str) -> tuple[list[str], list[list[Any]]]:
    """Sentences on the human spot check (verdicts so far, a borderline status) and the rows of its
    per-source estimates (source, judged, pass rate, 95 % interval), for report.md and report.html."""
    check = next((c for c in report["checks"] if c["id"] == "human-spot-check"), {})
    if "sample_documents" not in check:
        return [], []
    notes = [] if not check["sample_documents"] else [
        label("human_progress", lang).format(
            judged=check["sample_size"], documents=check["sample_documents"], needed=check["verdicts_needed"], required=check["sample_size_threshold"]
        )
    ]
    if check["borderline"]:
        low, high = check["interval_95"]
        values = {"rate": percent(check["value"]), "low": percent(low), "high": percent(high), "threshold": percent(check["threshold"])}
        settling = check["settling_sample_size"]
        notes.append(label("borderline_note", lang).format(n=settling, **values) if settling else label("borderline_unsettled", lang).format(**values))
    rows = [[name, s["judged"], percent(s["pass_rate"]), f"{percent(s['interval_95'][0])} – {percent(s['interval_95'][1])}"] for name, s in check["by_source"].items()]
    return notes, rows


def render_markdown(report: dict[str, Any], lang: str = "zh") -> str:
    """The human-readable report: checks first, then sources, categories, terms, audit, provenance."""
    check_language(lang)
    L = lambda key: label(key, lang)  # noqa: E731, N806 - a local shorthand keeps the tables readable
    t = report["totals"]
    lex = report["lexicon"]
    lines = [f"# {L('title')}", ""]
    lines += [
        f"{L('profile')}: `{report['profile']}`; {L('lexicon')}: `{lex['name']}` {lex['version']} ({lex['terms']}), "
        f"{L('fingerprint')} `{lex['fingerprint'][:16]}`; {L('tool')}: {report['tool']['version']}",
        "",
        f"## {L('summary')}",
        "",
    ]
    lines += _table(
        [L("documents"), L("empty"), L("flagged"), L("flagged_share"), L("unsafe"), L("unsafe_share"), L("hits"), L("chars"), L("bytes"), L("rejected")],
        [[t["documents"], t["empty_documents"], t["flagged_documents"], percent(t["flagged_share"]), t["unsafe_documents"], percent(t["unsafe_share"]), t["hits"], t["chars"], t["bytes"], t["rejected_documents"]]],
    )
    lines += [f"## {L('checks')}", ""]
    lines += _table(
        [L("check"), L("status"), L("value"), L("threshold"), L("offending"), L("requirement")],
        [[f"{L(c['id'])} (`{c['id']}`)", f"**{L(c['status'])}**{status_mark(c, lang)}", format_value(c), format_threshold(c), ", ".join(c["offending"]) or "-", requirement(c, lang)] for c in report["checks"]],
    )
    lines += [f"## {L('sources')}", ""]
    lines += _table(
        [L("source"), L("documents"), L("flagged"), L("flagged_share"), L("unsafe"), L("unsafe_share"), L("verdict"), L("type"), L("origin"), L("languages")],
        [
            [name, s["documents"], s["flagged_documents"], percent(s["flagged_share"]), s["unsafe_documents"], percent(s["unsafe_share"]), L(s["verdict"]), L(s["type"]), L(s["origin"]),
             ", ".join(f"{k} {v}" for k, v in sorted(s["languages"].items(), key=lambda kv: -kv[1]))]
            for name, s in report["by_source"].items()
        ],
    )
    lines += [f"## {L('origins')}", ""]
    lines += _table([L("origin"), L("documents"), L("chars"), L("share")], [[L(k), v["documents"], v["chars"], percent(v["share_of_chars"])] for k, v in report["by_origin"].items()])
    lines += [f"## {L('source_types')}", ""]
    lines += _table([L("type"), L("documents"), L("chars"), L("share")], [[L(k), v["documents"], v["chars"], percent(v["share_of_chars"])] for k, v in report["by_source_type"].items()])
    filing = report.get("filing_table")
    if filing:
        rows = filing_rows(filing, lang)
        lines += [f"## {L('filing_table')}", "", method_note(filing, lang), ""]
        lines += _table(rows[0], rows[1:])
    lines += [f"## {L('categories')}", ""]
    lines += _table([L("code"), L("name"), L("documents"), L("hits")], [[code, risk_name(c, lang), c["documents"], c["hits"]] for code, c in report["by_category"].items()])
    lines += [f"## {L('normalizations')}", ""]
    lines += _table([L("step"), L("hits"), L("share")], normalization_rows(report))
    lines += [f"## {L('languages')}", ""]
    languages, other = shown_languages(report)
    language_rows = [[code, c["documents"], c["chars"], c["flagged_documents"]] for code, c in report["by_language"].items() if code in languages]
    if other:
        folded = [report["by_language"][code] for code in other]
        language_rows.append([f"{L('other_languages')} ({len(other)})", *(sum(c[key] for c in folded) for key in ("documents", "chars", "flagged_documents"))])
    lines += _table([L("language"), L("documents"), L("chars"), L("flagged")], language_rows)
    for extra in extra_sections(report, lang):
        lines += [f"## {extra.heading}", "", *([extra.note, ""] if extra.note else [])]
        lines += _table(extra.header, extra.rows)
    lines += [f"## {L('top_terms')}", "", L("noisy_note"), ""]
    lines += _table(
        [L("term"), L("documents"), L("hits"), L("share"), L("noisy")],
        [[r["term"], r["documents"], r["hits"], percent(r["document_share"]), L("yes") if r["noisy"] else ""] for r in report["top_terms"][:20]],
    )
    sample = report["human_sample"]
    lines += [f"## {L('human_sample')}", "", f"{L('sample_size')}: {sample['size']} / {sample['requested']}; {L('seed')}: `{sample['seed']}`", ""]
    notes, estimates = human_check_notes(report, lang)
    lines += [line for note in notes for line in (note, "")]
    if estimates:
        lines += [f"### {L('per_source_estimates')}", ""]
        lines += _table([L("source"), L("judged"), L("pass_rate"), L("interval")], estimates)
    audit = report["lexicon_audit"]
    lines += [f"## {L('lexicon_audit')}", ""]
    lines += _table([L("rule"), L("value"), L("threshold"), L("status")], [[r["rule"], r["value"], r["threshold"], L(r["status"])] for r in audit["rules"]])
    lines += [
        f"- {L('duplicates')}: {len(audit.get('duplicates', []))}",
        f"- {L('never_match')}: {len(audit.get('never_match', []))}",
        f"- {L('single_char_cjk')}: {len(audit.get('single_char_cjk', []))}",
        "",
    ]
    prov = report["provenance"]
    lines += [
        f"## {L('provenance')}",
        "",
        f"- {L('tool')}: {report['tool']['name']} {report['tool']['version']}",
        f"- {L('lexicon')}: {lex['name']} {lex['version']}, {L('fingerprint')} `{lex['fingerprint']}`",
        f"- {L('langid_model')}: `{(report['langid'] or {}).get('sha256', '-')}`",
        f"- {L('command')}: {'; '.join(f'`{c}`' for c in prov['commands']) or '-'}",
        f"- {L('started')}: {prov['started_at']}; {L('finished')}: {prov['finished_at']}",
        "",
    ]
    lines += _table([L("inputs"), L("bytes"), L("documents"), L("fingerprint")], [[i["path"], i["bytes"], i["rows"], f"`{(i.get('fingerprint') or '-')[:16]}`"] for i in report["inputs"]])
    if report["rejected"] or report["errors"]:
        lines += [f"## {L('errors')}", ""]
        lines += [f"- `{reason}`: {rows}" for reason, rows in sorted(report["rejected"].items())]
        lines += [f"- `{e['shard']}`: {_md_text(e['reason'])}" for e in report["errors"]]
    return "\n".join(lines) + "\n"
