"""Formatting shared by report.md and report.html: percentages, check values and thresholds, the normalisation table."""

from __future__ import annotations

from typing import Any

from scanner.detect.base import Section
from scanner.detect.registry import DETECTORS


def percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.2f} %"


def format_value(check: dict[str, Any]) -> str:
    """Shares print as percentages, counts as integers."""
    value = check["value"]
    if value is None:
        return "-"
    return percent(value) if isinstance(value, float) else str(value)


def format_threshold(check: dict[str, Any]) -> str:
    threshold = check["threshold"]
    return percent(threshold) if isinstance(threshold, float) else str(threshold)


def normalization_rows(report: dict[str, Any]) -> list[list[Any]]:
    """Per normalisation step that was on: hits that matched only after it, and their share of hits."""
    hits = report["totals"]["hits"]
    counts = report.get("by_normalization", {})
    return [[step, counts.get(step, 0), percent(counts.get(step, 0) / hits if hits else 0.0)] for step in report["options"].get("normalize", [])]


def detector_sections(report: dict[str, Any], lang: str) -> list[Section]:
    """The tables the registered detectors add to report.md and report.html, in registration order."""
    return [section for detector in DETECTORS for section in detector.sections(report, lang)]


MIN_SHOWN_LANGUAGE_SHARE = 0.001
"""Languages with fewer documents than this share are folded into "other" in report.md and report.html
(fastText knows 176; a web corpus touches 100 of them, which made a table thousands of pixels wide);
report.json keeps them all."""


def shown_languages(report: dict[str, Any]) -> tuple[list[str], set[str]]:
    """(languages shown in their own column or row, sorted; languages folded into "other")."""
    documents = report["totals"]["documents"]
    by_language = report["by_language"]
    shown = sorted(code for code, c in by_language.items() if c["documents"] >= MIN_SHOWN_LANGUAGE_SHARE * documents)
    return shown, set(by_language) - set(shown)
