"""Annotator sheets for the human spot check: export the sample, import the verdicts.

Export columns: doc_id, source, language, text (truncated), terms, categories, verdict (empty),
category (empty). Cells that a spreadsheet would read as a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return) are prefixed with ``'`` (OWASP CSV-injection advice).
``mask_pii`` replaces mobile numbers, ID-card numbers, e-mail addresses and bank-card numbers.

Import accepts ``pass``/``fail`` and ``合格``/``不合格`` (case and surrounding space ignored); an
unknown id, a missing or bad verdict, an unknown category or a duplicate id is an error naming the row.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from scanner.detect.pii import mask_pii
from scanner.errors import ConfigError
from scanner.lexicon.taxonomy import RISKS

FORMATS = ("csv", "xlsx", "jsonl")
COLUMNS = ("doc_id", "source", "language", "text", "terms", "categories", "verdict", "category")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_VERDICTS = {"pass": "pass", "fail": "fail", "合格": "pass", "不合格": "fail"}


def neutralise_formula(value: str) -> str:
    """Make a cell inert in Excel/LibreOffice: a leading formula character gets a ``'`` prefix."""
    return "'" + value if value.startswith(_FORMULA_START) else value


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


def write_sheet(rows: list[dict[str, str]], fmt: str) -> bytes:
    """The sheet's bytes as csv (UTF-8 with BOM so Excel reads Chinese), xlsx or jsonl."""
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    safe = [[neutralise_formula(str(r[c])) for c in COLUMNS] for r in rows]
    if fmt == "csv":
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        writer.writerows(safe)
        return "\ufeff".encode() + text.getvalue().encode()
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "human_sample"
    sheet.append(list(COLUMNS))
    for row in safe:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            cell.data_type = "s"
    data = io.BytesIO()
    workbook.save(data)
    return data.getvalue()


def _read_rows(path: Path) -> list[tuple[str, dict[str, str]]]:
    """(row label for messages, cells) of every data row."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            rows = []
            for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
                if line.strip():
                    value = json.loads(line)
                    if not isinstance(value, dict):
                        msg = f"{path}:{number}: expected a JSON object"
                        raise ConfigError(msg)
                    rows.append((f"{path}:{number}", {k: "" if v is None else str(v) for k, v in value.items()}))
            return rows
        if suffix == ".csv":
            reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""))
            return [(f"{path}:{reader.line_num}", {k: v or "" for k, v in row.items() if k}) for row in reader]
        if suffix == ".xlsx":
            from openpyxl import load_workbook

            workbook = load_workbook(path, read_only=True, data_only=True)
            try:
                values = list(workbook.active.iter_rows(values_only=True))
            finally:
                workbook.close()  # read-only workbooks keep the zip file open until closed
            header = [str(h or "").strip() for h in values[0]] if values else []
            return [(f"{path}: row {i}", {h: "" if v is None else str(v) for h, v in zip(header, row)}) for i, row in enumerate(values[1:], start=2)]
    except (OSError, UnicodeDecodeError, ValueError) as e:
        msg = f"{path}: cannot read the annotated sheet: {e}"
        raise ConfigError(msg) from e
    msg = f"{path}: unsupported sheet format (use .csv, .xlsx or .jsonl)"
    raise ConfigError(msg)


def _unformula(value: str) -> str:
    """Undo the export's ``'`` prefix so ids round-trip."""
    return value[1:] if value.startswith("'") and value[1:2] in _FORMULA_START else value


def read_verdicts(path: Path, sample_ids: set[str]) -> list[dict[str, str]]:
    """Validated labels from an annotated sheet; any bad row is a ConfigError naming it."""
    rows = _read_rows(path)
    if not rows:
        msg = f"{path}: the sheet has no rows"
        raise ConfigError(msg)
    labels, seen = [], set()
    for where, cells in rows:
        doc_id = _unformula(cells.get("doc_id", "").strip())
        if not doc_id:
            msg = f"{where}: empty doc_id"
            raise ConfigError(msg)
        if doc_id not in sample_ids:
            msg = f"{where}: doc_id {doc_id!r} is not in the human sample of this output folder"
            raise ConfigError(msg)
        if doc_id in seen:
            msg = f"{where}: doc_id {doc_id!r} appears twice"
            raise ConfigError(msg)
        seen.add(doc_id)
        raw = cells.get("verdict", "").strip()
        if not raw:
            msg = f"{where}: missing verdict for {doc_id!r} (expected pass/fail or 合格/不合格)"
            raise ConfigError(msg)
        verdict = _VERDICTS.get(raw.lower())
        if verdict is None:
            msg = f"{where}: bad verdict {raw!r} for {doc_id!r} (expected pass/fail or 合格/不合格)"
            raise ConfigError(msg)
        category = cells.get("category", "").strip()
        if category and category not in RISKS:
            msg = f"{where}: unknown category {category!r} (expected a risk code such as A1.6)"
            raise ConfigError(msg)
        labels.append({"doc_id": doc_id, "verdict": verdict, "category": category})
    return labels


def labels_document(labels: list[dict[str, str]], source_file: Path) -> dict[str, Any]:
    return {"file": str(source_file), "imported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "labels": labels}
