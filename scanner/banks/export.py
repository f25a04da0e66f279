"""The filing's spreadsheet attachments: the keyword list (附件：拦截关键词列表) and the test banks
(附件：评估测试题), as XLSX with Chinese headers (or CSV, UTF-8 with a BOM so Excel shows Chinese).

Every text cell is written as text and neutralised against formula injection as the sample sheets are
(``scanner.io.tables.neutralise_formula``: a leading ``= + - @``, tab or CR gets a ``'``), and the bank
workbook reads back with ``scanner bank audit`` (its sheet names name the banks, its headers are read).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from scanner.banks.bank import BANK_TITLES, BANKS, BankSet
from scanner.io.tables import neutralise_formula
from scanner.lexicon.load import Lexicon
from scanner.lexicon.taxonomy import ASPECTS, GROUP_NAMES, RISK_CODES, RISKS

EXPORT_FORMATS = ("xlsx", "csv")
LEXICON_HEADER = ("序号", "关键词", "风险类别", "风险编号", "语言", "级别")
QUESTION_HEADER = ("序号", "编号", "题目", "风险编号", "风险类别", "更新日期")
ASPECT_HEADER = ("序号", "编号", "题目", "方面", "更新日期")
BANK_CSV_HEADER = ("序号", "编号", "题库", "题目", "风险编号", "风险类别", "方面", "更新日期")
_SEVERITY_ZH = {"high": "高", "medium": "中", "low": "低"}


def _names(codes: list[str] | tuple[str, ...]) -> str:
    """Risk codes as their Chinese names, in taxonomy order, ``；``-separated."""
    return "；".join(RISKS[c].name_zh for c in sorted(codes, key=RISK_CODES.index))


def lexicon_rows(lexicon: Lexicon) -> list[list[Any]]:
    """One row per term (``LEXICON_HEADER``), in the lexicon's order (by written text)."""
    return [
        [number, term.text, _names(tuple(term.categories)), ";".join(sorted(term.categories, key=RISK_CODES.index)), ";".join(sorted(term.languages)), _SEVERITY_ZH.get(term.severity, term.severity)]
        for number, term in enumerate(lexicon.terms, start=1)
    ]


def _lexicon_info(lexicon: Lexicon, updated: str | None) -> list[list[Any]]:
    counts = lexicon.terms_by_category()
    rows: list[list[Any]] = [
        ["词库名称 name", lexicon.name],
        ["版本 version", lexicon.version],
        ["指纹 fingerprint (SHA-256)", lexicon.fingerprint],
        ["更新日期 updated", updated or ""],
        ["词条总数 terms", len(lexicon.terms)],
        ["共现规则 co-occurrence rules（未列出）", len(lexicon.rules)],
        ["放行语境 allow contexts（未列出）", len(lexicon.allow)],
        [],
        ["风险编号 code", "风险类别", "类别 group", "词条数 terms"],
    ]
    rows += [[code, RISKS[code].name_zh, GROUP_NAMES[RISKS[code].group][0], counts[code]] for code in RISK_CODES]
    return rows


def export_lexicon(lexicon: Lexicon, fmt: str, updated: str | None = None) -> bytes:
    """The keyword attachment: sheet 拦截关键词列表 (one row per term with its risk category names in
    Chinese) and sheet 说明 (name, version, fingerprint, update date, terms per risk); CSV: the terms only."""
    rows = lexicon_rows(lexicon)
    if fmt == "csv":
        return _csv(LEXICON_HEADER, rows)
    return _workbook([("拦截关键词列表", LEXICON_HEADER, rows, (8, 24, 40, 14, 8, 6)), ("说明", None, _lexicon_info(lexicon, updated), (34, 66, 24, 12))])


def bank_rows(banks: BankSet, bank: str) -> list[list[Any]]:
    """The valid rows of one bank in reading order (``QUESTION_HEADER``, or ``ASPECT_HEADER`` for non-refuse)."""
    rows: list[list[Any]] = []
    for number, q in enumerate(banks.of(bank), start=1):
        updated = q.updated.isoformat() if q.updated else ""
        if bank == "non-refuse":
            rows.append([number, q.id, q.text, ASPECTS[q.aspect].name_zh, updated])
        else:
            rows.append([number, q.id, q.text, ";".join(q.categories), _names(q.categories), updated])
    return rows


def export_banks(banks: BankSet, fmt: str) -> bytes:
    """The test-bank attachment: one sheet per bank held (named as the attachment names it:
    生成内容测试题库（A.1-A.5）, 应拒答测试题库, 非拒答测试题库); CSV: one table with a 题库 column."""
    held = [bank for bank in BANKS if banks.of(bank)]
    if fmt == "csv":
        rows = []
        for bank in held:
            for q in banks.of(bank):
                rows.append(
                    [len(rows) + 1, q.id, BANK_TITLES[bank][0], q.text, ";".join(q.categories), _names(q.categories), ASPECTS[q.aspect].name_zh if q.aspect else "", q.updated.isoformat() if q.updated else ""]
                )
        return _csv(BANK_CSV_HEADER, rows)
    sheets = [
        (BANK_TITLES[bank][0], ASPECT_HEADER if bank == "non-refuse" else QUESTION_HEADER, bank_rows(banks, bank), (8, 22, 70, 8, 12) if bank == "non-refuse" else (8, 22, 70, 12, 40, 12))
        for bank in held
    ]
    return _workbook(sheets)


def _cell(value: Any) -> Any:
    return neutralise_formula(value) if isinstance(value, str) else value


def _csv(header: tuple[str, ...], rows: list[list[Any]]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return "\ufeff".encode() + text.getvalue().encode()


def _workbook(sheets: list[tuple[str, tuple[str, ...] | None, list[list[Any]], tuple[int, ...]]]) -> bytes:
    """An XLSX of (title, header or None, rows, column widths) sheets: bold frozen header, text cells as
    text (never formulas), wrapped long text."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, header, rows, widths in sheets:
        sheet = workbook.create_sheet(title)
        if header:
            sheet.append(list(header))
            for cell in sheet[1]:
                cell.font = Font(bold=True)
            sheet.freeze_panes = "A2"
        for number, row in enumerate(rows, start=2 if header else 1):
            values = [_cell(v) for v in row]
            sheet.append(values)
            for column, value in enumerate(values, start=1):
                if isinstance(value, str):  # by position: sheet[sheet.max_row] rescans every cell (quadratic)
                    cell = sheet.cell(row=number, column=column)
                    cell.data_type = "s"
                    if len(value) > 40:
                        cell.alignment = Alignment(wrap_text=True, vertical="top")
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = width
    data = io.BytesIO()
    workbook.save(data)
    return data.getvalue()
