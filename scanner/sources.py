"""Which source a document comes from, and what the registry says about that source.

Without a registry a document's source is its source column, else its URL's host, else the shard's
file name. With a registry (``sources.toml`` or CSV, see README "Source registry") every document
is attributed to the first registry source whose rule matches, in this order of precedence: exact
source name, longest URL prefix, domain (the host or any parent domain), shard glob. Documents no
rule matches keep their plain source name and are reported as unregistered.

Origin defaults come from the registrable domain's public suffix (``tldextract`` with its bundled
suffix list, no network): ``.cn``/``.中国``/``.中國`` are domestic (mainland China, 境内); other
country-code suffixes are foreign (境外); generic suffixes (``.com``, ``.org``) stay unknown.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import io
import json
import sys
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.compute as pc

from scanner.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

SOURCE_TYPES = ("open-source", "self-collected", "commercial", "synthetic", "user-provided")
ORIGINS = ("domestic", "foreign", "unknown")
_DOMESTIC_SUFFIXES = {"cn", "中国", "中國"}


def url_host(url: str | None) -> str | None:
    """Lower-cased host of an absolute URL, or None when there is none (relative, empty, garbage)."""
    if not url:
        return None
    try:
        return urlsplit(url.strip()).hostname or None
    except ValueError:
        return None


@lru_cache(maxsize=1)
def _extractor():
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def origin_of_host(host: str) -> str:
    """Default origin from a host name's public suffix: domestic, foreign or unknown."""
    suffix = _extractor()(host).suffix
    if not suffix:
        return "unknown"
    top = suffix.rsplit(".", 1)[-1]
    if top in _DOMESTIC_SUFFIXES:
        return "domestic"
    is_country_code = (len(top) == 2 and top.isascii() and top.isalpha()) or not top.isascii()
    return "foreign" if is_country_code else "unknown"


@dataclass(frozen=True)
class RegistrySource:
    """One registered corpus source and the rules that attribute documents to it."""

    name: str
    type: str
    origin: str
    licence: str = ""
    reference: str = ""
    blocklisted: bool = False
    sources: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    url_prefixes: tuple[str, ...] = ()
    shards: tuple[str, ...] = ()
    data_type: str = ""  # "code" declares every document of the source as code; "" lets the detector decide


@dataclass(frozen=True)
class Registry:
    """The corpus sources of a filing; attribution is a pure function of (source, url, shard)."""

    entries: tuple[RegistrySource, ...] = field(default=())
    path: str = ""

    def __bool__(self) -> bool:
        return bool(self.entries)

    @property
    def fingerprint(self) -> str:
        payload = json.dumps([asdict(e) for e in self.entries], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()

    def describe(self) -> dict:
        return {"path": self.path, "fingerprint": self.fingerprint, "sources": [asdict(e) for e in self.entries]}

    def by_name(self) -> dict[str, RegistrySource]:
        return {e.name: e for e in self.entries}

    def attribute(self, source: str | None, url: str | None, shard: str) -> str | None:
        """The registry source name of one document, or None if no rule matches."""
        if source:
            for entry in self.entries:
                if source == entry.name or source in entry.sources:
                    return entry.name
        if url:
            best = max(
                ((len(p), e.name) for e in self.entries for p in e.url_prefixes if url.startswith(p)),
                default=None,
            )
            if best:
                return best[1]
            host = url_host(url)
            if host:
                for entry in self.entries:
                    if any(host == d or host.endswith("." + d) for d in entry.domains):
                        return entry.name
        for entry in self.entries:
            if any(fnmatch.fnmatch(shard, pattern) for pattern in entry.shards):
                return entry.name
        return None


def _as_tuple(value, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(";") if v.strip())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    msg = f"{where}: {key!r} must be a string or a list of strings"
    raise ConfigError(msg)


_TRUE = ("1", "true", "yes", "y")
_FALSE = ("", "0", "false", "no", "n")


def _as_flag(value, where: str, name: str, key: str) -> bool:
    """A yes/no field: TOML booleans, or in CSV true/false, yes/no, y/n, 1/0 (any case; empty = no).
    Anything else is an error rather than a silent "no": a misspelt ``blocklisted`` must not pass."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    msg = f"{where}: source {name!r} has {key} {value!r}; expected true or false (yes/no, 1/0)"
    raise ConfigError(msg)


def _entry(raw: dict, where: str) -> RegistrySource:
    name = str(raw.get("name") or "").strip()
    if not name:
        msg = f"{where}: source needs a 'name'"
        raise ConfigError(msg)
    kind = str(raw.get("type") or "").strip()
    if kind not in SOURCE_TYPES:
        msg = f"{where}: source {name!r} has type {kind!r}; expected one of {', '.join(SOURCE_TYPES)}"
        raise ConfigError(msg)
    domains = tuple(d.lower().lstrip(".") for d in _as_tuple(raw.get("domains"), where, "domains"))
    origin = str(raw.get("origin") or "").strip() or (origin_of_host(domains[0]) if domains else "unknown")
    if origin not in ORIGINS:
        msg = f"{where}: source {name!r} has origin {origin!r}; expected domestic or foreign"
        raise ConfigError(msg)
    data_type = str(raw.get("data_type") or "").strip()
    if data_type not in ("", "code"):
        msg = f"{where}: source {name!r} has data_type {data_type!r}; expected code or nothing"
        raise ConfigError(msg)
    return RegistrySource(
        name=name,
        type=kind,
        origin=origin,
        licence=str(raw.get("licence") or raw.get("license") or "").strip(),
        reference=str(raw.get("reference") or "").strip(),
        blocklisted=_as_flag(raw.get("blocklisted"), where, name, "blocklisted"),
        sources=_as_tuple(raw.get("sources"), where, "sources"),
        domains=domains,
        url_prefixes=_as_tuple(raw.get("url_prefixes"), where, "url_prefixes"),
        shards=_as_tuple(raw.get("shards"), where, "shards"),
        data_type=data_type,
    )


def load_registry(path: str | Path | None) -> Registry:
    """Read ``sources.toml`` (``[[source]]`` tables) or a CSV with the same column names."""
    if path is None:
        return Registry()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        msg = f"{path}: cannot read source registry: {e}"
        raise ConfigError(msg) from e
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        raws = [({k.strip().lower(): v for k, v in row.items() if k}, f"{path}:{reader.line_num}") for row in reader]
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            msg = f"{path}: invalid TOML: {e}"
            raise ConfigError(msg) from e
        raws = [(raw, f"{path}: [[source]] #{i}") for i, raw in enumerate(data.get("source", []), start=1)]
    entries = tuple(_entry(raw, where) for raw, where in raws)
    names = [e.name for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        msg = f"{path}: source {duplicates[0]!r} is registered twice"
        raise ConfigError(msg)
    if not entries:
        msg = f"{path}: the registry lists no sources"
        raise ConfigError(msg)
    return Registry(entries=entries, path=str(path))


def resolve_sources(
    rows: int, source: pa.Array | None, url: pa.Array | None, shard: str, fallback: str, registry: Registry
) -> pa.Array:
    """One source name per document: the registry's name where a rule matches, else the plain name."""
    names: list[str | None] = [None] * rows
    if source is not None:
        names = pc.if_else(pc.equal(source, ""), None, source).to_pylist()
    urls = url.to_pylist() if url is not None else [None] * rows
    if registry:
        cache: dict[tuple, str | None] = {}
        registered = []
        for name, u in zip(names, urls):
            key = (name, u)
            if key not in cache:
                cache[key] = registry.attribute(name, u, shard)
            registered.append(cache[key])
        names = [r if r is not None else n for r, n in zip(registered, names)]
    names = [name if name is not None else (url_host(u) or fallback) for name, u in zip(names, urls)]
    return pa.array(names, type=pa.string())
