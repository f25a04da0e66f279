"""Streaming readers: every shard format becomes ``DocumentBatch``es of bounded size.

Formats: Parquet, JSONL (plain, ``.gz``, ``.zst``), Arrow IPC file/stream (``.arrow``, ``.feather``,
``.ipc``; also the Arrow files of HF ``datasets`` folders), found by ``scanner.io.discovery``, on a
local disk or behind any URI ``scanner.io.storage`` resolves (``s3://`` ...). Only the text, id, source and URL columns are read. A batch holds at most
``BATCH_ROWS`` rows and, for Parquet and JSONL, about ``BATCH_BYTES`` of text, so memory grows with
neither shard size nor row-group size.

A Parquet shard with many row groups is split into *work units*: ``Shard``s that cover a range of
its row groups (``plan_units``), so one huge file is scanned by many workers at once.

JSONL rows are read one line at a time: a malformed line, invalid UTF-8 (also a lone surrogate in
a kept value, from a ``\\ud800`` escape or its encoded bytes), a non-object value, a missing or
non-string text field rejects that line (with a reason code) and reading goes on. Blank lines are
not rows. The row number of a JSONL document is its 0-based line number. A text, id, source or URL
field named explicitly that no line of the shard holds (while lines with other fields were seen)
fails the shard, as a missing column does for columnar formats.

In Parquet and Arrow shards, a row whose binary text, id, source or URL is not UTF-8 is rejected
(``invalid_utf8``); the other rows keep their row numbers.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import zstandard

from scanner.errors import ShardError
from scanner.io import storage
from scanner.io.discovery import Shard

BATCH_ROWS = 8192
BATCH_BYTES = 16 << 20  # a JSONL batch is cut when its lines add up to this many bytes
MAX_LINE_BYTES = 512 << 20  # longer JSONL lines are rejected (line_too_long) without being held in memory
MAX_COMPRESSION_RATIO = 100  # decompressed/compressed bytes beyond which a stream counts as a bomb
BOMB_CHECK_AFTER = 64 << 20  # the ratio is checked once this many bytes have been decompressed
_UTF8_BOM = b"\xef\xbb\xbf"
# Row groups are packed into work units of about this much text (a larger row group is a unit of its
# own): ~0.8 s of work per core, small enough that the last units of a run leave few cores idle, and
# large enough that per-unit costs (footer, stats file) stay near 1 %.
UNIT_BYTES = 16 << 20
# A lone surrogate: json.loads leaves one in a str for a \uD800-\uDFFF escape without its pair, and for the
# (invalid UTF-8) bytes ED A0 80-ED BF BF, as it decodes with "surrogatepass". Arrow cannot encode it.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Columns:
    """Column names to read; ``None`` means "the conventional name if the shard has it"."""

    text: str = "text"
    id: str | None = None
    source: str | None = None
    url: str | None = None

    def resolve(self, available: list[str]) -> dict[str, str | None]:
        """Role -> column name for this shard; explicit names must exist, defaults may be absent."""
        roles = {}
        for role, default in (("id", "id"), ("source", "source"), ("url", "url")):
            name = getattr(self, role)
            roles[role] = name if name is not None else (default if default in available else None)
        roles["text"] = self.text
        return roles


@dataclass
class DocumentBatch:
    """Up to ``BATCH_ROWS`` documents of one shard, columns already typed as strings."""

    text: pa.Array
    row_number: np.ndarray
    id: pa.Array | None = None
    source: pa.Array | None = None
    url: pa.Array | None = None
    rejected: dict[str, int] = field(default_factory=dict)


def _open_random_access(shard: Shard) -> pa.NativeFile | str:
    if storage.scheme_of(shard.path) is None:
        return shard.path
    fs, path = storage.resolve(shard.path)
    return fs.open_input_file(path)


def _parquet_text_sizes(metadata: pq.FileMetaData, text: str) -> list[int] | None:
    """Uncompressed size of the text column in each row group (None if there is no such column)."""
    paths = [metadata.schema.column(i).path for i in range(metadata.num_columns)]
    if text not in paths:
        return None
    column = paths.index(text)
    return [metadata.row_group(i).column(column).total_uncompressed_size for i in range(metadata.num_row_groups)]


def _estimated_jsonl_rows(shard: Shard, window: int = 1 << 20) -> int | None:
    """Lines in a JSONL shard, from its first MiB (decompressed) and the file bytes that took; halved,
    so sample cut-offs err generous (compressed streams read ahead, so theirs err lower still). None
    if the start cannot be read (the scan says why)."""
    try:
        with open_lines(shard) as (stream, raw):
            head = stream.read(window)
            consumed = raw.tell()
    except (OSError, EOFError, zstandard.ZstdError):
        return None
    lines = head.count(b"\n") + (not head.endswith(b"\n") and bool(head))
    if len(head) < window:
        return lines
    return lines * shard.bytes // max(consumed, 1) // 2


def _open_parquet(shard: Shard, **options: Any) -> pq.ParquetFile:
    """The shard's Parquet file (footer read); ``ShardError`` naming it if that fails."""
    try:
        return pq.ParquetFile(_open_random_access(shard), **options)
    except (pa.ArrowException, OSError) as e:
        msg = f"{shard.path}: not a readable Parquet file: {e}"
        raise ShardError(msg) from e


def _row_group_rows(metadata: pq.FileMetaData) -> list[int]:
    return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]


def _units_of(shard: Shard, columns: Columns, unit_bytes: int) -> list[Shard]:
    if shard.format == "jsonl":
        return [dataclasses.replace(shard, expected_rows=_estimated_jsonl_rows(shard))]
    if shard.format != "parquet":
        return [shard]
    try:
        metadata = _open_parquet(shard).metadata
    except ShardError:
        return [shard]
    sizes = _parquet_text_sizes(metadata, columns.text)
    if not sizes:
        return [shard]
    rows = _row_group_rows(metadata)
    ranges, start = [], 0
    for end in range(1, len(sizes) + 1):
        if end == len(sizes) or sum(sizes[start : end + 1]) > unit_bytes:
            ranges.append((start, end))
            start = end
    if len(ranges) == 1:
        return [dataclasses.replace(shard, text_bytes=sum(sizes), expected_rows=sum(rows))]
    return [
        dataclasses.replace(shard, row_groups=(a, b), first_row=sum(rows[:a]), text_bytes=sum(sizes[a:b]), expected_rows=sum(rows[a:b]))
        for a, b in ranges
    ]


def plan_units(shards: list[Shard], columns: Columns, unit_bytes: int = UNIT_BYTES) -> list[Shard]:
    """Work units: every shard, with Parquet shards cut into ranges of consecutive row groups holding
    about ``unit_bytes`` of text (a row group is never cut). The plan depends only on the files, so a
    re-run finds the same units. An unreadable footer leaves the shard whole (its scan reports why).
    Footers are read by 16 threads: on an object store each is a round trip."""
    with ThreadPoolExecutor(max_workers=16) as pool:
        return [unit for units in pool.map(lambda shard: _units_of(shard, columns, unit_bytes), shards) for unit in units]


class _InvalidUtf8Error(ShardError):
    """A binary column holds a value that is not UTF-8: a scan rejects those rows, while ``Scanner.annotate``
    (one output row per input row) fails as for any unreadable column."""


def _is_binary(kind: pa.DataType) -> bool:
    """Binary types, dictionary-encoded or not: the ones whose cast to string checks UTF-8."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_binary(kind) or pa.types.is_large_binary(kind)


def _as_strings(array: pa.Array | pa.ChunkedArray, column: str, where: str, *, text: bool) -> pa.Array:
    """Text must be string-like (binary is decoded as UTF-8); ids, sources and URLs are cast to string."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    kind = array.type
    if pa.types.is_dictionary(kind):
        array, kind = array.dictionary_decode(), kind.value_type
    if kind in (pa.string(), pa.large_string()):
        return array
    if pa.types.is_null(kind):  # an all-null column, e.g. a chunk of a frame whose texts are all missing
        return pa.nulls(len(array), pa.large_string() if text else pa.string())
    if text and not (_is_binary(kind) or pa.types.is_string_view(kind)):
        msg = f"{where}: column {column!r} has type {kind}; expected a string column"
        raise ShardError(msg)
    try:
        return pc.cast(array, pa.large_string() if text else pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        msg = f"{where}: column {column!r} of type {kind} cannot be read as UTF-8 text: {e}"
        error = _InvalidUtf8Error if _is_binary(kind) else ShardError
        raise error(msg) from e


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


def _utf8_rows(data: pa.RecordBatch, roles: dict[str, str | None]) -> np.ndarray:
    """Mask of the rows whose binary text, id, source and URL are null or UTF-8. One Python decode per
    value, so it runs only after a column-wide cast failed."""
    valid = np.ones(data.num_rows, dtype=bool)
    for name in {name for name in roles.values() if name is not None and _is_binary(data.schema.field(name).type)}:
        valid &= [value is None or _is_utf8(value) for value in data.column(name).to_pylist()]
    return valid


def resolve_columns(names: list[str], columns: Columns, where: str) -> dict[str, str | None]:
    """Role -> column for a columnar shard or table; a named column that is absent is a ``ShardError``."""
    roles = columns.resolve(names)
    for role, name in roles.items():
        if name is not None and name not in names:
            msg = f"{where}: no {role} column {name!r}; columns found: {', '.join(names) or '(none)'}"
            raise ShardError(msg)
    return roles


def to_document_batch(data: pa.RecordBatch | pa.Table, roles: dict[str, str | None], where: str, first_row: int) -> DocumentBatch:
    """Arrow data -> ``DocumentBatch`` with string-typed columns; rows are numbered from ``first_row``."""
    arrays = {role: data.column(name) for role, name in roles.items() if name is not None}
    return DocumentBatch(
        text=_as_strings(arrays.pop("text"), roles["text"], where, text=True),
        row_number=np.arange(first_row, first_row + data.num_rows, dtype=np.int64),
        **{role: _as_strings(array, roles[role], where, text=False) for role, array in arrays.items()},
    )


def scanned_document_batch(data: pa.RecordBatch, roles: dict[str, str | None], where: str, first_row: int) -> DocumentBatch:
    """``to_document_batch`` for a shard scan, which counts rows it leaves out: a row whose binary text, id,
    source or URL is not UTF-8 is rejected (``invalid_utf8``) instead of failing the shard."""
    try:
        return to_document_batch(data, roles, where, first_row)
    except _InvalidUtf8Error:
        valid = _utf8_rows(data, roles)
    batch = to_document_batch(data.filter(pa.array(valid)), roles, where, first_row)
    return dataclasses.replace(batch, row_number=first_row + np.flatnonzero(valid), rejected={"invalid_utf8": int(np.count_nonzero(~valid))})


def _table_batches(batches: Iterator[pa.RecordBatch], names: list[str], shard: Shard, columns: Columns) -> Iterator[DocumentBatch]:
    """Columnar formats: check the columns once, then convert each non-empty record batch."""
    roles = resolve_columns(names, columns, shard.path)
    seen = shard.first_row
    try:
        for batch in batches:
            if batch.num_rows:
                yield scanned_document_batch(batch, roles, shard.path, seen)
                seen += batch.num_rows
    except (pa.ArrowException, OSError) as e:
        msg = f"{shard.path}: corrupt data after row {seen}: {e}"
        raise ShardError(msg) from e


def _parquet_batches(shard: Shard, columns: Columns) -> Iterator[DocumentBatch]:
    """Only the unit's row groups; rows per batch sized from the metadata to hold ~``BATCH_BYTES`` of
    text; pages streamed (``buffer_size``) so a huge row group is never held compressed in memory."""
    parquet = _open_parquet(shard, buffer_size=1 << 20)
    names = parquet.schema_arrow.names
    wanted = [n for n in columns.resolve(names).values() if n is not None and n in names]
    start, end = shard.row_groups or (0, parquet.metadata.num_row_groups)
    sizes = (_parquet_text_sizes(parquet.metadata, columns.text) or [0] * end)[start:end]
    rows = sum(_row_group_rows(parquet.metadata)[start:end])
    batch_rows = max(1, min(BATCH_ROWS, BATCH_BYTES * rows // max(sum(sizes), 1)))
    batches = parquet.iter_batches(batch_size=batch_rows, row_groups=range(start, end), columns=wanted, use_threads=False)
    yield from _table_batches(batches, names, shard, columns)


def _arrow_record_batches(shard: Shard) -> tuple[Iterator[pa.RecordBatch], pa.Schema]:
    """An Arrow IPC file's or stream's record batches (all columns) and its schema."""
    source = pa.memory_map(shard.path) if storage.scheme_of(shard.path) is None else _open_random_access(shard)
    try:
        reader = pa.ipc.open_file(source)
        return (reader.get_batch(i) for i in range(reader.num_record_batches)), reader.schema
    except (pa.ArrowException, OSError):
        source.seek(0)
        try:
            stream = pa.ipc.open_stream(source)
        except (pa.ArrowException, OSError) as e:
            msg = f"{shard.path}: not an Arrow IPC file or stream: {e}"
            raise ShardError(msg) from e
        return iter(stream), stream.schema


def _arrow_batches(shard: Shard, columns: Columns) -> Iterator[DocumentBatch]:
    batches, schema = _arrow_record_batches(shard)
    yield from _table_batches(_sliced(batches), schema.names, shard, columns)


def original_batches(shard: Shard) -> Iterator[pa.RecordBatch]:
    """Every column of a Parquet or Arrow shard, batch by batch, rows in file order (for jobs that
    write documents back out with their own columns; see ``pipelines/clean_job.py``)."""
    if shard.format == "parquet":
        yield from _open_parquet(shard, buffer_size=1 << 20).iter_batches(batch_size=BATCH_ROWS, use_threads=False)
    else:
        yield from _arrow_record_batches(shard)[0]


def _sliced(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Cut oversized record batches to ``BATCH_ROWS`` rows (zero-copy slices)."""
    for batch in batches:
        for start in range(0, batch.num_rows, BATCH_ROWS):
            yield batch.slice(start, BATCH_ROWS)


class _ZstdReader(io.RawIOBase):
    """Streaming zstd decompression that notices truncation (``stream_reader`` silently stops) and
    reads concatenated frames."""

    def __init__(self, raw: io.BufferedIOBase) -> None:
        self._raw = raw
        self._decompressor = zstandard.ZstdDecompressor().decompressobj()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = self._raw.read(1 << 20)
            if not chunk:
                if not self._decompressor.eof:
                    msg = "truncated zstd stream: the input ended inside a frame"
                    raise zstandard.ZstdError(msg)
                return 0
            if self._decompressor.eof:
                self._decompressor = zstandard.ZstdDecompressor().decompressobj()
            self._pending = self._decompressor.decompress(chunk)
            while self._decompressor.eof and self._decompressor.unused_data:
                rest = self._decompressor.unused_data
                self._decompressor = zstandard.ZstdDecompressor().decompressobj()
                self._pending += self._decompressor.decompress(rest)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


@contextmanager
def open_lines(shard: Shard) -> Iterator[tuple[io.BufferedIOBase, io.BufferedIOBase]]:
    """(decompressed stream, raw file) of a JSONL shard, plain, gzip or zstd; the raw file's position is
    the compressed offset."""
    with ExitStack() as stack:
        if storage.scheme_of(shard.path) is None:
            raw = stack.enter_context(open(shard.path, "rb"))
        else:
            fs, path = storage.resolve(shard.path)
            raw = stack.enter_context(io.BufferedReader(fs.open_input_stream(path, compression=None)))
        if shard.compression == "gzip":
            yield stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb")), raw
        elif shard.compression == "zstd":
            yield stack.enter_context(io.BufferedReader(_ZstdReader(raw), buffer_size=1 << 20)), raw
        else:
            yield raw, raw


def _lines(shard: Shard, stream: io.BufferedIOBase, raw: io.BufferedIOBase) -> Iterator[tuple[int, bytes | None]]:
    """(0-based line number, line) pairs; ``None`` for a line longer than ``MAX_LINE_BYTES``, which is
    skipped in bounded chunks. Raises ``ShardError`` on a decompression bomb."""
    number, seen = 0, 0
    while line := stream.readline(MAX_LINE_BYTES + 1):
        seen += len(line)
        too_long = len(line) > MAX_LINE_BYTES and not line.endswith(b"\n")
        while too_long and (rest := stream.readline(1 << 20)):
            seen += len(rest)
            if rest.endswith(b"\n"):
                break
        if raw is not stream and seen > BOMB_CHECK_AFTER and seen > MAX_COMPRESSION_RATIO * max(raw.tell(), 1):
            msg = f"{shard.path}: decompressed {seen} bytes from {raw.tell()} (ratio above {MAX_COMPRESSION_RATIO}); refusing a possible decompression bomb"
            raise ShardError(msg)
        if number == 0 and line.startswith(_UTF8_BOM):
            line = line[len(_UTF8_BOM) :]
        yield number, None if too_long else line
        number += 1


class _JsonlBatchBuilder:
    """Collects parsed lines into column lists; rejects lines that cannot become documents. ``required``
    are the roles whose field some line must hold: text, and whatever the user named."""

    def __init__(self, roles: dict[str, str | None], required: list[str]) -> None:
        self.roles = roles
        self.required = required
        self.keys_seen: set[str] = set()
        self.reset()

    def reset(self) -> None:
        self.values: dict[str, list] = {role: [] for role, name in self.roles.items() if name is not None}
        self.rows: list[int] = []
        self.rejected: dict[str, int] = {}
        self.bytes = 0

    def reject(self, reason: str, rows: int = 1) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + rows

    def add(self, line_number: int, line: bytes) -> None:
        self.bytes += len(line)
        try:
            record = json.loads(line)
        except UnicodeDecodeError:
            self.reject("invalid_utf8")
            return
        except ValueError:
            self.reject("malformed_json")
            return
        if not isinstance(record, dict):
            self.reject("not_an_object")
            return
        self.keys_seen.update(record)
        text_key = self.roles["text"]
        if text_key not in record:
            self.reject("missing_text")
            return
        text = record[text_key]
        if text is not None and not isinstance(text, str):
            self.reject("text_not_string")
            return
        self.rows.append(line_number)
        for role, values in self.values.items():
            value = text if role == "text" else record.get(self.roles[role])
            values.append(value if value is None or isinstance(value, str) else json.dumps(value, ensure_ascii=False))

    def unseen_role(self) -> str | None:
        """The first required role whose field no line held so far, once lines with fields were seen."""
        return next((role for role in self.required if self.roles[role] not in self.keys_seen), None) if self.keys_seen else None

    def _arrays(self) -> dict[str, pa.Array]:
        return {role: pa.array(v, type=pa.large_string() if role == "text" else pa.string()) for role, v in self.values.items()}

    def _reject_surrogates(self) -> None:
        """Reject (``invalid_utf8``) the kept rows with a lone surrogate in any value. Searched only after
        building the arrays failed, so clean batches pay nothing."""
        bad = {row for values in self.values.values() for row, value in enumerate(values) if value is not None and _SURROGATE.search(value)}
        self.rows = [number for row, number in enumerate(self.rows) if row not in bad]
        self.values = {role: [value for row, value in enumerate(values) if row not in bad] for role, values in self.values.items()}
        self.reject("invalid_utf8", len(bad))

    def build(self) -> DocumentBatch:
        try:
            arrays = self._arrays()
        except UnicodeEncodeError:
            self._reject_surrogates()
            arrays = self._arrays()
        batch = DocumentBatch(row_number=np.array(self.rows, dtype=np.int64), rejected=dict(self.rejected), **arrays)
        self.reset()
        return batch


def _jsonl_batches(shard: Shard, columns: Columns) -> Iterator[DocumentBatch]:
    # Roles not named default to conventional names; absent keys simply read as null per line.
    roles = {"text": columns.text, "id": columns.id or "id", "source": columns.source or "source", "url": columns.url or "url"}
    builder = _JsonlBatchBuilder(roles, required=[role for role in roles if getattr(columns, role) is not None])
    try:
        with open_lines(shard) as (stream, raw):
            for line_number, line in _lines(shard, stream, raw):
                if line is None:
                    builder.reject("line_too_long")
                    continue
                if not line.strip():
                    continue
                builder.add(line_number, line)
                if len(builder.rows) + sum(builder.rejected.values()) >= BATCH_ROWS or builder.bytes >= BATCH_BYTES:
                    if builder.unseen_role():
                        break
                    yield builder.build()
    except (OSError, EOFError, zstandard.ZstdError) as e:
        msg = f"{shard.path}: cannot read ({shard.compression or 'uncompressed'} stream): {e}"
        raise ShardError(msg) from e
    if missing := builder.unseen_role():
        msg = f"{shard.path}: no {missing} field {roles[missing]!r}; fields found: {', '.join(sorted(builder.keys_seen))}"
        raise ShardError(msg)
    if builder.rows or builder.rejected:
        yield builder.build()


def read_batches(shard: Shard, columns: Columns) -> Iterator[DocumentBatch]:
    """Stream a shard as ``DocumentBatch``es; raises ``ShardError`` if the shard is unreadable."""
    readers = {"parquet": _parquet_batches, "arrow": _arrow_batches, "jsonl": _jsonl_batches}
    return readers[shard.format](shard, columns)


def read_texts(shard: Shard, columns: Columns, rows: Iterable[int]) -> dict[int, str | None]:
    """Texts of some rows of a file (numbered as ``DocumentBatch.row_number``): only the Parquet row
    groups holding them are read; other formats stream up to the last wanted row. Rows the file no
    longer has are missing from the result."""
    wanted = np.unique(np.fromiter(rows, dtype=np.int64))
    parts = [shard]
    if shard.format == "parquet" and len(wanted):
        metadata = _open_parquet(shard).metadata
        starts = np.cumsum([0, *_row_group_rows(metadata)])
        groups = np.unique(np.searchsorted(starts, wanted, side="right") - 1)
        parts = [dataclasses.replace(shard, row_groups=(int(g), int(g) + 1), first_row=int(starts[g])) for g in groups if g < metadata.num_row_groups]
    found: dict[int, str | None] = {}
    for part in parts:
        for batch in read_batches(part, columns):
            hit = np.flatnonzero(np.isin(batch.row_number, wanted))
            found.update(zip(batch.row_number[hit].tolist(), batch.text.take(pa.array(hit)).to_pylist()))
            if len(found) == len(wanted):
                return found
    return found
