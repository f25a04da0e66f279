"""Atomic output files: a reader never sees a half-written stats file or annotation shard."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
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


def temporary_sibling(path: Path) -> Path:
    """A hidden temporary name beside ``path`` for writers (Parquet) that need a path, not bytes."""
    return path.with_name(f".{path.name}.tmp")
