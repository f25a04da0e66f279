"""Small tables people fill in or hand over (annotated samples, label files, question banks): CSV,
XLSX, JSONL or Parquet read as rows of text cells, each row named as its user would find it.

CSV and XLSX rows are named as a spreadsheet shows them (the header is row 1), which a text with line
breaks makes differ from the file's line numbers; XLSX is read from its first sheet, or the one named
(``sheet_names`` lists them; rows of a named sheet are ``file: sheet S row N``); JSONL rows are ``file:line``; Parquet rows ``row N`` counting from 1. Cells that spreadsheet export protected against
formula injection (a ``'`` before ``= + - @``) read back as written.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from scanner.errors import ConfigError

TABLE_FORMATS = (".csv", ".xlsx", ".jsonl", ".parquet")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: str) -> str:
    """Make a cell inert in Excel/LibreOffice: a leading formula character gets a ``'`` prefix."""
    return "'" + value if value.startswith(FORMULA_START) else value


def unformula(value: str) -> str:
    """Undo ``neutralise_formula`` so values round-trip."""
    return value[1:] if value.startswith("'") and value[1:2] in FORMULA_START else value


def _blank(cells: dict[str, str]) -> bool:
    return not any(v.strip() for v in cells.values())


def _text(value: object) -> str:
    return "" if value is None else str(value)


def sheet_names(path: Path) -> list[str]:
    """The sheets of an XLSX workbook, in order (one name, ``""``, for the other formats)."""
    if path.suffix.lower() != ".xlsx":
        return [""]
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True)
    except (OSError, ValueError, KeyError) as e:
        msg = f"{path}: cannot read the workbook: {e}"
        raise ConfigError(msg) from e
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


def read_rows(path: Path, what: str = "table", sheet: str = "") -> list[tuple[str, dict[str, str]]]:
    """(row name for messages, cells) of every row that is not blank; ``what`` names the file in errors
    (``annotated sheet``, ``label file`` ...); ``sheet``: an XLSX sheet other than the first."""
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
                    rows.append((f"{path}:{number}", {k: _text(v) for k, v in value.items()}))
            return rows
        if suffix == ".csv":
            records = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
            header = [h.strip() for h in records[0]] if records else []
            rows = [(f"{path}: row {i}", dict(zip(header, r))) for i, r in enumerate(records[1:], start=2)]
            return [(where, cells) for where, cells in rows if not _blank(cells)]
        if suffix == ".xlsx":
            from openpyxl import load_workbook

            workbook = load_workbook(path, read_only=True, data_only=True)
            try:
                values = list((workbook[sheet] if sheet else workbook.worksheets[0]).iter_rows(values_only=True))
            finally:
                workbook.close()  # read-only workbooks keep the zip file open until closed
            header = [_text(h).strip() for h in values[0]] if values else []
            place = f"{path}: sheet {sheet!r} row" if sheet else f"{path}: row"
            rows = [(f"{place} {i}", {h: _text(v) for h, v in zip(header, row)}) for i, row in enumerate(values[1:], start=2)]
            return [(where, cells) for where, cells in rows if not _blank(cells)]
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            records = pq.read_table(path).to_pylist()
            rows = [(f"{path}: row {i}", {k: _text(v) for k, v in record.items()}) for i, record in enumerate(records, start=1)]
            return [(where, cells) for where, cells in rows if not _blank(cells)]
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as e:
        msg = f"{path}: cannot read the {what}: {e}"
        raise ConfigError(msg) from e
    msg = f"{path}: unsupported {what} format (use {', '.join(TABLE_FORMATS)})"
    raise ConfigError(msg)
