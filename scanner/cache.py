"""A per-user cache for compiled artefacts that take long to build and are cheap to store.

Every process of a scan compiles its matcher: the driver, each spawned worker, each Ray actor, each
task of a Slurm job array. Hyperscan's database is the costly part (10k terms: 0.3-0.45 s, against
~0.4 ms to load it back), so it is kept here, keyed by everything it is built from.

Where: ``$SCANNER_CACHE_DIR`` if set (set it empty to switch the cache off), else
``$XDG_CACHE_HOME/corpus-scanner``, else ``~/.cache/corpus-scanner``; created private to the user
(mode 0700). The cache only ever saves time: a missing, unreadable or damaged entry is rebuilt, and
a folder that cannot be written (a read-only home on a cluster node) just means no caching.
Entries are written atomically, so concurrent workers never read a half-written one.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from scanner.outputs import atomic_write_bytes

CACHE_ENV = "SCANNER_CACHE_DIR"


def cache_dir() -> Path | None:
    """The cache folder (see the module docstring), or None when the cache is switched off."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        return Path(configured).expanduser() if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "corpus-scanner"


def entry_key(*parts: bytes) -> str:
    """A file-name-safe digest of what an entry is built from (each part length-prefixed)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()


def load(kind: str, key: str) -> bytes | None:
    """The stored bytes of entry ``kind``/``key``, or None if there are none (or no cache)."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        return (folder / kind / key).read_bytes()
    except OSError:
        return None


def store(kind: str, key: str, data: bytes) -> None:
    """Keep ``data`` as entry ``kind``/``key`` if the cache folder can be written; else do nothing."""
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write_bytes(folder / kind / key, data)
    except OSError:
        return
