"""Personal information (GB/T 45654-2025 5.2; risks A4.5 privacy, A4.6 personal information): which
documents hold mainland mobile numbers, resident identity numbers, e-mail addresses or bank card numbers.

One finder (``find_pii``) serves the statistics and ``scanner sample export --mask-pii``:

- ``mobile``: 11 digits ``1[3-9]xxxxxxxxx``, optionally ``+86``/``86`` before and ``-`` or a space
  between the 3-4-4 groups;
- ``id_card``: an 18-character resident identity number (17 digits and a digit or ``X``) whose province
  code, birth date and check digit are valid (``stdnum.cn.ric``, python-stdnum);
- ``email``: ``local@domain.tld`` with an ASCII local part ending in a letter or digit and a letter
  top-level domain;
- ``bank_card``: 16-19 digits, optionally in groups split by ``-`` or a space, that pass the Luhn check
  (``stdnum.luhn``) and start with 3-6 (American Express/JCB, Visa, Mastercard, UnionPay).

Full-width digits and signs count as their ASCII forms. A number is one or more whole digit runs joined
by single separators, so it is never taken from inside a longer digit run (a timestamp or an order
number holding 11 digits is not a mobile number). For counting, the checks above apply
(``validate=True``); masking takes every number of these shapes (``validate=False``), since hiding a
number that fails a check costs nothing.

Cost: a pass over the batch's bytes (``_candidates``) picks the documents that may hold any of these
(an ``@``, 11 digits in a row, separated digit groups); only those are searched in Python, linearly
(digit runs by one regular expression, e-mail addresses outwards from each ``@``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa
from stdnum import luhn
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from scanner.arrays import ASCII_ALNUM, bit_lists, byte_mask, offsets_and_data
from scanner.detect.base import Batch, Counts, Detector, Section

KINDS = ("mobile", "id_card", "email", "bank_card")
"""The kinds, in the order of the annotation lists and the report's columns."""
_NAMES = {
    "zh": {"mobile": "手机号码", "id_card": "身份证号码", "email": "电子邮箱", "bank_card": "银行卡号"},
    "en": {"mobile": "mobile numbers", "id_card": "ID-card numbers", "email": "e-mail addresses", "bank_card": "bank card numbers"},
}
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9._%+-]*[A-Za-z0-9]\Z")
_EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_DIGIT_RUN = re.compile(r"[0-9]+[Xx]?")
_SEPARATORS = "- "
_MAX_GROUPS = 6  # 4-4-4-4-3 cards with a +86-style prefix group to spare
# Full-width digits, letters and signs (U+FF01-FF5E) read as their ASCII forms: one character each
# way, so positions found in the translated text hold in the original.
_FULLWIDTH_AS_ASCII = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULLWIDTH = re.compile("[\uff01-\uff5e]")
_SEPARATOR_BYTES, _ALNUM_BYTES = byte_mask(_SEPARATORS), byte_mask(ASCII_ALNUM)


_PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83})
"""First two digits of a resident identity number: the province (81-83: Hong Kong, Macao, Taiwan residence permits)."""


def _valid_identity_number(number: str) -> bool:
    """Check digit and birth date (``stdnum.cn.ric``), and a province code. Not ``ric.is_valid``: it also
    wants the county code to have existed on the birth date, but numbers are issued later, under the
    code of the day (a person born in 1975 in Shenzhen's Nanshan district, created 1990, holds 440305)."""
    number = number.upper()
    try:
        ric.get_birth_date(number)
    except ValidationError:
        return False
    return int(number[:2]) in _PROVINCES and ric.calc_check_digit(number) == number[-1]


def _number_kind(digits: str, groups: list[int], *, validate: bool) -> str | None:
    """The kind of a number made of ``digits`` written in digit groups of these sizes, or None."""
    if len(digits) == 18 and digits[:17].isdigit() and digits[-1] in "0123456789Xx" and (not validate or _valid_identity_number(digits)):
        return "id_card"
    if not digits.isdigit():
        return None
    national = digits[2:] if len(digits) == 13 and digits.startswith("86") else digits
    plain = groups if len(national) == len(digits) else ([groups[0] - 2, *groups[1:]] if groups[0] > 2 else groups[1:])
    if len(national) == 11 and national[0] == "1" and national[1] in "3456789" and plain in ([11], [3, 4, 4]):
        return "mobile"
    if 16 <= len(digits) <= 19 and (not validate or (digits[0] in "3456" and luhn.is_valid(digits))):
        return "bank_card"
    return None


def _numbers(probe: str, *, validate: bool) -> list[tuple[int, int, str]]:
    """Numbers in ``probe`` (ASCII digits): each is one or more whole digit runs joined by single
    separators, so it never starts or ends inside a longer run; the longest number from each run wins."""
    runs = [(m.start(), m.end()) for m in _DIGIT_RUN.finditer(probe)]
    spans = []
    i = 0
    while i < len(runs):
        best = None
        digits, groups = "", []
        for j in range(i, min(i + _MAX_GROUPS, len(runs))):
            if j > i and not (runs[j][0] - runs[j - 1][1] == 1 and probe[runs[j - 1][1]] in _SEPARATORS and probe[runs[j - 1][1] - 1].isdigit()):
                break
            digits += probe[runs[j][0] : runs[j][1]]
            groups.append(runs[j][1] - runs[j][0])
            if len(digits) > 19:
                break
            kind = _number_kind(digits, groups, validate=validate)
            if kind is not None:
                best = (j, kind)
        if best is None:
            i += 1
            continue
        j, kind = best
        start = runs[i][0] - (kind == "mobile" and runs[i][0] > 0 and probe[runs[i][0] - 1] == "+")
        spans.append((start, runs[j][1], kind))
        i = j + 1
    return spans


def _emails(probe: str) -> list[tuple[int, int, str]]:
    """E-mail addresses around each ``@`` (searched from the ``@`` out, so the cost is linear)."""
    spans = []
    at = probe.find("@")
    while at != -1:
        local = _EMAIL_LOCAL.search(probe, max(0, at - 64), at)
        domain = _EMAIL_DOMAIN.match(probe, at + 1)
        if local and domain:
            spans.append((local.start(), domain.end(), "email"))
        at = probe.find("@", at + 1)
    return spans


def find_pii(text: str, *, validate: bool = True) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every piece of personal information in ``text`` (character offsets, in
    order); with ``validate``, only numbers that pass their checks (see the module docstring)."""
    probe = text.translate(_FULLWIDTH_AS_ASCII) if _FULLWIDTH.search(text) else text
    spans = _numbers(probe, validate=validate)
    if "@" in probe:
        spans += [e for e in _emails(probe) if not any(s < e[1] and e[0] < t for s, t, _ in spans)]
    return sorted(spans)


_PLACEHOLDERS = {"mobile": "[MOBILE]", "id_card": "[ID]", "email": "[EMAIL]", "bank_card": "[BANKCARD]"}


def mask_pii(text: str) -> str:
    """Replace e-mails, PRC ID-card numbers, mobile numbers and bank-card numbers (every number of
    these shapes, checked or not) with placeholders, in ASCII or full-width characters."""
    for start, end, kind in reversed(find_pii(text, validate=False)):
        text = text[:start] + _PLACEHOLDERS[kind] + text[end:]
    return text


def _candidates(texts: pa.Array) -> np.ndarray:
    """Rows that may hold personal information (a superset of what ``find_pii`` finds): an ``@`` between
    two ASCII letters or digits, a full-width digit or at sign, 11 ASCII digits in a row,
    or a run of 3+ digits, a separator and 4+ digits. From the data buffer with numpy compares (a few
    passes, ~4x cheaper than one RE2 pass); ``@mentions`` in tweets are not candidates."""
    offsets, data = offsets_and_data(texts)
    base = int(offsets[0])
    raw = np.frombuffer(data, dtype=np.uint8)[base : offsets[-1]]
    if not len(raw):
        return np.zeros(0, dtype=np.int64)
    spans = []  # (first, last) byte offsets, in the buffer, of each pattern that makes a candidate
    at = np.flatnonzero(raw == 0x40)
    at = at[(at > 0) & (at < len(raw) - 1)]
    at = at[_ALNUM_BYTES[raw[at - 1]] & _ALNUM_BYTES[raw[at + 1]]]
    spans.append((at - 1, at + 1))
    lead = np.flatnonzero(raw[:-2] == 0xEF)
    third = raw[lead + 2]
    lead = lead[(raw[lead + 1] == 0xBC) & (((third - np.uint8(0x90)) <= 9) | (third == 0xA0))]
    spans.append((lead, lead + 2))
    digits = np.flatnonzero((raw - np.uint8(0x30)) < 10)
    if len(digits):
        starts = np.concatenate([[0], np.flatnonzero(np.diff(digits) != 1) + 1])
        first, length = digits[starts], np.diff(np.append(starts, len(digits)))
        last = first + length  # one past each run
        gap = np.append(first[1:] - last[:-1], 0)  # bytes between a run and the next
        joined = (gap == 1) & _SEPARATOR_BYTES[raw[np.minimum(last, len(raw) - 1)]] & (length >= 3) & (np.append(length[1:], 0) >= 4)
        long = (length >= 11) | joined
        spans.append((first[long], np.where(joined, np.append(last[1:], 0), last)[long] - 1))
    # A pattern is found in the whole buffer, so it may cross from one document into the next: every
    # document it touches is a candidate (extending a digit run across a boundary only lengthens it).
    first, last = (np.concatenate(side) + base for side in zip(*spans))
    touched = np.zeros(len(texts) + 1, dtype=np.int64)
    np.add.at(touched, np.searchsorted(offsets, first, side="right") - 1, 1)
    np.add.at(touched, np.searchsorted(offsets, last, side="right"), -1)
    return np.flatnonzero((np.cumsum(touched[:-1]) > 0) & np.asarray(texts.is_valid(), dtype=bool))


def pii_masks(texts: pa.Array) -> np.ndarray:
    """Per document, a bitmask of the ``KINDS`` it holds (bit i: ``KINDS[i]``); 0 for null text."""
    masks = np.zeros(len(texts), dtype=np.int64)
    candidates = _candidates(texts)
    if len(candidates):
        for row, text in zip(candidates.tolist(), texts.take(pa.array(candidates)).to_pylist()):
            for _, _, kind in find_pii(text):
                masks[row] |= 1 << KINDS.index(kind)
    return masks


class PiiDetector(Detector):
    """``pii`` per document (the kinds it holds); per source and in total, ``pii`` {kind: documents} and
    ``pii_documents`` (documents holding any kind)."""

    name = "pii"
    columns = (pa.field("pii", pa.list_(pa.string())),)

    def detect(self, batch: Batch) -> dict[str, Any]:
        masks = pii_masks(batch.text)
        return {"pii": bit_lists(masks, KINDS), "pii_mask": masks}

    def count(self, batch: Batch) -> Counts:
        masks = batch.values["pii_mask"]
        kinds = {kind: masks >> bit & 1 for bit, kind in enumerate(KINDS)}
        by_kind = {kind: batch.per_source(held) for kind, held in kinds.items()}
        holding = batch.per_source(masks > 0)
        by_source = {name: {"pii": {kind: by_kind[kind].get(name, 0) for kind in KINDS}, "pii_documents": n} for name, n in holding.items()}
        totals = {"pii": {kind: int(held.sum()) for kind, held in kinds.items()}, "pii_documents": int(np.count_nonzero(masks))}
        return {"totals": totals, "by_source": by_source}

    @classmethod
    def report(cls, stats: Any, report: dict[str, Any]) -> None:
        """``totals.pii``, and per source ``pii`` {kind: documents}, ``pii_documents`` and ``pii_share``."""
        totals = report["totals"]
        totals["pii"] = {kind: stats.totals.get("pii", {}).get(kind, 0) for kind in KINDS}
        totals["pii_documents"] = stats.totals.get("pii_documents", 0)
        for name, entry in report["by_source"].items():
            counted = stats.by_source.get(name, {})
            entry["pii"] = {kind: counted.get("pii", {}).get(kind, 0) for kind in KINDS}
            entry["pii_documents"] = counted.get("pii_documents", 0)
            entry["pii_share"] = entry["pii_documents"] / entry["documents"] if entry["documents"] else 0.0

    @classmethod
    def sections(cls, report: dict[str, Any], lang: str) -> list[Section]:
        """One table: the sources holding personal information (the others hold none), and the total."""
        names = _NAMES[lang]
        zh = lang == "zh"
        header = ["来源" if zh else "source", "文档" if zh else "documents", "含个人信息" if zh else "with personal information", "占比" if zh else "share"]

        def row(name: str, counts: dict[str, Any], documents: int) -> list[Any]:
            held = counts.get("pii_documents", 0)
            share = held / documents if documents else 0.0
            return [name, documents, held, f"{100 * share:.2f} %", *(counts.get("pii", {}).get(kind, 0) for kind in KINDS)]

        rows = [row(name, s, s["documents"]) for name, s in report["by_source"].items() if s.get("pii_documents")]
        rows.append(row("全部" if zh else "all", report["totals"], report["totals"]["documents"]))
        note = (
            "含手机号码、身份证号码（校验位有效）、电子邮箱或银行卡号（Luhn 校验）的文档数；未列出的来源不含。使用含个人信息的语料应取得同意（GB/T 45654-2025 5.2）。"
            if zh
            else "Documents holding mobile numbers, ID-card numbers (valid check digit), e-mail addresses or bank card numbers (Luhn check); "
            "sources not listed hold none. Corpora with personal information need consent (GB/T 45654-2025 5.2)."
        )
        return [Section("pii", "个人信息" if zh else "Personal information", [*header, *(names[k] for k in KINDS)], rows, note)]
