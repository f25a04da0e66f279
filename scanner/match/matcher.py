"""The hot core: one Aho-Corasick pass over an Arrow string column's data buffer.

Matching contract (tests/test_matcher.py pins each rule):

- A hit is a (term, start) pair where the term occurs in the document; overlapping occurrences all
  count (``中国`` and ``中国人`` both hit in ``中国人民``; ``哈哈`` hits twice in ``哈哈哈``).
- A term whose first or last character is an ASCII letter or digit matches ASCII-case-insensitively,
  and at that end only on a word boundary: the neighbouring character is not an ASCII letter or
  digit (``ass`` misses ``class``; ``C++`` hits ``learn c++ now``). Other terms are exact substrings.
- A match never spans two documents. Null and empty documents have no hits.
- With normalisation steps (``scanner.match.normalize``), the rules apply to the normalised document and
  the normalised terms, and each hit is reported at the original characters it came from.

How: the column is viewed through Arrow's ``ascii_lower`` (byte-for-byte the same length, so the
offsets buffer still applies), the automaton runs once over the whole data buffer (zero copy, the
GIL released; ``ENGINES``: ahocorasick-rs, the default and reference, or Hyperscan's literal
matcher where the ``hyperscan`` package imports), offsets map matches to rows with
``numpy.searchsorted``, and vectorised masks drop
cross-row spans and apply the boundary rule. Exact terms that contain ASCII letters are verified
against the unlowered bytes, since the lowered view cannot tell ``A`` from ``a``.

Normalisation keeps that single pass as the hot path:

- ``invisible``, ``nfkc`` and ``casefold`` change only rare characters. The automaton also looks
  for the *relevant* ones (those whose normalised form is empty, or holds an ASCII letter or digit
  or a character of some term); hits next to or over one are recomputed on short windows around it,
  normalised with ``scanner.match.textview``; all other hits are already final. A character that a hit can
  only gain (a no-break space, full-width punctuation) gets no window where no term holds its image
  beside the characters around it (``ImageNeighbours``);
- ``t2s`` works the same way: the automaton also looks for the Traditional characters of the
  characters of terms written in Simplified, and the windows around them are read through ``t2s``
  (byte for byte where the conversion keeps the UTF-8 length, as 3,859 of the 5,119 do), so the
  automaton holds one pattern per term. A document in which Traditional characters are common
  (``T2S_WINDOWS_MAX_SHARE``, judged on samples of each document) would be nearly all windows; it goes
  to a twin matcher that holds the Traditional spellings of each term instead (a term with more than
  ``T2S_VARIANT_LIMIT`` spellings gets its prefix's spellings and a check of the rest), built on first
  use, while the other documents of its batch keep the windows: every document is scanned once. Either
  way no document is converted and offsets stay exact;
- ``separators`` and ``repeats`` change text everywhere, so with either on the whole column is
  normalised with ``scanner.match.textview`` and scanned once (``t2s`` then by spellings), and hits are
  mapped back.

Resource usage (2 shared cores): compiling 10,000 terms takes ~0.1 s raw and ~0.15 s with the
default steps (100,000 terms: ~0.6 s and 0.8-0.95 s, in a fresh process; per-term properties come
from Arrow kernels over all terms at once; the spelled twin, 59,000 patterns for 10,000 terms,
another 0.3 s when first needed); matching runs at the speed of
``BytesAhoCorasick`` (see benchmarks/README.md) plus ~1 ns per byte for the lowered view. On Chinese
web text with the 10k lexicon the default steps cost ~1.15x the time of raw matching (windows
around ~1,300 rare characters per MB); ``separators`` or ``repeats`` 5-8x. All offsets reported are UTF-8
byte offsets into the original document.
"""

from __future__ import annotations

import functools
import itertools
import threading
from dataclasses import dataclass
from operator import attrgetter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scanner.arrays import ASCII_ALNUM, byte_mask, offsets_and_data
from scanner.errors import ConfigError
from scanner.lexicon.load import Lexicon
from scanner.lexicon.taxonomy import category_bit
from scanner.lexicon.terms import ascii_lower
from scanner.match.engines import DEFAULT_ENGINE, ENGINES
from scanner.match.hits import STEP_BITS, Hits, concat_hits, empty_hits
from scanner.match.normalize import STEPS, needed_steps, normalize, t2s_preimages, t2s_table
from scanner.match.textview import View, char_table, normalize_column
from scanner.match.windows import ImageNeighbours, contains, touches, traditional_shares
from scanner.resources import gc_paused

_ASCII_ALNUM = byte_mask(ASCII_ALNUM)
_STRING_TYPES = (pa.string(), pa.large_string())
_ASCII_ALNUM_CODES = np.zeros(0x110000, dtype=bool)
_ASCII_ALNUM_CODES[:256] = _ASCII_ALNUM
T2S_VARIANT_LIMIT = 64
"""Most Traditional spellings added per term. A term with more (long, many convertible characters;
167 of the 10k benchmark lexicon) gets the spellings of its longest prefix within the limit (3-15
characters there, so rare in text), and each match of one is checked for the rest in Python."""


T2S_WINDOWS_MAX_SHARE = 0.05
"""With ``t2s``, a document in which more than this share of the sampled characters are Traditional
(``traditional_shares``: ~20 characters at its start and middle) is matched by the spelled twin; the
others by windows around their Traditional characters. Chinese text written in Simplified has ~0.04 %
Traditional characters (names, quotations), Traditional text ~20-30 %: in the real-mix benchmark, 99.8 %
of the converted documents and 0.1 % of the Simplified ones go to the twin. Either way the hits are the
same; only the cost differs (a Traditional document by windows: ~2.5x the time, a Simplified one by the
twin's larger automaton: ~1.2x)."""

VIEW_SLICE_BYTES = 4_000_000
"""With ``separators`` or ``repeats``, columns are normalised in row slices of about this much text,
which bounds the view's memory (~50 bytes per character) and keeps the arrays in cache."""


@dataclass(frozen=True)
class _Found:
    """Matches of one scan, relative to their row: term matches (by entry) and rare characters."""

    row: np.ndarray
    entry: np.ndarray
    start: np.ndarray
    end: np.ndarray
    rare_row: np.ndarray
    rare_start: np.ndarray
    rare_end: np.ndarray
    rare_index: np.ndarray


class Matcher:
    """A lexicon compiled once into an automaton; reusable across batches and threads.

    ``steps`` are normalisation step names (``scanner.match.normalize.STEPS``); none means raw matching.

    >>> from scanner.lexicon.load import Lexicon
    >>> from scanner.lexicon.terms import Term
    >>> m = Matcher(Lexicon("demo", "1", (Term("哈哈", frozenset({"A1.6"})),)))
    >>> len(m.find(pa.array(["哈哈哈"])))
    2
    """

    @gc_paused()
    def __init__(
        self, lexicon: Lexicon, steps: tuple[str, ...] | list[str] = (), engine: str = DEFAULT_ENGINE, *, t2s_spellings: bool = False
    ) -> None:
        """``t2s_spellings``: cover ``t2s`` by Traditional spellings of the terms even where windows
        could (the matcher builds such a twin itself for text that is mostly Traditional)."""
        if engine not in ENGINES:
            msg = f"unknown matching engine {engine!r}; available: {', '.join(ENGINES)}"
            raise ConfigError(msg)
        self.lexicon = lexicon
        self.steps = tuple(s for s in STEPS if s in set(steps))
        self.engine = engine
        self._view_steps = tuple(s for s in self.steps if s != "t2s")
        self._whole_column = bool({"separators", "repeats"} & set(self.steps))
        self._t2s_windows = "t2s" in self.steps and not self._whole_column and not t2s_spellings
        self._spelled_twin: Matcher | None = None
        terms = lexicon.patterns  # the terms, then allow contexts and rule parts (ids after the terms')
        self.term_text = pa.array(list(map(attrgetter("text"), terms)), type=pa.string())
        categories = list(map(attrgetter("categories"), terms))
        masks = {c: sum(map(category_bit, c)) for c in dict.fromkeys(categories)}  # terms share a few category sets
        self.term_category_mask = np.fromiter(map(masks.__getitem__, categories), dtype=np.int64, count=len(categories))
        # An entry is one spelling of one term: its normalised form or a Traditional spelling of it;
        # for a term with too many spellings, a spelling of its start and the rest (``_rest``).
        # Per term a short Python step; per entry (66,000 for 10k terms with ``t2s``) only Arrow/numpy.
        term_ids, text_list, runs = self._normal_terms(terms, self.term_text)
        texts = pa.array(text_list, type=pa.string())  # normalised, one per matchable term
        # Terms ``t2s`` applies to: written in Simplified (no character that t2s converts).
        converts = np.zeros(len(texts), dtype=bool) if "t2s" not in self.steps else ~_matches(texts, _t2s_character_class())
        spellings, rests = self._spellings(text_list, converts)
        entry_text = list(itertools.chain.from_iterable(spellings))
        entry_array = pa.array(entry_text, type=pa.string())
        counts = np.fromiter(map(len, spellings), dtype=np.int64, count=len(spellings))
        first_entry = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._entry_term = np.repeat(np.array(term_ids, dtype=np.int64), counts)
        self._entry_text = entry_text
        bounded_start, bounded_end = (_matches(texts, pattern) for pattern in ("^[0-9A-Za-z]", "[0-9A-Za-z]$"))
        self._bounded_start, self._bounded_end = np.repeat(bounded_start, counts), np.repeat(bounded_end, counts)
        self._verify: dict[int, bytes] = {}
        self._runs: dict[int, tuple[int, ...]] = {}
        self._rest: dict[int, str] = {}
        # Exact entries with ASCII letters inside (spellings differ in Han characters only, so they
        # share ASCII letters and runs), runs collapsed by ``repeats``, rests of long terms: few terms.
        for k in np.flatnonzero(~bounded_start & ~bounded_end & _matches(texts, "[A-Za-z]")).tolist():
            self._verify.update((entry, spelling.encode()) for entry, spelling in zip(range(first_entry[k], first_entry[k + 1]), spellings[k]))
        for k, run in enumerate(runs) if rests is not None or "repeats" in self.steps else ():
            rest = rests[k] if rests is not None else ""
            if rest or max(run) > 1:
                entries = range(int(first_entry[k]), int(first_entry[k + 1]))
                if max(run) > 1:
                    self._runs.update(dict.fromkeys(entries, run))
                if rest:
                    self._rest.update(dict.fromkeys(entries, rest))
        # Per term, the most bytes a hit of it can span (its longest spelling, plus up to 4 bytes for
        # each character of a rest); per entry, whether it is in those (sparse) maps.
        rest_chars = np.fromiter(map(len, rests), dtype=np.int64, count=len(rests)) if self._rest else 0
        term_bytes = np.maximum.reduceat(np.asarray(pc.binary_length(entry_array), dtype=np.int64), first_entry[:-1]) if len(counts) else counts
        term_bytes = term_bytes + 4 * rest_chars
        self._has_rest, self._needs_verify, self._has_runs = (_entry_mask(len(entry_text), keys) for keys in (self._rest, self._verify, self._runs))
        # Automaton patterns: the ASCII-lowered spellings (lowering changes only spellings with
        # letters), each once; a pattern shared by several entries keeps them all (``_expand_groups``).
        lowered = pc.ascii_lower(entry_array).dictionary_encode()
        group = np.asarray(lowered.indices, dtype=np.int64)
        patterns = pc.cast(lowered.dictionary, pa.binary()).to_pylist()
        self._group_offsets = np.concatenate([[0], np.cumsum(np.bincount(group, minlength=len(patterns)))]).astype(np.int64)
        self._group_entries = np.argsort(group, kind="stable").astype(np.int64)
        self._margin = int(term_bytes.max(initial=0)) + 8  # bytes: the longest spelling, a neighbour and slack
        self._needs_lower_view = any(_has_ascii_letter(p) for p in patterns)
        t2s = t2s_table()
        self._entry_t2s = np.repeat(converts, counts)
        alphabet = set("".join(texts.to_pylist()))
        simplified_texts = texts.filter(pa.array(converts))
        simplified = set("".join(simplified_texts.to_pylist()))
        preimages = t2s_preimages()
        alphabet.update(p for c in simplified for p in preimages.get(c, ()))
        rare: list[str] = []
        self._rare_margin, self._rare_inside_only = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
        if self._view_steps and not self._whole_column:
            rare, self._rare_margin, self._rare_inside_only = self._rare_characters(alphabet, _longest_holding(texts, term_bytes))
        self._rare_t2s = np.zeros(len(rare), dtype=bool)
        self._t2s_bytes, self._t2s_in_place = np.zeros((len(rare), 4), dtype=np.uint8), np.zeros(len(rare), dtype=bool)
        if self._t2s_windows:
            # Traditional characters of Simplified terms' characters: found like rare characters,
            # and the windows around them read through t2s (``_redo_near_rare``), as far as the
            # longest Simplified term holding the converted character.
            longest = _longest_holding(simplified_texts, np.asarray(pc.binary_length(simplified_texts), dtype=np.int64))
            known = set(rare)
            triggers = sorted(p for c in simplified for p in preimages.get(c, ()) if p not in known)
            rare += triggers
            trigger_margin = [8 + int(longest[ord(t2s[p])]) for p in triggers]
            # Most conversions keep the UTF-8 length (3,859 of 5,119): windows holding only such
            # characters are converted byte for byte, without decoding (``_redo_near_rare``).
            self._t2s_bytes = np.zeros((len(rare), 4), dtype=np.uint8)
            self._t2s_in_place = np.zeros(len(rare), dtype=bool)
            for i, p in enumerate(triggers, start=len(rare) - len(triggers)):
                image = t2s[p].encode()
                if len(image) == len(p.encode()):
                    self._t2s_in_place[i] = True
                    self._t2s_bytes[i, : len(image)] = np.frombuffer(image, dtype=np.uint8)
            self._rare_margin = np.concatenate([self._rare_margin, np.array(trigger_margin, dtype=np.int64)])
            self._rare_inside_only = np.concatenate([self._rare_inside_only, np.ones(len(triggers), dtype=bool)])
            self._rare_t2s = np.concatenate([self._rare_t2s, np.ones(len(triggers), dtype=bool)])
        # Full normal texts, and the spellings when they differ (Traditional ones, prefixes of long terms).
        neighbour_texts = text_list if len(entry_text) == len(text_list) and rests is None else [*text_list, *entry_text]
        self._neighbours = ImageNeighbours.build(rare, self._rare_inside_only & ~self._rare_t2s, char_table(self._view_steps), neighbour_texts)
        self._term_patterns = len(patterns)
        self._automaton = ENGINES[engine]([*patterns, *(c.encode() for c in rare)])
        self._entry_steps: dict[int, int] = {}
        self._span_steps: dict[tuple[bytes, int], int] = {}
        self._lock = threading.Lock()

    def _normal_terms(self, terms, term_text: pa.Array) -> tuple[list[int], list[str], list[tuple[int, ...]]]:
        """Per matchable term, in parallel lists: term id, text after the steps but ``t2s``, runs.
        A term none of whose characters a character step changes is its own normal form (found by
        one regular expression over all terms); a term left empty (invisible characters) is dropped."""
        if self._whole_column:
            changed = list(range(len(terms)))
        elif self._view_steps:
            changed = np.flatnonzero(_matches(term_text, _character_class(np.flatnonzero(char_table(self._view_steps).index >= 0).tolist()))).tolist()
        else:
            changed = []
        text_list: list[str] = term_text.to_pylist()
        run_list: list[tuple[int, ...]] = [(1,)] * len(terms)
        for term_id in changed:
            normal = normalize(text_list[term_id], self._view_steps)  # t2s, last, is matched by spellings or windows
            text_list[term_id], run_list[term_id] = normal.text, normal.runs
        gone = {i for i in changed if not text_list[i]}
        term_ids = [i for i in range(len(terms)) if i not in gone]
        if gone:
            text_list, run_list = [text_list[i] for i in term_ids], [run_list[i] for i in term_ids]
        return term_ids, text_list, run_list

    def _spellings(self, text_list: list[str], converts: np.ndarray) -> tuple[list[list[str]], list[str] | None]:
        """Per term: its spellings and rest (None when no term has one). With ``t2s`` by spellings,
        a term ``t2s`` applies to (``converts``) is spelled with every Traditional character that
        converts to one of its own (``T2S_VARIANT_LIMIT`` spellings at most: beyond, its prefix's
        and a ``rest``); otherwise its one spelling is its text."""
        if "t2s" not in self.steps or self._t2s_windows:
            return [[text] for text in text_list], None
        choices = {s: (s, *t) for s, t in t2s_preimages().items()}
        spellings, rests = [], []
        for text, convert in zip(text_list, converts.tolist()):
            if not convert or choices.keys().isdisjoint(text):
                spellings.append([text])  # written in Traditional, or no Traditional spelling
                rests.append("")
                continue
            options = [choices.get(c) or (c,) for c in text]
            head, count = 0, 1  # the longest prefix with at most T2S_VARIANT_LIMIT spellings (>= 1 character)
            while head < len(options) and count * len(options[head]) <= T2S_VARIANT_LIMIT:
                count *= len(options[head])
                head += 1
            head = max(head, 1)
            spellings.append(["".join(p) for p in itertools.product(*options[:head])])
            rests.append(text[head:])
        return spellings, rests

    def _rare_characters(self, alphabet: set[str], longest: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Characters a step changes that can make or break a hit (the normalised form is empty, or
        holds an ASCII letter or digit or a character some term may match, or the character is itself
        one a term may match), with the window margin (bytes) each needs and whether only hits that
        contain it can change (``_redo_near_rare``). ``longest``: per code point, the bytes of the
        longest hit of a term holding it (``_longest_holding``).

        Most rare characters in real text (no-break space, full-width ``～ － ／``) normalise to
        punctuation or a space that some terms hold: they change only hits that contain them, and
        those are no longer than the longest term holding one of their normalised characters, so
        their windows are that short, not ``_margin`` (10k benchmark lexicon: 76 bytes either side of
        a no-break space, 23 of a ``～``, instead of 105), and hits beside them are left alone. On
        Chinese web text (~330 no-break spaces per MB) that halved the time spent on windows.
        """
        table = char_table(self._view_steps)
        wanted = _ASCII_ALNUM_CODES.copy()  # per code point: a term may match it, or it is an ASCII letter or digit
        wanted[[ord(c) for c in alphabet]] = True
        codes = np.flatnonzero(table.index >= 0)
        k = table.index[codes]
        empty = table.offsets[k + 1] == table.offsets[k]
        image_wanted, image_alnum = np.zeros(len(codes), dtype=bool), np.zeros(len(codes), dtype=bool)
        if len(table.cps):  # images are laid out in code order, so each non-empty one ends where the next begins
            starts = table.offsets[k[~empty]]
            image_wanted[~empty] = np.add.reduceat(wanted[table.cps].astype(np.int64), starts) > 0
            image_alnum[~empty] = np.add.reduceat(_ASCII_ALNUM_CODES[table.cps].astype(np.int64), starts) > 0
        rare = empty | wanted[codes] | image_wanted
        # Not itself matchable, not deleted, no ASCII letter or digit in its image: a hit can only
        # gain it (never lose it or a word boundary by it), so only hits that contain it change.
        inside_only = ~(empty | wanted[codes] | image_alnum)[rare]
        codes, k = codes[rare], k[rare]
        # Spellings hold Traditional characters of the text's: a term holds a character if its text
        # holds the character or its Simplified form.
        t2s = t2s_table()
        margin = np.full(len(codes), self._margin, dtype=np.int64)
        margin[inside_only] = [
            8 + max(int(longest[ord(c)]) for ch in map(chr, table.cps[table.offsets[i] : table.offsets[i + 1]].tolist()) for c in (ch, t2s.get(ch, ch)))
            for i in k[inside_only].tolist()
        ]
        return [chr(c) for c in codes.tolist()], margin, inside_only

    def find(self, column: pa.Array | pa.ChunkedArray) -> Hits:
        """All hits in a string column (``string`` or ``large_string``, chunked, sliced or with nulls)."""
        if isinstance(column, pa.ChunkedArray):
            parts, offsets, seen = [], [], 0
            for chunk in column.chunks:
                parts.append(self._find_in_array(chunk))
                offsets.append(seen)
                seen += len(chunk)
            return concat_hits(parts, offsets) if parts else empty_hits(len(column))
        return self._find_in_array(column)

    def _find_in_array(self, array: pa.Array) -> Hits:
        if array.type not in _STRING_TYPES:
            msg = f"expected a string or large_string array, got {array.type}"
            raise TypeError(msg)
        rows = len(array)
        if rows == 0 or array.null_count == rows:
            return empty_hits(rows)
        offsets, _ = offsets_and_data(array)
        if offsets[-1] == offsets[0]:
            return empty_hits(rows)
        if self._t2s_windows:
            spelled = traditional_shares(array) > T2S_WINDOWS_MAX_SHARE
            if spelled.all():
                return self._spelled()._find_in_array(array)
            if spelled.any():
                return self._routed(array, spelled)
        return self._find_in_column(array)

    def _routed(self, array: pa.Array, spelled: np.ndarray) -> Hits:
        """Documents where ``spelled`` to the spelled twin, the others to this matcher's windows: each
        document is scanned by the automaton that suits its script. The twin gets a copy of its few
        documents; this matcher scans the whole column with theirs blanked in its lowered copy (a run of
        NUL costs the automaton ~1.7 ns per byte against ~10 for text, less than copying the others out:
        ``take`` of 80 % of a 16 MB batch took ~16 ms)."""
        plain = self._find_in_column(array, skip=spelled)
        chosen = np.flatnonzero(spelled)
        twin = self._spelled()._find_in_array(array.take(pa.array(chosen)))
        return Hits(len(array), np.concatenate([plain.row, chosen[twin.row]]),
                    *(np.concatenate([getattr(plain, f), getattr(twin, f)]) for f in ("term", "start", "end", "steps")))

    def _find_in_column(self, array: pa.Array, skip: np.ndarray | None = None) -> Hits:
        """Every hit in a non-empty column, by this matcher's own automaton (no routing); none in the
        documents where ``skip``."""
        rows = len(array)
        if array.null_count == rows:
            return empty_hits(rows)
        offsets, data = offsets_and_data(array)
        if offsets[-1] == offsets[0]:
            return empty_hits(rows)
        if self._whole_column:
            parts = []
            cuts = np.unique(np.searchsorted(offsets, np.arange(offsets[0], offsets[-1], VIEW_SLICE_BYTES), side="right") - 1)
            for first, last in zip(cuts.tolist(), [*cuts[1:].tolist(), rows]):
                view = normalize_column(array.slice(first, last - first), self._view_steps)
                view_row, entry, start, end = self._to_original(self._scan(view.array), view, np.zeros(last - first, dtype=np.int64))
                parts.append((view_row + first, entry, start, end))
            row, entry, start, end = (np.concatenate(p) for p in zip(*parts))
            start, end = start - offsets[row], end - offsets[row]
            steps = self._steps_of_spans(data, row, entry, start, end, offsets)
        else:
            found = self._scan(array, skip)
            row, entry, start, end = found.row, found.entry, found.start, found.end
            steps = self._steps_of_entries(entry)
            if self._rest:
                partial = np.flatnonzero(self._has_rest[entry])
                steps[partial] = self._steps_of_spans(data, row[partial], entry[partial], start[partial], end[partial], offsets)
            if len(found.rare_row):
                row, entry, start, end, steps = self._redo_near_rare(found, data, offsets, (row, entry, start, end, steps))
        if array.null_count:
            keep = np.asarray(array.is_valid())[row]
            row, entry, start, end, steps = row[keep], entry[keep], start[keep], end[keep], steps[keep]
        return Hits(rows=rows, row=row, term=self._entry_term[entry], start=start, end=end, steps=steps)

    def _spelled(self) -> Matcher:
        """This matcher's twin that covers ``t2s`` by Traditional spellings, built on first use."""
        with self._lock:
            if self._spelled_twin is None:
                self._spelled_twin = Matcher(self.lexicon, self.steps, self.engine, t2s_spellings=True)
        return self._spelled_twin

    def _scan(self, array: pa.Array, skip: np.ndarray | None = None) -> _Found:
        """One automaton pass over ``array`` (original or normalised): contract rules applied. The
        documents where ``skip`` are blanked (NUL bytes, in no pattern) in the scanned copy: no hit
        and no rare character comes from them."""
        lowered = pc.ascii_lower(array) if self._needs_lower_view else array
        offsets, data = offsets_and_data(lowered)
        base, stop = int(offsets[0]), int(offsets[-1])
        if skip is not None and skip.any():
            scanned = np.frombuffer(data, dtype=np.uint8)
            if lowered is array or data.address == offsets_and_data(array)[1].address or not scanned.flags.writeable:  # never the caller's buffer
                scanned = scanned.copy()
                data = pa.py_buffer(scanned)
            for first, last in zip(offsets[:-1][skip].tolist(), offsets[1:][skip].tolist()):
                scanned[first:last] = 0
        found = self._automaton.find(memoryview(data).cast("B")[base:stop]) if stop > base else []
        if not found:
            return _Found(*([np.zeros(0, dtype=np.int64)] * 8))
        matches = np.array(found, dtype=np.int64)
        pattern, start, end = matches[:, 0], matches[:, 1] + base, matches[:, 2] + base
        row = np.searchsorted(offsets, start, side="right") - 1
        keep = end <= offsets[row + 1]
        pattern, start, end, row = pattern[keep], start[keep], end[keep], row[keep]
        rare = pattern >= self._term_patterns
        rare_row, rare_start, rare_end = row[rare], start[rare] - offsets[row[rare]], end[rare] - offsets[row[rare]]
        rare_index = pattern[rare] - self._term_patterns
        pattern, start, end, row = pattern[~rare], start[~rare], end[~rare], row[~rare]
        candidate, entry = self._expand_groups(pattern)
        start, end, row = start[candidate], end[candidate], row[candidate]
        keep = np.ones(len(entry), dtype=bool)
        if self._rest:
            keep = self._extend_to_rest(entry, end - offsets[row], end, row, array)
        keep &= self._boundaries_hold(entry, start, end, row, offsets, np.frombuffer(data, dtype=np.uint8))
        start, end = start - offsets[row], end - offsets[row]
        if self._verify:
            keep &= self._verified(entry, start, end, row, array)
        return _Found(row[keep], entry[keep], start[keep], end[keep], rare_row, rare_start, rare_end, rare_index)

    def _extend_to_rest(self, entry, relative_end, end, row, unlowered: pa.Array) -> np.ndarray:
        """Entries that spell only the start of a term: keep a match if the characters after it
        convert (``t2s``) to the rest of the term, and move its ``end`` past them (in place)."""
        keep = np.ones(len(entry), dtype=bool)
        offsets, data = offsets_and_data(unlowered)
        raw = memoryview(data).cast("B")
        table = t2s_table()
        for i in np.flatnonzero(self._has_rest[entry]):
            rest = self._rest[int(entry[i])]
            at = int(offsets[row[i]] + relative_end[i])
            following = bytes(raw[at : min(int(offsets[row[i] + 1]), at + 4 * len(rest))]).decode(errors="ignore")[: len(rest)]
            converted = "".join(table.get(c, c) for c in following)
            if self._bounded_start[entry[i]] or self._bounded_end[entry[i]]:
                converted, rest = ascii_lower(converted), ascii_lower(rest)
            keep[i] = converted == rest
            end[i] += len(following.encode())
        return keep

    def _expand_groups(self, pattern: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pattern ids -> (match index, entry id) pairs; a pattern shared by several entries
        (``中a国`` and ``中A国`` share the lowered pattern) yields one candidate per entry."""
        sizes = self._group_offsets[pattern + 1] - self._group_offsets[pattern]
        candidate = np.repeat(np.arange(len(pattern)), sizes)
        within = np.arange(len(candidate)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        return candidate, self._group_entries[self._group_offsets[pattern][candidate] + within]

    def _boundaries_hold(self, entry, start, end, row, offsets, data: np.ndarray) -> np.ndarray:
        """Word-boundary rule at each ASCII-alphanumeric end; a document's edges count as boundaries."""
        keep = np.ones(len(entry), dtype=bool)
        check_start = self._bounded_start[entry] & (start > offsets[row])
        keep[check_start] = ~_ASCII_ALNUM[data[start[check_start] - 1]]
        check_end = self._bounded_end[entry] & (end < offsets[row + 1])
        keep[check_end] &= ~_ASCII_ALNUM[data[end[check_end]]]
        return keep

    def _verified(self, entry, start, end, row, unlowered: pa.Array) -> np.ndarray:
        """Exact entries with ASCII letters: compare with the unlowered bytes."""
        keep = np.ones(len(entry), dtype=bool)
        candidates = np.flatnonzero(self._needs_verify[entry])
        if len(candidates):
            offsets, data = offsets_and_data(unlowered)
            raw = memoryview(data).cast("B")
            for i in candidates:
                doc = int(offsets[row[i]])
                keep[i] = raw[doc + start[i] : doc + end[i]] == self._verify[int(entry[i])]
        return keep

    def _to_original(self, found: _Found, view: View, shift: np.ndarray):
        """Hits in a normalised view -> (view row, entry, start, end) with start/end offsets into the
        original data buffer (``shift[view row]`` added to the view's origins).

        Entries whose term has repeated characters keep only hits where every run is long enough.
        """
        view_offsets, _ = offsets_and_data(view.array)
        start, end = found.start + view_offsets[found.row], found.end + view_offsets[found.row]
        keep = np.ones(len(start), dtype=bool)
        for i in np.flatnonzero(self._has_runs[found.entry]) if self._runs else ():
            need = self._runs[int(found.entry[i])]
            first = int(np.searchsorted(view.byte_start, start[i]))
            keep[i] = all(int(view.runs[first + k]) >= n for k, n in enumerate(need))
        origin_start, origin_end = view.to_original(start[keep], end[keep])
        row = found.row[keep]
        return row, found.entry[keep], origin_start + shift[row], origin_end + shift[row]

    def _redo_near_rare(self, found: _Found, data: pa.Buffer, offsets: np.ndarray, hits: tuple):
        """Replace every hit that contains or touches a rare character with the hits of the
        normalised windows around the rare characters.

        A hit that touches no rare character reads the same in the normalised document (its
        characters and neighbours are unchanged), so only these need recomputing; for a rare
        character that can only be gained by a hit (``_rare_characters``), only hits containing it,
        and no hit of the original text contains it. Between two rare characters of such a hit lie
        only unchanged characters of the hit, at most the longest spelling in bytes (of a term
        holding the next rare character's image, for an "inside only" one); each window reaches that
        far plus a neighbour character and slack past its rare character, so every such hit and its
        neighbours fall inside one (merged) window.
        """
        raw = np.frombuffer(data, dtype=np.uint8)
        order = np.argsort(found.rare_start + offsets[found.rare_row])
        rare_row, rare_index = found.rare_row[order], found.rare_index[order]
        rare_start, rare_end = found.rare_start[order] + offsets[rare_row], found.rare_end[order] + offsets[rare_row]
        possible = self._neighbours.possible(raw, rare_index, rare_start, rare_end, offsets[rare_row], offsets[rare_row + 1])
        if not possible.all():
            rare_row, rare_index, rare_start, rare_end = rare_row[possible], rare_index[possible], rare_start[possible], rare_end[possible]
            if not len(rare_row):
                return hits
        inside_only, margin, via_t2s = self._rare_inside_only[rare_index], self._rare_margin[rare_index], self._rare_t2s[rare_index]
        any_touch = (rare_row[~inside_only], rare_start[~inside_only], rare_end[~inside_only])
        inside = (rare_row[inside_only], rare_start[inside_only], rare_end[inside_only])
        inside_view = inside_only & ~via_t2s
        inside_without_t2s = (rare_row[inside_view], rare_start[inside_view], rare_end[inside_view])
        row, entry, start, end, steps = hits
        untouched = ~touches(row, start + offsets[row], end + offsets[row], *any_touch)
        # Windows: margin bytes either side, clipped to the document, moved onto character starts,
        # sorted (margins differ) and merged.
        first = np.maximum(rare_start - margin, offsets[rare_row])
        last = np.minimum(rare_end + margin, offsets[rare_row + 1])
        for _ in range(3):
            first += (first < rare_start) & ((raw[first] & 0xC0) == 0x80)
            within = last < offsets[rare_row + 1]
            last -= within & ((raw[np.minimum(last, len(raw) - 1)] & 0xC0) == 0x80)
        by_first = np.argsort(first, kind="stable")
        first, last, window_rows = first[by_first], last[by_first], rare_row[by_first]
        new_window = np.ones(len(first), dtype=bool)
        new_window[1:] = (first[1:] > np.maximum.accumulate(last)[:-1]) | (window_rows[1:] != window_rows[:-1])
        starts = np.flatnonzero(new_window)  # each window's first rare character, in ``by_first`` order
        window_first = first[new_window]
        window_last = np.maximum.reduceat(last, starts)
        window_row = window_rows[new_window]
        sizes = window_last - window_first
        window_offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        gather = np.repeat(window_first - window_offsets[:-1], sizes) + np.arange(int(window_offsets[-1]))
        window_bytes = raw[gather]
        windows = pa.LargeStringArray.from_buffers(len(sizes), pa.py_buffer(window_offsets), pa.py_buffer(window_bytes))
        # Terms t2s applies to are read in the windows through t2s, the others without; a hit is
        # new if it touches a rare character, or contains one that only hits holding it change.
        parts = []
        if self._t2s_windows:
            window_plain = np.maximum.reduceat(~via_t2s[by_first], starts)  # holds a rare character of a character step
            in_place = ~window_plain & (np.minimum.reduceat(self._t2s_in_place[rare_index][by_first], starts) > 0)
            plain, decoded, byte_wise = np.flatnonzero(window_plain), np.flatnonzero(~in_place), np.flatnonzero(in_place)
            if len(plain):
                parts.append(self._window_hits(windows.take(pa.array(plain)), self._view_steps, window_first[plain], window_row[plain], ~self._entry_t2s,
                                               any_touch, inside_without_t2s))
            if len(decoded):
                parts.append(self._window_hits(windows.take(pa.array(decoded)), (*self._view_steps, "t2s"), window_first[decoded], window_row[decoded],
                                               self._entry_t2s, any_touch, inside))
            if len(byte_wise):
                # Write each Traditional character's Simplified bytes over it, in a copy of the windows.
                text = window_bytes.copy()
                window_id = np.empty(len(by_first), dtype=np.int64)
                window_id[by_first] = np.cumsum(new_window) - 1  # per rare character (in rare_start order): its window
                at = rare_start - window_first[window_id] + window_offsets[window_id]  # position in ``text``
                chosen = in_place[window_id]
                for k in range(4):
                    put = chosen & (self._t2s_bytes[rare_index, k] > 0)
                    text[at[put] + k] = self._t2s_bytes[rare_index[put], k]
                converted = pa.LargeStringArray.from_buffers(len(sizes), pa.py_buffer(window_offsets), pa.py_buffer(text)).take(pa.array(byte_wise))
                parts.append(self._window_hits(converted, None, window_first[byte_wise], window_row[byte_wise], self._entry_t2s, any_touch, inside))
        else:
            parts.append(self._window_hits(windows, self._view_steps, window_first, window_row, None, any_touch, inside))
        w_row, w_entry, w_start, w_end = (np.concatenate(p) for p in zip(*parts))
        w_start, w_end = w_start - offsets[w_row], w_end - offsets[w_row]
        w_steps = self._steps_of_spans(data, w_row, w_entry, w_start, w_end, offsets)
        return (
            np.concatenate([row[untouched], w_row]),
            np.concatenate([entry[untouched], w_entry]),
            np.concatenate([start[untouched], w_start]),
            np.concatenate([end[untouched], w_end]),
            np.concatenate([steps[untouched], w_steps]),
        )

    def _window_hits(self, windows: pa.Array, steps: tuple[str, ...] | None, window_first, window_row, entries, any_touch, inside):
        """Hits in the ``steps``-normalised windows (None: ``windows`` are converted already, byte
        for byte), as (row, entry, start, end) with buffer offsets into the original column: only
        entries where ``entries`` is True (None: all), and only hits that touch a rare character of
        ``any_touch`` or contain one of ``inside``. ``window_first``: each window's first byte in the
        original column's buffer."""
        if steps is None:  # converted byte for byte: a hit's offsets in its window are the original's
            found = self._scan(windows)
            w_row, w_entry = found.row, found.entry
            w_start, w_end = found.start + window_first[w_row], found.end + window_first[w_row]
        else:
            window_offsets, _ = offsets_and_data(windows)
            view = normalize_column(windows, steps)
            w_row, w_entry, w_start, w_end = self._to_original(self._scan(view.array), view, window_first - window_offsets[:-1])
        w_row = window_row[w_row]
        keep = touches(w_row, w_start, w_end, *any_touch) | contains(w_row, w_start, w_end, *inside)
        if entries is not None:
            keep &= entries[w_entry]
        return w_row[keep], w_entry[keep], w_start[keep], w_end[keep]

    def _steps_of_entries(self, entry: np.ndarray) -> np.ndarray:
        """Steps needed by hits that read exactly as an entry's spelling (raw-path hits, not ``_rest``)."""
        if not self.steps or not len(entry):
            return np.zeros(len(entry), dtype=np.int64)
        unique, inverse = np.unique(entry, return_inverse=True)
        masks = np.array([self._entry_mask(int(e)) for e in unique], dtype=np.int64)
        return masks[inverse]

    def _entry_mask(self, entry: int) -> int:
        mask = self._entry_steps.get(entry)
        if mask is None:
            term = self.lexicon.patterns[int(self._entry_term[entry])].text
            mask = _mask(needed_steps(self._entry_text[entry], term, self.steps))
            with self._lock:
                self._entry_steps[entry] = mask
        return mask

    def _steps_of_spans(self, data: pa.Buffer, row, entry, start, end, offsets) -> np.ndarray:
        """Steps needed by hits found in a normalised view, from their original text (cached)."""
        raw = memoryview(data).cast("B")
        masks = np.zeros(len(row), dtype=np.int64)
        for i, (r, e, s, t) in enumerate(zip(row.tolist(), entry.tolist(), start.tolist(), end.tolist())):
            doc = int(offsets[r])
            key = (bytes(raw[doc + s : doc + t]), int(self._entry_term[e]))
            mask = self._span_steps.get(key)
            if mask is None:
                mask = _mask(needed_steps(key[0].decode(), self.lexicon.patterns[key[1]].text, self.steps))
                with self._lock:
                    self._span_steps[key] = mask
            masks[i] = mask
        return masks


def _matches(texts: pa.Array, pattern: str) -> np.ndarray:
    return np.asarray(pc.match_substring_regex(texts, pattern), dtype=bool)


def _character_class(codes: list[int]) -> str:
    """A regular expression (RE2) matching any of these code points."""
    return "[" + "".join(f"\\x{{{code:x}}}" for code in codes) + "]" if codes else "[^\\x{0}-\\x{10ffff}]"


@functools.lru_cache(maxsize=1)
def _t2s_character_class() -> str:
    """A regular expression matching any character ``t2s`` converts."""
    return _character_class(sorted(map(ord, t2s_table())))


def _longest_holding(texts: pa.Array, size: np.ndarray) -> np.ndarray:
    """Per code point: the largest ``size`` of the texts holding it (0 if none)."""
    longest = np.zeros(0x110000, dtype=np.int64)
    joined = "".join(texts.to_pylist())
    if joined:
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        np.maximum.at(longest, codes, np.repeat(size, np.asarray(pc.utf8_length(texts), dtype=np.int64)))
    return longest


def _entry_mask(entries: int, keys) -> np.ndarray:
    mask = np.zeros(entries, dtype=bool)
    mask[list(keys)] = True
    return mask


def _mask(steps: tuple[str, ...]) -> int:
    return sum(STEP_BITS[s] for s in steps)


def _has_ascii_letter(data: bytes) -> bool:
    return data.lower() != data.upper()  # bytes case mapping touches ASCII letters only
