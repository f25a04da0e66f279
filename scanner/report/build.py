"""Merge per-unit statistics into the corpus report: figures, checks against the profile, samples.

The report is a pure function of the output folder (the units' stats files, the sample candidates,
the plans and any imported labels), so ``scanner report OUT`` rebuilds exactly what ``scanner scan``
wrote and ``--verify`` can recompute every figure. Shares are derived here from exact integer counters.
"""

from __future__ import annotations

import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa

from scanner.detect.registry import DETECTORS
from scanner.detect.source import UNREGISTERED_SUFFIX, Registry, RegistrySource, origin_of_host
from scanner.detect.tokens import DEFAULT_TOKENIZER, token_mode
from scanner.evidence.outfolder import OutputFolder
from scanner.evidence.sampling import duplicate_counts, human_sample
from scanner.evidence.stats import ShardStats
from scanner.lexicon.taxonomy import DEFAULT_PROFILE, RISKS, get_profile
from scanner.match.normalize import STEPS
from scanner.report.checks import (
    blocklist_check,
    diversity_check,
    foreign_open_source_check,
    human_check,
    keyword_library_check,
    share,
    source_unsafe_check,
    technical_check,
    traceability_check,
)
from scanner.report.evaluate import stored_evaluation
from scanner.report.filing import build_filing_table, sample_ratios
from scanner.report.html import render_html
from scanner.report.markdown import render_markdown
from scanner.report.merge import merge_units
from scanner.report.samples import merged_candidates, read_back_missing, sample_spec, sample_summary
from scanner.resources import arrow_cpu_threads


def _filing_table(stats: ShardStats, by_source: dict[str, dict[str, Any]], options: dict[str, Any], token_sample: pa.Table) -> dict[str, Any]:
    """The corpus-scale table; estimate mode uses the token counts of ``token_sample``: the first
    ``SampleSpec.tokens`` documents of the human sample, by rank (a uniform sample itself)."""
    mode = options.get("tokens", "off")  # scans before the table existed counted no tokens
    tokenizer = options.get("tokenizer", DEFAULT_TOKENIZER)
    ratios = sample_ratios(token_sample) if token_mode(mode).sample else None
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
            "flagged_share": share(s["flagged_documents"], s["documents"]),
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
    return {k: {**v, "share_of_chars": share(v["chars"], total)} for k, v in sorted(groups.items())}


NOT_SCANNED_YET = "planned, not scanned yet"
"""The reason of an error entry for a planned unit without a stats file (not a failure: it may yet run)."""


def build_report(out: str | Path, profile_name: str = DEFAULT_PROFILE, threads: int = 1) -> tuple[dict[str, Any], pa.Table]:
    """The merged report of an output folder (a path or a URI), and the human sample it implies;
    ``threads`` read files ahead (see ``scanner.io.storage.read_ahead``)."""
    profile = get_profile(profile_name)
    folder = OutputFolder(out)
    merged = merge_units(folder.iter_units(threads))
    stats, provenance, shards = merged.stats, merged.provenance, merged.shards
    unfinished, skipped = folder.planned(merged.units)
    errors = stats.errors + [{"shard": u["label"], "reason": f"{name}: {NOT_SCANNED_YET} (the scan was interrupted or is still running; run it again)"} for name, u in unfinished.items()]
    tool, lexicon, langid, options = (merged.run[key] for key in ("tool", "lexicon", "langid", "options"))
    registry = _registry_of(options)
    spec = sample_spec(options)
    totals = dict(stats.totals)
    totals["flagged_share"] = share(totals["flagged_documents"], totals["documents"])
    totals["rejected_documents"] = stats.rejected_rows
    totals["rows_read"] = stats.rows_read
    by_source = _source_table(stats, registry)
    by_category = {code: {**counts, "name_zh": RISKS[code].name_zh, "name_en": RISKS[code].name_en} for code, counts in sorted(stats.by_category.items())}
    figures = {"totals": totals, "by_source": by_source, "by_category": by_category, "options": options}
    for detector in DETECTORS:  # what detectors derive (unsafe shares, PII shares) is there before the checks judge it
        detector.report(stats, figures)
    by_category = figures["by_category"]
    by_language = {code: stats.by_language[code] for code in sorted(stats.by_language)}
    origins = _shares_by(by_source, "origin")
    sample = read_back_missing(human_sample(merged_candidates(folder, spec, threads), spec), merged.locations, options, spec)
    filing = _filing_table(stats, by_source, options, sample.slice(0, spec.tokens))
    checks = [
        source_unsafe_check(by_source, profile),
        blocklist_check(by_source, profile),
        diversity_check(by_source, by_language, origins, profile),
        traceability_check(by_source, profile),
        technical_check(totals, profile, _with_unread_files(stats.inputs, unfinished), errors),
        human_check(folder.labels(), profile, set(sample["doc_id"].to_pylist())),
        keyword_library_check(lexicon, profile),
        foreign_open_source_check(filing, profile),
    ]
    human = next(c for c in checks if c["id"] == "human-spot-check").get("by_source", {})
    for name, s in by_source.items():
        s["verdict"] = "fail" if name in checks[0]["offending"] else "pass"
        s.update(_human_estimate(human.get(name)))
    report = {
        "tool": tool,
        "profile": profile.name,
        "lexicon": {k: lexicon[k] for k in ("name", "version", "fingerprint", "terms", "terms_by_category", "files")},
        "langid": langid,
        "classifier": merged.run.get("classifier"),
        "options": {k: v for k, v in options.items() if k != "registry"},
        "registry": {"path": registry.path, "fingerprint": registry.fingerprint if registry else None, "sources": len(registry.entries)},
        "inputs": stats.inputs,
        "totals": totals,
        "rejected": stats.rejected,
        "by_category": by_category,
        "by_language": by_language,
        "by_source": by_source,
        "by_origin": origins,
        "by_source_type": _shares_by(by_source, "type"),
        "by_normalization": {step: stats.by_normalization[step] for step in STEPS if step in stats.by_normalization},
        "top_terms": _top_terms(stats, totals["documents"]),
        "checks": checks,
        "filing_table": filing,
        "human_sample": sample_summary(sample, spec, by_source, totals["documents"]),
        "lexicon_audit": {
            "rules": checks[6]["rules"],
            "verdict": checks[6]["status"],
            **lexicon.get("lint", {}),
        },
        "evaluation": stored_evaluation(folder, options),
        "duplicate_ids": duplicate_counts(folder.id_hashes(threads)),
        "shards": shards,
        "skipped": skipped,
        "errors": errors,
        "provenance": {
            "commands": sorted({p.get("command", "") for p in provenance} - {""}),
            "started_at": min((p["started_at"] for p in provenance if p.get("started_at")), default=None),
            "finished_at": max((p["finished_at"] for p in provenance if p.get("finished_at")), default=None),
        },
    }
    return report, sample


def _human_estimate(rates: dict[str, Any] | None) -> dict[str, Any]:
    """A source's true unsafe share as the annotators' verdicts estimate it (fail share, 95 % Wilson
    interval), beside the keyword figure; null where none of its documents was judged."""
    if not rates:
        return {"human_judged": 0, "human_unsafe_share": None, "human_unsafe_interval_95": None}
    low, high = rates["interval_95"]
    return {"human_judged": rates["judged"], "human_unsafe_share": 1 - rates["pass_rate"], "human_unsafe_interval_95": [1 - high, 1 - low]}


def _with_unread_files(inputs: list[dict[str, Any]], unfinished: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """``inputs`` plus the files of unfinished units that no finished unit read, for the screened share."""
    seen = {i["path"] for i in inputs}
    unread = {u["label"]: u["bytes"] for u in unfinished.values() if u["label"] not in seen}
    return inputs + [{"path": label, "bytes": size} for label, size in unread.items()]


def _top_terms(stats: ShardStats, documents: int, limit: int = 50) -> list[dict[str, Any]]:
    """Most frequent terms by documents hit; ``noisy`` marks terms whose document hit rate is far
    above the rest (>= 1 % of documents and >= 10x the median rate of the terms that hit)."""
    median = statistics.median(c["documents"] for c in stats.by_term.values()) if stats.by_term else 0
    rows = sorted(stats.by_term.items(), key=lambda kv: (-kv[1]["documents"], -kv[1]["hits"], kv[0]))[:limit]
    return [
        {
            "term": term,
            **counts,
            "document_share": share(counts["documents"], documents),
            "noisy": share(counts["documents"], documents) >= 0.01 and counts["documents"] >= 10 * max(median, 1),
        }
        for term, counts in rows
    ]


def write_report(out: str | Path, profile: str = DEFAULT_PROFILE, lang: str = "zh", threads: int = 1) -> dict[str, Any]:
    """Rebuild ``report.json``, ``report.md``, ``report.html`` and the human sample from the folder.
    With ``threads`` > 1, files are read ahead and the sample (compressed by Arrow, without the GIL)
    is written while the reports are rendered."""
    with arrow_cpu_threads(1):
        report, sample = build_report(out, profile, threads)
    folder = OutputFolder(out)

    def write_documents() -> None:
        folder.write_report(report, render_markdown(report, lang), render_html(report, lang))

    if threads > 1:
        with ThreadPoolExecutor(1) as pool:
            written = pool.submit(folder.write_human_sample, sample)
            write_documents()
            written.result()
    else:
        folder.write_human_sample(sample)
        write_documents()
    return report
