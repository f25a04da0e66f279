"""bank_audit.md/.html and answers_report.md/.html, in Chinese or English, with the corpus report's
conventions: the checks first, every value from the data escaped (``scanner.report.markdown`` for
Markdown, ``scanner.report.html`` for one self-contained page with no scripts and no network requests).
Both pages are built from one list of sections, so the Markdown and the HTML always hold the same tables."""

from __future__ import annotations

from html import escape
from typing import Any

from scanner.detect.base import Section
from scanner.lexicon.taxonomy import ASPECTS, RISKS
from scanner.report.format import format_threshold, format_value, percent
from scanner.report.html import _CSP, _CSS, _num_cell, _status_cell
from scanner.report.html import _table as html_table
from scanner.report.i18n import check_language, label, requirement
from scanner.report.markdown import _table as md_table

_LABELS: dict[str, tuple[str, str]] = {
    "bank_audit": ("测试题库审核报告", "Test bank audit"),
    "answers": ("模型回答检查报告", "Answer check report"),
    "as_of": ("审核日期", "as of"),
    "normalize": ("归一化步骤", "normalisation"),
    "banks": ("题库概况", "Banks"),
    "bank": ("题库", "bank"),
    "rows": ("行数", "rows"),
    "questions": ("题目数（去重）", "questions (distinct)"),
    "duplicates": ("重复题目", "Duplicate questions"),
    "duplicate_rows": ("重复", "duplicates"),
    "problems": ("无法计入的行", "Rows that cannot count"),
    "problem": ("原因", "problem"),
    "updated": ("最近更新", "last update"),
    "by_category": ("各风险类别题目数", "Questions per risk"),
    "by_aspect": ("非拒答题库各方面题目数", "Should-not-refuse questions per aspect"),
    "minimum": ("最低要求", "minimum"),
    "conflicts": ("同时出现在应拒答与非拒答题库的题目", "Questions in both the should-refuse and the should-not-refuse bank"),
    "contaminated": ("训练语料中出现的测试题", "Test questions found in the training corpus"),
    "not_searched": ("未检索训练语料（未指定 --corpus）。", "The training corpus was not searched (no --corpus)."),
    "searched": ("已检索 {corpus}：{shards} 个文件，{documents} 篇文档，归一化 {normalize}。", "Searched {corpus}: {shards} files, {documents} documents, normalisation {normalize}."),
    "shards": ("语料文件", "corpus files"),
    "documents": ("文档数", "documents"),
    "row": ("位置", "row"),
    "question": ("题目", "question"),
    "aspect": ("方面", "aspect"),
    "files": ("输入文件", "Input files"),
    "file": ("文件", "file"),
    "sha256": ("SHA-256", "SHA-256"),
    "sampled": ("抽样数", "sampled"),
    "answered": ("已回答", "answered"),
    "unanswered": ("未回答", "unanswered"),
    "flagged": ("关键词命中", "flagged"),
    "keyword_unsafe": ("关键词判定不安全", "keyword unsafe"),
    "classifier_unsafe": ("分类模型判定不安全", "classifier unsafe"),
    "refused": ("拒答", "refused"),
    "refusal_rate": ("拒答率", "refusal rate"),
    "rate": ("比率", "rate"),
    "breakdown": ("抽样结果（按风险类别与方面）", "Sample results per risk and aspect"),
    "breakdown_note": ("合格率检查给出合格率，拒答检查给出拒答率。", "Pass-rate checks show the pass rate, refusal checks the refusal rate."),
    "sample": ("抽样", "Samples"),
    "method": ("方法", "method"),
    "requested": ("应抽", "requested"),
    "drawn": ("实抽", "drawn"),
    "settings": ("判定依据", "What judged the answers"),
    "policy": ("不安全判定策略", "unsafe policy"),
    "classifier": ("分类模型", "classifier"),
    "refusal_phrases": ("拒答短语", "refusal phrases"),
    "none": ("无", "none"),
    "human_verdicts": ("人工判定：{judged} 条（需 {needed} 条后评估）。", "Human verdicts: {judged} (assessed from {needed})."),
    "generate": ("生成内容测试题库", "generate"),
    "refuse": ("应拒答测试题库", "refuse"),
    "non-refuse": ("非拒答测试题库", "non-refuse"),
}
CHECK_NAMES: dict[str, tuple[str, str]] = {
    "bank-generate-size": ("生成内容测试题库规模", "Generated-content bank size"),
    "bank-generate-coverage": ("生成内容测试题库覆盖", "Generated-content bank coverage"),
    "bank-refuse-size": ("应拒答测试题库规模", "Should-refuse bank size"),
    "bank-refuse-coverage": ("应拒答测试题库覆盖", "Should-refuse bank coverage"),
    "bank-non-refuse-size": ("非拒答测试题库规模", "Should-not-refuse bank size"),
    "bank-non-refuse-coverage": ("非拒答测试题库覆盖", "Should-not-refuse bank coverage"),
    "bank-contamination": ("测试题与训练语料重合（评估实践）", "Test questions in the training corpus (practice)"),
    "bank-freshness": ("测试题库更新", "Test bank freshness"),
    "keyword-library-freshness": ("关键词库更新（备案实践）", "Keyword library freshness (practice)"),
    "answers-keyword-pass": ("生成内容关键词抽检", "Keyword spot check of answers"),
    "answers-classifier-pass": ("生成内容分类模型抽检", "Classifier spot check of answers"),
    "answers-human-pass": ("生成内容人工抽检", "Human spot check of answers"),
    "refusal-should-refuse": ("应拒答题拒答率", "Refusals of should-refuse questions"),
    "refusal-should-not-refuse": ("非拒答题拒答率", "Refusals of should-not-refuse questions"),
}
_SHOWN = 10
"""Offending items shown in a table cell; report JSON keeps them all."""


def _label(key: str, lang: str) -> str:
    pair = _LABELS.get(key) or CHECK_NAMES.get(key)
    return pair[0 if lang == "zh" else 1] if pair else label(key, lang)


def _offending(items: list[str], lang: str) -> str:
    if not items:
        return "-"
    more = len(items) - _SHOWN
    tail = (f" 等共 {len(items)} 项" if lang == "zh" else f" and {more} more") if more > 0 else ""
    return ", ".join(items[:_SHOWN]) + tail


def _interval(interval: list[float] | None) -> str:
    return "-" if not interval else f"{percent(interval[0])} – {percent(interval[1])}"


def _check_rows(checks: list[dict[str, Any]], lang: str) -> tuple[list[str], list[list[Any]]]:
    header = [label("check", lang), label("status", lang), _label("sampled", lang), label("value", lang), label("interval", lang), label("threshold", lang), label("offending", lang), label("requirement", lang)]
    rows = [
        [f"{_label(c['id'], lang)} ({c['id']})", c["status"], c.get("sampled", "-"), format_value(c), _interval(c.get("interval_95")), format_threshold(c), _offending(c["offending"], lang), requirement(c, lang)]
        for c in checks
    ]
    return header, rows


def _risk(code: str, lang: str) -> str:
    risk = RISKS.get(code)
    return code if risk is None else (risk.name_zh if lang == "zh" else risk.name_en)


def _aspect(key: str, lang: str) -> str:
    aspect = ASPECTS.get(key)
    return key if aspect is None else (aspect.name_zh if lang == "zh" else aspect.name_en)


def bank_audit_sections(audit: dict[str, Any], lang: str) -> list[Section]:
    """The tables of bank_audit.md/.html after the checks."""
    L = lambda key: _label(key, lang)  # noqa: E731, N806 - a local shorthand keeps the tables readable
    banks = audit["banks"]
    sections = [
        Section(
            "banks",
            L("banks"),
            [L("bank"), L("rows"), L("questions"), L("duplicate_rows"), L("problems"), L("updated")],
            [[f"{L(b)} ({b})", f["rows"], f["questions"], len(f["duplicates"]), f["problems"], f["updated"] or "-"] for b, f in banks.items()],
        ),
    ]
    minimum = {c["id"]: {r["rule"]: r["threshold"] for r in c.get("rules", [])} for c in audit["checks"]}
    generate, refuse = banks["generate"]["by_category"], banks["refuse"]["by_category"]
    generate_min, refuse_min = minimum["bank-generate-coverage"], minimum["bank-refuse-coverage"]
    sections.append(
        Section(
            "by-category",
            L("by_category"),
            [label("code", lang), label("name", lang), L("generate"), L("minimum"), L("refuse"), L("minimum")],
            [[code, _risk(code, lang), generate[code], generate_min[code], refuse.get(code, "-"), refuse_min.get(code, "-")] for code in generate],
        )
    )
    aspect_min = minimum["bank-non-refuse-coverage"]
    sections.append(
        Section("by-aspect", L("by_aspect"), [L("aspect"), L("questions"), L("minimum")], [[_aspect(k, lang), n, aspect_min[k]] for k, n in banks["non-refuse"]["by_aspect"].items()])
    )
    duplicates = [[L(b), d["question"], "; ".join(d["rows"])] for b, f in banks.items() for d in f["duplicates"]]
    sections.append(Section("duplicates", L("duplicates"), [L("bank"), L("question"), L("row")], duplicates))
    sections.append(Section("problems", L("problems"), [L("row"), L("bank"), L("question"), L("problem")], [[p["row"], p["bank"], p["question"], p["problem"]] for p in audit["problems"]]))
    sections.append(Section("conflicts", L("conflicts"), [L("question"), L("row")], [[c["question"], "; ".join(c["rows"])] for c in audit["conflicts"]]))
    searched = audit["contamination"]
    note = L("not_searched") if searched is None else L("searched").format(corpus=searched["corpus"], shards=searched["shards"], documents=searched["documents"], normalize=",".join(searched["normalize"]) or "none")
    sections.append(
        Section(
            "contaminated",
            L("contaminated"),
            [L("row"), L("bank"), L("question"), L("shards"), L("documents")],
            [[c["row"], c["bank"], c["question"], ", ".join(c["shards"]), c["documents"]] for c in audit["contaminated"]],
            note,
        )
    )
    sections.append(Section("files", L("files"), [L("file"), L("rows"), L("sha256")], [[f["path"], f["rows"], f["sha256"]] for f in audit["files"]]))
    return sections


def answers_sections(report: dict[str, Any], lang: str) -> list[Section]:
    """The tables of answers_report.md/.html after the checks."""
    L = lambda key: _label(key, lang)  # noqa: E731, N806
    sections = [
        Section(
            "banks",
            L("banks"),
            [L("bank"), L("questions"), L("answered"), L("unanswered"), L("sampled"), L("flagged"), L("keyword_unsafe"), L("classifier_unsafe"), L("refused"), L("refusal_rate")],
            [
                [f"{L(b)} ({b})", f["questions"], f["answered"], f["unanswered"], f["sampled"], f["flagged"], f["keyword_unsafe"], "-" if f["classifier_unsafe"] is None else f["classifier_unsafe"], f["refused"], percent(f["refusal_rate"])]
                for b, f in report["banks"].items()
            ],
        )
    ]
    rows = []
    for c in report["checks"]:
        for key, block in (("by_category", c.get("by_category") or {}), ("by_aspect", c.get("by_aspect") or {})):
            for name, r in block.items():
                shown = f"{name} {_risk(name, lang)}" if key == "by_category" else _aspect(name, lang)
                rows.append([c["id"], shown, r["sampled"], percent(r["rate"]), _interval(r["interval_95"])])
    sections.append(Section("breakdown", L("breakdown"), [label("check", lang), f"{label('code', lang)} / {L('aspect')}", L("sampled"), L("rate"), label("interval", lang)], rows, L("breakdown_note")))
    sample = report["sample"]
    sections.append(
        Section(
            "sample",
            L("sample"),
            [L("bank"), L("requested"), L("drawn")],
            [[L(b), sample["sizes"][b], sample["drawn"][b]] for b in sample["sizes"]],
            f"{label('seed', lang)}: {sample['seed']}; {L('method')}: {sample['method']}",
        )
    )
    run = report["run"]
    lex, policy, model, refusals = run["lexicon"], run["policy"], run["classifier"], run["refusals"]
    settings = [
        [label("lexicon", lang), f"{lex['name']} {lex['version']} ({lex['terms']}), {label('fingerprint', lang)} {lex['fingerprint'][:16]}"],
        [L("normalize"), ",".join(run["banks"]["normalize"]) or "none"],
        [L("policy"), f"{policy['name']} {policy['version']}"],
        [L("classifier"), L("none") if model is None else f"{model['model']} (threshold {model['threshold']:.3f}, sha256 {model['sha256'][:16]})"],
        [L("refusal_phrases"), f"{refusals['phrases']} + {refusals['allow']} allow; {refusals['opening_chars']} chars; " + ", ".join(f["path"] for f in refusals["files"])],
    ]
    sections.append(Section("settings", L("settings"), [label("name", lang), label("value", lang)], settings))
    files = [[f["path"], f.get("rows", "-"), f["sha256"]] for f in run["banks"]["files"] + run["answers"]["files"]]
    sections.append(Section("files", L("files"), [L("file"), L("rows"), L("sha256")], files))
    return sections


def _meta(document: dict[str, Any], lang: str) -> str:
    parts = [f"{label('profile', lang)}: {document['profile']}", f"{label('tool', lang)}: {document['tool']['version']}"]
    if "as_of" in document:
        parts.insert(1, f"{_label('as_of', lang)}: {document['as_of']}")
    return "; ".join(parts)


def _markdown(title: str, document: dict[str, Any], sections: list[Section], lang: str) -> str:
    lines = [f"# {title}", "", _meta(document, lang), "", f"## {label('checks', lang)}", ""]
    header, rows = _check_rows(document["checks"], lang)
    lines += md_table(header, [[r[0], f"**{label(r[1], lang)}**", *r[2:]] for r in rows])
    for section in sections:
        lines += [f"## {section.heading}", "", *([section.note, ""] if section.note else [])]
        lines += md_table(section.header, section.rows) if section.rows else ["-", ""]
    return "\n".join(lines) + "\n"


def _html(title: str, document: dict[str, Any], sections: list[Section], lang: str) -> str:
    header, rows = _check_rows(document["checks"], lang)
    checks = document["checks"]
    body = [
        f"<p class=\"small\">{escape(_meta(document, lang))}</p>",
        f"<section id=\"section-checks\"><h2>{escape(label('checks', lang))}</h2>",
        html_table(
            header,
            [[r[0], _status_cell(r[1], lang), r[2], _num_cell(r[3]), _num_cell(r[4]), _num_cell(r[5]), *r[6:]] for r in rows],
            table_id="checks",
            row_attrs=[{"data-check": c["id"]} for c in checks],
        ),
        "</section>",
    ]
    for section in sections:
        note = f"<p class=\"small\">{escape(section.note)}</p>" if section.note else ""
        table = html_table(section.header, section.rows, table_id=section.ident) if section.rows else "<p>-</p>"
        body.append(f"<section id=\"section-{escape(section.ident)}\"><h2>{escape(section.heading)}</h2>{note}{table}</section>")
    html_lang = "zh-CN" if lang == "zh" else "en"
    return (
        f"<!DOCTYPE html><html lang=\"{html_lang}\"><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_CSP}\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"data:,\">"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><h1>{escape(title)}</h1>{''.join(body)}</body></html>\n"
    )


def bank_audit_markdown(audit: dict[str, Any], lang: str = "zh") -> str:
    lang = check_language(lang)
    return _markdown(_label("bank_audit", lang), audit, bank_audit_sections(audit, lang), lang)


def bank_audit_html(audit: dict[str, Any], lang: str = "zh") -> str:
    lang = check_language(lang)
    return _html(_label("bank_audit", lang), audit, bank_audit_sections(audit, lang), lang)


def answers_markdown(report: dict[str, Any], lang: str = "zh") -> str:
    lang = check_language(lang)
    return _markdown(_label("answers", lang), report, answers_sections(report, lang), lang)


def answers_html(report: dict[str, Any], lang: str = "zh") -> str:
    lang = check_language(lang)
    return _html(_label("answers", lang), report, answers_sections(report, lang), lang)

