"""Labels as people write them: one spelling table for label files (``scanner evaluate``, ``scanner
classifier train``), so every command reads ``fail``, ``1`` and ``不合格`` the same way."""

from __future__ import annotations

from scanner.errors import ConfigError

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
