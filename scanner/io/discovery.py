"""Shard discovery: input paths, folders, globs and URIs -> ``Shard``s, each real file once.

Formats are known by suffix (``FORMATS``). A folder is searched recursively (hidden entries skipped);
an HF ``datasets`` folder written by ``save_to_disk`` (a Dataset or a DatasetDict) contributes its
Arrow files. Local paths and URIs (``s3://`` ..., resolved by ``scanner.io.storage``) are two file
trees behind one expansion (``_expand``), so both give the same messages and the same listing of
files that are not scanned (``Discovery.skipped``).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import glob
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pyarrow.fs as pafs

from scanner.errors import ConfigError
from scanner.io import storage

FORMATS = {
    ".parquet": ("parquet", None),
    ".pq": ("parquet", None),
    ".jsonl": ("jsonl", None),
    ".ndjson": ("jsonl", None),
    ".json": ("jsonl", None),
    ".jsonl.gz": ("jsonl", "gzip"),
    ".ndjson.gz": ("jsonl", "gzip"),
    ".json.gz": ("jsonl", "gzip"),
    ".jsonl.zst": ("jsonl", "zstd"),
    ".ndjson.zst": ("jsonl", "zstd"),
    ".json.zst": ("jsonl", "zstd"),
    ".arrow": ("arrow", None),
    ".feather": ("arrow", None),
    ".ipc": ("arrow", None),
}
"""Suffix -> (format, compression)."""
_SUFFIXES_LONGEST_FIRST = sorted(FORMATS, key=len, reverse=True)
_GLOB_CHARS = re.compile(r"[*?\[]")
_SNIFF_BYTES = 4096


@dataclass(frozen=True)
class Shard:
    """One input file, or one work unit of it: the row groups ``[start, end)`` of a Parquet file.

    ``path`` is the real local path or the URI; ``label`` the name as the user spelled it. ``name`` is a
    file-system-safe, collision-free stem for the unit's outputs: only ``[A-Za-z0-9._-]``, no ``..``,
    never empty, plus a hash of ``path``, so it cannot leave OUT, and one file spelled another way
    (``./data/a.jsonl``, an absolute path, a symbolic link) is the same unit, never counted twice. ``mtime_ns`` is ``None`` where the
    filesystem keeps no modification time. ``first_row`` numbers the unit's first row within the file;
    ``text_bytes`` estimates the unit's text (from Parquet metadata) for scheduling and progress;
    ``expected_rows`` is the unit's row count: exact for Parquet (metadata), estimated for JSONL from
    its first MiB (halved, to err low), else None.
    """

    path: str
    label: str
    format: str
    compression: str | None
    bytes: int
    mtime_ns: int | None = None
    row_groups: tuple[int, int] | None = None
    first_row: int = 0
    text_bytes: int | None = None
    expected_rows: int | None = None

    @property
    def file_name(self) -> str:
        """The stem every unit of one input file shares."""
        safe = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(self.label)))
        base = safe.strip("._")[:80] or "shard"
        return f"{base}-{hashlib.sha1(self.path.encode()).hexdigest()[:10]}"

    @property
    def name(self) -> str:
        if self.row_groups is None:
            return self.file_name
        return f"{self.file_name}-rg{self.row_groups[0]}-{self.row_groups[1]}"

    @property
    def work_bytes(self) -> int:
        """Best estimate of the text to scan (the file size where the format tells nothing better)."""
        return self.text_bytes if self.text_bytes is not None else self.bytes

    @property
    def stem(self) -> str:
        """The file name without its format suffix: the document source when nothing better is known."""
        base = os.path.basename(self.label)
        suffix = next((s for s in _SUFFIXES_LONGEST_FIRST if base.lower().endswith(s)), "")
        return base[: len(base) - len(suffix)] or base


@dataclass
class Discovery:
    """What the inputs hold: the shards to scan, and every other file found inside an input folder
    with why it is not scanned (``{"path", "reason"}``), so no file vanishes without a record."""

    shards: list[Shard]
    skipped: list[dict[str, str]] = field(default_factory=list)


def format_of(name: str) -> tuple[str, str | None] | None:
    """(format, compression) of a file name by its suffix, or None."""
    lower = name.lower()
    return next((FORMATS[s] for s in _SUFFIXES_LONGEST_FIRST if lower.endswith(s)), None)


def _known_suffixes() -> str:
    return ", ".join(sorted(FORMATS))


def _hf_dataset_files(fs: pafs.FileSystem, root: str) -> list[str] | None:
    """Arrow files (relative to ``root``) of an HF ``save_to_disk`` folder, or None if it is not one. A
    Dataset folder lists its files in ``state.json``; a DatasetDict folder lists its splits in
    ``dataset_dict.json``, each a Dataset folder. Read through ``fs``, so local folders and URIs agree."""
    dataset_dict, state, info = (f"{root}/{name}" for name in ("dataset_dict.json", "state.json", "dataset_info.json"))
    is_dict, is_state, is_info = (i.type == pafs.FileType.File for i in fs.get_file_info([dataset_dict, state, info]))
    if not (is_dict or (is_state and is_info)):
        return None
    try:
        with fs.open_input_stream(dataset_dict if is_dict else state, compression=None) as stream:
            listing = json.loads(stream.read())
        if not is_dict:
            return [f["filename"] for f in listing["_data_files"]]
        splits = {split: _hf_dataset_files(fs, f"{root}/{split}") for split in listing["splits"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        msg = f"{root}: not a readable HF datasets save_to_disk folder: {e}"
        raise ConfigError(msg) from e
    if missing := [split for split, files in splits.items() if files is None]:
        msg = f"{root}: dataset_dict.json lists splits that are not save_to_disk Dataset folders: {', '.join(missing)}"
        raise ConfigError(msg)
    return [f"{split}/{name}" for split, files in splits.items() for name in files]


def _not_jsonl(head: bytes) -> str | None:
    """Why a ``.json`` file found inside a folder is not JSON Lines (None if its first line is a JSON
    object, or it is empty): ``config.json``-style files hold one document over many lines."""
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0].strip()
    if not first:
        return None
    try:
        return None if isinstance(json.loads(first), dict) else "a .json file whose first line is not a JSON object (not JSON Lines)"
    except ValueError:
        return "a .json file whose first line is not a JSON object (not JSON Lines)"


class _Tree:
    """The file operations discovery needs, on one kind of location."""

    def shard(self, path: str, label: str) -> Shard:
        raise NotImplementedError

    def kind(self, path: str) -> str:
        """``file``, ``dir`` or ``missing``."""
        raise NotImplementedError

    def files_under(self, root: str) -> Iterator[str]:
        """Every file below ``root``, hidden entries skipped, HF folders by their listed files."""
        raise NotImplementedError

    def glob(self, pattern: str) -> list[str]:
        raise NotImplementedError

    def head(self, path: str) -> bytes:
        raise NotImplementedError


class _LocalTree(_Tree):
    """Local paths: labels are the paths as spelled (normalised); a real file is found once however named."""

    def shard(self, path: str, label: str) -> Shard:
        try:
            path.encode()
        except UnicodeEncodeError as e:  # Python spells undecodable bytes as surrogates, which Arrow and every output refuse
            shown = label.encode(errors="surrogateescape").decode(errors="backslashreplace")
            msg = f"{shown}: the file name is not valid UTF-8; rename the file"
            raise ConfigError(msg) from e
        fmt = format_of(os.path.basename(path))
        if fmt is None:
            msg = f"{label}: unknown shard format (known suffixes: {_known_suffixes()})"
            raise ConfigError(msg)
        real = os.path.realpath(path)
        try:
            status = os.stat(real)
        except OSError as e:  # e.g. a dangling symbolic link inside an input folder
            msg = f"{label}: cannot be read ({e.strerror or e})"
            raise ConfigError(msg) from e
        return Shard(path=real, label=Path(os.path.normpath(path)).as_posix(), format=fmt[0], compression=fmt[1], bytes=status.st_size, mtime_ns=status.st_mtime_ns)

    def kind(self, path: str) -> str:
        return "dir" if os.path.isdir(path) else ("file" if os.path.exists(path) else "missing")

    def files_under(self, root: str) -> Iterator[str]:
        hf_files = _hf_dataset_files(pafs.LocalFileSystem(), Path(root).as_posix())
        if hf_files is not None:
            yield from (os.path.join(root, name) for name in hf_files)
            return
        for entry in sorted(os.listdir(root)):
            if entry.startswith("."):
                continue
            path = os.path.join(root, entry)
            if os.path.isdir(path):
                yield from self.files_under(path)
            else:
                yield path

    def glob(self, pattern: str) -> list[str]:
        return sorted(glob.glob(pattern, recursive=True))

    def head(self, path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read(_SNIFF_BYTES)


class _UriTree(_Tree):
    """Files behind URIs: labels are the URIs; ``*`` in a glob may cross ``/`` (object stores have no folders)."""

    def shard(self, path: str, label: str) -> Shard:
        fs, where = storage.resolve(path)
        info = fs.get_file_info(where)
        fmt = format_of(info.base_name)
        if fmt is None:
            msg = f"{label}: unknown shard format (known suffixes: {_known_suffixes()})"
            raise ConfigError(msg)
        return Shard(path=label, label=label, format=fmt[0], compression=fmt[1], bytes=info.size, mtime_ns=info.mtime_ns)

    def kind(self, path: str) -> str:
        fs, where = storage.resolve(path)
        found = fs.get_file_info(where).type
        return {pafs.FileType.File: "file", pafs.FileType.NotFound: "missing"}.get(found, "dir")

    def files_under(self, root: str) -> Iterator[str]:
        root = root.rstrip("/")
        fs, where = storage.resolve(root)
        hf_files = _hf_dataset_files(fs, where)
        if hf_files is not None:
            yield from (f"{root}/{name}" for name in hf_files)
            return
        for info in sorted(fs.get_file_info(pafs.FileSelector(where, recursive=True)), key=lambda i: i.path):
            relative = info.path[len(where) :].lstrip("/")
            if info.type == pafs.FileType.File and not any(part.startswith(".") for part in relative.split("/")):
                yield f"{root}/{relative}"

    def glob(self, pattern: str) -> list[str]:
        base = pattern[: _GLOB_CHARS.search(pattern).start()].rsplit("/", 1)[0]
        if self.kind(base) == "missing":
            msg = f"{base}: no such file or directory"
            raise ConfigError(msg)
        return [path for path in self.files_under(base) if fnmatch.fnmatchcase(path, pattern)]

    def head(self, path: str) -> bytes:
        fs, where = storage.resolve(path)
        with fs.open_input_stream(where, compression=None) as stream:
            return stream.read(_SNIFF_BYTES)


def _expand(tree: _Tree, spec: str, discovery: Discovery, seen: set[str]) -> None:
    """Add the shards of one input (a file, a folder or a glob) to ``discovery``; a file found inside
    a folder that is not a shard goes to ``discovery.skipped`` with its reason."""
    if _GLOB_CHARS.search(spec):
        paths = tree.glob(spec)
        if not paths:
            msg = f"{spec}: the pattern matches no file"
            raise ConfigError(msg)
    else:
        paths = [spec]
    for path in paths:
        kind = tree.kind(path)
        if kind == "missing":
            msg = f"{path}: no such file or directory"
            raise ConfigError(msg)
        if kind == "file":
            _add(discovery, seen, tree.shard(path, path))
            continue
        found = 0
        for candidate in tree.files_under(path):
            reason = _skip_reason(tree, candidate)
            if reason is not None:
                discovery.skipped.append({"path": _label(tree, candidate), "reason": reason})
                continue
            _add(discovery, seen, tree.shard(candidate, candidate))
            found += 1
        if not found:
            msg = f"{path}: directory holds no shards (known suffixes: {_known_suffixes()})"
            raise ConfigError(msg)


def _label(tree: _Tree, path: str) -> str:
    """A skipped file's name as reports print it (undecodable bytes of a local name escaped)."""
    if not isinstance(tree, _LocalTree):
        return path
    return Path(os.path.normpath(path)).as_posix().encode(errors="surrogateescape").decode(errors="backslashreplace")


def _skip_reason(tree: _Tree, path: str) -> str | None:
    """Why a file found inside an input folder is not scanned, or None if it is a shard."""
    fmt = format_of(os.path.basename(path))
    if fmt is None:
        return f"unsupported file type (known suffixes: {_known_suffixes()})"
    if path.lower().endswith(".json"):
        try:
            return _not_jsonl(tree.head(path))
        except OSError:
            return None  # unreadable: the scan reports it as a shard error
    return None


def _add(discovery: Discovery, seen: set[str], shard: Shard) -> None:
    if shard.path not in seen:
        seen.add(shard.path)
        discovery.shards.append(shard)


def discover(inputs: list[str]) -> Discovery:
    """Expand files, directories and globs into shards, each real file once, sorted by label, and list
    the other files found inside input folders (``Discovery.skipped``).

    A shard's label is its path as the user spelled it (normalised, ``/``-separated); it names the
    shard in every output and in generated document ids, so outputs do not depend on the machine. A
    ``file://`` URI stands for the local path it names (as ``--out`` reads it) and is labelled by that
    path, so it scans, resumes and deduplicates exactly as the path would. A file named directly is
    scanned whatever its content; inside a folder, a ``.json`` file whose first line is not a JSON
    object (a ``config.json``) is skipped, not read as JSON Lines.
    """
    discovery, seen = Discovery([]), set()
    for spec in inputs:
        if storage.scheme_of(spec):
            _expand(_UriTree(), spec, discovery, seen)
        else:
            _expand(_LocalTree(), storage.resolve(spec)[1] if spec.startswith("file://") else spec, discovery, seen)
    discovery.shards.sort(key=lambda shard: shard.label)
    discovery.skipped.sort(key=lambda entry: entry["path"])
    return discovery


def discover_shards(inputs: list[str]) -> list[Shard]:
    """The shards of ``discover`` (see there)."""
    return discover(inputs).shards


def select_shards(shards: list[Shard], index: int, count: int) -> list[Shard]:
    """The ``index``-th of ``count`` disjoint subsets (round robin over the sorted shards), for batch
    schedulers: every job discovers the same shards, so the subsets cover them exactly once."""
    return shards[index::count]


def shard_at(location: str, label: str) -> Shard:
    """The whole-file shard at a path or URI recorded by an earlier scan, under its original label."""
    tree = _UriTree() if storage.scheme_of(location) else _LocalTree()
    return dataclasses.replace(tree.shard(location, label), label=label)


def fingerprint(shard: Shard) -> str:
    """SHA-256 over the file size and its first and last MiB: cheap, content-based, machine-independent.
    Computed once per file and process, not once per work unit (a file may have dozens); not cached
    where the filesystem keeps no mtime, since a rewrite of the same size would go unnoticed."""
    if shard.mtime_ns is None:
        return _file_fingerprint.__wrapped__(shard.path, shard.bytes, None)
    return _file_fingerprint(shard.path, shard.bytes, shard.mtime_ns)


@lru_cache(maxsize=256)
def _file_fingerprint(location: str, size: int, mtime_ns: int | None, window: int = 1 << 20) -> str:
    fs, path = storage.resolve(location)
    digest = hashlib.sha256(str(size).encode())
    with fs.open_input_file(path) as f:
        digest.update(f.read(window))
        if size > window:
            f.seek(max(size - window, window))
            digest.update(f.read(window))
    return digest.hexdigest()
