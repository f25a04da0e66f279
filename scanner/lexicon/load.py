"""Load, validate and fingerprint blocked-keyword lexicons.

Three on-disk forms (documented in ``lexicons/README.md``):

- a CSV/TSV table with a header holding at least ``term`` and ``category`` (optional ``language``,
  ``severity``, ``note``); a category cell may list several codes separated by ``;`` or ``|``;
- a directory of such tables (every ``*.csv`` and ``*.tsv`` in it);
- a ``lexicon.toml`` manifest naming plain one-term-per-line ``.txt`` lists (and/or tables), with
  each file's categories, language and licence, and the lexicon's name and version.

Rows may carry a ``severity`` (``high``, ``medium``, ``low``; empty = high) that the unsafe policy reads
(``scanner.detect.policy``); a row of severity ``allow`` is an *allow context* (no category: its
occurrences suppress any hit lying inside them, 性 inside 性能); a term written ``A&&B`` or ``A&&B~K`` is a
*co-occurrence rule* (both in one document, or within K characters), which the policy counts like a term
of its severity. Allow contexts and rule parts are matched like terms, in the same automaton pass
(``Lexicon.patterns``), but are not terms: they add to no term count.

Terms are de-duplicated by their *match key*: a term with an ASCII letter or digit at either end
matches ASCII-case-insensitively, so ``Fuck`` and ``fuck`` are one term (its written form is the
smallest spelling, which keeps loading order-independent) and their categories are united. All
other terms are exact, so their key is the text itself.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from scanner.errors import LexiconError
from scanner.io.config import parse_toml, refuse_unknown_keys
from scanner.lexicon.lint import lint_lexicon
from scanner.lexicon.taxonomy import RISK_CODES, RISKS
from scanner.lexicon.terms import ALLOW, SEVERITIES, CooccurrenceRule, Term, match_key
from scanner.resources import gc_paused

_CATEGORY_SEPARATORS = re.compile(r"[;|,\s]+")
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
_RULE = re.compile(r"^(?P<first>.+?)&&(?P<second>.+?)(?:~(?P<window>[0-9]+))?$", re.S)


@dataclass(frozen=True)
class LexiconFile:
    """Provenance of one loaded file: where it came from and under which licence."""

    path: str
    terms: int
    licence: str = ""
    source: str = ""


@dataclass(frozen=True)
class Lexicon:
    """A validated, de-duplicated set of terms, sorted by written text (term id = position)."""

    name: str
    version: str
    terms: tuple[Term, ...]
    files: tuple[LexiconFile, ...] = field(default=())
    duplicates: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())
    """(match key, the ``file:line`` places it was read from) for every term listed more than once."""
    allow: tuple[str, ...] = field(default=())
    """Allow contexts, sorted: occurrences that suppress the hits lying inside them."""
    rules: tuple[CooccurrenceRule, ...] = field(default=())

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 over sorted lines: (match key, categories) per term, plus its severity where it is not
        high, each allow context and each rule. Independent of file order and layout; a lexicon without
        severities, allow contexts or rules keeps the fingerprint it had before they existed."""
        lines = [f"{t.match_key}\t{','.join(sorted(t.categories))}" + ("" if t.severity == "high" else f"\t{t.severity}") for t in self.terms]
        lines += [f"{ALLOW}\t{match_key(text)}" for text in self.allow]
        lines += [f"rule\t{match_key(r.first)}\t{match_key(r.second)}\t{r.window}\t{','.join(sorted(r.categories))}\t{r.severity}" for r in self.rules]
        return hashlib.sha256("".join(f"{line}\n" for line in sorted(lines)).encode()).hexdigest()

    @cached_property
    def patterns(self) -> tuple[Term, ...]:
        """What the automaton matches: the terms (ids ``0 .. len(terms) - 1``), then the allow contexts and
        rule parts that are not terms themselves (no categories; ``severity`` ``allow`` or ``part``)."""
        known = {t.match_key for t in self.terms}
        extra: dict[str, Term] = {}
        for text, role in [*((a, ALLOW) for a in self.allow), *((part, "part") for r in self.rules for part in (r.first, r.second))]:
            key = match_key(text)
            if key not in known and key not in extra:
                extra[key] = Term(text, frozenset(), severity=role)
        return self.terms + tuple(extra.values())

    @cached_property
    def pattern_ids(self) -> dict[str, int]:
        """Match key -> pattern id (``patterns``), for allow contexts and rule parts."""
        return {t.match_key: i for i, t in enumerate(self.patterns)}

    @classmethod
    def from_terms(cls, name: str, version: str, terms: Iterable[tuple[str, Iterable[str]]]) -> Lexicon:
        """Build from (term, categories) pairs with the loaders' validation and de-duplication."""
        entries = []
        for number, (text, categories) in enumerate(terms, start=1):
            where = f"{name}: term #{number}"
            entries.append(_Entry(_clean_term(text, where), _parse_categories(" ".join(categories), where), "", where))
        return _lexicon(name, version, entries, (), _find_duplicates(entries))

    def terms_by_category(self) -> dict[str, int]:
        """Number of terms in each of the 31 risk codes (zero included, so gaps show)."""
        counts = dict.fromkeys(RISK_CODES, 0)
        for term in self.terms:
            for code in term.categories:
                counts[code] += 1
        return counts

    def describe(self) -> dict:
        """The block every output carries so a figure can be traced to the exact lexicon."""
        return {
            "name": self.name,
            "version": self.version,
            "fingerprint": self.fingerprint,
            "terms": len(self.terms),
            "terms_by_category": self.terms_by_category(),
            "terms_by_severity": {s: sum(t.severity == s for t in self.terms) for s in SEVERITIES},
            "allow_contexts": len(self.allow),
            "rules": len(self.rules),
            "files": [vars(f) for f in self.files],
            "lint": lint_lexicon(self.terms, self.duplicates),
        }


@dataclass
class _Entry:
    """A term, allow context or rule as read from one line of one file, before de-duplication.
    ``severity``: one of ``SEVERITIES``, or ``ALLOW``."""

    text: str
    categories: set[str]
    language: str
    where: str
    severity: str = "high"


def _parse_severity(cell: str, where: str) -> str:
    """A severity cell: empty is high (a lexicon without the column keeps its meaning: one hit = unsafe)."""
    value = cell.strip().lower() or "high"
    if value not in (*SEVERITIES, ALLOW):
        msg = f"{where}: unknown severity {cell.strip()!r} (expected {', '.join(SEVERITIES)}, {ALLOW}, or empty for high)"
        raise LexiconError(msg)
    return value


def _rule(entry: _Entry) -> CooccurrenceRule:
    """The rule of an entry whose term holds ``&&``: ``A&&B`` or ``A&&B~K``; parts are validated like terms."""
    match = _RULE.match(entry.text)
    if match is None or "&&" in match["second"]:
        msg = f"{entry.where}: co-occurrence rule {entry.text!r} must be A&&B or A&&B~K (K characters; one && only)"
        raise LexiconError(msg)
    first, second = (_clean_term(match[part], entry.where) for part in ("first", "second"))
    if match_key(first) == match_key(second):
        msg = f"{entry.where}: co-occurrence rule {entry.text!r} joins a term with itself"
        raise LexiconError(msg)
    window = int(match["window"]) if match["window"] is not None else None
    written = f"{first}&&{second}" + (f"~{window}" if window is not None else "")
    return CooccurrenceRule(written, first, second, window, frozenset(entry.categories), entry.severity)


def _split(entries: list[_Entry]) -> tuple[list[_Entry], tuple[str, ...], tuple[CooccurrenceRule, ...]]:
    """(term entries, allow contexts, rules) of loaded entries; rules listed twice merge as terms do."""
    terms, allow, rules = [], {}, {}
    for entry in entries:
        if entry.severity == ALLOW:
            allow.setdefault(match_key(entry.text), entry.text)
        elif "&&" in entry.text:
            rule = _rule(entry)
            key = (match_key(rule.first), match_key(rule.second), rule.window)
            seen = rules.get(key)
            if seen is not None:
                rule = CooccurrenceRule(seen.text, seen.first, seen.second, seen.window, seen.categories | rule.categories, _most_severe(seen.severity, rule.severity))
            rules[key] = rule
        else:
            terms.append(entry)
    return terms, tuple(sorted(allow.values())), tuple(sorted(rules.values(), key=lambda r: r.text))


def _most_severe(a: str, b: str) -> str:
    return min(a, b, key=SEVERITIES.index)


def _parse_categories(cell: str, where: str) -> set[str]:
    codes = {c for c in _CATEGORY_SEPARATORS.split(cell.strip()) if c}
    if not codes:
        msg = f"{where}: empty category (expected one or more of {RISK_CODES[0]} ... {RISK_CODES[-1]})"
        raise LexiconError(msg)
    unknown = sorted(codes - set(RISKS))
    if unknown:
        msg = f"{where}: unknown category {unknown[0]!r} (known codes: {', '.join(RISK_CODES)})"
        raise LexiconError(msg)
    return codes


def _clean_term(raw: str, where: str) -> str:
    """Strip surrounding whitespace; refuse empty terms, control characters and formula cells.

    A term starting with ``=`` is a spreadsheet formula that leaked into an export (``=CONCAT(...)``),
    not a keyword; it is refused rather than matched literally.
    """
    term = raw.strip()
    if not term:
        msg = f"{where}: empty term"
        raise LexiconError(msg)
    if term.startswith("="):
        msg = f"{where}: term {term[:40]!r} looks like a spreadsheet formula (starts with '='); export values, not formulas"
        raise LexiconError(msg)
    for char in term:
        if unicodedata.category(char) == "Cc":
            msg = f"{where}: term {term!r} contains control character U+{ord(char):04X}"
            raise LexiconError(msg)
    return term


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        msg = f"{path}: cannot read lexicon file: {e.strerror or e}"
        raise LexiconError(msg) from e


def _read_text(path: Path) -> str:
    """Read a UTF-8 file (BOM allowed); decoding errors name the line."""
    data = _read_bytes(path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        msg = f"{path}:{line}: not valid UTF-8 ({e.reason})"
        raise LexiconError(msg) from e


def _read_table(path: Path, default_categories: set[str] | None = None, default_language: str = "", default_severity: str = "high") -> list[_Entry]:
    """Entries of a CSV/TSV table; ``default_categories`` applies where the table has no category column."""
    text = _read_text(path)
    delimiter = TABLE_SUFFIXES[path.suffix.lower()]
    # TSV has no quoting convention: a term may well contain '"'.
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        msg = f"{path}:1: empty file (expected a header with 'term' and 'category')"
        raise LexiconError(msg) from None
    required = ["term"] if default_categories else ["term", "category"]
    missing = [c for c in required if c not in header]
    if missing:
        msg = f"{path}:1: header lacks column {missing[0]!r} (found: {', '.join(header)})"
        raise LexiconError(msg)
    column = {name: i for i, name in enumerate(header)}
    entries = []
    for row in reader:
        where = f"{path}:{reader.line_num}"
        if not "".join(row).strip():
            continue
        cells = dict(zip(header, row))
        if len(row) < len(header):
            cells.update(dict.fromkeys(header[len(row) :], ""))
        term = _clean_term(cells["term"], where)
        severity = _parse_severity(cells["severity"], where) if "severity" in column else default_severity
        if severity == ALLOW:
            if cells.get("category", "").strip():
                msg = f"{where}: allow context {term!r} has a category; allow rows suppress hits and take none"
                raise LexiconError(msg)
            categories = set()
        elif "category" in column:
            categories = _parse_categories(cells["category"], where)
        else:
            categories = set(default_categories or ())
        language = cells.get("language", "").strip() or default_language
        entries.append(_Entry(term, categories, language, where, severity))
    return entries


def _is_comment(line: str) -> bool:
    """``#`` alone or followed by a space starts a comment line of a word list; ``#tag`` is a term (hashtags are)."""
    stripped = line.strip()
    return stripped == "#" or stripped.startswith(("# ", "#\t"))


def _list_lines(path: Path, skipped: list[str] | None) -> list[tuple[int, str]]:
    """(line number, text) of a word list. Undecodable bytes stop the read with ``file:line``, or, given
    ``skipped``, only their line is left out (and named there)."""
    if skipped is None:
        return list(enumerate(_read_text(path).split("\n"), start=1))
    lines = []
    for number, raw in enumerate(_read_bytes(path).removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        try:
            lines.append((number, raw.decode("utf-8")))
        except UnicodeDecodeError as e:
            skipped.append(f"{path}:{number}: not valid UTF-8 ({e.reason} at byte {e.start + 1} of the line)")
    return lines


def _read_list(path: Path, categories: set[str], language: str, severity: str = "high", skipped: list[str] | None = None) -> list[_Entry]:
    """Entries of a one-term-per-line list; blank lines and comment lines (``# ...``) are skipped. A bad
    line is a LexiconError, or, given a ``skipped`` list, its error message goes there and the line is
    left out."""
    entries = []
    for number, line in _list_lines(path, skipped):
        line = line.rstrip("\r")
        if not line.strip() or _is_comment(line):
            continue
        where = f"{path}:{number}"
        try:
            entries.append(_Entry(_clean_term(line, where), set(categories), language, where, severity))
        except LexiconError as e:
            if skipped is None:
                raise
            skipped.append(str(e))
    return entries


MANIFEST_KEYS = ("name", "version", "description", "updated", "files")
MANIFEST_FILE_KEYS = ("path", "categories", "category", "language", "severity", "licence", "license", "source")
"""The keys of a ``lexicon.toml`` and of its ``[[files]]`` entries; any other key is an error."""


def _read_manifest(path: Path) -> tuple[str, str, list[_Entry], list[LexiconFile]]:
    manifest = parse_toml(_read_text(path), str(path), LexiconError)
    refuse_unknown_keys(manifest, MANIFEST_KEYS, str(path), LexiconError)
    name = str(manifest.get("name") or path.parent.name)
    version = str(manifest.get("version") or "")
    if not version:
        msg = f"{path}: manifest has no 'version' (every lexicon must name its version)"
        raise LexiconError(msg)
    files = manifest.get("files")
    if not isinstance(files, list) or not files:
        msg = f"{path}: manifest has no [[files]] entries"
        raise LexiconError(msg)
    entries: list[_Entry] = []
    provenance = []
    for i, spec in enumerate(files, start=1):
        where = f"{path}: [[files]] #{i}"
        if not isinstance(spec, dict) or "path" not in spec:
            msg = f"{where}: needs a 'path'"
            raise LexiconError(msg)
        refuse_unknown_keys(spec, MANIFEST_FILE_KEYS, where, LexiconError)
        file_path = (path.parent / str(spec["path"])).resolve()
        raw_categories = spec.get("categories", spec.get("category", []))
        if isinstance(raw_categories, str):
            raw_categories = [raw_categories]
        categories = _parse_categories(" ".join(map(str, raw_categories)), where) if raw_categories else None
        language = str(spec.get("language", ""))
        severity = _parse_severity(str(spec.get("severity", "")), where)
        if file_path.suffix.lower() in TABLE_SUFFIXES:
            file_entries = _read_table(file_path, categories, language, severity)
        elif categories is None:
            msg = f"{where}: list {spec['path']!r} needs 'categories'"
            raise LexiconError(msg)
        else:
            file_entries = _read_list(file_path, categories, language, severity)
        entries.extend(file_entries)
        provenance.append(
            LexiconFile(
                path=str(spec["path"]),
                terms=len(file_entries),
                licence=str(spec.get("licence", spec.get("license", ""))),
                source=str(spec.get("source", "")),
            )
        )
    return name, version, entries, provenance


def _merge_entries(entries: Iterable[_Entry]) -> tuple[Term, ...]:
    """De-duplicate term entries by match key, uniting categories and languages and keeping the most
    severe severity; sort by written text."""
    by_key: dict[str, tuple[str, set[str], set[str], str]] = {}
    for entry in entries:
        key = match_key(entry.text)
        if key in by_key:
            written, categories, languages, severity = by_key[key]
            by_key[key] = (min(written, entry.text), categories | entry.categories, languages, _most_severe(severity, entry.severity))
        else:
            by_key[key] = (entry.text, set(entry.categories), set(), entry.severity)
        if entry.language:
            by_key[key][2].add(entry.language)
    terms = (Term(text, frozenset(cats), frozenset(langs), severity) for text, cats, langs, severity in by_key.values())
    return tuple(sorted(terms, key=lambda t: t.text))


def _lexicon(name: str, version: str, entries: list[_Entry], files: tuple[LexiconFile, ...], duplicates: tuple) -> Lexicon:
    """A lexicon of loaded entries: terms merged, allow contexts and rules apart."""
    terms, allow, rules = _split(entries)
    return Lexicon(name=name, version=version, terms=_merge_entries(terms), files=files, duplicates=duplicates, allow=allow, rules=rules)


def _find_duplicates(entries: list[_Entry]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    places: dict[str, list[str]] = {}
    for entry in entries:
        places.setdefault(match_key(entry.text), []).append(entry.where)
    return tuple(sorted((key, tuple(where)) for key, where in places.items() if len(where) > 1))


def _iter_tables(directory: Path) -> Iterator[Path]:
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.suffix.lower() in TABLE_SUFFIXES:
            yield path


@gc_paused()
def load_lexicon(path: str | Path) -> Lexicon:
    """Load one lexicon from a table, a directory or a ``lexicon.toml`` manifest.

    Raises ``LexiconError`` (a ``ConfigError``) naming the file and line for any invalid entry.
    """
    path = Path(path)
    if path.is_dir() and (path / "lexicon.toml").is_file():
        path = path / "lexicon.toml"
    if not path.exists():
        msg = f"{path}: lexicon not found"
        raise LexiconError(msg)
    version = ""
    if path.is_dir():
        tables = list(_iter_tables(path))
        if not tables:
            msg = f"{path}: directory holds no lexicon.toml and no .csv/.tsv tables"
            raise LexiconError(msg)
        per_table = [(table, _read_table(table)) for table in tables]
        entries = [entry for _, table_entries in per_table for entry in table_entries]
        provenance = tuple(LexiconFile(path=table.name, terms=len(rows)) for table, rows in per_table)
        name = path.name
    elif path.suffix.lower() == ".toml":
        name, version, entries, files = _read_manifest(path)
        provenance = tuple(files)
    elif path.suffix.lower() in TABLE_SUFFIXES:
        entries = _read_table(path)
        provenance = (LexiconFile(path=path.name, terms=len(entries)),)
        name = path.stem
    elif path.suffix.lower() == ".txt":
        msg = (
            f"{path}: unsupported lexicon file: a plain word list has no risk categories; convert it with "
            f"`scanner lexicon import {path} --category A1.x -o lexicon.tsv` (or list it in a lexicon.toml manifest with its categories)"
        )
        raise LexiconError(msg)
    else:
        msg = f"{path}: unsupported lexicon file (use .csv, .tsv, or a lexicon.toml manifest for .txt lists)"
        raise LexiconError(msg)
    if not entries:
        msg = f"{path}: lexicon has no terms"
        raise LexiconError(msg)
    lexicon = _lexicon(name, version, entries, provenance, _find_duplicates(entries))
    if version:
        return lexicon
    # Without a manifest the version derives from the content, so it changes when the terms do.
    versioned = dataclasses.replace(lexicon, version="sha-" + lexicon.fingerprint[:12])
    versioned.__dict__["fingerprint"] = lexicon.fingerprint  # computed once (~30 ms for 10k terms)
    return versioned


@gc_paused()
def combine(lexicons: list[Lexicon]) -> Lexicon:
    """One lexicon from several (``--lexicon`` given more than once); duplicates merge as usual."""
    if len(lexicons) == 1:
        return lexicons[0]
    entries = [
        _Entry(t.text, set(t.categories), lang, lex.name, t.severity)
        for lex in lexicons
        for t in lex.terms
        for lang in (sorted(t.languages) or [""])
    ]
    entries += [_Entry(text, set(), "", lex.name, ALLOW) for lex in lexicons for text in lex.allow]
    entries += [_Entry(r.text, set(r.categories), "", lex.name, r.severity) for lex in lexicons for r in lex.rules]
    return _lexicon(
        "+".join(lex.name for lex in lexicons),
        "+".join(f"{lex.name}@{lex.version}" for lex in lexicons),
        entries,
        tuple(f for lex in lexicons for f in lex.files),
        _merge_duplicates(lexicons),
    )


def _merge_duplicates(lexicons: list[Lexicon]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Duplicates within each lexicon plus terms that several of the lexicons list."""
    places: dict[str, list[str]] = {}
    for lex in lexicons:
        for key, where in lex.duplicates:
            places.setdefault(key, []).extend(where)
    across = _find_duplicates([_Entry(t.text, set(), "", lex.name) for lex in lexicons for t in lex.terms])
    for key, where in across:
        places.setdefault(key, []).extend(w for w in where if w not in places.get(key, []))
    return tuple(sorted((key, tuple(where)) for key, where in places.items()))


def default_lexicon_path() -> Path:
    """The bundled default lexicon, ``lexicons/default`` beside the package (editable install)."""
    candidate = Path(__file__).resolve().parents[2] / "lexicons" / "default"
    if (candidate / "lexicon.toml").is_file():
        return candidate
    msg = "the bundled default lexicon is missing (expected lexicons/default/lexicon.toml); pass --lexicon"
    raise LexiconError(msg)


def load_lexicons(paths: Iterable[str | Path] = ()) -> Lexicon:
    """Load and combine the given lexicons; with none, the bundled default."""
    paths = list(paths) or [default_lexicon_path()]
    return combine([load_lexicon(p) for p in paths])


def convert_wordlists(wordlists: list[Path], categories: list[str], language: str, output: Path, *, skip_bad_lines: bool = False) -> tuple[int, list[str]]:
    """Plain word lists -> a lexicon TSV (term, category, language), merged with OUTPUT if it exists.

    Returns the number of distinct terms written and, with ``skip_bad_lines``, the errors of the lines
    left out (``file:line: why``); without it a bad line is a LexiconError. Words are validated like any
    lexicon entry. Real lists carry junk lines (houbb's has 103 with control characters).
    """
    codes = _parse_categories(" ".join(categories), "--category")
    skipped: list[str] | None = [] if skip_bad_lines else None
    entries = [e for path in wordlists for e in _read_list(Path(path), codes, language, skipped=skipped)]
    if Path(output).is_file():
        entries = _read_table(Path(output)) + entries
    terms = _merge_entries(_split(entries)[0])
    lines = ["term\tcategory\tlanguage\n"]
    lines += [f"{t.text}\t{';'.join(sorted(t.categories))}\t{';'.join(sorted(t.languages))}\n" for t in terms]
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("".join(lines), encoding="utf-8")
    return len(terms), skipped or []
