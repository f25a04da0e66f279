"""Which source a document comes from, and what the registry says about that source.

Without a registry a document's source is its source column, else its URL's host, else the shard's
file name. With a registry (``sources.toml`` or CSV, see docs/evidence.md#source-registry) every document
is attributed to the first registry source whose rule matches, in this order of precedence: exact
source name, longest URL prefix, domain (the host or any parent domain), shard glob. Documents no
rule matches keep their plain source name and are reported as unregistered; when that plain name
is a URL host or shard name equal to a registry name, it gets the suffix `` (unregistered)`` so the
document is not counted as (and does not inherit the blocklist or origin of) the registered source.
A source column equal to a registry name always belongs to that source, whatever ``sources`` lists
of earlier entries say.

URLs are compared in one spelling on both sides (documents and the registry's ``url_prefixes`` and
``domains``): scheme and host lower-cased, the host without a trailing dot and with punycode labels
decoded (``xn--fiqs8s`` is ``中国``), no user info. Paths, queries and fragments stay case-sensitive.

Origin defaults come from the registrable domain's public suffix (``tldextract`` with its bundled
suffix list, no network), read from the same canonical host: ``.cn``/``.中国``/``.中國`` are domestic
(mainland China, 境内); other country-code suffixes are foreign (境外), that is two ASCII letters or
one of the IDN ccTLDs of the IANA root zone; generic suffixes (``.com``, ``.公司``) stay unknown.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import io
import json
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import idna
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scanner.detect.base import Batch, Counts, Detector
from scanner.errors import ConfigError
from scanner.io.config import parse_toml, refuse_unknown_keys

SOURCE_TYPES = ("open-source", "self-collected", "commercial", "synthetic", "user-provided")
ORIGINS = ("domestic", "foreign", "unknown")
_DOMESTIC_SUFFIXES = {"cn", "中国", "中國"}
# IDN ccTLDs other than China's, as A-labels (decoded on first use by ``_idn_country_codes``): the
# "IDN ccTLDs" section of the Public Suffix List (tldextract's bundled snapshot), which follows the
# IANA root zone's country-code entries. A non-ASCII suffix outside this set is generic (.公司, .网络)
# and stays unknown, so a missing entry can only lower the foreign share, never inflate it.
_IDN_COUNTRY_CODE_LABELS = (
    "xn--mgbaam7a8h", "xn--y9a3aq", "xn--54b7fta0cc", "xn--90ae", "xn--mgbcpq6gpa1a", "xn--90ais",
    "xn--lgbbat1ad8j", "xn--wgbh1c", "xn--e1a4c", "xn--qxa6a", "xn--mgbah1a3hjkrd", "xn--node", "xn--qxam",
    "xn--j6w193g", "xn--2scrj9c", "xn--3hcrj9c", "xn--45br5cyl", "xn--h2breg3eve", "xn--h2brj9c8c",
    "xn--mgbgu82a", "xn--rvc1e0am3e", "xn--h2brj9c", "xn--mgbbh1a", "xn--mgbbh1a71e", "xn--fpcrj9c3d",
    "xn--gecrj9c", "xn--s9brj9c", "xn--45brj9c", "xn--xkc2dl3a5ee0h", "xn--mgba3a4f16a", "xn--mgba3a4fra",
    "xn--mgbtx2b", "xn--mgbayh7gpa", "xn--3e0b707e", "xn--80ao21a", "xn--q7ce6a", "xn--fzc2c9e2c",
    "xn--xkc2al3hye2a", "xn--mgbc0a9azcg", "xn--d1alf", "xn--l1acc", "xn--mix891f", "xn--mix082f",
    "xn--mgbx4cd0ab", "xn--mgb9awbf", "xn--mgbai9azgqp6j", "xn--mgbai9a5eva00b", "xn--ygbi2ammx",
    "xn--90a3ac", "xn--p1ai", "xn--wgbl6a", "xn--mgberp4a5d4ar", "xn--mgberp4a5d4a87g",
    "xn--mgbqly7c0a67fbc", "xn--mgbqly7cvafr", "xn--mgbpl2fh", "xn--yfro4i67o", "xn--clchc0ea0b2g2a9gcd",
    "xn--ogbpf8fl", "xn--mgbtf8fl", "xn--o3cw4h", "xn--pgbs0dh", "xn--kpry57d", "xn--kprw13d", "xn--nnx388a",
    "xn--j1amh", "xn--mgb2ddes",
)
UNREGISTERED_SUFFIX = " (unregistered)"


def _unicode_label(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        return idna.decode(label)
    except UnicodeError:  # not valid punycode: keep it as written, it can still match itself
        return label


@lru_cache(maxsize=1 << 16)
def canonical_host(host: str) -> str:
    """The host as rules compare it, so ``EXAMPLE.cn.``, ``xn--fsqu00a.xn--fiqs8s`` and ``例子.中国``
    match however a document or the registry spells them: lower case, no trailing dot, U-labels."""
    return ".".join(_unicode_label(label) for label in host.strip().lower().rstrip(".").split("."))


def _canonical_url_and_host(url: str) -> tuple[str, str | None]:
    """One parse for both: ``url`` with a lower-case scheme, the canonical host and no user info (path,
    query and fragment untouched: they are case-sensitive), and that host. Relative URLs come back
    stripped, garbage (a bad port, a broken IPv6 literal) also without a host."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return url, None
    if not host:
        return url, None
    host = canonical_host(host)
    if not parts.scheme:
        return url, host
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment)), host


def canonical_url(url: str) -> str:
    """The URL as prefix rules compare it (see ``_canonical_url_and_host``)."""
    return _canonical_url_and_host(url)[0]


def url_host(url: str | None) -> str | None:
    """Canonical host of an absolute URL, or None when there is none (relative, empty, garbage)."""
    return _canonical_url_and_host(url)[1] if url else None


@lru_cache(maxsize=1)
def _idn_country_codes() -> frozenset[str]:
    return frozenset(idna.decode(label) for label in _IDN_COUNTRY_CODE_LABELS)


@lru_cache(maxsize=1)
def _extractor():
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def origin_of_host(host: str) -> str:
    """Default origin from a host name's public suffix: domestic, foreign or unknown."""
    suffix = _extractor()(canonical_host(host)).suffix
    if not suffix:
        return "unknown"
    top = suffix.rsplit(".", 1)[-1]
    if top in _DOMESTIC_SUFFIXES:
        return "domestic"
    is_country_code = (len(top) == 2 and top.isascii() and top.isalpha()) or top in _idn_country_codes()
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
            exact = (e.name for e in self.entries if source == e.name)
            listed = (e.name for e in self.entries if source in e.sources)
            named = next(exact, None) or next(listed, None)
            if named:
                return named
        if url:
            url, host = _canonical_url_and_host(url)
            best = max(
                ((len(p), e.name) for e in self.entries for p in e.url_prefixes if url.startswith(p)),
                default=None,
            )
            if best:
                return best[1]
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


REGISTRY_KEYS = (*(f.name for f in fields(RegistrySource)), "license")
"""The keys of a registry entry (``license`` is read as ``licence``); any other key is an error."""


def _entry(raw: dict, where: str) -> RegistrySource:
    refuse_unknown_keys(raw, REGISTRY_KEYS, where)
    name = str(raw.get("name") or "").strip()
    if not name:
        msg = f"{where}: source needs a 'name'"
        raise ConfigError(msg)
    kind = str(raw.get("type") or "").strip()
    if kind not in SOURCE_TYPES:
        msg = f"{where}: source {name!r} has type {kind!r}; expected one of {', '.join(SOURCE_TYPES)}"
        raise ConfigError(msg)
    domains = tuple(canonical_host(d.lstrip(".")) for d in _as_tuple(raw.get("domains"), where, "domains"))
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
        url_prefixes=tuple(canonical_url(p) for p in _as_tuple(raw.get("url_prefixes"), where, "url_prefixes")),
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
        refuse_unknown_keys((k.strip().lower() for k in reader.fieldnames or () if k.strip()), REGISTRY_KEYS, f"{path}:1 (header)")
        raws = [({k.strip().lower(): v for k, v in row.items() if k}, f"{path}:{reader.line_num}") for row in reader]
    else:
        data = parse_toml(text, str(path))
        refuse_unknown_keys(data, ("source",), str(path))
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
    """One source name per document: the registry's name where a rule matches, else the plain name.

    A plain name taken from the URL host or ``fallback`` (the shard name) that equals a registry name
    gets ``UNREGISTERED_SUFFIX``: the document matched none of that source's rules, so it must not be
    counted as that source. (A source column equal to a registry name always matches it.)"""
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
    taken = {e.name for e in registry.entries}

    def plain_name(u: str | None) -> str:
        name = url_host(u) or fallback
        return name + UNREGISTERED_SUFFIX if name in taken else name

    names = [name if name is not None else plain_name(u) for name, u in zip(names, urls)]
    return pa.array(names, type=pa.string())


@dataclass(frozen=True)
class SourceOptions:
    registry: Registry = field(default_factory=Registry)
    """The source registry (``--sources``): names, rules, type, origin, licence; empty by default. A path
    (``sources.toml`` or ``.csv``) is loaded with ``load_registry``; None means none."""

    def __post_init__(self) -> None:
        if not isinstance(self.registry, Registry):
            object.__setattr__(self, "registry", load_registry(self.registry))


class SourceDetector(Detector):
    """``source`` per document (``resolve_sources``); per source: documents, flagged_documents, chars, bytes."""

    name = "source"
    Options = SourceOptions
    columns = (pa.field("source", pa.string()),)

    def detect(self, batch: Batch) -> dict[str, Any]:
        documents = batch.documents
        return {"source": resolve_sources(batch.rows, documents.source, documents.url, batch.shard, batch.fallback_source, self.options.registry)}

    def count(self, batch: Batch) -> Counts:
        documents = batch.per_source(np.ones(batch.rows))
        flagged, chars, size = (batch.per_source(w) for w in (batch.hits_per_doc > 0, batch.doc_chars, batch.doc_bytes))
        return {
            "by_source": {
                name: {"documents": n, "flagged_documents": flagged.get(name, 0), "chars": chars.get(name, 0), "bytes": size.get(name, 0), "languages": {}}
                for name, n in documents.items()
            }
        }
