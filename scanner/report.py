"""Merge per-shard statistics into the corpus report (``report.json`` and ``report.md``).

The report is a pure function of the shard files, so ``scanner report OUT`` rebuilds exactly
what ``scanner scan`` wrote. Shares are derived here from exact integer counters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scanner.errors import ConfigError
from scanner.normalize import STEPS
from scanner.outputs import atomic_write_bytes, atomic_write_json
from scanner.stats import ShardStats
from scanner.taxonomy import DEFAULT_PROFILE, PROFILES, RISKS

SHARD_FORMAT = "scanner-shard-stats/1"


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def load_shard_files(out: Path) -> list[dict[str, Any]]:
    """Every ``OUT/shards/*.json``, sorted by name; a missing folder or foreign file is a ConfigError."""
    folder = out / "shards"
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        msg = f"{folder}: no shard statistics found (run `scanner scan ... --out {out}` first)"
        raise ConfigError(msg)
    documents = []
    for file in files:
        try:
            document = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            msg = f"{file}: unreadable shard statistics: {e}"
            raise ConfigError(msg) from e
        if not isinstance(document, dict) or document.get("format") != SHARD_FORMAT:
            msg = f"{file}: not a scanner shard statistics file (format {SHARD_FORMAT})"
            raise ConfigError(msg)
        documents.append(document)
    return documents


def _single(documents: list[dict[str, Any]], key: str, what: str) -> Any:
    """The one provenance block all shards share; different blocks mean a mixed output folder."""
    values = {json.dumps(d["run"][key], sort_keys=True) for d in documents}
    if len(values) > 1:
        msg = f"shard statistics in this folder were made with different {what}; scan into a fresh --out"
        raise ConfigError(msg)
    return documents[0]["run"][key]


def source_unsafe_check(by_source: dict[str, dict[str, Any]], profile_name: str) -> dict[str, Any]:
    """GB/T 45654-2025: a source whose unsafe share exceeds the limit must not be used."""
    profile = PROFILES[profile_name]
    limit = profile.source_unsafe_max_share
    offending = sorted(name for name, s in by_source.items() if s["flagged_share"] > limit)
    worst = max((s["flagged_share"] for s in by_source.values()), default=0.0)
    return {
        "id": "source-unsafe-share",
        "requirement": profile.source_unsafe_clause,
        "evidence": "Share of each source's documents with at least one blocked-keyword hit (keyword screening).",
        "value": worst,
        "threshold": limit,
        "status": "not-assessed" if not by_source else ("fail" if offending else "pass"),
        "offending": offending,
        "recommendation": f"blocklist or re-clean: {', '.join(offending)}" if offending else "",
    }


def build_report(documents: list[dict[str, Any]], profile: str = DEFAULT_PROFILE) -> dict[str, Any]:
    """The merged report of a set of shard documents (see README for every field)."""
    stats = sum((ShardStats.from_dict(d["stats"]) for d in documents), ShardStats())
    tool = _single(documents, "tool", "tool versions")
    lexicon = _single(documents, "lexicon", "lexicons")
    langid = _single(documents, "langid", "language-ID settings")
    options = _single(documents, "options", "scan options")
    totals = dict(stats.totals)
    totals["flagged_share"] = _share(totals["flagged_documents"], totals["documents"])
    totals["rejected_documents"] = stats.rejected_rows
    totals["rows_read"] = stats.rows_read
    by_source = {
        name: {
            "documents": s["documents"],
            "flagged_documents": s["flagged_documents"],
            "flagged_share": _share(s["flagged_documents"], s["documents"]),
            "chars": s["chars"],
            "bytes": s["bytes"],
            "languages": s["languages"],
        }
        for name, s in sorted(stats.by_source.items())
    }
    check = source_unsafe_check(by_source, profile)
    for name, s in by_source.items():
        s["verdict"] = "fail" if name in check["offending"] else "pass"
    return {
        "tool": tool,
        "profile": profile,
        "lexicon": {k: lexicon[k] for k in ("name", "version", "fingerprint", "terms", "terms_by_category", "files")},
        "langid": langid,
        "options": options,
        "inputs": stats.inputs,
        "totals": totals,
        "rejected": stats.rejected,
        "by_category": {
            code: {**counts, "name_zh": RISKS[code].name_zh, "name_en": RISKS[code].name_en}
            for code, counts in sorted(stats.by_category.items())
        },
        "by_language": {code: stats.by_language[code] for code in sorted(stats.by_language)},
        "by_source": by_source,
        "by_normalization": {step: stats.by_normalization[step] for step in STEPS if step in stats.by_normalization},
        "top_terms": [
            {"term": term, **counts}
            for term, counts in sorted(stats.by_term.items(), key=lambda kv: (-kv[1]["documents"], -kv[1]["hits"], kv[0]))[:50]
        ],
        "checks": [check],
        "errors": stats.errors,
    }


def _percent(share: float) -> str:
    return f"{100 * share:.2f} %"


def render_markdown(report: dict[str, Any]) -> str:
    """A human-readable report: totals, checks, sources, categories, languages, top terms."""
    t = report["totals"]
    lex = report["lexicon"]
    lines = [
        "# Corpus scan report",
        "",
        f"Tool {report['tool']['name']} {report['tool']['version']}; lexicon `{lex['name']}` version `{lex['version']}`,"
        f" {lex['terms']} terms, fingerprint `{lex['fingerprint'][:16]}`; profile `{report['profile']}`.",
        "",
        "## Totals",
        "",
        "| documents | empty | flagged | flagged share | hits | chars | bytes | rejected rows |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {t['documents']} | {t['empty_documents']} | {t['flagged_documents']} | {_percent(t['flagged_share'])} | {t['hits']}"
        f" | {t['chars']} | {t['bytes']} | {t['rejected_documents']} |",
        "",
        "## Checks",
        "",
        "| check | status | value | threshold | offending |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for check in report["checks"]:
        lines.append(
            f"| {check['id']} | **{check['status']}** | {_percent(check['value'])} | {_percent(check['threshold'])}"
            f" | {', '.join(check['offending']) or '-'} |"
        )
    lines += ["", "## Sources", "", "| source | documents | flagged | flagged share | verdict (<= 5 %) | languages |", "| --- | ---: | ---: | ---: | --- | --- |"]
    for name, s in report["by_source"].items():
        languages = ", ".join(f"{k} {v}" for k, v in sorted(s["languages"].items(), key=lambda kv: -kv[1]))
        lines.append(f"| {name} | {s['documents']} | {s['flagged_documents']} | {_percent(s['flagged_share'])} | {s['verdict']} | {languages} |")
    lines += ["", "## Risk categories", "", "| code | name | documents | hits |", "| --- | --- | ---: | ---: |"]
    for code, c in report["by_category"].items():
        lines.append(f"| {code} | {c['name_zh']} / {c['name_en']} | {c['documents']} | {c['hits']} |")
    lines += ["", "## Languages", "", "| language | documents | chars | flagged |", "| --- | ---: | ---: | ---: |"]
    for code, c in report["by_language"].items():
        lines.append(f"| {code} | {c['documents']} | {c['chars']} | {c['flagged_documents']} |")
    steps = report["options"].get("normalize", [])
    lines += ["", "## Normalisations", ""]
    if steps:
        lines += [
            f"Steps on: {', '.join(f'`{s}`' for s in steps)}. Hits that matched only after a step (a hit may need several):",
            "",
            "| step | hits | share of hits |",
            "| --- | ---: | ---: |",
        ]
        lines += [f"| {step} | {report['by_normalization'].get(step, 0)} | {_percent(_share(report['by_normalization'].get(step, 0), t['hits']))} |" for step in steps]
    else:
        lines.append("None (raw matching).")
    lines += ["", "## Top terms", "", "| term | documents | hits |", "| --- | ---: | ---: |"]
    for row in report["top_terms"][:20]:
        lines.append(f"| {row['term']} | {row['documents']} | {row['hits']} |")
    if report["rejected"] or report["errors"]:
        lines += ["", "## Rejected rows and errors", ""]
        lines += [f"- rejected `{reason}`: {rows} rows" for reason, rows in sorted(report["rejected"].items())]
        lines += [f"- error in `{e['shard']}`: {e['reason']}" for e in report["errors"]]
    return "\n".join(lines) + "\n"


def write_report(out: Path, profile: str = DEFAULT_PROFILE) -> dict[str, Any]:
    """Rebuild ``OUT/report.json`` and ``OUT/report.md`` from ``OUT/shards/*.json``."""
    report = build_report(load_shard_files(out), profile)
    atomic_write_json(out / "report.json", report)
    atomic_write_bytes(out / "report.md", render_markdown(report).encode())
    return report
