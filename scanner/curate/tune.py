"""Lexicon tuning on text known to be clean: ``scanner lexicon tune``.

A public word list flags most clean text (中国, 公司, single characters), so one hit cannot mean unsafe.
The tuner measures every term on reference corpora the filer knows to be clean, under the scan's own
normalisation, and optionally on labelled documents, and proposes what the unsafe policy
(``scanner.detect.policy``) should make of each term. Method and measurements: docs/evidence.md
(lexicon tuning). Thresholds are ``TuningParams``; rates are hits per 1,000 reference characters of the
term's script (Han characters for Chinese and mixed terms, ASCII letters for ASCII terms), so short posts
and long articles compare, and English references do not dilute the rates of Chinese terms.

Per term:

1. structure: a single character, digits or punctuation only, or an ASCII term of fewer than 3 letters
   or digits (``IS``, ``64``) -> drop; judged on the form the scan matches (after normalisation);
2. band by reference rate: unseen (no hit), rare (<= 0.005), common (<= 0.02), frequent (<= 0.2),
   ordinary (above: 中国, 公司);
3. allow contexts, only where they change the outcome: a term above rare that would be high were it
   rare gets the most frequent enclosing words of its reference hits (the hit and up to 2 word
   characters either side) as allow rows, if at most 10 bring it down to rare. A context must recur in
   2 documents, add more than particles (绑架了), hold no other lexicon term (an allow row must never
   hide a blocked term) and, with labels, not predict unsafe itself. A term kept high or medium also
   gets the contexts its reference hits repeat;
4. with labels (a term hit in >= 3 labelled documents): its balanced precision (precision at a 50 % base
   rate, Wilson lower bound), >= 0.80 and unseen/rare -> high; >= 0.60 and at most common -> medium;
   ordinary -> drop; else low;
5. without labels: unseen -> the stated severity, else its shape class's default (a Good-Turing estimate
   of how often the class's unseen terms hit new text); rare -> the stated severity, else at most
   medium; common, frequent -> low; ordinary -> drop;
6. with labels, a term left below high gets up to 5 co-occurrence rules ``A&&B~10`` (high) with terms
   B whose pair is precise on the labels (>= 3 unsafe documents, lower bound >= 0.85) and absent from
   the references.

With labels and ``mining`` (``--mine``), new terms mined from the labelled documents are added after the
per-term decisions (``scanner.curate.mine``): action ``add``, with the risk code most of their unsafe
documents carry. The held-out estimate mines on one half and measures on the other, as it tunes.

Only structure and ordinary words are dropped: a demoted term still counts for the keyword-library check
and its hits stay visible as flagged. A severity the input lexicon states is a ceiling; no term of a
script the references hold fewer than 200,000 characters of is made high (no evidence, no high); the
input's allow rows and rules are kept.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import tempfile
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scanner.arrays import offsets_and_data
from scanner.curate.classifier import LabelledText
from scanner.curate.mine import (
    LabelCounts,
    MineParams,
    ReferenceCounts,
    balanced_precision_lb,
    count_labels,
    majority_categories,
    reference_strings,
    select,
)
from scanner.errors import ConfigError, ShardError
from scanner.evidence.sampling import doc_hashes
from scanner.io.config import parse_toml
from scanner.io.discovery import Shard, discover_shards
from scanner.io.readers import Columns, DocumentBatch, read_batches, resolve_columns, to_document_batch
from scanner.lexicon.load import TABLE_SUFFIXES, Lexicon, combine, load_lexicon
from scanner.lexicon.terms import ALLOW, SEVERITIES, Term, ascii_lower, is_ascii_alnum, match_key
from scanner.match.matcher import Matcher
from scanner.match.normalize import HAN_RANGES, is_han
from scanner.match.textview import normalize_column
from scanner.scan import Scanner, ScanOptions

SEVERITY_RANK = {"drop": 0, "low": 1, "medium": 2, "high": 3}
ACTIONS = ("keep", "demote", "allow", "cooc", "drop")
"""What the tuner does with an input term."""
ADD = "add"
"""The action of a mined term (``changes.tsv``)."""
HALF_SEED = "lexicon-tune-halves"
"""Key of the hash that splits documents into the two halves of the held-out estimate."""


@dataclass(frozen=True)
class TuningParams:
    """The thresholds of the method (module docstring), chosen on the research folds (docs/evidence.md)."""

    min_ascii_chars: int = 3
    high_max_rate: float = 0.005
    """Hits per 1,000 characters of the script: about one hit in 200,000 characters."""
    medium_max_rate: float = 0.02
    drop_min_rate: float = 0.2
    min_script_chars: int = 200_000
    """Below this much reference text of a script, its terms are not made high."""
    allow_window: int = 2
    allow_min_docs: int = 2
    allow_max_per_term: int = 10
    allow_max_label_bp: float = 0.7
    """A context whose own balanced precision on the labels exceeds this predicts unsafe: not allowed."""
    allow_stop_chars: str = "了的地得着过是在和与及或被把将让给对向从于也都还就才又再很太更最不没无别我你他她它们这那哪谁啥个些一二三四五六七八九十两几多少上下里中来去说吗呢吧啊呀哦嘛么"
    """A context that only adds these (particles, pronouns, numerals) continues the term (绑架了): refused."""
    contexts_per_term: int = 20_000
    """Reference hits per term whose contexts are kept (the bottom-k by hash, so the order of inputs does not matter)."""
    label_min_support: int = 3
    label_z: float = 1.28
    label_high_bp: float = 0.80
    label_medium_bp: float = 0.60
    unseen_high_budget: float = 0.005
    unseen_medium_budget: float = 0.05
    cooc_window: int = 10
    cooc_min_pos: int = 3
    cooc_high_bp: float = 0.85
    cooc_max_ref: int = 0
    cooc_max_per_term: int = 5


# -- what a term looks like -------------------------------------------------------------------------


def is_word_char(char: str) -> bool:
    return is_han(char) or unicodedata.category(char)[0] in "LN"


def _core(form: str) -> list[str]:
    """The characters that are not punctuation, symbols or spaces."""
    return [c for c in form if unicodedata.category(c)[0] not in "PSZ"]


@functools.lru_cache(maxsize=1 << 18)
def shape(form: str) -> str:
    """Shape class of a term's form: cjk1, cjk2, cjk3, cjk4+ (all Han), digits, ascii, mixed; unseen
    terms of one class hit new text at similar rates, which the class default estimates."""
    if form and all(is_han(c) for c in form):
        return f"cjk{len(form)}" if len(form) < 4 else "cjk4+"
    core = _core(form)
    if core and all(c.isdigit() for c in core):
        return "digits"
    return "ascii" if form.isascii() else "mixed"


def script_of(term_shape: str) -> str:
    """``ascii`` for ASCII and digit terms (rates per ASCII letter), else ``han``."""
    return "ascii" if term_shape in ("ascii", "digits") else "han"


def structural_drop(form: str, params: TuningParams) -> str | None:
    """Why a term cannot be a keyword whatever the references say, or None."""
    if not form:
        return "nothing left after normalisation"
    if len(form) == 1:
        return "single character"
    core = _core(form)
    if not core or all(c.isdigit() for c in core):
        return "digits/punctuation only"
    if form.isascii() and len(core) < params.min_ascii_chars:
        return f"ASCII term shorter than {params.min_ascii_chars} letters"
    return None


# -- measured statistics ----------------------------------------------------------------------------


@dataclass
class ReferenceTotals:
    """How much reference text (and how many labelled documents) the statistics come from."""

    documents: int = 0
    chars: int = 0
    han_chars: int = 0
    ascii_letters: int = 0
    label_pos: int = 0
    label_neg: int = 0

    def script_chars(self, script: str) -> int:
        """Characters of the script, or of all text where there are none (rates stay finite)."""
        return (self.ascii_letters if script == "ascii" else self.han_chars) or self.chars

    def measured(self, script: str, params: TuningParams) -> bool:
        return (self.ascii_letters if script == "ascii" else self.han_chars) >= params.min_script_chars


@dataclass(frozen=True)
class HitContext:
    """One reference hit: its document, and up to ``allow_window`` normalised word characters either side."""

    doc: int
    left: str
    right: str


@dataclass
class TermStats:
    """One term as measured: ``form`` is what the scan matches (normalised); ``pos``/``neg`` are labelled
    unsafe/safe documents hit (None without labels); ``given`` the severity the input states ("" if none)."""

    term: str
    form: str
    ref_hits: int = 0
    ref_docs: int = 0
    contexts: list[HitContext] = field(default_factory=list)
    pos: int | None = None
    neg: int | None = None
    given: str = ""


@dataclass
class Decision:
    """What the tuner proposes for one term, and why."""

    term: str
    action: str
    severity: str
    reason: str
    allow: list[str] = field(default_factory=list)
    cooc: list[tuple[str, int]] = field(default_factory=list)
    evidence: dict = field(default_factory=dict)
    category: str = ""
    """Risk code of an added (mined) term; the input's terms keep their lexicon's categories."""


def unseen_defaults(stats: Mapping[str, TermStats], totals: ReferenceTotals, params: TuningParams) -> dict[str, tuple[str, float]]:
    """Per shape class: (the severity of its terms the references never show, the rate behind it).

    The hits of the class's terms seen in exactly one reference document, per 1,000 characters of the
    script, estimate (Good-Turing) how often its unseen terms will hit new text of the same kind.
    A script with too little reference text gets low: the references say nothing about it."""
    mass: Counter = Counter()
    for s in stats.values():
        if s.ref_docs == 1:
            mass[shape(s.form)] += s.ref_hits
    defaults = {}
    for term_shape in {shape(s.form) for s in stats.values()}:
        script = script_of(term_shape)
        rate = mass[term_shape] / totals.script_chars(script) * 1000 if totals.chars else 0.0
        severity = "high" if rate <= params.unseen_high_budget else "medium" if rate <= params.unseen_medium_budget else "low"
        if not totals.measured(script, params):
            severity = "low"
        defaults[term_shape] = (severity, rate)
    return defaults


# -- allow contexts ---------------------------------------------------------------------------------


def candidate_contexts(form: str, hits: list[HitContext], window: int) -> dict[str, tuple[set[int], set[int]]]:
    """Context (as an allow row would match it) -> (hits it covers, reference documents it covers)."""
    found: dict[str, tuple[set[int], set[int]]] = {}
    for i, hit in enumerate(hits):
        for a in range(min(window, len(hit.left)) + 1):
            for b in range(min(window, len(hit.right)) + 1):
                if a == b == 0:
                    continue
                context = match_key(hit.left[len(hit.left) - a :] + form + hit.right[:b])
                covered, docs = found.setdefault(context, (set(), set()))
                covered.add(i)
                docs.add(hit.doc)
    return found


def choose_allow(
    s: TermStats, totals: ReferenceTotals, params: TuningParams, target_rate: float, forms: set[str], context_label_bp: Callable[[str, str], float] | None
) -> tuple[list[str], int]:
    """Greedy allow contexts (most hits covered first, then shorter) until the term's residual rate is
    at most ``target_rate``: (contexts, residual hits), or ([], hits) when that takes more than
    ``allow_max_per_term``. A negative target takes whatever recurring contexts there are."""
    hits = s.contexts
    if not hits:
        return [], s.ref_hits
    own = match_key(s.form)
    usable = {}
    for context, (covered, docs) in candidate_contexts(s.form, hits, params.allow_window).items():
        if len(docs) < params.allow_min_docs:
            continue
        inner = (match_key(context[i:j]) for i in range(len(context)) for j in range(i + 2, len(context) + 1))
        if any(part in forms and part != own for part in inner):
            continue
        if all(c in params.allow_stop_chars for c in context.replace(own, "", 1)):
            continue
        if context_label_bp is not None and context_label_bp(s.term, context) > params.allow_max_label_bp:
            continue
        usable[context] = covered
    scale = s.ref_hits / len(hits)  # contexts are kept for a sample of a frequent term's hits
    target_hits = target_rate * totals.script_chars(script_of(shape(s.form))) / 1000
    covered: set[int] = set()
    chosen: list[str] = []
    while usable and len(chosen) < params.allow_max_per_term:
        best = max(usable, key=lambda c: (len(usable[c] - covered), -len(c), c))
        gain = usable.pop(best) - covered
        if not gain:
            break
        chosen.append(best)
        covered |= gain
        if (len(hits) - len(covered)) * scale <= target_hits:
            return sorted(chosen), round((len(hits) - len(covered)) * scale)
    if target_rate < 0 and chosen:
        return sorted(chosen), round((len(hits) - len(covered)) * scale)
    return [], s.ref_hits


# -- the decision rules -----------------------------------------------------------------------------


def band(rate: float, hits: int, params: TuningParams) -> str:
    if hits == 0:
        return "unseen"
    if rate <= params.high_max_rate:
        return "rare"
    if rate <= params.medium_max_rate:
        return "common"
    if rate <= params.drop_min_rate:
        return "frequent"
    return "ordinary"


_BAND_BEST = {"unseen": "high", "rare": "high", "common": "medium", "frequent": "low", "ordinary": "drop"}
"""The best a band allows, to compare bands like severities."""


def severity_for(term_band: str, bp: float | None, class_default: str, given: str, params: TuningParams, *, measured: bool = True) -> tuple[str, str]:
    """Rules 4 and 5 of the module docstring; a stated severity is a ceiling. ``measured``: the
    references hold enough text of the term's script for a label-precise term to be made high."""
    if bp is not None:
        if bp >= params.label_high_bp and term_band in ("unseen", "rare") and measured:
            severity, why = "high", f"labels precise (bp_lb {bp:.2f}); {term_band} in references"
        elif bp >= params.label_medium_bp and term_band in ("unseen", "rare", "common"):
            severity, why = "medium", f"labels fairly precise (bp_lb {bp:.2f}); {term_band} in references"
            if bp >= params.label_high_bp and term_band in ("unseen", "rare"):
                why += f"; not high: references hold under {params.min_script_chars:,} characters of its script"
        elif term_band == "ordinary":
            severity, why = "drop", "ordinary word in references; labels not precise"
        else:
            severity, why = "low", f"labels not precise enough (bp_lb {bp:.2f}); {term_band} in references"
    elif term_band == "unseen":
        severity, why = (given, "unseen in references; severity as given") if given else (class_default, "unseen in references; default of its shape class")
    elif term_band == "rare":
        severity, why = (given, "rare in references; severity as given") if given else (min(class_default, "medium", key=SEVERITY_RANK.get), "rare in references")
    elif term_band in ("common", "frequent"):
        severity, why = "low", f"{term_band} in references"
    else:
        severity, why = "drop", "ordinary word in references"
    if given and SEVERITY_RANK[severity] > SEVERITY_RANK[given]:
        severity, why = given, why + " (capped at the given severity)"
    return severity, why


def propose(
    stats: Mapping[str, TermStats],
    totals: ReferenceTotals,
    params: TuningParams = TuningParams(),  # noqa: B008 (frozen)
    pairs: Mapping[tuple[str, str], tuple[int, int, int]] | None = None,
    context_label_bp: Callable[[str, str], float] | None = None,
) -> list[Decision]:
    """One decision per term, sorted by term. ``pairs``: (a, b) -> (unsafe labelled documents, safe ones,
    reference documents) where a and b hit within ``cooc_window`` characters; ``context_label_bp(term, context)``:
    the balanced precision on the labels of a context of the term (refuses risk-predictive allow contexts)."""
    labelled = totals.label_pos > 0 and totals.label_neg > 0
    defaults = unseen_defaults(stats, totals, params)
    forms = {match_key(s.form) for s in stats.values() if s.form}
    decisions = []
    for term in sorted(stats):
        s = stats[term]
        term_shape = shape(s.form)
        script = script_of(term_shape)
        rate = s.ref_hits / totals.script_chars(script) * 1000 if totals.chars else 0.0
        evidence: dict = {"ref_hits": s.ref_hits, "ref_docs": s.ref_docs, "ref_rate_per_1k": round(rate, 6), "shape": term_shape}
        why = structural_drop(s.form, params)
        if why:
            decisions.append(Decision(term, "drop", "drop", why, evidence=evidence))
            continue
        bp = None
        if labelled and s.pos is not None and s.pos + s.neg >= params.label_min_support:
            bp = balanced_precision_lb(s.pos, s.neg, totals.label_pos, totals.label_neg, params.label_z)
            evidence.update(label_pos=s.pos, label_neg=s.neg, label_bp_lb=round(bp, 3))
        class_default = defaults[term_shape][0]
        evidence["class_default"] = class_default
        measured = totals.measured(script, params)
        term_band = band(rate, s.ref_hits, params)
        severity, why = severity_for(term_band, bp, class_default, s.given, params, measured=measured)
        allow: list[str] = []
        # Contexts only to make a term eligible for high: mined to move frequent words into medium, they
        # were junk n-grams (国主义, 犯罪嫌) and raised clean unsafe shares (docs/evidence.md).
        rare_severity, _ = severity_for("rare", bp, class_default, s.given, params, measured=measured)
        if SEVERITY_RANK[_BAND_BEST[term_band]] < SEVERITY_RANK["high"] and SEVERITY_RANK[rare_severity] > SEVERITY_RANK[severity]:
            allow, residual = choose_allow(s, totals, params, params.high_max_rate, forms, context_label_bp)
            if allow:
                evidence["allow_residual_hits"] = residual
                term_band = band(residual / totals.script_chars(script) * 1000, residual, params)
                severity, why = severity_for(term_band, bp, class_default, s.given, params, measured=measured)
                why += f"; {len(allow)} allow contexts"
        if not allow and s.ref_hits and severity in ("high", "medium"):
            allow, residual = choose_allow(s, totals, params, -1.0, forms, context_label_bp)
            if allow:
                evidence["allow_residual_hits"] = residual
                why += f"; {len(allow)} allow contexts"
        evidence["band"] = term_band
        action = "drop" if severity == "drop" else "allow" if allow else "keep" if severity == (s.given or "high") else "demote"
        decisions.append(Decision(term, action, severity, why, allow=allow, evidence=evidence))
    if labelled and pairs:
        add_cooccurrence(decisions, pairs, totals, params)
    return decisions


def add_cooccurrence(decisions: list[Decision], pairs: Mapping[tuple[str, str], tuple[int, int, int]], totals: ReferenceTotals, params: TuningParams) -> None:
    """Rule 6: high ``A&&B~K`` rules for terms left below high whose pair is precise and never in the references."""
    by_term = {d.term: d for d in decisions}
    candidates: dict[str, list[tuple[float, int, str]]] = defaultdict(list)
    for (a, b), (pos, neg, ref) in pairs.items():
        da, db = by_term.get(a), by_term.get(b)
        if not da or not db or da.severity in ("high", "drop") or db.severity in ("high", "drop"):
            continue
        if pos < params.cooc_min_pos or ref > params.cooc_max_ref:
            continue
        bp = balanced_precision_lb(pos, neg, totals.label_pos, totals.label_neg, params.label_z)
        if bp >= params.cooc_high_bp:
            candidates[min(a, b)].append((bp, pos, max(a, b)))
    for a, found in candidates.items():
        found.sort(reverse=True)
        best = found[: params.cooc_max_per_term]
        decision = by_term[a]
        decision.cooc = [(b, params.cooc_window) for _, _, b in best]
        decision.evidence["cooc"] = [[b, pos, round(bp, 3)] for bp, pos, b in best]
        if decision.action in ("keep", "demote"):
            decision.action = "cooc"
        decision.reason += f"; {len(best)} co-occurrence rules"


# -- outputs ----------------------------------------------------------------------------------------


def write_lexicon(decisions: list[Decision], lexicon: Lexicon, path: Path) -> None:
    """The tuned lexicon as a table ``scanner scan --lexicon`` loads: the terms kept (with the input's
    categories and languages, the severity and the reason as note), the added terms, the co-occurrence
    rules (the input's and the new ones), and the allow rows (the input's and the mined ones)."""
    terms = {t.text: t for t in lexicon.terms}
    rows = [("term", "category", "language", "severity", "note")]
    allow: dict[str, tuple[str, list[str]]] = {match_key(text): (text, []) for text in lexicon.allow}
    for d in decisions:
        if d.severity == "drop":
            continue
        if d.action == ADD:
            rows.append((d.term, d.category, "", d.severity, d.reason))
            continue
        term = terms[d.term]
        languages = ";".join(sorted(term.languages))
        rows.append((d.term, ";".join(sorted(term.categories)), languages, d.severity, d.reason))
        for partner, window in d.cooc:
            categories = ";".join(sorted(term.categories | terms[partner].categories))
            rows.append((f"{d.term}&&{partner}~{window}", categories, languages, "high", "co-occurrence rule: precise on the labels, absent from the references"))
        for context in d.allow:
            allow.setdefault(match_key(context), (context, []))[1].append(d.term)
    rows += [(r.text, ";".join(sorted(r.categories)), "", r.severity, "rule of the input lexicon") for r in lexicon.rules]
    for text, owners in sorted(allow.values()):
        rows.append((text, "", "", ALLOW, f"allow context of {','.join(sorted(owners))}" if owners else "allow row of the input lexicon"))
    _write_tsv(path, rows)


def write_changes(decisions: list[Decision], path: Path) -> None:
    """One row per input term and per added term for a person to review: action, severity, reason, allow
    contexts, co-occurrence partners and the evidence (JSON numbers)."""
    rows = [("term", "action", "severity", "reason", "allow", "cooc", "evidence")]
    for d in decisions:
        cooc = "|".join(f"{b}~{k}" for b, k in d.cooc)
        rows.append((d.term, d.action, d.severity, d.reason, "|".join(d.allow), cooc, json.dumps(d.evidence, ensure_ascii=False, sort_keys=True)))
    _write_tsv(path, rows)


def _write_tsv(path: Path, rows: list[tuple[str, ...]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")


# -- reading the inputs -----------------------------------------------------------------------------


def states_severities(path: Path) -> bool:
    """Does a lexicon state its terms' severities (a severity column, or a manifest entry's severity)?
    The loader reads a term without one as high, which is no one's judgement: the tuner then leaves
    the term to the references instead of keeping high as a ceiling."""
    path = Path(path)
    if path.is_dir() and (path / "lexicon.toml").is_file():
        path = path / "lexicon.toml"
    if path.is_dir():
        return any(_has_severity_column(p) for p in sorted(path.iterdir()) if p.suffix.lower() in TABLE_SUFFIXES)
    if path.suffix.lower() == ".toml":
        manifest = parse_toml(path.read_text(encoding="utf-8-sig"), str(path))
        entries = [e for e in manifest.get("files", []) if isinstance(e, dict)]
        return any("severity" in e or _has_severity_column(path.parent / str(e.get("path", ""))) for e in entries)
    return _has_severity_column(path)


def _has_severity_column(path: Path) -> bool:
    if path.suffix.lower() not in TABLE_SUFFIXES or not path.is_file():
        return False
    with path.open(encoding="utf-8-sig", newline="") as f:
        header = next(csv.reader(io.StringIO(f.readline()), delimiter=TABLE_SUFFIXES[path.suffix.lower()]), [])
    return "severity" in (h.strip().lower() for h in header)


def load_input(paths: list[Path]) -> tuple[Lexicon, dict[str, str]]:
    """The combined input lexicon and the severities its lexicons state, by match key (the most severe)."""
    lexicons = [load_lexicon(p) for p in paths]
    given: dict[str, str] = {}
    for path, lexicon in zip(paths, lexicons):
        if states_severities(path):
            for term in lexicon.terms:
                seen = given.get(term.match_key)
                given[term.match_key] = term.severity if seen is None else min(seen, term.severity, key=SEVERITIES.index)
    return combine(lexicons), given


# -- measuring --------------------------------------------------------------------------------------

_HAN_PATTERN = "[" + "".join(f"\\x{{{low:X}}}-\\x{{{high:X}}}" for low, high in HAN_RANGES) + "]"


def normalize_strings(strings: list[str] | pa.Array, steps: tuple[str, ...]) -> list[str]:
    """Texts under the scan's steps, column-wise (``t2s`` after the others, which the column code needs)."""
    array = pa.array(strings, pa.string()) if isinstance(strings, list) else strings
    for part in (tuple(s for s in steps if s != "t2s"), ("t2s",) if "t2s" in steps else ()):
        if part and len(array):
            array = normalize_column(array, part).array
    return [s or "" for s in array.to_pylist()]


def _char_offsets(text: pa.Array, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 byte offsets of hits in their documents -> character offsets (co-occurrence windows count characters)."""
    offsets, data = offsets_and_data(text)
    raw = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]]
    before = np.concatenate([[0], np.cumsum((raw & 0xC0) != 0x80)])  # characters before each byte
    base = offsets[rows] - offsets[0]
    return before[base + starts] - before[base], before[base + ends] - before[base]


def _pairs_within(rows: np.ndarray, terms: np.ndarray, starts: np.ndarray, ends: np.ndarray, window: int) -> Iterator[tuple[int, set[tuple[int, int]]]]:
    """(document, pairs of distinct terms (lower id first) with hits at most ``window`` characters apart)."""
    order = np.lexsort((starts, rows))
    rows, terms, starts, ends = (a[order].tolist() for a in (rows, terms, starts, ends))
    i = 0
    while i < len(rows):
        j = i
        while j < len(rows) and rows[j] == rows[i]:
            j += 1
        found = set()
        for x in range(i, j):
            for y in range(x + 1, j):
                if starts[y] - ends[x] > window:
                    break
                if terms[x] != terms[y]:
                    found.add((min(terms[x], terms[y]), max(terms[x], terms[y])))
        if found:
            yield rows[i], found
        i = j


def _document_hashes(doc_ids: pa.Array) -> np.ndarray:
    return doc_hashes(doc_ids.to_pylist(), HALF_SEED)


def _halves(doc_ids: pa.Array, hashes: np.ndarray | None = None) -> np.ndarray:
    """0 or 1 per document, from a keyed hash of its id: deterministic, independent of input order."""
    hashes = _document_hashes(doc_ids) if hashes is None else hashes
    return (hashes & np.uint64(1)).astype(np.int64)


def _unsafe(result) -> np.ndarray:
    return np.asarray(result.values["unsafe"].to_numpy(zero_copy_only=False), dtype=bool)


class LabelledDocument(NamedTuple):
    """A labelled document as the measurement keeps it."""

    half: int
    unsafe: bool
    text: str
    """Normalised as the scan normalises."""
    category: str


MINING_HALVES = ((0, 1), (0,), (1,))
"""What terms are mined on: all labelled documents, and each half for the held-out estimate."""


class Measurement:
    """Per-term counts on the references and the labelled documents, kept per half (documents split by
    a hash of their id), so the held-out estimate can tune on one half and measure on the other. With
    ``mining``, also the counts of the candidates for new terms, per half."""

    def __init__(self, lexicon: Lexicon, given: Mapping[str, str], steps: tuple[str, ...], params: TuningParams, mining: MineParams | None = None) -> None:
        self.lexicon = lexicon
        self.given = given
        self.steps = steps
        self.params = params
        self.mining = mining
        count = len(lexicon.terms)
        # A term's form under the steps: t2s is left out where it would change a term (term_steps), so it never does.
        self.forms = normalize_strings([t.text for t in lexicon.terms], tuple(s for s in steps if s != "t2s"))
        self._term_ids = {t.text: i for i, t in enumerate(lexicon.terms)}
        self.ref_hits = np.zeros((2, count), dtype=np.int64)
        self.ref_docs = np.zeros((2, count), dtype=np.int64)
        self.totals = [ReferenceTotals(), ReferenceTotals()]
        self.contexts: dict[int, list[tuple[int, int, int, str, str]]] = defaultdict(list)
        """Term id -> (hit hash, document, half, left, right) of the hits kept (bottom-k by hash)."""
        self._context_limit = np.full(count, np.iinfo(np.uint64).max, dtype=np.uint64)
        self.label_pos = np.zeros((2, count), dtype=np.int64)
        self.label_neg = np.zeros((2, count), dtype=np.int64)
        self.pair_labels: dict[tuple[int, int], np.ndarray] = defaultdict(lambda: np.zeros((2, 2), dtype=np.int64))
        """(a, b) -> [half, unsafe] labelled documents where a and b hit within ``cooc_window`` characters."""
        self.pair_refs: dict[tuple[int, int], np.ndarray] = {}
        self.labelled_texts: list[LabelledDocument] = []
        self._labelled_docs_of: dict[int, list[int]] = defaultdict(list)
        """Term id -> the labelled documents it hits: where its contexts can be."""
        self._documents = 0
        self.label_counts: dict[tuple[int, ...], LabelCounts] = {}
        """Halves -> what their labelled documents say about the candidates for new terms."""
        self._mining_strings: list[str] = []
        """What the references are searched for: the candidates and their parts (``mining_ref_hits`` columns)."""
        self._mining_matcher: Matcher | None = None
        self.mining_ref_hits = np.zeros((2, 0), dtype=np.int64)
        self.mining_ref_docs = np.zeros((2, 0), dtype=np.int64)

    # labelled documents come first: their pairs decide which pairs the references are searched for
    def add_labelled(self, result, unsafe: np.ndarray, categories: list[str]) -> None:
        """Count one batch of labelled documents (``result`` of ``Scanner.analyse``)."""
        half = _halves(result.doc_id)
        for h in (0, 1):
            self.totals[h].label_pos += int(np.count_nonzero(unsafe & (half == h)))
            self.totals[h].label_neg += int(np.count_nonzero(~unsafe & (half == h)))
            for target, cls in ((self.label_pos, True), (self.label_neg, False)):
                chosen = (half[result.pair_row] == h) & (unsafe[result.pair_row] == cls)
                target[h] += np.bincount(result.pair_term[chosen], minlength=target.shape[1])
        hits = result.hits
        if len(hits):
            starts, ends = _char_offsets(result.text, hits.row, hits.start, hits.end)
            for row, pairs in _pairs_within(hits.row, hits.term, starts, ends, self.params.cooc_window):
                for pair in pairs:
                    self.pair_labels[pair][half[row], int(unsafe[row])] += 1
        first = len(self.labelled_texts)
        for row, term in zip(result.pair_row.tolist(), result.pair_term.tolist()):
            self._labelled_docs_of[term].append(first + row)
        texts = normalize_strings(result.text, self.steps)
        self.labelled_texts += [LabelledDocument(*row) for row in zip(half.tolist(), unsafe.tolist(), texts, categories)]

    def candidate_pairs(self) -> None:
        """Pairs with enough unsafe labelled documents to become rules: the references are searched for these."""
        self.pair_refs = {pair: np.zeros(2, dtype=np.int64) for pair, counts in self.pair_labels.items() if counts[:, 1].sum() >= self.params.cooc_min_pos}

    def candidate_terms(self) -> None:
        """With ``mining``: count the candidates for new terms on the labelled documents of ``MINING_HALVES``
        and compile what the references are searched for (by the scan's matcher, so they count as a scan
        would match them)."""
        if self.mining is None:
            return
        for halves in MINING_HALVES:
            chosen = [d for d in self.labelled_texts if d.half in halves]
            self.label_counts[halves] = count_labels([d.text for d in chosen if d.unsafe], [d.text for d in chosen if not d.unsafe], self.mining)
        self._mining_strings = sorted(set().union(*map(reference_strings, self.label_counts.values())))
        self.mining_ref_hits = np.zeros((2, len(self._mining_strings)), dtype=np.int64)
        self.mining_ref_docs = np.zeros((2, len(self._mining_strings)), dtype=np.int64)
        if self._mining_strings:
            candidates = Lexicon("mining", "candidates", tuple(Term(s, frozenset()) for s in self._mining_strings))
            self._mining_matcher = Matcher(candidates, self.steps)

    def add_reference(self, result) -> None:
        """Count one batch of reference documents."""
        hashes = _document_hashes(result.doc_id)
        half = _halves(result.doc_id, hashes)
        hits = result.hits
        text = result.text
        han = np.asarray(pc.fill_null(pc.count_substring_regex(text, _HAN_PATTERN), 0), dtype=np.int64)
        ascii_letters = np.asarray(pc.fill_null(pc.count_substring_regex(text, "[A-Za-z]"), 0), dtype=np.int64)
        count = self.ref_hits.shape[1]
        for h in (0, 1):
            mine = half == h
            totals = self.totals[h]
            totals.documents += int(np.count_nonzero(mine))
            totals.chars += int(result.doc_chars[mine].sum())
            totals.han_chars += int(han[mine].sum())
            totals.ascii_letters += int(ascii_letters[mine].sum())
            self.ref_hits[h] += np.bincount(hits.term[half[hits.row] == h], minlength=count)
            self.ref_docs[h] += np.bincount(result.pair_term[half[result.pair_row] == h], minlength=count)
        if len(hits):
            self._add_contexts(text, hits, half, hashes)
            if self.pair_refs:
                wanted = np.zeros(count, dtype=bool)
                wanted[[t for pair in self.pair_refs for t in pair]] = True
                keep = wanted[hits.term]
                starts, ends = _char_offsets(text, hits.row[keep], hits.start[keep], hits.end[keep])
                for row, pairs in _pairs_within(hits.row[keep], hits.term[keep], starts, ends, self.params.cooc_window):
                    for pair in pairs & self.pair_refs.keys():
                        self.pair_refs[pair][half[row]] += 1
        if self._mining_matcher is not None:
            self._count_mining_strings(text, half)
        self._documents += len(half)

    def _count_mining_strings(self, text: pa.Array, half: np.ndarray) -> None:
        """Hits and documents of the candidates for new terms (and their parts) in one reference batch, per half."""
        found = self._mining_matcher.find(text)
        count = len(self._mining_strings)
        rows, strings = found.row.astype(np.int64), found.term.astype(np.int64)
        for h in (0, 1):
            mine = half[rows] == h
            self.mining_ref_hits[h] += np.bincount(strings[mine], minlength=count)
            self.mining_ref_docs[h] += np.bincount(np.unique(rows[mine] * count + strings[mine]) % count, minlength=count)

    def _add_contexts(self, text: pa.Array, hits, half: np.ndarray, doc_hash: np.ndarray) -> None:
        """Keep the normalised word characters around the hits whose hash is among the term's
        ``contexts_per_term`` smallest so far (an order-free sample of a frequent term's hits)."""
        hit_hash = doc_hash[hits.row] ^ (hits.start.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        keep = np.flatnonzero(hit_hash <= self._context_limit[hits.term])
        if not len(keep):
            return
        offsets, data = offsets_and_data(text)
        buffer = memoryview(data)
        span = (self.params.allow_window + 4) * 4  # bytes: the window's characters and what normalisation may delete
        lefts, rights = [], []
        for row, start, end in zip(hits.row[keep].tolist(), hits.start[keep].tolist(), hits.end[keep].tolist()):
            base, limit = int(offsets[row]), int(offsets[row + 1])
            lefts.append(bytes(buffer[max(base, base + start - span) : base + start]).decode("utf-8", "ignore"))
            rights.append(bytes(buffer[base + end : min(limit, base + end + span)]).decode("utf-8", "ignore"))
        window = self.params.allow_window
        for i, left, right in zip(keep.tolist(), normalize_strings(lefts, self.steps), normalize_strings(rights, self.steps)):
            term, row = int(hits.term[i]), int(hits.row[i])
            self.contexts[term].append((int(hit_hash[i]), self._documents + row, int(half[row]), _word_tail(left, window), _word_head(right, window)))
        limit = 2 * self.params.contexts_per_term
        for term in set(hits.term[keep].tolist()):
            kept = self.contexts[term]
            if len(kept) > limit:
                kept.sort()
                del kept[self.params.contexts_per_term :]
                self._context_limit[term] = kept[-1][0]

    def totals_of(self, halves: tuple[int, ...]) -> ReferenceTotals:
        return ReferenceTotals(**{k: sum(getattr(self.totals[h], k) for h in halves) for k in vars(ReferenceTotals())})

    def propose(self, halves: tuple[int, ...]) -> list[Decision]:
        """The decisions the documents of ``halves`` support: one per input term, then the added terms."""
        stats, totals, pairs, context_precision = self.stats(halves)
        decisions = propose(stats, totals, self.params, pairs, context_precision)
        return decisions + self.mined(halves, decisions)

    def mined(self, halves: tuple[int, ...], decisions: list[Decision]) -> list[Decision]:
        """New terms mined from the documents of ``halves`` (none without ``mining``), given the decisions on
        the input terms: those are not proposed again, and a candidate holding a high one is redundant."""
        counts = self.label_counts.get(halves)
        if counts is None:
            return []
        totals = self.totals_of(halves)
        chosen = list(halves)
        references = ReferenceCounts(
            hits=dict(zip(self._mining_strings, self.mining_ref_hits[chosen].sum(axis=0).tolist())),
            docs=dict(zip(self._mining_strings, self.mining_ref_docs[chosen].sum(axis=0).tolist())),
            script_chars={script: totals.script_chars(script) for script in ("han", "ascii")},
            measured=frozenset(script for script in ("han", "ascii") if totals.measured(script, self.params)),
        )
        known: dict[str, str] = {}  # by the form the scan matches, which is how candidates are spelt
        for d in decisions:
            form = self.forms[self._term_ids[d.term]]
            key = match_key(form) if form else form
            known[key] = max(known.get(key, "drop"), d.severity, key=SEVERITY_RANK.get)
        terms = select(counts, references, self.mining, known)
        unsafe = [(d.text, d.category) for d in self.labelled_texts if d.half in halves and d.unsafe]
        categories = majority_categories({m.term for m in terms}, unsafe, self.mining)
        added = []
        for m in terms:
            category, share = categories[m.term]
            why = f"category {category}: {100 * share:.1f} % of its unsafe documents" if share else f"category {category} by default: no risk code on most of its unsafe documents"
            evidence = {"label_pos": m.pos, "label_neg": m.neg, "label_bp_lb": m.bp_lb, "ref_hits": m.ref_hits, "ref_docs": m.ref_docs,
                        "ref_rate_per_1k": m.ref_rate_per_1k, "shape": shape(m.term), "category_share": round(share, 3)}  # fmt: skip
            added.append(Decision(m.term, ADD, m.severity, f"mined from the labels: {m.reason}; {why}", evidence=evidence, category=category))
        return added

    def stats(self, halves: tuple[int, ...]) -> tuple[dict[str, TermStats], ReferenceTotals, dict, Callable[[str, str], float] | None]:
        """What ``propose`` takes, from the documents of ``halves``: term statistics, totals, co-occurrence
        pairs and the context precision function (empty and None without labels)."""
        chosen = list(halves)
        totals = self.totals_of(halves)
        labelled = totals.label_pos > 0 and totals.label_neg > 0
        hits, docs = self.ref_hits[chosen].sum(axis=0), self.ref_docs[chosen].sum(axis=0)
        pos, neg = self.label_pos[chosen].sum(axis=0), self.label_neg[chosen].sum(axis=0)
        stats = {}
        for i, term in enumerate(self.lexicon.terms):
            contexts = [HitContext(doc, left, right) for _, doc, h, left, right in self.contexts.get(i, ()) if h in halves]
            stats[term.text] = TermStats(
                term.text,
                self.forms[i],
                int(hits[i]),
                int(docs[i]),
                contexts,
                int(pos[i]) if labelled else None,
                int(neg[i]) if labelled else None,
                self.given.get(term.match_key, ""),
            )
        if not labelled:
            return stats, totals, {}, None
        texts = self.lexicon.terms
        pairs = {}
        for (a, b), refs in self.pair_refs.items():
            counts = self.pair_labels[(a, b)][chosen].sum(axis=0)
            pairs[(texts[a].text, texts[b].text)] = (int(counts[1]), int(counts[0]), int(refs[chosen].sum()))
        return stats, totals, pairs, self._context_precision(halves, totals)

    def _context_precision(self, halves: tuple[int, ...], totals: ReferenceTotals) -> Callable[[str, str], float]:
        """The balanced precision of the labelled documents holding a context of a term (0 on too few); only
        the documents the term hits are searched."""
        cache: dict[str, float] = {}

        def precision(term: str, context: str) -> float:
            if context not in cache:
                folded = is_ascii_alnum(context[0]) or is_ascii_alnum(context[-1])  # matched ASCII-case-insensitively
                positive = negative = 0
                for doc in self._labelled_docs_of.get(self._term_ids[term], ()):
                    d = self.labelled_texts[doc]
                    if d.half in halves and context in (ascii_lower(d.text) if folded else d.text):
                        positive += d.unsafe
                        negative += not d.unsafe
                enough = positive + negative >= self.params.label_min_support
                cache[context] = balanced_precision_lb(positive, negative, totals.label_pos, totals.label_neg, self.params.label_z) if enough else 0.0
            return cache[context]

        return precision


def _word_tail(text: str, size: int) -> str:
    tail = ""
    for char in reversed(text):
        if len(tail) >= size or not is_word_char(char):
            break
        tail = char + tail
    return tail


def _word_head(text: str, size: int) -> str:
    head = ""
    for char in text:
        if len(head) >= size or not is_word_char(char):
            break
        head += char
    return head


# -- the whole run ----------------------------------------------------------------------------------


@dataclass
class Estimate:
    """How one lexicon does on some documents: unsafe reference documents (per input file) and, on
    labelled documents, the confusion counts of unsafe against the labels."""

    documents: int = 0
    unsafe: int = 0
    by_file: dict[str, list[int]] = field(default_factory=dict)
    labelled: int = 0
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def unsafe_share(self) -> float:
        return self.unsafe / self.documents if self.documents else 0.0

    @property
    def precision(self) -> float | None:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        unsafe = self.true_positives + self.false_negatives
        return self.true_positives / unsafe if unsafe else None

    def add_references(self, label: str, unsafe: np.ndarray) -> None:
        self.documents += len(unsafe)
        self.unsafe += int(np.count_nonzero(unsafe))
        entry = self.by_file.setdefault(label, [0, 0])
        entry[0] += len(unsafe)
        entry[1] += int(np.count_nonzero(unsafe))

    def add_labelled(self, predicted: np.ndarray, truth: np.ndarray) -> None:
        self.labelled += len(truth)
        self.true_positives += int(np.count_nonzero(predicted & truth))
        self.false_positives += int(np.count_nonzero(predicted & ~truth))
        self.false_negatives += int(np.count_nonzero(~predicted & truth))


@dataclass
class TuningResult:
    """What ``tune`` did: the decisions on the input terms, the added (mined) terms, the files written,
    what they were measured on, and estimates of the unsafe share: before tuning, after (on the documents
    it was tuned on) and held out (tuned and mined on one half of the references and labels, measured on
    the other, both ways)."""

    decisions: list[Decision]
    added: list[Decision]
    lexicon_path: Path
    changes_path: Path
    references: ReferenceTotals
    files: int
    rejected_rows: int
    before: Estimate
    after: Estimate
    held_out: list[Estimate]
    unmeasured_scripts: dict[str, int]
    """Scripts the references hold under ``min_script_chars`` of: characters held."""
    allow_rows: int
    rules: int

    def actions(self) -> dict[str, int]:
        counts = Counter(d.action for d in self.decisions)
        return {a: counts.get(a, 0) for a in ACTIONS}

    def severities(self) -> dict[str, int]:
        counts = Counter(d.severity for d in self.decisions)
        return {s: counts.get(s, 0) for s in SEVERITIES}


def _reference_batches(shards: list[Shard], columns: Columns) -> Iterator[tuple[Shard, DocumentBatch]]:
    """Every batch of the references (also those holding only rejected rows); an unreadable file is a
    ConfigError: references the filer vouches for must be read whole."""
    for shard in shards:
        try:
            for batch in read_batches(shard, columns):
                yield shard, batch
        except ShardError as e:
            msg = f"reference {shard.label}: {e}"
            raise ConfigError(msg) from e


def _labelled_batches(labelled: list[LabelledText], size: int = 10_000) -> Iterator[tuple[DocumentBatch, np.ndarray, list[str]]]:
    """(batch, unsafe, risk codes) of the labelled documents."""
    for first in range(0, len(labelled), size):
        part = labelled[first : first + size]
        table = pa.table({"text": pa.array([t.text for t in part], pa.string())})
        roles = resolve_columns(table.column_names, Columns(), "labels")
        yield to_document_batch(table, roles, "labels", first), np.array([t.unsafe for t in part], dtype=bool), [t.category for t in part]


def tune(
    lexicon_paths: list[Path],
    references: list[str],
    out_dir: Path,
    options: ScanOptions,
    labelled: list[LabelledText] | None = None,
    params: TuningParams = TuningParams(),  # noqa: B008 (frozen)
    mining: MineParams | None = None,
) -> TuningResult:
    """Tune the lexicons on the references (and labelled texts), write ``out_dir/lexicon.tsv`` and
    ``out_dir/changes.tsv``, and measure the result. ``options`` are the scan's (normalisation, text
    column, policy); language ID and token counts change nothing here, and the classifier is not part of
    the keyword layer being tuned: they are switched off. ``mining``: also add new terms mined from the
    labelled texts (``scanner.curate.mine``), which needs unsafe and safe ones."""
    options = dataclasses.replace(options, langid=False, tokens="off", classifier=None, classifier_sha256=None)
    labelled = labelled or []
    if mining is not None and not 0 < sum(t.unsafe for t in labelled) < len(labelled):
        msg = "mining new terms needs labelled documents, both unsafe and safe ones"
        raise ConfigError(msg)
    lexicon, given = load_input(lexicon_paths)
    shards = discover_shards(references)
    measurement, before, rejected = _measure(lexicon, given, shards, labelled, options, params, mining)
    if not before.documents:
        msg = f"the references hold no documents ({', '.join(references)})"
        raise ConfigError(msg)
    decisions = measurement.propose((0, 1))
    out_dir = Path(out_dir)
    write_lexicon(decisions, lexicon, out_dir / "lexicon.tsv")
    write_changes(decisions, out_dir / "changes.tsv")
    tuned = load_lexicon(out_dir / "lexicon.tsv")
    after, held_out = _estimate(tuned, measurement, lexicon, shards, labelled, options)
    totals = measurement.totals_of((0, 1))
    return TuningResult(
        decisions=[d for d in decisions if d.action != ADD],
        added=[d for d in decisions if d.action == ADD],
        lexicon_path=out_dir / "lexicon.tsv",
        changes_path=out_dir / "changes.tsv",
        references=totals,
        files=len(shards),
        rejected_rows=rejected,
        before=before,
        after=after,
        held_out=held_out,
        unmeasured_scripts={s: n for s, n in (("han", totals.han_chars), ("ascii", totals.ascii_letters)) if n < params.min_script_chars},
        allow_rows=len(tuned.allow),
        rules=len(tuned.rules),
    )


def _measure(
    lexicon: Lexicon, given: Mapping[str, str], shards: list[Shard], labelled: list[LabelledText], options: ScanOptions, params: TuningParams, mining: MineParams | None
) -> tuple[Measurement, Estimate, int]:
    """One pass over the labelled documents, then one over the references, with the input lexicon:
    (the measurement, how the input lexicon does, rows the references reject)."""
    measurement = Measurement(lexicon, given, options.normalize, params, mining)
    before = Estimate()
    scanner = Scanner(lexicon, options)
    for batch, truth, categories in _labelled_batches(labelled):
        result = scanner.analyse(batch, "labels", "labels")
        measurement.add_labelled(result, truth, categories)
        before.add_labelled(_unsafe(result), truth)
    measurement.candidate_pairs()
    measurement.candidate_terms()
    rejected = 0
    for shard, batch in _reference_batches(shards, options.columns):
        rejected += sum(batch.rejected.values())
        if len(batch.text):
            result = scanner.analyse(batch, shard.label, shard.stem)
            measurement.add_reference(result)
            before.add_references(shard.label, _unsafe(result))
    return measurement, before, rejected


def _estimate(
    tuned: Lexicon, measurement: Measurement, lexicon: Lexicon, shards: list[Shard], labelled: list[LabelledText], options: ScanOptions
) -> tuple[Estimate, list[Estimate]]:
    """How the tuned lexicon does on what it was tuned on, and the held-out estimate: a lexicon tuned (and
    mined) on one half of the references and labels, measured on the other half, both ways. In-sample
    figures understate new text (docs/evidence.md)."""
    final = Scanner(tuned, options)
    by_half = []
    with tempfile.TemporaryDirectory(prefix="lexicon-tune-") as folder:
        for half in (0, 1):
            path = Path(folder) / f"half{half + 1}.tsv"
            write_lexicon(measurement.propose((half,)), lexicon, path)
            by_half.append(Scanner(load_lexicon(path), options))
    after, held_out = Estimate(), [Estimate(), Estimate()]
    for shard, batch in _reference_batches(shards, options.columns):
        if not len(batch.text):
            continue
        result = final.analyse(batch, shard.label, shard.stem)
        after.add_references(shard.label, _unsafe(result))
        other = [_halves(result.doc_id) != half for half in (0, 1)]
        for half, scanner in enumerate(by_half):
            held_out[half].add_references(shard.label, _unsafe(scanner.analyse(batch, shard.label, shard.stem))[other[half]])
    for batch, truth, _ in _labelled_batches(labelled):
        result = final.analyse(batch, "labels", "labels")
        after.add_labelled(_unsafe(result), truth)
        other = [_halves(result.doc_id) != half for half in (0, 1)]
        for half, scanner in enumerate(by_half):
            held_out[half].add_labelled(_unsafe(scanner.analyse(batch, "labels", "labels"))[other[half]], truth[other[half]])
    return after, held_out
