"""Labels as people write them: one spelling table and one reader for label files (``scanner evaluate``,
``scanner classifier train``, ``scanner lexicon tune``), so every command reads ``fail``, ``1`` and
``不合格`` the same way and names a bad row the same way."""

from __future__ import annotations

from pathlib import Path

from scanner.errors import ConfigError
from scanner.io.tables import read_rows
from scanner.lexicon.taxonomy import RISKS

LABEL_VALUES = {
    "fail": True, "unsafe": True, "1": True, "不合格": True, "不通过": True,
    "pass": False, "safe": False, "0": False, "合格": False, "通过": False,
}  # fmt: skip
"""Label cell (lower-cased, trimmed) -> unsafe."""
LABEL_COLUMNS = ("label", "verdict")
EXPECTED = "pass/fail, 0/1, safe/unsafe, 合格/不合格 or 通过/不通过"


def parse_label(cell: str, where: str) -> bool:
    """True for an unsafe label, False for a safe one; anything else is a ConfigError naming ``where``."""
    value = cell.strip().lower()
    if value not in LABEL_VALUES:
        msg = f"{where}: bad label {cell!r} (expected {EXPECTED})"
        raise ConfigError(msg)
    return LABEL_VALUES[value]


def label_column(header: dict[str, str], where: str) -> str:
    """The column holding labels (``label``, else ``verdict``); a ConfigError naming the columns found."""
    column = next((c for c in LABEL_COLUMNS if c in header), None)
    if column is None:
        msg = f"{where}: no label column (expected {' or '.join(LABEL_COLUMNS)}); columns found: {', '.join(header)}"
        raise ConfigError(msg)
    return column


def read_label_rows(path: Path, key: str, needed: str) -> tuple[list[tuple[str, dict[str, str]]], str]:
    """The rows of a label table (CSV, XLSX, JSONL, Parquet; ``scanner.io.tables``) whose header has ``key``
    (``doc_id`` or ``text``) and a label column, with that column's name. ``needed`` says what the table is
    for in the error (``a label file needs the columns doc_id and label``); an empty table, a missing
    column or no label column is a ConfigError naming the file and the columns found."""
    rows = read_rows(Path(path), "label file")
    if not rows:
        msg = f"{path}: the label file has no rows"
        raise ConfigError(msg)
    header = rows[0][1]
    if key not in header:
        msg = f"{path}: {needed}; columns found: {', '.join(header)}"
        raise ConfigError(msg)
    return rows, label_column(header, f"{path}: {needed}")


def parse_category(cells: dict[str, str], where: str) -> str:
    """The row's optional ``category``: empty, or a risk code (a ConfigError naming ``where`` otherwise)."""
    category = cells.get("category", "").strip()
    if category and category not in RISKS:
        msg = f"{where}: unknown category {category!r} (expected a risk code such as A1.6)"
        raise ConfigError(msg)
    return category
