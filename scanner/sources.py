"""Which source a document comes from: the source column, else the URL's host, else the shard."""

from __future__ import annotations

from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.compute as pc


def url_host(url: str | None) -> str | None:
    """Lower-cased host of an absolute URL, or None when there is none (relative, empty, garbage)."""
    if not url:
        return None
    try:
        return urlsplit(url.strip()).hostname or None
    except ValueError:
        return None


def resolve_sources(rows: int, source: pa.Array | None, url: pa.Array | None, fallback: str) -> pa.Array:
    """One source name per document; empty strings count as missing."""
    names: list[str | None] = [None] * rows
    if source is not None:
        names = pc.if_else(pc.equal(source, ""), None, source).to_pylist()
    if url is not None and None in names:
        urls = url.to_pylist()
        names = [name if name is not None else url_host(u) for name, u in zip(names, urls)]
    return pa.array([name if name is not None else fallback for name in names], type=pa.string())
