"""Merge per-shard statistics into the corpus report: figures, checks against the profile, samples.

The report is a pure function of the output folder (``OUT/shards/*.json``, the sample candidates
and any imported labels), so ``scanner report OUT`` rebuilds exactly what ``scanner scan`` wrote
and ``--verify`` can recompute every figure. Shares are derived here from exact integer counters.
"""

from __future__ import annotations

import io
import itertools
import json
import statistics
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scanner.detect.source import UNREGISTERED_SUFFIX, Registry, RegistrySource, origin_of_host
from scanner.detect.tokens import DEFAULT_TOKENIZER, count_tokens
from scanner.errors import ConfigError, ShardError
from scanner.evidence.sampling import (
    SampleSpec,
    duplicate_counts,
    held_cutoff,
    held_rows_decide,
    human_sample,
    merge_candidates,
    truncate_texts,
    wilson_interval,
)
from scanner.evidence.stats import ShardStats
from scanner.io.discovery import shard_at
from scanner.io.readers import Columns, read_texts
from scanner.io.storage import Folder, read_ahead
from scanner.lexicon.taxonomy import DEFAULT_PROFILE, RISKS, Profile, get_profile, keyword_library_rules
from scanner.match.normalize import STEPS
from scanner.report.filing import build_filing_table, sample_ratios
from scanner.resources import arrow_cpu_threads

SHARD_FORMAT = "scanner-shard-stats/1"
UNDETERMINED = "und"


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def iter_shard_files(out: str | Path, threads: int = 1) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ``OUT/shards/*.json`` (OUT a folder or a URI), sorted by name, read one at a time (with
    ``threads`` > 1, that many ahead) so a merge of many thousands of units holds few in memory; a
    missing folder is a ConfigError at once, an unreadable or foreign file when it is reached."""
    folder = Folder(out)
    names = folder.names("shards", suffix=".json")
    if not names:
        msg = f"{folder.uri('shards')}: no shard statistics found (run `scanner scan ... --out {out}` first)"
        raise ConfigError(msg)

    def read(name: str) -> dict[str, Any]:
        file = folder.uri("shards", name)
        try:
            document = folder.read_json("shards", name)
        except (OSError, ValueError) as e:
            msg = f"{file}: unreadable shard statistics: {e}"
            raise ConfigError(msg) from e
        if not isinstance(document, dict) or document.get("format") != SHARD_FORMAT:
            msg = f"{file}: not a scanner shard statistics file (format {SHARD_FORMAT})"
            raise ConfigError(msg)
        return file, document

    return read_ahead(read, names, threads)


@dataclass
class _Merged:
    """What one pass over the shard documents yields: summed stats, distinct ``run`` blocks,
    provenance blocks, per-file row accounting, and where each file (by label) was read from."""

    stats: ShardStats
    runs: list[dict[str, Any]]
    provenance: list[dict[str, Any]]
    shards: list[dict[str, Any]]
    locations: dict[str, str]
    units: set[str]  # names of the units merged (their stats files' names without ``.json``)


def _unit_stats(file: str, document: dict[str, Any]) -> ShardStats:
    """A unit's stats, checked as far as a merge relies on them: a file edited by hand (a missing or
    mistyped field, rows that do not add up) is a ConfigError naming it, not a traceback or a figure."""
    try:
        stats = ShardStats.from_dict(document["stats"], copy=False)
        run = document["run"]
        if not (isinstance(run, dict) and all(key in run for key, _ in MERGED_PROVENANCE)):
            raise KeyError("run")
        adds_up = stats.rows_read == stats.totals["documents"] + stats.rejected_rows
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        msg = f"{file}: malformed shard statistics ({type(e).__name__}: {e}); scan again with --force"
        raise ConfigError(msg) from e
    if not adds_up:
        msg = f"{file}: shard statistics that do not add up (rows read = documents + rejected rows); scan again with --force"
        raise ConfigError(msg)
    return stats


PLANS = "plans"  # OUT/plans/*.json: the units each run planned (``scanner.run.scan.record_plan``)
MERGED_PROVENANCE = (("tool", "tool version"), ("lexicon", "lexicon"), ("langid", "language-ID settings"), ("options", "scan options"))
"""The ``run`` blocks every unit of one report must share, with what they are called in messages."""


def _merge(documents: Iterable[tuple[str, dict[str, Any]]]) -> _Merged:
    """One pass over the shard documents, so only one is held at a time."""
    stats, runs, provenance, shards, locations, units = ShardStats(), {}, [], {}, {}, set()
    for file, document in documents:
        units.add(file.rsplit("/", 1)[-1].removesuffix(".json"))
        unit = _unit_stats(file, document)
        stats.absorb(unit)  # absorb copies what it keeps
        runs.setdefault(json.dumps(document["run"], sort_keys=True), {"run": document["run"]})
        provenance.append(document.get("provenance", {}))
        _add_row_accounting(shards, document["shard"]["path"], unit)
        if (document.get("unit") or {}).get("path"):
            locations[document["shard"]["path"]] = document["unit"]["path"]
    return _Merged(stats, list(runs.values()), provenance, [shards[path] for path in sorted(shards)], locations, units)


def _single(documents: list[dict[str, Any]], key: str, what: str) -> Any:
    """The one provenance block all shards share; different blocks mean a mixed output folder."""
    values = {json.dumps(d["run"][key], sort_keys=True) for d in documents}
    if len(values) > 1:
        msg = f"shard statistics in this folder were made with different {what}; scan into a fresh --out"
        raise ConfigError(msg)
    return documents[0]["run"][key]


def _check(check_id: str, profile: Profile, **fields: Any) -> dict[str, Any]:
    clause_zh, clause_en = profile.clauses[check_id]
    return {"id": check_id, "requirement": clause_zh, "requirement_en": clause_en, **fields}


def _status(failed: bool, assessed: bool = True) -> str:
    return "not-assessed" if not assessed else ("fail" if failed else "pass")


def source_unsafe_check(by_source: dict[str, dict[str, Any]], profile: Profile) -> dict[str, Any]:
    limit = profile.source_unsafe_max_share
    offending = sorted(name for name, s in by_source.items() if s["flagged_share"] > limit)
    return _check(
        "source-unsafe-share",
        profile,
        evidence="Per source, the share of documents with at least one blocked-keyword hit (keyword screening of every document).",
        value=max((s["flagged_share"] for s in by_source.values()), default=0.0),
        threshold=limit,
        status=_status(bool(offending), bool(by_source)),
        offending=offending,
        recommendation=f"blocklist or re-clean these sources: {', '.join(offending)}" if offending else "",
    )


def blocklist_check(by_source: dict[str, dict[str, Any]], profile: Profile) -> dict[str, Any]:
    present = sorted(name for name, s in by_source.items() if s.get("blocklisted"))
    return _check(
        "blocklisted-sources",
        profile,
        evidence="Documents attributed to a registry source marked blocklisted.",
        value=sum(by_source[name]["documents"] for name in present),
        threshold=0,
        status=_status(bool(present)),
        offending=present,
        recommendation=f"remove the documents of: {', '.join(present)}" if present else "",
    )


def diversity_check(by_source: dict, by_language: dict, origins: dict, profile: Profile) -> dict[str, Any]:
    total_chars = sum(v["chars"] for v in by_language.values())
    qualifying = [
        code for code, v in sorted(by_language.items()) if code != UNDETERMINED and _share(v["chars"], total_chars) >= profile.diversity_min_language_share
    ]
    sources_per_language = {code: sorted(n for n, s in by_source.items() if s["languages"].get(code)) for code in qualifying}
    offending = [code for code, names in sources_per_language.items() if len(names) < profile.diversity_min_sources]
    return _check(
        "source-diversity",
        profile,
        evidence=(
            f"Every language holding at least {100 * profile.diversity_min_language_share:g} % of the characters has "
            f"at least {profile.diversity_min_sources} sources; domestic/foreign shares of characters are reported."
        ),
        value=min((len(n) for n in sources_per_language.values()), default=0),
        threshold=profile.diversity_min_sources,
        status=_status(bool(offending), bool(qualifying)),
        offending=offending,
        sources_per_language={code: len(names) for code, names in sources_per_language.items()},
        origin_shares=origins,
    )


def traceability_check(by_source: dict[str, dict[str, Any]], profile: Profile) -> dict[str, Any]:
    """Open-source: a licence; self-collected: a collection record; commercial: a contract reference."""
    missing = []
    for name, s in by_source.items():
        if not s["registered"]:
            missing.append({"source": name, "missing": "registry entry"})
        elif s["type"] == "open-source" and not s["licence"]:
            missing.append({"source": name, "missing": "licence"})
        elif s["type"] == "self-collected" and not s["reference"]:
            missing.append({"source": name, "missing": "collection record"})
        elif s["type"] == "commercial" and not s["reference"]:
            missing.append({"source": name, "missing": "contract reference"})
    return _check(
        "source-traceability",
        profile,
        evidence="Each source is registered with its licence (open-source), collection record (self-collected) or contract (commercial).",
        value=len(by_source) - len(missing),
        threshold=len(by_source),
        status=_status(bool(missing), bool(by_source)),
        offending=sorted(m["source"] for m in missing),
        missing=missing,
    )


def technical_check(totals: dict[str, Any], profile: Profile, inputs: list[dict[str, Any]], errors: list[dict[str, Any]]) -> dict[str, Any]:
    """Keyword screening's pass rate, and the share of the corpus it screened: the documents among
    the rows read, times the share of input bytes in files that were read without error (a file
    with an unreadable part counts as unscreened: its rows are unknown)."""
    failed_files = {e["shard"] for e in errors}
    input_bytes = sum(i["bytes"] for i in inputs)
    unread_bytes = sum(i["bytes"] for i in inputs if i["path"] in failed_files)
    read_share = 1 - unread_bytes / input_bytes if input_bytes else (0.0 if failed_files else 1.0)
    scanned_share = _share(totals["documents"], totals["documents"] + totals["rejected_documents"]) * read_share
    pass_rate = 1 - totals["flagged_share"]
    failed = scanned_share < profile.technical_sample_min_share or pass_rate < profile.technical_sample_min_pass_rate
    return _check(
        "technical-spot-check",
        profile,
        evidence="Keyword screening of every readable document; pass = no blocked-keyword hit. Classifier screening is not part of this tool. "
        "Screened share: documents among the rows read, times the share of input bytes in files read without error.",
        value=pass_rate,
        threshold=profile.technical_sample_min_pass_rate,
        scanned_share=scanned_share,
        scanned_share_threshold=profile.technical_sample_min_share,
        status=_status(failed, totals["documents"] > 0),
        offending=[] if not failed else ["corpus"],
    )


def human_check(labels: dict[str, Any] | None, profile: Profile, sample_ids: set[str]) -> dict[str, Any]:
    """The pass rate of the imported verdicts on documents of the current human sample (``sample_ids``).
    A later scan may draw another sample (other inputs, seed or size); verdicts on documents outside
    it say nothing about it, so they are left out and counted in ``labels_outside_sample``."""
    stored = labels["labels"] if labels else []
    verdicts = [v for v in stored if v["doc_id"] in sample_ids]
    outside = len(stored) - len(verdicts)
    if not verdicts:
        return _check(
            "human-spot-check",
            profile,
            evidence="Annotators' verdicts on the order-free random sample (scanner sample export / import).",
            value=None,
            threshold=profile.human_sample_min_pass_rate,
            sample_size=0,
            labels_outside_sample=outside,
            status="not-assessed",
            offending=[],
        )
    passed = sum(1 for v in verdicts if v["verdict"] == "pass")
    low, high = wilson_interval(passed, len(verdicts))
    failures: dict[str, int] = {}
    for v in verdicts:
        if v["verdict"] == "fail":
            failures[v.get("category") or "unspecified"] = failures.get(v.get("category") or "unspecified", 0) + 1
    rate = _share(passed, len(verdicts))
    failed = len(verdicts) < profile.human_sample_min_size or rate < profile.human_sample_min_pass_rate
    return _check(
        "human-spot-check",
        profile,
        evidence="Annotators' verdicts on the order-free random sample (scanner sample export / import).",
        value=rate,
        threshold=profile.human_sample_min_pass_rate,
        sample_size=len(verdicts),
        sample_size_threshold=profile.human_sample_min_size,
        interval_95=[low, high],
        failures_by_category=dict(sorted(failures.items())),
        labels_outside_sample=outside,
        status=_status(failed),
        offending=sorted(failures),
    )


def keyword_library_check(lexicon: dict[str, Any], profile: Profile) -> dict[str, Any]:
    rules = keyword_library_rules(lexicon["terms"], lexicon["terms_by_category"], profile.name)
    failing = [r["rule"] for r in rules if r["status"] == "fail"]
    return _check(
        "keyword-library",
        profile,
        evidence="Term counts of the lexicon used, in total and per A.1/A.2 risk.",
        value=lexicon["terms"],
        threshold=profile.keyword_library_min_terms,
        status=_status(bool(failing)),
        offending=failing,
        rules=rules,
    )


def foreign_open_source_check(filing: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """Share of storage held by foreign open-source corpora; a practice threshold, reported as such."""
    share = filing["shares"]["open-source-foreign"]
    limit = profile.foreign_open_source_max_share
    return _check(
        "foreign-open-source-share",
        profile,
        evidence=f"Foreign open-source corpora hold {100 * share:.2f} % of the stored bytes (practice threshold {100 * limit:g} %).",
        value=share,
        threshold=limit,
        basis="practice",
        status=_status(share > limit, filing["totals"]["bytes"] > 0),
        offending=["open-source-foreign"] if share > limit else [],
    )


def _filing_table(stats: ShardStats, by_source: dict[str, dict[str, Any]], options: dict[str, Any], token_sample: pa.Table) -> dict[str, Any]:
    """The corpus-scale table; estimate mode uses the token counts of ``token_sample``: the first
    ``SampleSpec.tokens`` documents of the human sample, by rank (a uniform sample itself)."""
    mode = options.get("tokens", "off")  # scans before the table existed counted no tokens
    tokenizer = options.get("tokenizer", DEFAULT_TOKENIZER)
    ratios = sample_ratios(token_sample) if mode == "estimate" else None
    counts = {name: s.get("data_types", {}) for name, s in stats.by_source.items()}
    return build_filing_table(by_source, counts, mode, tokenizer, ratios)


def _registry_of(options: dict[str, Any]) -> Registry:
    block = options.get("registry") or {}
    return Registry(entries=tuple(RegistrySource(**{k: tuple(v) if isinstance(v, list) else v for k, v in e.items()}) for e in block.get("entries", [])), path=block.get("path", ""))


def _source_table(stats: ShardStats, registry: Registry) -> dict[str, dict[str, Any]]:
    entries = registry.by_name()
    table = {}
    for name, s in sorted(stats.by_source.items()):
        entry = entries.get(name)
        table[name] = {
            "documents": s["documents"],
            "flagged_documents": s["flagged_documents"],
            "flagged_share": _share(s["flagged_documents"], s["documents"]),
            "chars": s["chars"],
            "bytes": s["bytes"],
            "languages": s["languages"],
            "registered": entry is not None,
            "type": entry.type if entry else "unregistered",
            "origin": entry.origin if entry else (origin_of_host(name.removesuffix(UNREGISTERED_SUFFIX)) if "." in name else "unknown"),
            "licence": entry.licence if entry else "",
            "reference": entry.reference if entry else "",
            "blocklisted": bool(entry and entry.blocklisted),
        }
    return table


def _shares_by(by_source: dict[str, dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    total = sum(s["chars"] for s in by_source.values())
    groups: dict[str, dict[str, int]] = {}
    for s in by_source.values():
        group = groups.setdefault(s[key], {"documents": 0, "chars": 0, "bytes": 0})
        for field in ("documents", "chars", "bytes"):
            group[field] += s[field]
    return {k: {**v, "share_of_chars": _share(v["chars"], total)} for k, v in sorted(groups.items())}


def load_labels(folder: Folder) -> dict[str, Any] | None:
    return folder.read_json("samples", "human_labels.json") if folder.exists("samples", "human_labels.json") else None


def sample_spec(options: dict[str, Any]) -> SampleSpec:
    return SampleSpec(**options.get("sample", {}))


def merged_candidates(out: str | Path, spec: SampleSpec, threads: int = 1) -> pa.Table:
    """Every sample's candidates, in rank order: the units' held candidates, and their reserves only
    if those cannot change the sample (see ``scanner.evidence.sampling``; files read ``threads`` ahead)."""
    folder = Folder(out)

    def tables(part: str) -> Iterator[pa.Table]:
        # ParquetFile.read, not read_table: the dataset layer costs ~2 ms per file, and units are many.
        def read(name: str) -> pa.Table:
            return pq.ParquetFile(folder.fs.open_input_file(folder.path("samples", part, name))).read(use_threads=False)

        return read_ahead(read, folder.names("samples", part, suffix=".parquet"), threads)

    cutoffs: list[int | None] = []

    def held() -> Iterator[pa.Table]:
        for table in tables("candidates"):
            cutoffs.append(held_cutoff(table.schema))
            yield table

    merged = merge_candidates(held(), spec)
    if held_rows_decide(merged, cutoffs, spec):
        return merged
    return merge_candidates(itertools.chain([merged], tables("reserve")), spec)


def read_back_missing(sample: pa.Table, locations: dict[str, str], options: dict[str, Any], spec: SampleSpec) -> pa.Table:
    """Read back from their inputs the documents of the human sample (in rank order) whose unit kept
    no text, or, in estimate mode, counted no tokens among the first ``spec.tokens`` (a rank cut-off
    was too low, see ``scanner.evidence.sampling``). Rare, and only those rows are read. A file that is gone
    or no longer holds the same document is a ConfigError naming it."""
    needs_text = np.asarray(sample["text"].is_null(), dtype=bool)
    needs_tokens = np.zeros(sample.num_rows, dtype=bool)
    if options.get("tokens") == "estimate":
        needs_tokens[: spec.tokens] = np.asarray(sample["doc_tokens"].is_null(), dtype=bool)[: spec.tokens]
    wanted = np.flatnonzero(needs_text | needs_tokens)
    if not len(wanted):
        return sample
    labels, rows, doc_bytes = (sample[name].to_pylist() for name in ("shard", "row", "doc_bytes"))
    full = {}
    for label in sorted({labels[i] for i in wanted}):
        mine = [int(i) for i in wanted if labels[i] == label]
        try:
            texts = read_texts(shard_at(locations[label], label), Columns(**options["columns"]), (rows[i] for i in mine))
        except (KeyError, ConfigError, ShardError, OSError) as e:
            msg = f"{label}: the sample needs texts from this input, which cannot be read now ({e}); scan again with --force"
            raise ConfigError(msg) from e
        for i in mine:
            text = texts.get(rows[i])
            if text is None or len(text.encode()) != doc_bytes[i]:
                msg = f"{label}: row {rows[i]} is not the document scanned there (the file changed); scan again"
                raise ConfigError(msg)
            full[i] = text
    read_back = [i for i in wanted if needs_text[i]]
    if read_back:
        texts = truncate_texts(pa.array([full[i] for i in read_back], pa.string()), spec.text_chars).to_pylist()
        sample = _with_values(sample, "text", read_back, texts)
    counted = [i for i in wanted if needs_tokens[i]]
    if counted:
        tokens = count_tokens([full[i] for i in counted], options.get("tokenizer", DEFAULT_TOKENIZER)).tolist()
        sample = _with_values(sample, "doc_tokens", counted, tokens)
    return sample


def _with_values(table: pa.Table, name: str, rows: list[int], values: list[Any]) -> pa.Table:
    """``table`` with column ``name`` set to ``values`` at ``rows`` (a few rows of a small table)."""
    column = table[name].to_pylist()
    for row, value in zip(rows, values):
        column[row] = value
    index = table.schema.get_field_index(name)
    return table.set_column(index, table.schema.field(index), pa.array(column, table.schema.field(index).type))


def _id_hashes(folder: Folder, threads: int) -> Iterator[np.ndarray]:
    return read_ahead(lambda name: np.load(io.BytesIO(folder.read_bytes("ids", name)), allow_pickle=False), folder.names("ids", suffix=".npy"), threads)


def _sample_summary(sample: pa.Table, spec: SampleSpec, by_source: dict[str, dict[str, Any]], documents: int) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for source in sample["source"].to_pylist():
        counts[source] = counts.get(source, 0) + 1
    return {
        "size": sample.num_rows,
        "requested": spec.size,
        "seed": spec.seed,
        "method": "bottom-k of keyed BLAKE2b-64(doc_id); empty documents excluded",
        "per_source_k": spec.per_source,
        "by_source": {
            name: {"sampled": counts.get(name, 0), "share_of_sample": _share(counts.get(name, 0), sample.num_rows), "share_of_corpus": _share(s["documents"], documents)}
            for name, s in by_source.items()
        },
    }


def build_report(out: str | Path, profile_name: str = DEFAULT_PROFILE, threads: int = 1) -> tuple[dict[str, Any], pa.Table]:
    """The merged report of an output folder (a path or a URI), and the human sample it implies;
    ``threads`` read files ahead (see ``scanner.io.storage.read_ahead``)."""
    profile = get_profile(profile_name)
    folder = Folder(out)
    merged = _merge(iter_shard_files(out, threads))
    stats, documents, provenance, shards = merged.stats, merged.runs, merged.provenance, merged.shards
    unfinished = _unfinished_units(folder, merged.units)
    errors = stats.errors + [{"shard": u["label"], "reason": f"{name}: planned, not scanned yet (the scan was interrupted or is still running; run it again)"} for name, u in unfinished.items()]
    tool = _single(documents, "tool", "tool versions")
    lexicon = _single(documents, "lexicon", "lexicons")
    langid = _single(documents, "langid", "language-ID settings")
    options = _single(documents, "options", "scan options")
    registry = _registry_of(options)
    spec = sample_spec(options)
    totals = dict(stats.totals)
    totals["flagged_share"] = _share(totals["flagged_documents"], totals["documents"])
    totals["rejected_documents"] = stats.rejected_rows
    totals["rows_read"] = stats.rows_read
    by_source = _source_table(stats, registry)
    by_language = {code: stats.by_language[code] for code in sorted(stats.by_language)}
    origins = _shares_by(by_source, "origin")
    sample = read_back_missing(human_sample(merged_candidates(out, spec, threads), spec), merged.locations, options, spec)
    filing = _filing_table(stats, by_source, options, sample.slice(0, spec.tokens))
    checks = [
        source_unsafe_check(by_source, profile),
        blocklist_check(by_source, profile),
        diversity_check(by_source, by_language, origins, profile),
        traceability_check(by_source, profile),
        technical_check(totals, profile, _with_unread_files(stats.inputs, unfinished), errors),
        human_check(load_labels(folder), profile, set(sample["doc_id"].to_pylist())),
        keyword_library_check(lexicon, profile),
        foreign_open_source_check(filing, profile),
    ]
    for name, s in by_source.items():
        s["verdict"] = "fail" if name in checks[0]["offending"] else "pass"
    report = {
        "tool": tool,
        "profile": profile.name,
        "lexicon": {k: lexicon[k] for k in ("name", "version", "fingerprint", "terms", "terms_by_category", "files")},
        "langid": langid,
        "options": {k: v for k, v in options.items() if k != "registry"},
        "registry": {"path": registry.path, "fingerprint": registry.fingerprint if registry else None, "sources": len(registry.entries)},
        "inputs": stats.inputs,
        "totals": totals,
        "rejected": stats.rejected,
        "by_category": {
            code: {**counts, "name_zh": RISKS[code].name_zh, "name_en": RISKS[code].name_en}
            for code, counts in sorted(stats.by_category.items())
        },
        "by_language": by_language,
        "by_source": by_source,
        "by_origin": origins,
        "by_source_type": _shares_by(by_source, "type"),
        "by_normalization": {step: stats.by_normalization[step] for step in STEPS if step in stats.by_normalization},
        "top_terms": _top_terms(stats, totals["documents"]),
        "checks": checks,
        "filing_table": filing,
        "human_sample": _sample_summary(sample, spec, by_source, totals["documents"]),
        "lexicon_audit": {
            "rules": checks[6]["rules"],
            "verdict": checks[6]["status"],
            **lexicon.get("lint", {}),
        },
        "duplicate_ids": duplicate_counts(_id_hashes(folder, threads)),
        "shards": shards,
        "errors": errors,
        "provenance": {
            "commands": sorted({p.get("command", "") for p in provenance} - {""}),
            "started_at": min((p["started_at"] for p in provenance if p.get("started_at")), default=None),
            "finished_at": max((p["finished_at"] for p in provenance if p.get("finished_at")), default=None),
        },
    }
    return report, sample


def _unfinished_units(folder: Folder, done: set[str]) -> dict[str, dict[str, Any]]:
    """Units some run planned (``OUT/plans``) that are not among the ``done`` units (those with a stats
    file): name -> {label, bytes}."""
    unfinished: dict[str, dict[str, Any]] = {}
    for plan in folder.names(PLANS, suffix=".json"):
        try:
            units = folder.read_json(PLANS, plan)["units"]
            unfinished.update({name: {"label": str(u["label"]), "bytes": int(u["bytes"])} for name, u in units.items() if name not in done})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            msg = f"{folder.uri(PLANS, plan)}: unreadable plan of a scan ({e}); delete it if no scan is running"
            raise ConfigError(msg) from e
    return dict(sorted(unfinished.items()))


def _with_unread_files(inputs: list[dict[str, Any]], unfinished: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """``inputs`` plus the files of unfinished units that no finished unit read, for the screened share."""
    seen = {i["path"] for i in inputs}
    unread = {u["label"]: u["bytes"] for u in unfinished.values() if u["label"] not in seen}
    return inputs + [{"path": label, "bytes": size} for label, size in unread.items()]


def _add_row_accounting(shards: dict[str, dict[str, Any]], path: str, stats: ShardStats) -> None:
    """Add one unit's rows to its file's entry: rows read = documents + rejected rows (by reason);
    errors end a unit. Units of one file merge, so the figures do not depend on the unit split."""
    entry = shards.setdefault(path, {"path": path, "rows_read": 0, "documents": 0, "rejected": {}, "errors": []})
    entry["rows_read"] += stats.rows_read
    entry["documents"] += stats.totals["documents"]
    for reason, rows in stats.rejected.items():
        entry["rejected"][reason] = entry["rejected"].get(reason, 0) + rows
    entry["errors"] = sorted(entry["errors"] + [e["reason"] for e in stats.errors])


def _top_terms(stats: ShardStats, documents: int, limit: int = 50) -> list[dict[str, Any]]:
    """Most frequent terms by documents hit; ``noisy`` marks terms whose document hit rate is far
    above the rest (>= 1 % of documents and >= 10x the median rate of the terms that hit)."""
    median = statistics.median(c["documents"] for c in stats.by_term.values()) if stats.by_term else 0
    rows = sorted(stats.by_term.items(), key=lambda kv: (-kv[1]["documents"], -kv[1]["hits"], kv[0]))[:limit]
    return [
        {
            "term": term,
            **counts,
            "document_share": _share(counts["documents"], documents),
            "noisy": _share(counts["documents"], documents) >= 0.01 and counts["documents"] >= 10 * max(median, 1),
        }
        for term, counts in rows
    ]


def write_report(out: str | Path, profile: str = DEFAULT_PROFILE, lang: str = "zh", threads: int = 1) -> dict[str, Any]:
    """Rebuild ``report.json``, ``report.md``, ``report.html`` and the human sample from the folder.
    With ``threads`` > 1, files are read ahead and the sample (compressed by Arrow, without the GIL)
    is written while the reports are rendered."""
    from scanner.report.markdown import render_html, render_markdown

    with arrow_cpu_threads(1):
        report, sample = build_report(out, profile, threads)
    folder = Folder(out)
    folder.makedirs("samples")

    def write_sample() -> None:
        with folder.parquet_writer(("samples", "human_sample.parquet"), sample.schema) as writer:
            writer.write_table(sample)

    def write_documents() -> None:
        folder.write_json(("report.json",), report)
        folder.write_bytes(("report.md",), render_markdown(report, lang).encode())
        folder.write_bytes(("report.html",), render_html(report, lang).encode())

    if threads > 1:
        with ThreadPoolExecutor(1) as pool:
            written = pool.submit(write_sample)
            write_documents()
            written.result()
    else:
        write_sample()
        write_documents()
    return report


def verify_report(out: str | Path, profile: str = DEFAULT_PROFILE) -> list[str]:
    """Differences between ``OUT/report.json`` and a recomputation from the shard files (empty = verified)."""
    folder = Folder(out)
    if not folder.exists("report.json"):
        return [f"{folder.uri('report.json')}: missing"]
    written = folder.read_json("report.json")
    recomputed = json.loads(json.dumps(build_report(out, profile)[0]))
    return _differences(written, recomputed, "")


def _differences(a: Any, b: Any, where: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                out.append(f"{where}/{key}: present in only one of report.json and the recomputation")
            else:
                out.extend(_differences(a[key], b[key], f"{where}/{key}"))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where or '/'}: report.json has {json.dumps(a, ensure_ascii=False)[:80]}, recomputed {json.dumps(b, ensure_ascii=False)[:80]}"]
