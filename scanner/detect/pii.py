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

Cost: the batch's one pass over its bytes (``scanner.detect.base.byte_classes``, shared with code detection)
and numpy on the digits and ``@`` it finds (``_candidates``) pick the documents that may hold any of these
(an ``@`` between an address's characters, a chain of digit groups of at least 11 characters); only
those are searched in Python, linearly (digit runs by one regular expression, e-mail addresses outwards
from each ``@``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa
from stdnum import luhn
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from scanner.arrays import ASCII_ALNUM, bit_lists, byte_mask
from scanner.detect.base import (
    AT_SIGN,
    DIGIT,
    FULLWIDTH_LEAD,
    Batch,
    ByteClasses,
    Counts,
    Detector,
    Section,
    byte_classes,
)

KINDS = ("mobile", "id_card", "email", "bank_card")
"""The kinds, in the order of the annotation lists and the report's columns."""
_NAMES = {
    "zh": {"mobile": "手机号码", "id_card": "身份证号码", "email": "电子邮箱", "bank_card": "银行卡号"},
    "en": {"mobile": "mobile numbers", "id_card": "ID-card numbers", "email": "e-mail addresses", "bank_card": "bank card numbers"},
}
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9._%+-]*[A-Za-z0-9]\Z")
_EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_DIGIT_RUN = re.compile(r"[0-9]+[Xx]?")
# Chains of digit runs joined by single separators (``_numbers``) of at least ``_MIN_NUMBER_CHARS``
# characters: the lookahead (with the first digit, 11 characters) fails at every position of a shorter
# chain (its window holds the character that ends the chain), so a match never starts inside a run.
_CHAIN = re.compile(r"[0-9](?=[0-9Xx\- ]{10})[0-9]*(?:[- ][0-9]+)*[Xx]?")  # a digit first: re skips to digits quickly
_SEPARATORS = "- "
_MAX_GROUPS = 6  # 4-4-4-4-3 cards with a +86-style prefix group to spare
# Full-width digits, letters and signs (U+FF01-FF5E) read as their ASCII forms: one character each
# way, so positions found in the translated text hold in the original.
_FULLWIDTH_AS_ASCII = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
# Full-width forms of what numbers and addresses are made of (digits, letters, ``@ - + . % _``): text holding
# none reads the same as its translation everywhere the patterns look (Chinese text is full of other
# full-width forms, ``，：（）``, whose translation would only cost time).
_FULLWIDTH = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff20\uff0d\uff0b\uff0e\uff05\uff3f]")
_SEPARATOR_BYTES, _ALNUM_BYTES, _DOMAIN_START_BYTES = byte_mask(_SEPARATORS), byte_mask(ASCII_ALNUM), byte_mask(ASCII_ALNUM + "-")
_MIN_NUMBER_CHARS = 11  # the shortest number any kind takes (a mobile number); also in _CHAIN
_ASCII_ALNUM_CHARS = frozenset(ASCII_ALNUM)


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


def _numbers(probe: str, *, validate: bool, start: int = 0, stop: int | None = None) -> list[tuple[int, int, str]]:
    """Numbers in ``probe[start:stop]`` (ASCII digits): each is one or more whole digit runs joined by
    single separators, so it never starts or ends inside a longer run; the longest number from each
    run wins. Each *chain* of joined runs is read on its own, from its first run (a number never joins
    two chains), so reading the chains one by one gives the numbers of the whole text."""
    runs = [(m.start(), m.end()) for m in _DIGIT_RUN.finditer(probe, start, len(probe) if stop is None else stop)]
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
        if not (at and probe[at - 1] in _ASCII_ALNUM_CHARS):  # the local part ends in one (an @mention: no address)
            at = probe.find("@", at + 1)
            continue
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
    # Only chains long enough for a number (``_MIN_NUMBER_CHARS``) are read: years, prices and dates
    # cost one regular-expression match each instead of a Python step per digit run.
    spans = [n for m in _CHAIN.finditer(probe) if m.end() - m.start() >= _MIN_NUMBER_CHARS for n in _numbers(probe, validate=validate, start=m.start(), stop=m.end())]
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


def _candidates(texts: pa.Array, classes: ByteClasses | None = None) -> np.ndarray:
    """Rows that may hold personal information: a superset of the rows where ``find_pii`` finds any
    (checked or not), from the batch's byte classes (``classes``, made here if not given).

    ``find_pii`` reads full-width forms as ASCII, so it can only find
    - an e-mail address around an ``@`` or ``＠`` with an ASCII letter or digit before it (or a full-width
      form, taken as one) and an ASCII letter, digit or ``-`` after it (or a full-width form);
    - a number of at least 11 characters (a mobile number; identity and card numbers are longer): digit
      runs (ASCII or full-width, each perhaps ending in an ``X``) joined by single separators (``-``,
      a space, ``－``), a *chain*, of at least 11 characters counting one ``X`` per run.
    Chains and ``@`` are found in the whole buffer, so one may cross from one document into the next:
    every document it touches is a candidate. The numbers are computed on the few classified bytes (digits,
    ``@``, full-width lead bytes), never per byte of the text. (Before, documents holding any full-width
    digit, or 3 digits, a separator and 4 digits, were candidates too, which cost a Python search each,
    while numbers written in groups of up to 3 digits and addresses after a full-width letter were missed.)
    """
    classes = byte_classes(texts) if classes is None else classes
    offsets, raw = classes.offsets, classes.raw
    size = len(raw)
    first, last = [], []  # byte ranges in the buffer (inclusive) of each @ and each long chain
    lead = classes.of(FULLWIDTH_LEAD)
    lead = lead[lead + 2 < size]
    second, third = raw[lead + 1], raw[lead + 2]
    full_digit = lead[(second == 0xBC) & ((third - np.uint8(0x90)) <= 9)]
    full_at = lead[(second == 0xBC) & (third == 0xA0)]
    # E-mail addresses: the character before the @ and the one after it.
    at = np.concatenate([classes.of(AT_SIGN), full_at])
    after = at + np.where(np.arange(len(at)) < len(at) - len(full_at), 1, 3)
    before_ok = ((at >= 1) & _ALNUM_BYTES[raw[np.maximum(at - 1, 0)]]) | ((at >= 3) & (raw[np.maximum(at - 3, 0)] == 0xEF))
    next_byte = raw[np.minimum(after, size - 1)]
    after_ok = (after < size) & (_DOMAIN_START_BYTES[next_byte] | (next_byte == 0xEF))
    at = at[before_ok & after_ok]
    first.append(at)
    last.append(at)
    # Numbers: digit characters in buffer order, their runs, and chains of runs joined by one separator.
    digit = np.concatenate([classes.of(DIGIT), full_digit])
    width = np.concatenate([np.ones(len(digit) - len(full_digit), dtype=np.int64), np.full(len(full_digit), 3, dtype=np.int64)])
    order = np.argsort(digit, kind="stable")
    digit, width = digit[order], width[order]
    if len(digit):
        end = digit + width
        run_start = np.flatnonzero(np.r_[True, digit[1:] != end[:-1]])
        run_first, run_last = digit[run_start], end[np.r_[run_start[1:], len(digit)] - 1]  # last: one past the run
        run_chars = np.diff(np.r_[run_start, len(digit)]) + 1  # + a possible X
        gap = run_first[1:] - run_last[:-1]
        at_gap = np.minimum(run_last[:-1], size - 3)
        joined = ((gap == 1) & _SEPARATOR_BYTES[raw[at_gap]]) | (
            (gap == 3) & (raw[at_gap] == 0xEF) & (raw[at_gap + 1] == 0xBC) & (raw[at_gap + 2] == 0x8D)
        )
        chain = np.r_[0, np.cumsum(~joined)]  # chain number of each run
        chars = np.bincount(chain, weights=run_chars)
        chain_first = np.full(len(chars), size, dtype=np.int64)
        np.minimum.at(chain_first, chain, run_first)
        chain_last = np.zeros(len(chars), dtype=np.int64)
        np.maximum.at(chain_last, chain, run_last)
        long = chars >= _MIN_NUMBER_CHARS
        first.append(chain_first[long])
        last.append(chain_last[long] - 1)
    first, last = np.concatenate(first), np.concatenate(last)
    touched = np.zeros(len(offsets), dtype=np.int64)
    np.add.at(touched, np.searchsorted(offsets, first, side="right") - 1, 1)
    np.add.at(touched, np.searchsorted(offsets, last, side="right"), -1)
    return np.flatnonzero((np.cumsum(touched[:-1]) > 0) & np.asarray(texts.is_valid(), dtype=bool))


def pii_masks(texts: pa.Array, classes: ByteClasses | None = None) -> np.ndarray:
    """Per document, a bitmask of the ``KINDS`` it holds (bit i: ``KINDS[i]``); 0 for null text.
    ``classes``: the batch's byte classes, if made already."""
    masks = np.zeros(len(texts), dtype=np.int64)
    candidates = _candidates(texts, classes)
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
        masks = pii_masks(batch.text, batch.byte_classes)
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
