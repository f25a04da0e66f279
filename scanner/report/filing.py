"""The filing form's corpus-scale table: storage size and tokens per source category and data type.

Rows follow the form (open-source domestic / foreign, self-collected, commercial, other); open-source
sources of unknown origin, synthetic, user-provided and unregistered sources fall under ``other`` so
that the foreign share is never inflated by a guess. Columns are ``scanner.detect.datatype.DATA_TYPES``.
Cells come from the exact ``by_source[...]["data_types"]`` counters of the scan; tokens are exact
(counted on every document at scan time), estimated, or absent, as ``mode`` says.

Estimate: the token sample is the first ``SampleSpec.tokens`` (default 1,000) documents of the
order-free human sample, i.e. the documents with the smallest keyed hashes: a uniform sample, within
every source too. Their full-text tokens and bytes are counted at scan time (``estimate_samples``
says how many). Per (source, data type) cell:

- every document with text was tokenized (the sampled bytes equal the cell's bytes; empty documents
  are never sampled and hold no tokens): the exact sampled total, with a zero-width interval;
- at least 2 tokenized documents: the ratio estimator tokens/byte = sum(t)/sum(b) times the cell's
  bytes, with the usual linearised variance (no finite-population correction: conservative) and a
  Student-t quantile with n - 1 degrees of freedom (a normal one is too narrow for small n);
- fewer than 2: the ratio of all tokenized documents of its data type (of all of them when fewer
  than 2 of that type were tokenized), and an interval from the lowest to the highest tokens per byte
  of any single tokenized document, times the cell's bytes. A cell's ratio is a byte-weighted mean of
  its documents' ratios, so it lies between them; for a cell of one document, the range of n uniform
  sampled documents is a distribution-free prediction interval of coverage (n - 1)/(n + 1) (99.8 %
  at the default 1,000; 95 % from 39). The range spans every data type, as a data type does not
  make cells alike: in 200 uniform draws of 1,000 of 6,800 ../shared documents, a cell of two
  English tweets that language ID called Chinese (0.394 tokens/byte) fell outside the interval in
  198 draws with the pooled ratio's own variance (the former rule), 164 with the hull of the Chinese
  cells' intervals, 65 with the range of Chinese documents and 0 with this one; over all non-empty
  cells, misses fell from 25.6 % to 3.2 %.
- fewer than 2 tokenized documents in all: no estimate; such cells and every total holding them
  get null tokens and ``tokens_unavailable: "too_few_tokenized_documents"`` says why.

Sums of cells (rows, data types, totals): sampling errors of cells are independent, so their
squared half-widths add; the widenings of cells without a ratio of their own add up in full
(conservative: they share a pooled ratio, so their errors may all point one way).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scanner.detect.datatype import DATA_TYPES
from scanner.detect.tokens import token_mode
from scanner.report.i18n import label

ROWS = ("open-source-domestic", "open-source-foreign", "self-collected", "commercial", "other")
Z95 = 1.959963984540054
GB = 1e9


def filing_row(source_type: str, origin: str) -> str:
    """The form row of a source from its registered type and origin."""
    if source_type == "open-source":
        return {"domestic": "open-source-domestic", "foreign": "open-source-foreign"}.get(origin, "other")
    return source_type if source_type in ROWS else "other"


@dataclass(frozen=True)
class Ratio:
    """Tokens per byte of the tokenized documents of a group: a (source, data type) cell, all
    documents of a data type (``("*", dt)``) or all of them (``("*", "*")``)."""

    documents: int
    tokens: int
    bytes: int
    value: float
    half_width: float | None  # of the 95 % interval of ``value``; None below 2 documents
    lowest: float  # lowest and highest tokens per byte of a single document
    highest: float


def _t95(df: int) -> float:
    """The 97.5 % quantile of Student's t: exact for 1 and 2 degrees of freedom, else the
    Cornish-Fisher expansion to 1/df^4 (Abramowitz & Stegun 26.7.5; 3.1786 for the exact 3.1824 at
    df 3, off by < 0.001 from df 4). numpy has no t distribution and scipy is no dependency."""
    if df == 1:
        return math.tan(0.475 * math.pi)
    if df == 2:
        return 0.95 / math.sqrt(2 * 0.975 * 0.025)
    z = Z95
    terms = (
        (z**3 + z) / 4,
        (5 * z**5 + 16 * z**3 + 3 * z) / 96,
        (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384,
        (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160,
    )
    return z + sum(term / df ** (power + 1) for power, term in enumerate(terms))


def _ratio(tokens: np.ndarray, nbytes: np.ndarray) -> Ratio:
    """Ratio estimate of tokens per byte, with the half-width of its 95 % interval from the
    linearised variance and a t quantile (n - 1 degrees of freedom: a normal one is too narrow for
    the few documents small cells have)."""
    n = len(tokens)
    value = float(tokens.sum() / max(nbytes.sum(), 1))
    half_width = None
    if n >= 2:
        residual_var = float(((tokens - value * nbytes) ** 2).sum()) / (n - 1)
        half_width = _t95(n - 1) * math.sqrt(residual_var / (n * max(float(nbytes.mean()), 1e-9) ** 2))
    per_document = tokens / np.maximum(nbytes, 1)
    return Ratio(n, int(tokens.sum()), int(nbytes.sum()), value, half_width, float(per_document.min()), float(per_document.max()))


def sample_ratios(candidates: pa.Table) -> dict[tuple[str, str], Ratio]:
    """Tokens per byte per (source, data type) cell, with ``("*", dt)`` and ``("*", "*")`` pooled
    groups; groups without tokenized documents are left out. Uses the candidates' full-document
    ``doc_tokens``/``doc_bytes`` counted at scan time."""
    candidates = candidates.filter(pc.is_valid(candidates["doc_tokens"]))
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
    return {key: _ratio(tokens[m], nbytes[m]) for key, m in groups.items() if m.any()}


def _cell_estimate(ratios: dict[tuple[str, str], Ratio], name: str, dt: str, nbytes: int) -> tuple[float, float, float, float] | None:
    """Tokens of the (``name``, ``dt``) cell of ``nbytes`` bytes as (estimate, squared half-width
    of a sampling interval, widening below, widening above); None when no ratio applies."""
    own = ratios.get((name, dt))
    if nbytes == (own.bytes if own else 0):  # every document with text was tokenized (empty ones hold no tokens)
        return float(own.tokens if own else 0), 0.0, 0.0, 0.0
    if own and own.half_width is not None:
        return own.value * nbytes, (own.half_width * nbytes) ** 2, 0.0, 0.0
    pooled = next((r for key in (("*", dt), ("*", "*")) if (r := ratios.get(key)) and r.documents >= 2), None)
    if pooled is None:
        return None
    every = ratios[("*", "*")]  # a cell's ratio lies between its documents' ratios; bound those by the sample's
    return pooled.value * nbytes, 0.0, (pooled.value - every.lowest) * nbytes, (every.highest - pooled.value) * nbytes


def build_filing_table(
    by_source: dict[str, dict[str, Any]],
    data_type_counts: dict[str, dict[str, dict[str, int]]],
    mode_name: str,
    tokenizer: str,
    ratios: dict[tuple[str, str], Ratio] | None = None,
) -> dict[str, Any]:
    """``report.json``'s ``filing_table``: per row and data type {documents, bytes, gb, tokens,
    tokens_interval_95}; totals per row, per data type and overall; shares of bytes per row.
    ``mode_name``: the scan's token mode (``scanner.detect.tokens.TOKEN_MODES``)."""
    mode = token_mode(mode_name)
    ratios = ratios or {}
    cells = {row: {dt: {"documents": 0, "bytes": 0, "tokens": 0.0, "sampling": 0.0, "below": 0.0, "above": 0.0, "unknown": False} for dt in DATA_TYPES} for row in ROWS}
    for name, s in by_source.items():
        row = filing_row(s["type"], s["origin"])
        for dt, c in data_type_counts.get(name, {}).items():
            cell = cells[row][dt]
            cell["documents"] += c["documents"]
            cell["bytes"] += c["bytes"]
            if mode.every_document:
                cell["tokens"] += c.get("tokens", 0)
            elif mode.sample:
                estimate = _cell_estimate(ratios, name, dt, c["bytes"])
                if estimate is None:
                    cell["unknown"] = True
                    continue
                for key, value in zip(("tokens", "sampling", "below", "above"), estimate):
                    cell[key] += value

    def finish(parts: list[dict[str, Any]]) -> dict[str, Any]:
        nbytes = sum(p["bytes"] for p in parts)
        out = {"documents": sum(p["documents"] for p in parts), "bytes": nbytes, "gb": round(nbytes / GB, 6)}
        tokens = sum(p["tokens"] for p in parts)
        if mode.every_document:
            out["tokens"] = int(tokens)
        elif mode.sample and not any(p["unknown"] for p in parts):
            # Sampling errors of cells are independent (their squared half-widths add); the widening
            # of cells without a ratio of their own adds up in full, as they share a pooled ratio.
            sampling = math.sqrt(sum(p["sampling"] for p in parts))
            low = tokens - sampling - sum(p["below"] for p in parts)
            high = tokens + sampling + sum(p["above"] for p in parts)
            out["tokens"] = round(tokens)
            out["tokens_interval_95"] = [max(0, math.floor(low)), math.ceil(high)]
        else:
            out["tokens"] = None
        return out

    flat = [c for row in ROWS for c in cells[row].values()]
    table_rows = {row: {dt: finish([cells[row][dt]]) for dt in DATA_TYPES} for row in ROWS}
    total = finish(flat)
    row_totals = {row: finish(list(cells[row].values())) for row in ROWS}
    estimating = mode.sample
    tokenized = ratios[("*", "*")].documents if ("*", "*") in ratios else 0
    return {
        "mode": mode.name,
        "tokenizer": tokenizer if mode.counts else None,
        "data_types": list(DATA_TYPES),
        "rows": table_rows,
        "row_totals": row_totals,
        "data_type_totals": {dt: finish([cells[row][dt] for row in ROWS]) for dt in DATA_TYPES},
        "totals": total,
        "shares": {row: (row_totals[row]["bytes"] / total["bytes"] if total["bytes"] else 0.0) for row in ROWS},
        "estimate_samples": tokenized if estimating else None,
        "tokens_unavailable": "too_few_tokenized_documents" if estimating and total["tokens"] is None else None,
    }


def _interval_text(cell: dict[str, Any]) -> str:
    interval = cell.get("tokens_interval_95")
    return f"[{interval[0]}, {interval[1]}]" if interval else ""


def _tokens_text(cell: dict[str, Any]) -> str:
    if cell["tokens"] is None:
        return "-"
    interval = _interval_text(cell)
    return f"{cell['tokens']} {interval}" if interval else str(cell["tokens"])


def filing_rows(filing: dict[str, Any], lang: str, *, numeric: bool = False) -> list[list[Any]]:
    """The table as it is pasted into the form: a header, one line per row, a total line; each data
    type contributes bytes, GB and tokens (with the 95 % interval in estimate mode). Shared by
    report.md, report.html and the CSV/XLSX export. As text, except with ``numeric`` (the XLSX
    export): bytes, GB, tokens and the share (a fraction) stay numbers that a spreadsheet can add up,
    so the interval gets a column of its own."""
    kinds = filing["data_types"]
    interval_column = numeric and token_mode(filing["mode"]).sample
    header = [label("filing_row", lang)]
    for dt in [*kinds, "total"]:
        name = label(f"dt-{dt}", lang)
        header += [f"{name} {label('bytes', lang)}", f"{name} GB", f"{name} {label('tokens', lang)}"]
        header += [f"{name} {label('interval', lang)}"] if interval_column else []
    header.append(label("share", lang))

    def line(name: str, cells: list[dict[str, Any]], share: float) -> list[Any]:
        out: list[Any] = [name]
        for cell in cells:
            if numeric:
                out += [cell["bytes"], cell["gb"], cell["tokens"]]
                out += [_interval_text(cell)] if interval_column else []
            else:
                out += [str(cell["bytes"]), f"{cell['gb']:.6f}", _tokens_text(cell)]
        return [*out, share if numeric else f"{100 * share:.2f}%"]

    rows = [header]
    for row in ROWS:
        rows.append(line(label(f"row-{row}", lang), [*(filing["rows"][row][dt] for dt in kinds), filing["row_totals"][row]], filing["shares"][row]))
    rows.append(line(label("total", lang), [*(filing["data_type_totals"][dt] for dt in kinds), filing["totals"]], 1.0 if filing["totals"]["bytes"] else 0.0))
    return rows


def method_note(filing: dict[str, Any], lang: str) -> str:
    """One sentence stating how the token column was produced, or why it is empty."""
    reason = filing.get("tokens_unavailable")  # absent from reports written before the field
    key = f"tokens-{reason}" if reason else f"tokens-mode-{filing['mode']}"
    return label(key, lang).format(tokenizer=filing["tokenizer"], samples=filing.get("estimate_samples"))


def filing_table_bytes(filing: dict[str, Any], fmt: str, lang: str) -> bytes:
    """The table as a CSV (UTF-8 with BOM, so Excel reads the Chinese labels) or an XLSX file
    (numbers as numeric cells), with the method sentence under it."""
    note = method_note(filing, lang)
    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer).writerows([*filing_rows(filing, lang), [], [note]])
        return ("\ufeff" + buffer.getvalue()).encode()
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "corpus-scale"
    table = filing_rows(filing, lang, numeric=True)
    for row in table:
        sheet.append(row)
    for cells in sheet.iter_rows(min_row=2, max_row=len(table)):
        for cell in cells[:-1]:
            if isinstance(cell.value, float):  # GB
                cell.number_format = "0.000000"
        cells[-1].number_format = "0.00%"
    sheet.append([])
    sheet.append([note])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
