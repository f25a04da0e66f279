"""The checks of the report against the profile: one function per check id, each returning the check's JSON block (id, requirement, evidence, value, threshold, status, offending, ...)."""

from __future__ import annotations

from typing import Any

from scanner.detect.language import UNDETERMINED
from scanner.evidence.sampling import wilson_interval
from scanner.lexicon.taxonomy import Profile, keyword_library_rules


def share(part: int, whole: int) -> float:
    """``part / whole``, 0 for an empty whole (shares of empty corpora and sources)."""
    return part / whole if whole else 0.0



def _check(check_id: str, profile: Profile, **fields: Any) -> dict[str, Any]:
    clause_zh, clause_en = profile.clauses[check_id]
    return {"id": check_id, "requirement": clause_zh, "requirement_en": clause_en, **fields}


def _status(*, failed: bool, assessed: bool = True) -> str:
    return "not-assessed" if not assessed else ("fail" if failed else "pass")


def source_unsafe_check(by_source: dict[str, dict[str, Any]], profile: Profile) -> dict[str, Any]:
    limit = profile.source_unsafe_max_share
    offending = sorted(name for name, s in by_source.items() if s["unsafe_share"] > limit)
    return _check(
        "source-unsafe-share",
        profile,
        evidence="Per source, the share of documents the unsafe policy judges unsafe (keyword severities, co-occurrence rules, allow contexts; "
        "screening of every document). The share with any keyword hit (flagged) is reported beside it.",
        value=max((s["unsafe_share"] for s in by_source.values()), default=0.0),
        threshold=limit,
        status=_status(failed=bool(offending), assessed=bool(by_source)),
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
        status=_status(failed=bool(present)),
        offending=present,
        recommendation=f"remove the documents of: {', '.join(present)}" if present else "",
    )


def diversity_check(by_source: dict, by_language: dict, origins: dict, profile: Profile) -> dict[str, Any]:
    total_chars = sum(v["chars"] for v in by_language.values())
    qualifying = [
        code for code, v in sorted(by_language.items()) if code != UNDETERMINED and share(v["chars"], total_chars) >= profile.diversity_min_language_share
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
        status=_status(failed=bool(offending), assessed=bool(qualifying)),
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
        status=_status(failed=bool(missing), assessed=bool(by_source)),
        offending=sorted(m["source"] for m in missing),
        missing=missing,
    )


def technical_check(totals: dict[str, Any], profile: Profile, inputs: list[dict[str, Any]], errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The technical spot check as the standard describes it ("keywords, classifier models and other
    techniques"): the techniques that ran, the share of the corpus screened, and the pass rate (not unsafe,
    the policy's verdict from every signal a document has) with its 95 % Wilson interval. Keywords screen
    every readable document, so the screened share is the documents among the rows read, times the share
    of input bytes in files read without error (a file with an unreadable part counts as unscreened: its
    rows are unknown). A classifier adds its own figures: the documents it scored (all, an order-free
    sample, only those of its languages), their share and their pass rate."""
    failed_files = {e["shard"] for e in errors}
    input_bytes = sum(i["bytes"] for i in inputs)
    unread_bytes = sum(i["bytes"] for i in inputs if i["path"] in failed_files)
    read_share = 1 - unread_bytes / input_bytes if input_bytes else (0.0 if failed_files else 1.0)
    screened, unsafe = totals["documents"], totals["unsafe_documents"]
    scanned_share = share(screened, screened + totals["rejected_documents"]) * read_share
    pass_rate = 1 - share(unsafe, screened) if screened else 1.0
    failed = scanned_share < profile.technical_sample_min_share or pass_rate < profile.technical_sample_min_pass_rate
    classified = totals.get("classified_documents", 0)
    classifier = (
        {
            "classified_documents": classified,
            "classified_share": share(classified, screened),
            "classified_pass_rate": 1 - share(totals.get("classified_unsafe_documents", 0), classified),
        }
        if classified
        else {}
    )
    return _check(
        "technical-spot-check",
        profile,
        evidence="Keyword screening of every readable document under the unsafe policy"
        + (f", and a classifier on {classified} of them (classified_*)" if classified else "")
        + "; pass = not unsafe (flagged, any keyword hit, is reported beside it). "
        "Screened share: documents screened by keywords among the rows read, times the share of input bytes in files read without error.",
        value=pass_rate,
        threshold=profile.technical_sample_min_pass_rate,
        techniques=["keywords", *(["classifier"] if classified else [])],
        screened_documents=screened,
        interval_95=list(wilson_interval(screened - unsafe, screened)) if screened else None,
        scanned_share=scanned_share,
        scanned_share_threshold=profile.technical_sample_min_share,
        **classifier,
        status=_status(failed=failed, assessed=totals["documents"] > 0),
        offending=[] if not failed else ["corpus"],
    )


def settling_sample_size(rate: float, threshold: float) -> int | None:
    """The smallest n at which the Wilson 95 % interval at ``rate`` lies wholly on one side of
    ``threshold`` (all >= it, or all below), so more verdicts at the same rate would settle a
    borderline result; None when ``rate`` equals ``threshold`` (no n settles it)."""
    if rate == threshold:
        return None

    def settled(n: int) -> bool:
        low, high = wilson_interval(rate * n, n)
        return low >= threshold or high < threshold

    high_n = 1
    while not settled(high_n):  # the interval narrows as n grows: double, then bisect
        high_n *= 2
    low_n = high_n // 2  # not settled (or 0)
    while high_n - low_n > 1:
        middle = (low_n + high_n) // 2
        low_n, high_n = (low_n, middle) if settled(middle) else (middle, high_n)
    return high_n


def _pass_rates(verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    passed = sum(1 for v in verdicts if v["verdict"] == "pass")
    return {"judged": len(verdicts), "passed": passed, "pass_rate": share(passed, len(verdicts)), "interval_95": list(wilson_interval(passed, len(verdicts)))}


def human_check(labels: dict[str, Any] | None, profile: Profile, sample_ids: set[str]) -> dict[str, Any]:
    """The pass rate of the imported verdicts on the current human sample (``sample_ids``).

    Other verdicts are left out: after a re-scan they say nothing about the new sample
    (``labels_outside_sample``), and per-source ones (``sample: per-source``) would tilt it towards
    small sources; with the human sample's they give ``by_source`` estimates (a source's first
    documents by rank are a uniform sample of it). Until ``verdicts_needed`` are in (the profile's
    size, or the whole sample if smaller) the check is ``not-assessed``: a half-judged sheet neither
    passes nor fails. ``borderline``: the status is the point estimate's, as the standard has it,
    but the 95 % interval holds the threshold.
    """
    stored = labels["labels"] if labels else []
    verdicts = [v for v in stored if v["doc_id"] in sample_ids]
    per_source = [v for v in stored if v["doc_id"] not in sample_ids and v.get("sample") == "per-source"]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for v in verdicts + per_source:
        if v.get("source") is not None:  # verdicts imported before sources were recorded have none
            grouped.setdefault(v["source"], []).append(v)
    threshold = profile.human_sample_min_pass_rate
    needed = min(profile.human_sample_min_size, len(sample_ids))
    assessed = bool(verdicts) and len(verdicts) >= needed
    rates = _pass_rates(verdicts)
    failures: dict[str, int] = {}
    for v in verdicts:
        if v["verdict"] == "fail":
            failures[v.get("category") or "unspecified"] = failures.get(v.get("category") or "unspecified", 0) + 1
    failed = len(verdicts) < profile.human_sample_min_size or rates["pass_rate"] < threshold
    low, high = rates["interval_95"]
    borderline = assessed and low < threshold <= high
    return _check(
        "human-spot-check",
        profile,
        evidence="Annotators' verdicts on the order-free random sample (scanner sample export / import).",
        value=rates["pass_rate"] if verdicts else None,
        threshold=threshold,
        sample_size=len(verdicts),
        sample_size_threshold=profile.human_sample_min_size,
        sample_documents=len(sample_ids),
        verdicts_needed=needed,
        interval_95=rates["interval_95"] if verdicts else None,
        borderline=borderline,
        settling_sample_size=settling_sample_size(rates["pass_rate"], threshold) if borderline else None,
        failures_by_category=dict(sorted(failures.items())),
        labels_outside_sample=len(stored) - len(verdicts) - len(per_source),
        per_source_labels=len(per_source),
        by_source={name: _pass_rates(group) for name, group in sorted(grouped.items())},
        status=_status(failed=failed, assessed=assessed),
        offending=sorted(failures) if assessed else [],
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
        status=_status(failed=bool(failing)),
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
        status=_status(failed=share > limit, assessed=filing["totals"]["bytes"] > 0),
        offending=["open-source-foreign"] if share > limit else [],
    )
