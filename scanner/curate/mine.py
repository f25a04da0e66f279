"""Term mining from labelled documents: ``scanner lexicon tune --labels FILE --mine``.

The per-term tuner (``scanner.curate.tune``) can only keep, demote or drop what a lexicon lists. A
public list tuned that way stays clean but misses what labelled offensive comments say: on COLD it kept
recall 0.12 of the untuned 0.65. The miner proposes *new* terms. A new term is a string that is
frequent in the unsafe labelled documents, precise on the labels, and never seen in the clean
references. Measurements and the caveats: docs/unsafe.md (Tuning a lexicon).

Texts come in normalised as the scan normalises them (the tuner's ``normalize_strings``). A mined term
then matches exactly where it was counted, Traditional text included (``t2s``). Steps (thresholds in
``MineParams``):

1. candidates: Han runs give character n-grams of ``min_n``..``max_n``; an ASCII letter/digit run of
   ``min_ascii``..``max_ascii`` characters is one candidate, lower-cased (the scan matches ASCII terms
   case-insensitively on word boundaries, so only whole runs can hit). Support is the number of unsafe
   documents holding it, counted level by level: an n-gram is counted only if its prefix and suffix
   reached ``min_pos`` (exact, and memory stays with the frequent n-grams);
2. word shape: no particle, pronoun or function word at an edge (的傻, 黑人们), no single repeated
   character (哈哈哈); closed n-grams: an n-gram is dropped when a longer candidate holding it has at
   least ``closed_ratio`` of its support (男癌 -> 直男癌, 视黑 -> 歧视黑人);
3. label precision: the Wilson lower bound of the balanced precision decides high or medium; a Han term
   shorter than ``min_len_high`` is at most medium;
4. reference veto: a term seen in the references more than ``max_ref_rate`` per 1,000 characters of its
   script is not proposed; none is made high for a script the references hold too little of;
5. generic compounds: a term that splits into two parts both frequent in the references (中国+女人) is
   a phrase of ordinary words: at most medium;
6. redundancy and cap: a term of the input lexicon is not proposed again (the tuner decides it); a
   candidate holding a high term (proposed or known) adds no hit and is skipped; the most supported
   are taken, high first, up to ``max_terms``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from scanner.lexicon.terms import ascii_lower, is_ascii_alnum
from scanner.match.normalize import is_han

_EDGE = "的了着过吗呢吧啊呀哦嘛么啦哈嗯呵哎唉噢喔呃哇嘿吖咯也都就还又很太更最挺真是在和与及或被把将让给对向从于跟比为这那哪其此该每各某我你他她它咱您俺一个们些"
DEFAULT_CATEGORY = "A4.3"
"""Risk code of a mined term when no code is carried by most of its unsafe documents. The miner knows
that a term is risky on the labels, not which risk. A4.3 (reputation: insults) is the code the
research gave generic insults. A ``category`` column in the label file, or the reviewer, gives better
codes."""


@dataclass(frozen=True)
class MineParams:
    """The miner's thresholds, chosen on COLD's dev split (25,726 training comments mined, THUCNews and
    CLUE as references) by a rule fixed before any test measurement: among 240 settings, the largest dev
    recall with dev precision >= 0.92 (0.22 above the 0.70 target: the tuner had lost 0.21 precision from
    dev to test) and an estimated clean cost <= 2 points (mined with half of the references, measured on
    the other half). Chosen: dev precision 0.931, recall 0.516; runners-up within 0.002 recall."""

    min_n: int = 2
    max_n: int = 6
    min_pos: int = 12
    """Unsafe labelled documents a candidate must be in. At 5 the same thresholds gave dev recall 0.55 but
    an estimated clean cost of 2.6 points: rarer strings are noisier."""
    z: float = 1.28
    """Wilson bound, one-sided 90 %, as the tuner's label rules."""
    high_bp: float = 0.85
    """At 0.80 dev precision fell to 0.917 (clean cost 3.2 points); at 0.90 recall fell to 0.43."""
    medium_bp: float = 0.75
    max_ref_rate: float = 0.0
    """Reference hits per 1,000 characters of the script a term may have: 0, unseen. Tolerating one or two
    hits in 1 M characters raised tuned-on news from 2.3 % to 3-10 % unsafe: such terms are ordinary words."""
    generic_rate: float = 0.05
    """A part of a compound this frequent in the references (per 1,000 characters) is a generic word. The
    rule changed nothing measurable on COLD (such compounds rarely pass the veto); it is a guard."""
    max_terms: int = 1000
    """A cap, not a choice: 323 terms passed on COLD (300 would have cost 0.001 dev recall)."""
    min_len_high: int = 2
    """A Han term shorter than this is at most medium. Two-character strings unseen in 1 M reference characters
    are still often ordinary words (外媒, 男方): 3 halves the clean cost (1.1 points) but costs 0.04 dev recall;
    2 keeps them high, paid for by min_pos 12 and high_bp 0.85."""
    closed_ratio: float = 0.8
    """Drop an n-gram when a longer candidate holding it has this share of its support. 1.0 keeps only
    strictly closed n-grams (the same counts); 0.8 also folds fragments into their word, which left held-out
    clean text cleaner (CLUE 3.1 % unsafe instead of 3.4 %) at the same recall."""
    edge_start: str = _EDGE
    """Characters a term may not begin with: particles, adverbs, prepositions, pronouns, 一/个/们."""
    edge_end: str = _EDGE + "地得"
    """Characters a term may not end with: as edge_start, and 地/得, particles only at the end (地域, 得到 are words)."""
    min_ascii: int = 3
    max_ascii: int = 20


def balanced_precision_lb(pos: int, neg: int, total_pos: int, total_neg: int, z: float) -> float:
    """Wilson lower bound of the precision a term would have at a 50 % base rate: independent of the
    labelled set's class balance, and cautious on few documents."""
    if pos + neg == 0 or total_pos == 0 or total_neg == 0:
        return 0.0
    weighted_pos = pos * total_neg / total_pos
    phat = weighted_pos / (weighted_pos + neg)
    n = pos + neg  # confidence from the real counts
    denominator = 1 + z * z / n
    centre = phat + z * z / (2 * n)
    margin = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n))
    return max(0.0, (centre - margin) / denominator)


# -- candidates -------------------------------------------------------------------------------------


def text_runs(text: str) -> Iterator[tuple[bool, str]]:
    """(is Han, run) for every maximal run of Han characters or of ASCII letters and digits; anything
    else (punctuation, spaces, emoji, kana) separates runs."""
    kind, start = None, 0
    for i, char in enumerate(text):
        if is_han(char):
            current = True
        elif is_ascii_alnum(char):
            current = False
        else:
            current = None
        if current is not kind:
            if kind is not None:
                yield kind, text[start:i]
            kind, start = current, i
    if kind is not None:
        yield kind, text[start:]


def candidates(text: str, n: int, params: MineParams) -> set[str]:
    """The distinct candidates of length ``n`` in a text: Han n-grams, and at the first level the whole
    ASCII runs (counted once)."""
    found = set()
    for han, run in text_runs(text):
        if han:
            found.update(run[i : i + n] for i in range(len(run) - n + 1))
        elif n == params.min_n and params.min_ascii <= len(run) <= params.max_ascii and not run.isdigit():
            found.add(ascii_lower(run))
    return found


def count_support(texts: list[str], params: MineParams) -> Counter:
    """Documents holding each candidate, for the candidates in at least ``min_pos`` of them. Level by
    level: a (k+1)-gram is counted only where its k-gram prefix and suffix both reached ``min_pos``, which
    loses nothing (a string is in no more documents than its parts) and keeps memory to frequent n-grams."""
    support: Counter = Counter()
    frequent: set[str] | None = None
    for n in range(params.min_n, params.max_n + 1):
        level: Counter = Counter()
        for text in texts:
            found = candidates(text, n, params)
            if frequent is not None:
                found = {g for g in found if g[:-1] in frequent and g[1:] in frequent}
            level.update(found)
        kept = {g: k for g, k in level.items() if k >= params.min_pos}
        support.update(kept)
        frequent = {g for g in kept if not g.isascii()}
        if not frequent:
            break
    return support


def documents_holding(texts: Iterable[str], wanted: set[str], params: MineParams) -> Iterator[set[str]]:
    """Per text, the wanted candidates it holds (as ``candidates`` cuts them)."""
    lengths = sorted({len(g) for g in wanted if not g.isascii()})
    for text in texts:
        held = set()
        for han, run in text_runs(text):
            if han:
                held.update(g for n in lengths for i in range(len(run) - n + 1) if (g := run[i : i + n]) in wanted)
            elif (g := ascii_lower(run)) in wanted:
                held.add(g)
        yield held


def word_shaped(term: str, params: MineParams) -> bool:
    """No particle or function word at an edge, not one repeated character (ASCII runs are words)."""
    if term.isascii():
        return True
    return term[0] not in params.edge_start and term[-1] not in params.edge_end and len(set(term)) > 1


def inner(term: str) -> Iterator[str]:
    """The substrings of two or more characters of a Han term, shorter than it."""
    return (term[i:j] for i in range(len(term)) for j in range(i + 2, len(term) + 1) if j - i < len(term))


def splits(term: str) -> list[tuple[str, str]]:
    """The ways to cut a term into two parts of two or more characters."""
    return [(term[:i], term[i:]) for i in range(2, len(term) - 1)]


def closed(shaped: set[str], support: Mapping[str, int], negatives: Mapping[str, int], params: MineParams) -> set[str]:
    """The candidates left when each that a longer one stands for is dropped: a longer candidate holding it
    with ``closed_ratio`` of its support (at 1.0, with the same positive and negative counts)."""
    covered = set()
    for longer in shaped:
        if longer.isascii():
            continue
        for part in inner(longer):
            if part not in shaped or part in covered:
                continue
            if params.closed_ratio >= 1.0:
                stands_for = (support[longer], negatives[longer]) == (support[part], negatives[part])
            else:
                stands_for = support[longer] >= params.closed_ratio * support[part]
            if stands_for:
                covered.add(part)
    return shaped - covered


# -- counts and selection ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelCounts:
    """What the labelled documents say about the candidates left after steps 1-3: unsafe and safe
    documents holding each, and its balanced precision (lower bound); only those at least medium."""

    support: dict[str, int]
    negatives: dict[str, int]
    precision: dict[str, float]


def count_labels(unsafe: list[str], safe: list[str], params: MineParams = MineParams()) -> LabelCounts:  # noqa: B008 (frozen)
    """Steps 1-3 on normalised texts: the candidates precise enough to be at least medium."""
    if not unsafe or not safe:
        return LabelCounts({}, {}, {})
    support = count_support(unsafe, params)
    shaped = {g for g in support if word_shaped(g, params)}
    negatives: Counter = Counter()
    for held in documents_holding(safe, shaped, params):
        negatives.update(held)
    precision = {}
    for g in closed(shaped, support, negatives, params):
        bp = balanced_precision_lb(support[g], negatives[g], len(unsafe), len(safe), params.z)
        if bp >= params.medium_bp:
            precision[g] = bp
    return LabelCounts({g: support[g] for g in precision}, {g: negatives[g] for g in precision}, precision)


def reference_strings(counts: LabelCounts) -> set[str]:
    """What the references must be searched for: the candidates and the parts of their two-part splits."""
    return set(counts.support) | {part for g in counts.support if not g.isascii() for split in splits(g) for part in split}


@dataclass(frozen=True)
class ReferenceCounts:
    """What the clean references say: hits and documents per string (``reference_strings``), characters
    per script (``han``, ``ascii``), and the scripts with enough text for a term to be made high."""

    hits: Mapping[str, int]
    docs: Mapping[str, int]
    script_chars: Mapping[str, int]
    measured: frozenset[str]

    def rate(self, term: str) -> float:
        """Hits per 1,000 reference characters of the term's script."""
        return self.hits.get(term, 0) / max(self.script_chars[script_of(term)], 1) * 1000


def script_of(term: str) -> str:
    """``ascii`` or ``han``: which reference characters a candidate's rate is per."""
    return "ascii" if term.isascii() else "han"


@dataclass
class MinedTerm:
    """A proposed new term and the evidence behind it."""

    term: str
    severity: str
    pos: int
    neg: int
    bp_lb: float
    ref_hits: int
    ref_docs: int
    ref_rate_per_1k: float
    reason: str


def select(counts: LabelCounts, references: ReferenceCounts, params: MineParams = MineParams(), known: Mapping[str, str] | None = None) -> list[MinedTerm]:  # noqa: B008 (frozen)
    """Steps 3-6: the proposed terms, high first, then by support. ``known``: the input lexicon's terms
    (normalised as the texts) -> the severity the tuner gave them."""
    known = known or {}
    proposals = []
    for term in sorted(counts.support):
        rate = references.rate(term)
        if term in known or rate > params.max_ref_rate:
            continue
        bp = counts.precision[term]
        severity, reasons = ("high" if bp >= params.high_bp else "medium"), [f"bp_lb {bp:.2f}"]
        if severity == "high" and not term.isascii() and len(term) < params.min_len_high:
            severity, reasons = "medium", [*reasons, f"shorter than {params.min_len_high} characters"]
        if severity == "high" and script_of(term) not in references.measured:
            severity, reasons = "medium", [*reasons, "too little reference text of its script for high"]
        if severity == "high" and any(references.rate(a) >= params.generic_rate and references.rate(b) >= params.generic_rate for a, b in splits(term)):
            severity, reasons = "medium", [*reasons, "compound of generic words"]
        hits, docs = references.hits.get(term, 0), references.docs.get(term, 0)
        proposals.append(MinedTerm(term, severity, counts.support[term], counts.negatives[term], round(bp, 4), hits, docs, round(rate, 6), "; ".join(reasons)))
    proposals.sort(key=lambda m: (m.severity != "high", -m.pos, -m.bp_lb, len(m.term), m.term))
    high = {t for t, severity in known.items() if severity == "high"}
    chosen: list[MinedTerm] = []
    for m in proposals:
        if len(chosen) >= params.max_terms:
            break
        if _holds_any(m.term, high):
            continue
        chosen.append(m)
        if m.severity == "high":
            high.add(m.term)
    # a longer term taken before a shorter high one it holds is redundant too
    mined_high = {m.term for m in chosen if m.severity == "high"}
    return [m for m in chosen if not _holds_any(m.term, mined_high - {m.term})]


def _holds_any(term: str, terms: set[str]) -> bool:
    """Does the term hold one of ``terms`` (an ASCII run only as a whole)?"""
    if term.isascii():
        return term in terms
    return term in terms or any(part in terms for part in inner(term))


def majority_categories(terms: set[str], unsafe: list[tuple[str, str]], params: MineParams = MineParams()) -> dict[str, tuple[str, float]]:  # noqa: B008 (frozen)
    """Per term: (the risk code carried by more than half of the unsafe documents holding it, that share),
    or (``DEFAULT_CATEGORY``, 0.0) when no code is. ``unsafe``: (normalised text, risk code or "")."""
    found: dict[str, Counter] = {t: Counter() for t in terms}
    for held, (_, code) in zip(documents_holding([text for text, _ in unsafe], terms, params), unsafe):
        for t in held:
            found[t][code] += 1
    result = {}
    for t, codes in found.items():
        code, count = max(((c, n) for c, n in codes.items() if c), key=lambda cn: cn[1], default=("", 0))
        share = count / max(codes.total(), 1)
        result[t] = (code, share) if share > 0.5 else (DEFAULT_CATEGORY, 0.0)
    return result
