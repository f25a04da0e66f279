"""The filing form's corpus-scale table: storage size and tokens per source category and data type.

Rows follow the form (open-source domestic / foreign, self-collected, commercial, other); open-source
sources of unknown origin, synthetic, user-provided and unregistered sources fall under ``other`` so
that the foreign share is never inflated by a guess. Columns are ``scanner.datatype.DATA_TYPES``.
Cells come from the exact ``by_source[...]["data_types"]`` counters of the scan; tokens are exact
(counted on every document at scan time), estimated, or absent, as ``mode`` says.

Estimate: the token sample is the first ``SampleSpec.tokens`` (default 1,000) documents of the
order-free human sample, i.e. the documents with the smallest keyed hashes: a uniform sample, within
every source too. Their full-text tokens and bytes are counted at scan time. Per (source, data type)
cell the ratio estimator tokens/byte = sum(t)/sum(b) applies, with the usual linearised variance (no
finite-population correction: conservative). A cell with fewer than 2 sampled documents borrows the
ratio of all sampled documents of its data type (or of all of them). Cell
variances add up across sources (independent strata); intervals are estimate +/- 1.96 standard
errors.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scanner.datatype import DATA_TYPES
from scanner.i18n import label

ROWS = ("open-source-domestic", "open-source-foreign", "self-collected", "commercial", "other")
Z95 = 1.959963984540054
GB = 1e9


def filing_row(source_type: str, origin: str) -> str:
    """The form row of a source from its registered type and origin."""
    if source_type == "open-source":
        return {"domestic": "open-source-domestic", "foreign": "open-source-foreign"}.get(origin, "other")
    return source_type if source_type in ROWS else "other"


def _ratio(tokens: np.ndarray, nbytes: np.ndarray) -> tuple[float, float]:
    """Ratio estimate of tokens per byte and its variance (needs at least 2 samples)."""
    r = tokens.sum() / max(nbytes.sum(), 1)
    n = len(tokens)
    residual_var = float(((tokens - r * nbytes) ** 2).sum()) / (n - 1)
    return float(r), residual_var / (n * max(float(nbytes.mean()), 1e-9) ** 2)


def sample_ratios(candidates: pa.Table) -> dict[tuple[str, str], tuple[float, float, int]]:
    """Tokens-per-byte ratio, its variance and sample size per (source, data type) cell, with
    ``("*", dt)`` and ``("*", "*")`` pooled fallbacks; cells with fewer than 2 samples are left out.
    Uses the candidates' full-document ``doc_tokens``/``doc_bytes`` counted at scan time."""
    candidates = candidates.filter(pc.is_valid(candidates["doc_tokens"]))
    if candidates.num_rows < 2:
        return {}
    names = np.asarray(candidates["source"].to_pylist(), dtype=object)
    kinds = np.asarray(candidates["data_type"].to_pylist(), dtype=object)
    tokens = candidates["doc_tokens"].to_numpy().astype(np.float64)
    nbytes = candidates["doc_bytes"].to_numpy().astype(np.float64)
    groups: dict[tuple[str, str], np.ndarray] = {("*", "*"): np.ones(len(names), dtype=bool)}
    for dt in DATA_TYPES:
        groups[("*", dt)] = kinds == dt
    for name in set(names.tolist()):
        for dt in DATA_TYPES:
            groups[(name, dt)] = (names == name) & (kinds == dt)
    return {key: (*_ratio(tokens[m], nbytes[m]), int(m.sum())) for key, m in groups.items() if m.sum() >= 2}


def build_filing_table(
    by_source: dict[str, dict[str, Any]],
    data_type_counts: dict[str, dict[str, dict[str, int]]],
    mode: str,
    tokenizer: str,
    ratios: dict[tuple[str, str], tuple[float, float, int]] | None = None,
) -> dict[str, Any]:
    """``report.json``'s ``filing_table``: per row and data type {documents, bytes, gb, tokens,
    tokens_interval_95}; totals per row, per data type and overall; shares of bytes per row."""
    cells = {row: {dt: {"documents": 0, "bytes": 0, "tokens": 0.0, "var": 0.0} for dt in DATA_TYPES} for row in ROWS}
    for name, s in by_source.items():
        row = filing_row(s["type"], s["origin"])
        for dt, c in data_type_counts.get(name, {}).items():
            cell = cells[row][dt]
            cell["documents"] += c["documents"]
            cell["bytes"] += c["bytes"]
            if mode == "exact":
                cell["tokens"] += c.get("tokens", 0)
            elif mode == "estimate" and ratios:
                r, var, _ = ratios.get((name, dt)) or ratios.get(("*", dt)) or ratios[("*", "*")]
                cell["tokens"] += r * c["bytes"]
                cell["var"] += var * c["bytes"] ** 2

    def finish(parts: list[dict[str, Any]]) -> dict[str, Any]:
        nbytes = sum(p["bytes"] for p in parts)
        out = {"documents": sum(p["documents"] for p in parts), "bytes": nbytes, "gb": round(nbytes / GB, 6)}
        tokens = sum(p["tokens"] for p in parts)
        if mode == "exact":
            out["tokens"] = int(tokens)
        elif mode == "estimate" and ratios:
            half = Z95 * math.sqrt(sum(p["var"] for p in parts))
            out["tokens"] = round(tokens)
            out["tokens_interval_95"] = [max(0, math.floor(tokens - half)), math.ceil(tokens + half)]
        else:
            out["tokens"] = None
        return out

    flat = [c for row in ROWS for c in cells[row].values()]
    table_rows = {row: {dt: finish([cells[row][dt]]) for dt in DATA_TYPES} for row in ROWS}
    total = finish(flat)
    row_totals = {row: finish(list(cells[row].values())) for row in ROWS}
    return {
        "mode": mode if mode != "estimate" or ratios else "off",
        "tokenizer": tokenizer if mode != "off" else None,
        "data_types": list(DATA_TYPES),
        "rows": table_rows,
        "row_totals": row_totals,
        "data_type_totals": {dt: finish([cells[row][dt] for row in ROWS]) for dt in DATA_TYPES},
        "totals": total,
        "shares": {row: (row_totals[row]["bytes"] / total["bytes"] if total["bytes"] else 0.0) for row in ROWS},
        "estimate_samples": sum(v[2] for k, v in (ratios or {}).items() if k[0] != "*") if mode == "estimate" else None,
    }


def _tokens_text(cell: dict[str, Any]) -> str:
    if cell["tokens"] is None:
        return "-"
    interval = cell.get("tokens_interval_95")
    return f"{cell['tokens']}" + (f" [{interval[0]}, {interval[1]}]" if interval else "")


def filing_rows(filing: dict[str, Any], lang: str) -> list[list[str]]:
    """The table as it is pasted into the form: a header, one line per row, a total line; each data
    type contributes bytes, GB and tokens (with the 95 % interval in estimate mode). Shared by
    report.md, report.html and the CSV/XLSX export."""
    kinds = filing["data_types"]
    header = [label("filing_row", lang)]
    for dt in [*kinds, "total"]:
        name = label(f"dt-{dt}", lang)
        header += [f"{name} {label('bytes', lang)}", f"{name} GB", f"{name} {label('tokens', lang)}"]
    header.append(label("share", lang))

    def line(name: str, cells: list[dict[str, Any]], share: float) -> list[str]:
        out = [name]
        for cell in cells:
            out += [str(cell["bytes"]), f"{cell['gb']:.6f}", _tokens_text(cell)]
        return [*out, f"{100 * share:.2f}%"]

    rows = [header]
    for row in ROWS:
        rows.append(line(label(f"row-{row}", lang), [*(filing["rows"][row][dt] for dt in kinds), filing["row_totals"][row]], filing["shares"][row]))
    rows.append(line(label("total", lang), [*(filing["data_type_totals"][dt] for dt in kinds), filing["totals"]], 1.0 if filing["totals"]["bytes"] else 0.0))
    return rows


def method_note(filing: dict[str, Any], lang: str) -> str:
    """One sentence stating how the token column was produced."""
    return label(f"tokens-mode-{filing['mode']}", lang).format(tokenizer=filing["tokenizer"], samples=filing.get("estimate_samples"))


def filing_table_bytes(filing: dict[str, Any], fmt: str, lang: str) -> bytes:
    """The table as a CSV (UTF-8 with BOM, so Excel reads the Chinese labels) or an XLSX file,
    with the method sentence under it."""
    rows = [*filing_rows(filing, lang), [], [method_note(filing, lang)]]
    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer).writerows(rows)
        return ("\ufeff" + buffer.getvalue()).encode()
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "corpus-scale"
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
