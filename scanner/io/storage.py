"""Where inputs and outputs live: a local path, or a URI of any filesystem pyarrow.fs or fsspec knows.

``s3://``, ``gs://``, ``hdfs://`` and ``abfs://`` go to pyarrow's native filesystems (credentials and
endpoint from the usual environment, e.g. ``AWS_ENDPOINT_URL`` for an S3-compatible server); any
other scheme goes through fsspec, if it and the scheme's plugin are installed. Everything else is a
local path. Native filesystems are cached per process (an S3 filesystem resolves its bucket's region
once); fsspec caches its own.

Writes never leave a half-written file where a reader looks: locally a temporary sibling is renamed
over the target; on an object store an object appears only when its upload completes, and a
Parquet file is written under a temporary key and moved (a server-side copy) when complete.
"""

from __future__ import annotations

import json
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from scanner.errors import ConfigError
from scanner.io.atomic import atomic_write_bytes, json_bytes, temporary_name

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_NATIVE = {"s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss"}


def read_ahead(read: Callable[[str], Any], names: Iterable[str], threads: int) -> Iterator[Any]:
    """``read(name)`` for each name, in order, with up to ``threads`` reads in flight on other
    threads (file and object-store I/O, Parquet decoding and decompression release the GIL); at most
    ``threads`` results wait unconsumed, so memory stays bounded. ``threads`` <= 1: one at a time,
    on this thread."""
    if threads <= 1:
        yield from map(read, names)
        return
    with ThreadPoolExecutor(threads) as pool:
        pending: deque = deque()
        for name in names:
            pending.append(pool.submit(read, name))
            if len(pending) > threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def scheme_of(location: str) -> str | None:
    """The URI scheme of ``location`` (``None`` for a local path or ``file://``)."""
    match = _SCHEME.match(location)
    scheme = match.group(1).lower() if match else None
    return None if scheme == "file" else scheme


@cache
def _native(scheme: str, netloc: str) -> tuple[pafs.FileSystem, str]:
    """pyarrow's filesystem for ``scheme://netloc`` and the path prefix it gives that root."""
    try:
        return pafs.FileSystem.from_uri(f"{scheme}://{netloc}/")
    except (pa.ArrowException, OSError, ValueError) as e:
        msg = f"{scheme}://{netloc}: cannot open the filesystem: {e}"
        raise ConfigError(msg) from e


def _fsspec(location: str, scheme: str) -> tuple[pafs.FileSystem, str]:
    try:
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(location)
    except (ImportError, ValueError) as e:
        msg = f"{location}: no filesystem for scheme {scheme!r} (pyarrow knows {', '.join(sorted(_NATIVE))}; others need fsspec and its plugin): {e}"
        raise ConfigError(msg) from e
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path.rstrip("/")


def resolve(location: str | Path) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) for a local path or a URI."""
    location = str(location)
    scheme = scheme_of(location)
    if scheme is None:
        return pafs.LocalFileSystem(), os.path.abspath(location.removeprefix("file://"))
    if scheme not in _NATIVE:
        return _fsspec(location, scheme)
    parts = urlsplit(location)
    fs, prefix = _native(scheme, parts.netloc)
    inner = parts.path.strip("/")
    return fs, f"{prefix.rstrip('/')}/{inner}" if inner else prefix


def join(location: str, *parts: str) -> str:
    """``location/part/...`` for a path or a URI (always ``/``-separated past the location)."""
    return "/".join([str(location).rstrip("/"), *parts])


class Folder:
    """An output folder (local or remote); every write is all-or-nothing for readers.

    >>> Folder("out").uri("shards", "a.json")
    'out/shards/a.json'
    """

    def __init__(self, location: str | Path) -> None:
        self.location = str(location)
        self.fs, self.root = resolve(self.location)
        self.local = isinstance(self.fs, pafs.LocalFileSystem)

    def __reduce__(self) -> tuple:
        return Folder, (self.location,)

    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def uri(self, *parts: str) -> str:
        """The name a user recognises, for messages."""
        return join(self.location, *parts)

    def is_dir(self, *parts: str) -> bool:
        return self.fs.get_file_info(self.path(*parts)).type == pafs.FileType.Directory

    def exists(self, *parts: str) -> bool:
        return self.fs.get_file_info(self.path(*parts)).type != pafs.FileType.NotFound

    def makedirs(self, *parts: str) -> None:
        self.fs.create_dir(self.path(*parts), recursive=True)

    def names(self, *parts: str, suffix: str = "") -> list[str]:
        """Sorted names of the visible files directly in a subfolder (none if it does not exist)."""
        selector = pafs.FileSelector(self.path(*parts), allow_not_found=True)
        return sorted(
            info.base_name
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.File and info.base_name.endswith(suffix) and not info.base_name.startswith(".")
        )

    def read_bytes(self, *parts: str) -> bytes:
        with self.fs.open_input_stream(self.path(*parts), compression=None) as stream:
            return stream.read()

    def read_json(self, *parts: str) -> Any:
        return json.loads(self.read_bytes(*parts))

    def write_bytes(self, parts: tuple[str, ...], data: bytes) -> None:
        if self.local:
            atomic_write_bytes(Path(self.path(*parts)), data)
            return
        with self.fs.open_output_stream(self.path(*parts), compression=None) as stream:
            stream.write(data)

    def write_json(self, parts: tuple[str, ...], document: Any) -> None:
        self.write_bytes(parts, json_bytes(document))

    def delete(self, *parts: str) -> None:
        path = self.path(*parts)
        if self.fs.get_file_info(path).type == pafs.FileType.File:
            self.fs.delete_file(path)

    @contextmanager
    def parquet_writer(self, parts: tuple[str, ...], schema: pa.Schema) -> Iterator[pq.ParquetWriter]:
        """A Parquet writer whose file appears under its name only if the block completes."""
        final = self.path(*parts)
        folder, name = final.rsplit("/", 1)
        tmp = f"{folder}/{temporary_name(name)}"
        try:
            with pq.ParquetWriter(tmp, schema, compression="zstd", filesystem=self.fs) as writer:
                yield writer
            self.fs.move(tmp, final)
        finally:
            if self.fs.get_file_info(tmp).type == pafs.FileType.File:
                self.fs.delete_file(tmp)
