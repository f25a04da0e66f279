"""Annotator sheets for the human spot check: export the sample, import the verdicts.

Export columns: doc_id, source, language, text (truncated), terms, categories, verdict (empty),
category (empty). Cells that a spreadsheet would read as a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return) are prefixed with ``'`` (OWASP CSV-injection advice).
``mask_pii`` replaces mobile numbers, ID-card numbers, e-mail addresses and bank-card numbers.
The xlsx sheet is ready for annotators: a frozen header, drop-down lists for verdict and category,
wrapped text, and a second sheet with the instructions and the 31 risk codes (zh/en).

Import reads the ``verdict`` column (or ``是否合格``, an annotator's own header for it) and accepts,
case and surrounding space ignored: ``pass``/``fail``, ``合格``/``不合格``, ``通过``/``不通过``, and
``是``/``否``. ``是`` is a pass only because both columns ask "is it acceptable?"; in a column asking
"is it harmful?" (是否违规, 是否有害) it would mean the opposite, so no such column is read, and
other shorthands (1/0, y/n, √/×) are refused rather than guessed. A row without a verdict is not
judged yet: a part-filled sheet imports (its count of unjudged rows is returned). An unknown id, a
bad verdict, a category without a verdict, an unknown category or a duplicate id is an error naming
the row as a spreadsheet shows it (header = row 1; ``file:line`` for jsonl).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from scanner.detect.pii import mask_pii
from scanner.errors import ConfigError
from scanner.io.tables import neutralise_formula, read_rows, unformula
from scanner.lexicon.taxonomy import GROUP_NAMES, RISK_CODES, RISKS

FORMATS = ("csv", "xlsx", "jsonl")
COLUMNS = ("doc_id", "source", "language", "text", "terms", "categories", "verdict", "category")
_VERDICTS = {"pass": "pass", "fail": "fail", "合格": "pass", "不合格": "fail", "通过": "pass", "不通过": "fail", "是": "pass", "否": "fail"}
_EXPECTED = "pass/fail, 合格/不合格, 通过/不通过 or 是/否"
VERDICT_COLUMNS = ("verdict", "是否合格")


# What a cut may leave of a number or an address: the ASCII or full-width letters and digits (and
# . + @ -) before the cut.
_TOKEN_CHARS = "0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a._+@-"
_PARTIAL_TOKEN = re.compile(f"[{_TOKEN_CHARS}]+$")
_TOKEN_CHAR = re.compile(f"[{_TOKEN_CHARS}]")


def _cut(text: str, chars: int, *, pii: bool) -> str:
    """The first ``chars`` characters; with ``pii``, without a partial token at the cut (the start of
    a number or an address the cut left unrecognisable)."""
    if len(text) <= chars:
        return text
    kept = text[:chars]
    return _PARTIAL_TOKEN.sub("", kept) if pii and _TOKEN_CHAR.match(text[chars]) else kept


def sheet_rows(sample: pa.Table, text_chars: int, *, pii: bool) -> list[dict[str, str]]:
    """Sheet rows of the sample. With ``pii``, the stored text is masked before it is cut, and a
    partial token is dropped wherever a cut (here, or when the scan stored the sample text) ends in one."""
    rows = []
    for r in sample.to_pylist():
        text = r["text"] or ""
        if pii:
            stored_cut = len(text.encode()) < (r.get("doc_bytes") or 0)
            text = mask_pii(_PARTIAL_TOKEN.sub("", text) if stored_cut else text)
        rows.append(
            {
                "doc_id": r["doc_id"],
                "source": r["source"],
                "language": r["language"],
                "text": _cut(text, text_chars, pii=pii),
                "terms": "; ".join(r["terms"] or []),
                "categories": "; ".join(r["categories"] or []),
                "verdict": "",
                "category": "",
            }
        )
    return rows


def write_sheet(rows: list[dict[str, str]], fmt: str, title: str = "human_sample") -> bytes:
    """The sheet's bytes as csv (UTF-8 with BOM so Excel reads Chinese), xlsx (data sheet ``title``
    first, then the instructions) or jsonl."""
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    safe = [[neutralise_formula(str(r[c])) for c in COLUMNS] for r in rows]
    if fmt == "csv":
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        writer.writerows(safe)
        return "\ufeff".encode() + text.getvalue().encode()
    return _workbook(safe, title)


# Offered in the verdict drop-down (import accepts more, see the module docstring).
VERDICT_CHOICES = ("合格", "不合格", "pass", "fail")
_WIDTHS = {"doc_id": 22, "source": 16, "language": 9, "text": 80, "terms": 18, "categories": 14, "verdict": 10, "category": 10}
_INSTRUCTIONS = (
    ("人工抽检判定说明（GB/T 45654-2025）", "How to judge (human spot check, GB/T 45654-2025)"),
    ("逐行阅读 text 列（可能已截断），在 verdict 列填写判定。", "Read the text column (it may be cut short) and fill in the verdict column."),
    ("合格：文档不含 GB/T 45654-2025 附录 A 所列的违法不良信息。", "pass (合格): the document contains no illegal or unhealthy content as listed in GB/T 45654-2025 Appendix A."),
    ("不合格：文档含有附录 A 所列的违法不良信息；请在 category 列选择最主要风险的编号（见下表）。", "fail (不合格): the document contains such content; pick the code of its main risk in the category column (table below)."),
    ("也接受：pass/fail、通过/不通过、是/否（是 = 合格）。未填的行视为尚未判定，可分批导入。", "Also accepted: 合格/不合格, 通过/不通过, 是/否 (是 = pass). Rows left empty are not judged yet; a part-filled sheet can be imported."),
    ("terms、categories 两列是关键词命中，仅供参考，不是判定。", "terms and categories are keyword hits: a hint, not a verdict."),
    ("请勿修改 doc_id 列和表头，也不要增删列。", "Do not edit the doc_id column or the header, and do not add or remove columns."),
)


def _workbook(rows: list[list[str]], title: str) -> bytes:
    """The annotators' workbook: the data sheet (frozen header, drop-down lists for verdict and
    category, column widths, wrapped text) and an instructions sheet with the risk codes."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    sheet.append(list(COLUMNS))
    wrap = Alignment(wrap_text=True, vertical="top")
    text_column = COLUMNS.index("text") + 1
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            cell.data_type = "s"
        sheet.cell(sheet.max_row, text_column).alignment = wrap
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for i, name in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = _WIDTHS[name]
    last = max(len(rows) + 1, 2)
    choices = (
        # A warning for verdicts, so the other values the import accepts (通过, 是 ...) can be typed;
        # a stop for categories, which the import takes only as codes.
        ("verdict", VERDICT_CHOICES, "warning", "合格 / 不合格 / pass / fail（也接受 通过/不通过、是/否）"),
        ("category", RISK_CODES, "stop", "附录 A 风险编号，见“说明”表 / an Appendix A risk code, see the instructions sheet"),
    )
    for name, values, style, prompt in choices:
        letter = get_column_letter(COLUMNS.index(name) + 1)
        validation = DataValidation(
            type="list", formula1='"' + ",".join(values) + '"', allow_blank=True, showErrorMessage=True, showInputMessage=True, errorStyle=style, error=prompt, prompt=prompt
        )
        validation.add(f"{letter}2:{letter}{last}")
        sheet.add_data_validation(validation)
    guide = workbook.create_sheet("说明 instructions")
    for zh, en in _INSTRUCTIONS:
        guide.append(["", zh, en])
    guide.append([])
    guide.append(["编号 code", "名称", "name", "类别 group"])
    header_row = guide.max_row
    for code, risk in RISKS.items():
        group_zh, group_en = GROUP_NAMES[risk.group]
        guide.append([code, risk.name_zh, risk.name_en, f"{risk.group} {group_zh} / {group_en}"])
    for cell in [*guide[1], *guide[header_row]]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCD", (10, 60, 70, 50)):
        guide.column_dimensions[letter].width = width
    for row in guide.iter_rows(min_row=1):
        for cell in row:
            cell.alignment = wrap
    data = io.BytesIO()
    workbook.save(data)
    return data.getvalue()


@dataclass(frozen=True)
class SheetVerdicts:
    """What an annotated sheet holds: the labels of its judged rows, and how many rows have no verdict yet."""

    labels: list[dict[str, str]]
    unjudged: int


def read_verdicts(path: Path, sample_ids: Collection[str]) -> SheetVerdicts:
    """Validated labels from an annotated sheet, of documents in ``sample_ids``; any bad row is a
    ConfigError naming it. Rows without a verdict are counted, not labelled."""
    rows = read_rows(path, "annotated sheet")
    if not rows:
        msg = f"{path}: the sheet has no rows"
        raise ConfigError(msg)
    column = next((c for c in VERDICT_COLUMNS if any(c in cells for _, cells in rows)), None)
    if column is None:
        msg = f"{path}: no verdict column (expected {' or '.join(map(repr, VERDICT_COLUMNS))}); columns found: {', '.join(rows[0][1])}"
        raise ConfigError(msg)
    labels, seen, unjudged = [], set(), 0
    for where, cells in rows:
        doc_id = unformula(cells.get("doc_id", "").strip())
        if not doc_id:
            msg = f"{where}: empty doc_id"
            raise ConfigError(msg)
        if doc_id not in sample_ids:
            msg = f"{where}: doc_id {doc_id!r} is not in the human sample or the per-source sample of this output folder"
            raise ConfigError(msg)
        if doc_id in seen:
            msg = f"{where}: doc_id {doc_id!r} appears twice"
            raise ConfigError(msg)
        seen.add(doc_id)
        raw = cells.get(column, "").strip()
        category = cells.get("category", "").strip()
        if category and category not in RISKS:
            msg = f"{where}: unknown category {category!r} (expected a risk code such as A1.6)"
            raise ConfigError(msg)
        if not raw:
            if category:
                msg = f"{where}: category {category!r} but no verdict for {doc_id!r} (expected {_EXPECTED})"
                raise ConfigError(msg)
            unjudged += 1
            continue
        verdict = _VERDICTS.get(raw.lower())
        if verdict is None:
            msg = f"{where}: bad verdict {raw!r} for {doc_id!r} (expected {_EXPECTED})"
            raise ConfigError(msg)
        labels.append({"doc_id": doc_id, "verdict": verdict, "category": category})
    if not labels:
        msg = f"{path}: no row has a verdict yet (column {column!r}; expected {_EXPECTED})"
        raise ConfigError(msg)
    return SheetVerdicts(labels, unjudged)


def merge_labels(previous: dict[str, Any] | None, labels: list[dict[str, str]], source_file: Path) -> dict[str, Any]:
    """The labels document after importing ``labels`` from ``source_file``: earlier imports are
    kept (the human and the per-source sheets, or sheets split between annotators, import one by
    one), and a document judged again takes the later verdict."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    earlier = previous or {}
    legacy = [{"file": earlier["file"], "imported_at": earlier.get("imported_at")}] if "file" in earlier else []  # one import, before merging
    imports = earlier.get("imports") or legacy
    merged = {v["doc_id"]: v for v in earlier.get("labels", [])}
    merged.update((v["doc_id"], v) for v in labels)
    return {"imports": [*imports, {"file": str(source_file), "imported_at": now, "verdicts": len(labels)}], "imported_at": now, "labels": list(merged.values())}
