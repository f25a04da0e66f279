"""Atomic output files: a reader never sees a half-written stats file or annotation shard."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any


def _process_umask() -> int:
    """The file-mode creation mask (read once, at import: setting it is the only way to read it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_process_umask()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``. The file gets
    the mode any new file gets (``mkstemp`` would leave it readable by its owner only, and reports
    on a shared cluster are read by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_bytes(document: Any) -> bytes:
    """The one JSON layout of every output file: UTF-8, indented, keys in the document's order."""
    return (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode()


def temporary_name(name: str) -> str:
    """A hidden temporary name for ``name``, for writers (Parquet) that need a path, not bytes. It is
    unique to this process and call, so two runs writing into one folder never share a temporary."""
    return f".{name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
