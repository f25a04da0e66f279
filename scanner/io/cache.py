"""A per-user cache for compiled artefacts that take long to build and are cheap to store.

Every process of a scan compiles its matcher: the driver, each spawned worker, each Ray actor, each
task of a Slurm job array. What is costly and depends only on its inputs is kept here, keyed by
everything it is built from: Hyperscan's database (10k terms: 0.3-0.45 s, against ~1 ms to load it
back) and the normalisation tables (the character table and ``t2s``: ~0.07 s per process from
``unicodedata`` and OpenCC, against ~5 ms).

Where: ``$SCANNER_CACHE_DIR`` if set (set it empty to switch the cache off), else
``$XDG_CACHE_HOME/corpus-scanner``, else ``~/.cache/corpus-scanner``; created private to the user
(mode 0700). The cache only ever saves time: a missing, unreadable or damaged entry is rebuilt, and
a folder that cannot be written (a read-only home on a cluster node) just means no caching.
Entries are written atomically, so concurrent workers never read a half-written one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from scanner.io.atomic import atomic_write_bytes

CACHE_ENV = "SCANNER_CACHE_DIR"
_DIGEST = 32  # bytes of SHA-256 before each entry's data


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
    """The stored bytes of entry ``kind``/``key``; None if there are none, no cache, or the entry is
    damaged (each entry carries the SHA-256 of its bytes)."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        entry = (folder / kind / key).read_bytes()
    except OSError:
        return None
    data = entry[_DIGEST:]
    return data if hashlib.sha256(data).digest() == entry[:_DIGEST] else None


def store(kind: str, key: str, data: bytes) -> None:
    """Keep ``data`` as entry ``kind``/``key`` if the cache folder can be written; else do nothing."""
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write_bytes(folder / kind / key, hashlib.sha256(data).digest() + data)
    except OSError:
        return


def cached_arrays(kind: str, parts: tuple[bytes, ...], build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The named arrays ``build`` returns, from the cache when an entry for ``parts`` exists."""
    key = entry_key(*parts)
    data = load(kind, key)
    if data is not None:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}
    arrays = build()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    store(kind, key, buffer.getvalue())
    return arrays


def source_digest(module_file: str) -> bytes:
    """SHA-256 of a module's source: part of the key of what the module builds, so an entry never
    outlives the code that made it (a development checkout keeps its version number)."""
    return hashlib.sha256(Path(module_file).read_bytes()).digest()


def installed_package(name: str) -> bytes:
    """Which installed copy of a package this is, for entry keys, without importing it (OpenCC takes
    15 ms, ``importlib.metadata`` 8 ms): the path, size and modification time of its ``__init__``,
    which an upgrade or a reinstall changes."""
    spec = importlib.util.find_spec(name)
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    if origin is None:
        return name.encode()
    status = origin.stat()
    return f"{origin} {status.st_size} {status.st_mtime_ns}".encode()
