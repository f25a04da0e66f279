"""Test-question banks: read them (XLSX, CSV, JSONL, Parquet), and audit them against the profile.

Three banks (``BANKS``): ``generate`` (generated-content test questions over the 31 risks of Appendix A),
``refuse`` (questions the model should refuse, over the 17 risks of A.1 and A.2) and ``non-refuse``
(questions it should answer, over the 13 aspects of ``scanner.lexicon.taxonomy.ASPECTS``). A row holds
``question``, ``bank`` and either ``category`` (risk codes, ``;``-separated) or ``aspect``, optionally ``id``
and ``updated`` (its last update); the Chinese headers of the attachment (题目, 题库, 风险编号, 方面, 编号,
更新日期) are read too. An XLSX workbook is read sheet by sheet; a sheet without a ``bank`` column takes its
bank from its name (生成内容…, 应拒答…, 非拒答…), so the workbook ``scanner bank export`` writes reads back,
and sheets without a question column (instructions) are skipped.

A question's identity is its ``id``, else ``<bank>-<12 hex digits of SHA-256 of its normalised text>``: it
depends on the question alone, never on where the row is, so samples drawn by it are the same for any order
of the rows. Two rows with one ``id`` are an error naming both.

Rows that cannot count are findings of the audit, each named by row as a spreadsheet shows it: an
empty question, a formula (a cell starting with ``=``), an unknown or missing risk code or aspect, an unknown
bank, a bad date. ``strict`` (the answer checks, which need a sound bank) makes the first of them an error.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from scanner.banks.phrases import phrase_lexicon
from scanner.errors import ConfigError, ShardError
from scanner.evidence.outfolder import OutputFolder
from scanner.io.config import parse_toml
from scanner.io.discovery import shard_at
from scanner.io.readers import Columns
from scanner.io.tables import TABLE_FORMATS, read_rows, sheet_names, unformula
from scanner.lexicon.load import match_key
from scanner.lexicon.taxonomy import ASPECTS, RISK_CODES, RISKS, Profile, get_profile
from scanner.match.normalize import normalize
from scanner.report.checks import _check, _status, keyword_library_check
from scanner.report.merge import merge_units
from scanner.scan import Scanner, ScanOptions
from scanner.version import __version__

BANKS = ("generate", "refuse", "non-refuse")
BANK_TITLES = {
    "generate": ("生成内容测试题库（A.1-A.5）", "Generated-content test bank (A.1-A.5)"),
    "refuse": ("应拒答测试题库", "Should-refuse test bank"),
    "non-refuse": ("非拒答测试题库", "Should-not-refuse test bank"),
}
_BANK_SPELLINGS = {
    "generate": "generate", "generated": "generate", "生成内容": "generate", "生成内容测试题": "generate", "生成内容测试题库": "generate",
    "refuse": "refuse", "should-refuse": "refuse", "应拒答": "refuse", "应拒答测试题": "refuse", "应拒答测试题库": "refuse",
    "non-refuse": "non-refuse", "non_refuse": "non-refuse", "nonrefuse": "non-refuse", "should-not-refuse": "non-refuse",
    "非拒答": "non-refuse", "非拒答测试题": "non-refuse", "非拒答测试题库": "non-refuse", "不应拒答": "non-refuse",
}  # fmt: skip
BANK_EXPECTED = "generate, refuse or non-refuse (生成内容, 应拒答, 非拒答)"
COLUMNS = {
    "id": ("id", "question_id", "编号", "题目编号"),
    "question": ("question", "题目", "问题", "测试题", "试题"),
    "bank": ("bank", "题库"),
    "category": ("category", "categories", "风险编号", "风险类别编号", "类别编号"),
    "aspect": ("aspect", "方面"),
    "updated": ("updated", "更新日期"),
}
"""Role -> the headers read for it, first found wins (ASCII headers in any case)."""
A1_A2 = tuple(code for code in RISK_CODES if code.startswith(("A1.", "A2.")))
_CODE_SEPARATORS = re.compile(r"[;|,，；、\s]+")
_ASPECT_SPELLINGS = {
    **{key: key for key in ASPECTS},
    **{a.name_zh: key for key, a in ASPECTS.items()},
    **{a.name_en: key for key, a in ASPECTS.items()},
    "ethnic_groups": "ethnic-groups", "ethnic": "ethnic-groups", "belief": "beliefs", "hero": "heroes", "custom": "customs",
}  # fmt: skip
ASPECT_EXPECTED = ", ".join(a.name_zh for a in ASPECTS.values()) + " (or " + ", ".join(ASPECTS) + ")"
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")


@dataclass(frozen=True)
class Question:
    """One valid bank row: where it is, its identity, bank, text, normalised text (``key``), risk codes
    (generate, refuse) or aspect (non-refuse) and last update."""

    row: str
    id: str
    bank: str
    text: str
    key: str
    categories: tuple[str, ...] = ()
    aspect: str = ""
    updated: date | None = None


@dataclass
class BankSet:
    """The questions of one or more bank files, the rows that could not count (``problems``: {row, bank,
    question, problem}), the files read ({path, sha256, rows}) and the normalisation used."""

    questions: list[Question] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    normalize: tuple[str, ...] = ()

    def of(self, bank: str) -> list[Question]:
        return [q for q in self.questions if q.bank == bank]


def bank_of(value: str) -> str | None:
    """The bank a cell or sheet name names: a spelling of ``_BANK_SPELLINGS``, or a name holding
    非拒答/不应拒答, 应拒答 or 生成内容 (a sheet called 生成内容测试题库（A.1-A.5）)."""
    text = value.strip()
    found = _BANK_SPELLINGS.get(text.lower())
    if found or not text:
        return found
    if "非拒答" in text or "不应拒答" in text:
        return "non-refuse"
    if "应拒答" in text:
        return "refuse"
    return "generate" if "生成内容" in text else None


def aspect_of(value: str) -> str | None:
    """The aspect key of a cell (Chinese or English name, or key); None if unknown."""
    return _ASPECT_SPELLINGS.get(value.strip().lower()) or _ASPECT_SPELLINGS.get(value.strip())


def parse_date(value: str) -> date:
    """A date cell: ISO (2025-06-01, also with a time, as XLSX dates read), 2025/06/01, 2025.06.01, 2025年6月1日
    or 20250601; ValueError otherwise."""
    text = value.strip()
    if " " in text or "T" in text:
        text = re.split(r"[ T]", text, maxsplit=1)[0]
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    msg = f"bad date {value.strip()!r} (expected e.g. 2025-06-01)"
    raise ValueError(msg)


def column(rows: Sequence[tuple[str, dict[str, str]]], role: str, roles: dict[str, tuple[str, ...]] = COLUMNS) -> str | None:
    """The header holding ``role`` in these rows (the first of its spellings present), or None."""
    headers = {h for _, cells in rows for h in cells}
    by_lower = {h.strip().lower(): h for h in sorted(headers)}
    return next((by_lower[name] for name in roles[role] if name in by_lower), None)


def _codes(cell: str) -> tuple[list[str], list[str]]:
    """(known risk codes in taxonomy order, unknown ones as written) of a category cell."""
    written = [c for c in _CODE_SEPARATORS.split(cell.strip()) if c]
    known = sorted({c.upper() for c in written if c.upper() in RISKS}, key=RISK_CODES.index)
    return known, [c for c in written if c.upper() not in RISKS]


def question_key(text: str, steps: Iterable[str]) -> str:
    """The question as the scan would match it: normalised with ``steps``, surrounding space stripped."""
    return normalize(text.strip(), steps).text.strip()


def derived_id(bank: str, key: str) -> str:
    return f"{bank}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tables(path: Path) -> list[tuple[str, list[tuple[str, dict[str, str]]]]]:
    """(sheet name, rows) of each table in a file: XLSX sheets holding a question column, or the one table."""
    if not path.is_file():
        msg = f"{path}: question bank not found"
        raise ConfigError(msg)
    if path.suffix.lower() not in TABLE_FORMATS:
        msg = f"{path}: unsupported question bank format (use {', '.join(TABLE_FORMATS)})"
        raise ConfigError(msg)
    names = sheet_names(path)
    if len(names) == 1:
        return [("", read_rows(path, "question bank"))]
    tables = [(name, read_rows(path, "question bank", sheet=name)) for name in names]
    kept = [(name, rows) for name, rows in tables if column(rows, "question")]
    if not kept:
        found = sorted({h for _, rows in tables for _, cells in rows for h in cells})
        msg = f"{path}: no sheet has a question column (expected {' or '.join(COLUMNS['question'])}); columns found: {', '.join(found) or 'none'}"
        raise ConfigError(msg)
    return kept


def read_banks(paths: Iterable[str | Path], steps: tuple[str, ...], *, strict: bool = False) -> BankSet:
    """Every question of these bank files (see the module docstring). Missing columns and duplicate ids
    are a ConfigError naming the file or both rows; other bad rows are ``problems``, or with ``strict`` a
    ConfigError naming the first."""
    result = BankSet(normalize=tuple(steps))
    ids: dict[str, str] = {}
    for path in map(Path, paths):
        count = 0
        for sheet, rows in _tables(path):
            count += len(rows)
            for question, explicit in _questions(path, sheet, rows, result, strict=strict):
                if explicit and question.id in ids:  # a derived id repeats only with its question: a duplicate, listed by the audit
                    msg = f"{question.row}: id {question.id!r} appears twice (also {ids[question.id]})"
                    raise ConfigError(msg)
                if explicit:
                    ids[question.id] = question.row
                result.questions.append(question)
        result.files.append({"path": str(path), "sha256": _sha256(path), "rows": count})
    return result


def _questions(path: Path, sheet: str, rows: list[tuple[str, dict[str, str]]], result: BankSet, *, strict: bool) -> Iterable[tuple[Question, bool]]:
    """The valid questions of one table, each with whether its id was written (not derived)."""
    where_file = f"{path}" + (f": sheet {sheet!r}" if sheet else "")
    if not rows:
        if sheet:
            return
        msg = f"{path}: the question bank has no rows"
        raise ConfigError(msg)
    names = {role: column(rows, role) for role in COLUMNS}
    if names["question"] is None:
        found = sorted({h for _, cells in rows for h in cells})
        msg = f"{where_file}: no question column (expected {' or '.join(COLUMNS['question'])}); columns found: {', '.join(found)}"
        raise ConfigError(msg)
    sheet_bank = bank_of(sheet) if sheet else None
    if names["bank"] is None and sheet_bank is None:
        msg = f"{where_file}: no bank column (expected {' or '.join(COLUMNS['bank'])}: {BANK_EXPECTED})" + (f", and the sheet name {sheet!r} names no bank" if sheet else "")
        raise ConfigError(msg)

    def cell(cells: dict[str, str], role: str) -> str:
        name = names[role]
        return unformula(cells.get(name, "") or "").strip() if name else ""

    for where, cells in rows:
        text = cell(cells, "question")
        raw_bank = cell(cells, "bank")
        bank = bank_of(raw_bank) if raw_bank else sheet_bank
        problem = _problem(bank, raw_bank, text, cell(cells, "category"), cell(cells, "aspect"), names)
        updated = None
        if not problem and cell(cells, "updated"):
            try:
                updated = parse_date(cell(cells, "updated"))
            except ValueError as e:
                problem = str(e)
        if problem:
            if strict:
                msg = f"{where}: {problem}"
                raise ConfigError(msg)
            result.problems.append({"row": where, "bank": bank or raw_bank, "question": text, "problem": problem})
            continue
        assert bank is not None  # _problem reports an unknown bank
        key = question_key(text, result.normalize)
        categories, _ = _codes(cell(cells, "category"))
        aspect = (aspect_of(cell(cells, "aspect")) or "") if bank == "non-refuse" else ""
        written = cell(cells, "id")
        yield Question(where, written or derived_id(bank, key), bank, text, key, tuple(categories) if bank != "non-refuse" else (), aspect, updated), bool(written)


def _problem(bank: str | None, raw_bank: str, text: str, category: str, aspect: str, names: dict[str, str | None]) -> str:
    """Why a row cannot count ('' if it can)."""
    if bank is None:
        return f"unknown bank {raw_bank!r} (expected {BANK_EXPECTED})"
    if not text:
        return "empty question"
    if text.startswith("="):
        return f"question {text[:40]!r} is a spreadsheet formula (starts with '='); export values, not formulas"
    if bank == "non-refuse":
        if not aspect:
            return f"no aspect for a non-refuse question (column {' or '.join(COLUMNS['aspect'])}: {ASPECT_EXPECTED})"
        if aspect_of(aspect) is None:
            return f"unknown aspect {aspect!r} (expected {ASPECT_EXPECTED})"
        return ""
    known, unknown = _codes(category)
    if unknown:
        return f"unknown category {unknown[0]!r} (expected risk codes such as A1.1; known: {RISK_CODES[0]} ... {RISK_CODES[-1]})"
    if not known:
        return f"no risk category for a {bank} question (column {' or '.join(COLUMNS['category'])}: codes such as A1.1, ';'-separated)"
    return ""


# -- the audit --------------------------------------------------------------------------------------


def _groups(questions: list[Question]) -> dict[str, list[Question]]:
    """Questions by normalised text, in key order: one entry per distinct question."""
    groups: dict[str, list[Question]] = {}
    for q in questions:
        groups.setdefault(q.key, []).append(q)
    return dict(sorted(groups.items()))


def bank_figures(bank: str, questions: list[Question]) -> dict[str, Any]:
    """A bank's counts: rows, distinct questions (after normalisation), per risk code (generate: all 31;
    refuse: the 17 of A.1/A.2 and any other used) or per aspect (non-refuse: all 13), the questions held
    more than once, and the latest ``updated`` date."""
    groups = _groups(questions)
    figures: dict[str, Any] = {"rows": len(questions), "questions": len(groups)}
    if bank == "non-refuse":
        by_aspect = dict.fromkeys(ASPECTS, 0)
        for members in groups.values():
            for aspect in sorted({q.aspect for q in members}):
                by_aspect[aspect] += 1
        figures["by_aspect"] = by_aspect
    else:
        by_category = dict.fromkeys(RISK_CODES if bank == "generate" else A1_A2, 0)
        for members in groups.values():
            for code in sorted({c for q in members for c in q.categories}, key=RISK_CODES.index):
                by_category[code] = by_category.get(code, 0) + 1
        figures["by_category"] = dict(sorted(by_category.items(), key=lambda kv: RISK_CODES.index(kv[0])))
    figures["duplicates"] = [{"question": min(q.text for q in members), "rows": [q.row for q in members]} for members in groups.values() if len(members) > 1]
    dates = [q.updated for q in questions if q.updated]
    figures["updated"] = max(dates).isoformat() if dates else None
    return figures


def coverage_rules(bank: str, figures: dict[str, Any], profile: Profile) -> list[dict[str, Any]]:
    """Per risk code or aspect: its questions against the profile's minimum."""
    if bank == "generate":
        rules = [(code, figures["by_category"][code], profile.bank_generate_min_per_a1_a2 if code in A1_A2 else profile.bank_generate_min_per_other) for code in RISK_CODES]
    elif bank == "refuse":
        rules = [(code, figures["by_category"][code], profile.bank_refuse_min_per_risk) for code in A1_A2]
    else:
        rules = [(key, figures["by_aspect"][key], profile.bank_non_refuse_min_per_aspect) for key in ASPECTS]
    return [{"rule": name, "value": value, "threshold": threshold, "status": "pass" if value >= threshold else "fail"} for name, value, threshold in rules]


_SIZES = {"generate": "bank_generate_min_questions", "refuse": "bank_refuse_min_questions", "non-refuse": "bank_non_refuse_min_questions"}


def bank_checks(banks: dict[str, dict[str, Any]], profile: Profile, provided: set[str]) -> list[dict[str, Any]]:
    """``bank-<bank>-size`` and ``bank-<bank>-coverage`` per bank; ``not-assessed`` for a bank no file held."""
    checks = []
    for bank in BANKS:
        figures = banks[bank]
        assessed = bank in provided
        minimum = getattr(profile, _SIZES[bank])
        checks.append(
            _check(
                f"bank-{bank}-size",
                profile,
                evidence=f"Distinct questions of the {bank} bank after normalisation (a question held twice counts once; rows that cannot count are listed as problems).",
                value=figures["questions"],
                threshold=minimum,
                status=_status(failed=figures["questions"] < minimum, assessed=assessed),
                offending=[bank] if assessed and figures["questions"] < minimum else [],
            )
        )
        rules = coverage_rules(bank, figures, profile)
        failing = [r["rule"] for r in rules if r["status"] == "fail"]
        checks.append(
            _check(
                f"bank-{bank}-coverage",
                profile,
                evidence="Distinct questions per " + ("aspect" if bank == "non-refuse" else "risk code") + " against the minimum; value: how many meet it.",
                value=len(rules) - len(failing),
                threshold=len(rules),
                status=_status(failed=bool(failing), assessed=assessed),
                offending=failing if assessed else [],
                rules=rules,
            )
        )
    return checks


def freshness_check(check_id: str, updated: dict[str, str | None], max_days: int, as_of: date, profile: Profile, what: str) -> dict[str, Any]:
    """Days from each item's last update to ``as_of`` against ``max_days``: ``fail`` if a dated item is
    older, ``not-assessed`` if none carries a date (``undated`` lists those without)."""
    days = {name: (as_of - date.fromisoformat(when)).days for name, when in updated.items() if when}
    stale = sorted(name for name, d in days.items() if d > max_days)
    return _check(
        check_id,
        profile,
        evidence=f"Days from the latest `updated` date of each {what} to {as_of.isoformat()} (the --as-of date); value: the most.",
        value=max(days.values()) if days else None,
        threshold=max_days,
        as_of=as_of.isoformat(),
        updated=updated,
        days_since_update=days,
        undated=sorted(name for name, when in updated.items() if not when),
        status=_status(failed=bool(stale), assessed=bool(days)),
        offending=stale,
    )


def contamination_check(contaminated: list[dict[str, Any]] | None, profile: Profile) -> dict[str, Any]:
    questions = sorted({c["question"] for c in contaminated or []})
    return _check(
        "bank-contamination",
        profile,
        evidence="Bank questions found verbatim (after the scan's normalisation) in the scanned training corpus (--corpus OUT).",
        value=len(questions) if contaminated is not None else None,
        threshold=0,
        basis="practice",
        status=_status(failed=bool(questions), assessed=contaminated is not None),
        offending=questions,
    )


def find_in_corpus(questions: list[Question], out: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The questions that occur in the corpus scanned into ``out`` ([{row, question, shards, documents}],
    in row order), found with the questions as the terms of one automaton over every input file the scan
    read, normalised with the scan's steps; and what was searched ({corpus, normalize, shards, documents})."""
    merged = merge_units(OutputFolder(out).iter_units())
    if not merged.units:
        msg = f"{out}: no scanned units to search for the questions (scan the training corpus into it first)"
        raise ConfigError(msg)
    options = merged.run["options"]
    lexicon = phrase_lexicon("questions", "1", (q.text for q in questions))
    term_of = {t.match_key: i for i, t in enumerate(lexicon.terms)}
    scanner = Scanner(lexicon, ScanOptions(columns=Columns(**options["columns"]), normalize=tuple(options["normalize"]), langid=False, tokens="off"))
    shards: dict[int, set[str]] = {}
    documents = np.zeros(len(lexicon.terms), dtype=np.int64)
    searched = 0
    for label, location in sorted(merged.locations.items()):
        try:
            for _, result in scanner.iter_shard(shard_at(location, label)):
                searched += len(result.doc_bytes)
                terms = result.pair_term
                np.add.at(documents, terms, 1)
                for term in np.unique(terms).tolist():
                    shards.setdefault(term, set()).add(label)
        except (ShardError, OSError) as e:
            msg = f"{label}: cannot search the scanned corpus file ({e}); the bank audit needs the inputs the scan read"
            raise ConfigError(msg) from e
    found = []
    for q in questions:
        term = term_of.get(match_key(q.text.strip()))
        if term is not None and term in shards:
            found.append({"row": q.row, "bank": q.bank, "id": q.id, "question": q.text, "shards": sorted(shards[term]), "documents": int(documents[term])})
    return found, {"corpus": out, "normalize": list(options["normalize"]), "shards": len(merged.locations), "documents": searched}


def lexicon_updated(path: str | Path) -> str | None:
    """The ``updated`` date of a lexicon manifest (``lexicon.toml``, or a folder holding one), ISO; None
    for tables and manifests without it. A bad date is a ConfigError naming the manifest."""
    path = Path(path)
    manifest = path / "lexicon.toml" if path.is_dir() else path
    if manifest.suffix.lower() != ".toml" or not manifest.is_file():
        return None
    value = parse_toml(manifest.read_text(encoding="utf-8-sig"), str(manifest)).get("updated")
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return parse_date(str(value)).isoformat()
    except ValueError as e:
        msg = f"{manifest}: updated: {e}"
        raise ConfigError(msg) from e


def audit_banks(
    banks: BankSet,
    profile_name: str,
    as_of: date,
    contamination: tuple[list[dict[str, Any]], dict[str, Any]] | None = None,
    lexicon: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``bank_audit.json`` (docs/banks.md): per bank its figures, the rows that could not count, questions
    held by both the refuse and the non-refuse bank, the contaminated questions (``find_in_corpus``), and
    the checks. ``lexicon``: {describe: ``Lexicon.describe()``, updated: {path: ISO date or None}} adds
    the keyword-library checks (size and freshness) of the filing's keyword attachment."""
    profile = get_profile(profile_name)
    provided = {q.bank for q in banks.questions} | {p["bank"] for p in banks.problems if p["bank"] in BANKS}
    figures = {bank: {**bank_figures(bank, banks.of(bank)), "problems": sum(p["bank"] == bank for p in banks.problems)} for bank in BANKS}
    refuse_keys = {q.key: q for q in banks.of("refuse")}
    conflicts = [{"question": q.text, "rows": [refuse_keys[q.key].row, q.row]} for q in banks.of("non-refuse") if q.key in refuse_keys]
    contaminated, searched = contamination if contamination is not None else (None, None)
    checks = bank_checks(figures, profile, provided)
    checks.append(contamination_check(contaminated, profile))
    checks.append(freshness_check("bank-freshness", {bank: figures[bank]["updated"] for bank in BANKS if bank in provided}, profile.bank_update_max_days, as_of, profile, "bank"))
    if lexicon is not None:
        checks.append(keyword_library_check(lexicon["describe"], profile))
        fresh = freshness_check("keyword-library-freshness", lexicon["updated"], profile.keyword_library_update_max_days, as_of, profile, "lexicon")
        checks.append({**fresh, "basis": "practice"})
    return {
        "format": "scanner-bank-audit/1",
        "tool": {"name": "scanner", "version": __version__},
        "profile": profile.name,
        "as_of": as_of.isoformat(),
        "normalize": list(banks.normalize),
        "files": banks.files,
        "banks": figures,
        "problems": banks.problems,
        "conflicts": conflicts,
        "contaminated": contaminated if contaminated is not None else [],
        "contamination": searched,
        "lexicon": None if lexicon is None else {key: lexicon["describe"][key] for key in ("name", "version", "fingerprint", "terms")} | {"updated": lexicon["updated"]},
        "checks": checks,
    }
