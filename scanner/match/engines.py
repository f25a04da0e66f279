"""Matching engines: all (overlapping) occurrences of byte patterns in a buffer.

``ENGINES`` maps a name to a class built from the patterns with one method, ``find(memoryview) ->
[(pattern index, start, end)]``. ahocorasick-rs is the default and the reference; Hyperscan is an
optional, faster engine that must give the same occurrences (tests/test_engines.py).
"""

from __future__ import annotations

import functools
import platform
import threading

import ahocorasick_rs

from scanner.errors import ConfigError
from scanner.io import cache


class AhoCorasickEngine:
    """All (overlapping) occurrences of byte patterns, with ahocorasick-rs: the default, and the
    reference every other engine is tested against."""

    def __init__(self, patterns: list[bytes]) -> None:
        self._automaton = ahocorasick_rs.BytesAhoCorasick(patterns, matchkind=ahocorasick_rs.MATCHKIND_STANDARD)

    def find(self, data: memoryview) -> list[tuple[int, int, int]]:
        """(pattern index, start, end) of every occurrence; the GIL is released meanwhile."""
        return self._automaton.find_matches_as_indexes(data, overlapping=True)


class HyperscanEngine:
    """The same occurrences from Hyperscan's literal matcher (``hs_compile_lit_multi``, leftmost
    start of match), ~3.8x the raw speed of ahocorasick-rs on Chinese text here; x86-64 only.
    Each match is a Python callback (hits are rare in real corpora); a scan needs a scratch space
    per thread, kept thread-local.

    The database is compiled for this CPU, which takes 0.3-0.45 s for 10k terms in every process
    (driver, workers, actors, array tasks), so it is kept in ``scanner.io.cache`` and loaded back in
    ~1 ms, keyed by the patterns, the flags, the installed hyperscan package and the CPU's feature
    flags; an entry the library refuses is rebuilt."""

    _CACHE_KIND = "hyperscan"

    def __init__(self, patterns: list[bytes]) -> None:
        try:
            import hyperscan
        except ImportError as e:
            msg = f"--engine hyperscan needs the hyperscan package (x86-64 Linux): pip install 'corpus-scanner[hyperscan]' ({e})"
            raise ConfigError(msg) from e
        self._hyperscan = hyperscan
        self._database = self._cached_database(patterns) if patterns else None
        self._local = threading.local()

    def _cached_database(self, patterns: list[bytes]):
        hyperscan = self._hyperscan
        flags = hyperscan.HS_FLAG_SOM_LEFTMOST
        key = cache.entry_key(cache.installed_package("hyperscan"), _cpu_flags(), str(flags).encode(), *patterns)
        stored = cache.load(self._CACHE_KIND, key)
        if stored is not None:
            try:
                return hyperscan.loadb(stored, hyperscan.HS_MODE_BLOCK)
            except hyperscan.error:
                pass
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        database.compile(expressions=patterns, ids=list(range(len(patterns))), elements=len(patterns), flags=flags, literal=True)
        cache.store(self._CACHE_KIND, key, hyperscan.dumpb(database))
        return database

    def find(self, data: memoryview) -> list[tuple[int, int, int]]:
        if self._database is None:
            return []
        if not hasattr(self._local, "scratch"):
            self._local.scratch = self._hyperscan.Scratch(self._database)
        found: list[tuple[int, int, int]] = []
        self._database.scan(data, match_event_handler=lambda pattern, start, end, flags, context: found.append((pattern, start, end)), scratch=self._local.scratch)
        return found


@functools.lru_cache(maxsize=1)
def _cpu_flags() -> bytes:
    """This CPU's feature flags (Linux), which Hyperscan compiles for; the machine name elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("flags")), platform.machine()).encode()
    except OSError:
        return platform.machine().encode()


ENGINES = {"ahocorasick": AhoCorasickEngine, "hyperscan": HyperscanEngine}


DEFAULT_ENGINE = "ahocorasick"
