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


def extra_sections(report: dict[str, Any], lang: str) -> list[Section]:
    """Tables beyond the fixed ones: each registered detector's (in registration order), the human
    estimate per source where verdicts were imported, and the evaluation of ``scanner evaluate``."""
    sections = [section for detector in DETECTORS for section in detector.sections(report, lang)]
    zh = lang == "zh"
    judged = {name: s for name, s in report["by_source"].items() if s.get("human_judged")}
    if judged:
        sections.append(
            Section(
                "human-estimate",
                "人工抽检估计的不安全比例" if zh else "Unsafe share estimated from human verdicts",
                ["来源", "已判定", "关键词不安全比例", "人工估计", "95% 区间"] if zh else ["source", "judged", "keyword unsafe share", "human estimate", "95 % interval"],
                [[name, s["human_judged"], percent(s["unsafe_share"]), percent(s["human_unsafe_share"]), _interval(s["human_unsafe_interval_95"])] for name, s in judged.items()],
            )
        )
    evaluation = report.get("evaluation")
    if evaluation:
        sections += _evaluation_sections(evaluation, zh=zh)
    return sections


def _interval(interval: list[float] | None) -> str:
    return "-" if not interval else f"{percent(interval[0])} - {percent(interval[1])}"


def _evaluation_sections(evaluation: dict[str, Any], *, zh: bool) -> list[Section]:
    header = ["信号", "精确率", "95% 区间", "召回率", "95% 区间", "F1", "95% 区间", "TP", "FP", "FN"] if zh else ["signal", "precision", "95 % interval", "recall", "95 % interval", "F1", "95 % interval", "TP", "FP", "FN"]

    def row(name: str, m: dict[str, Any]) -> list[Any]:
        return [name, percent(m["precision"]), _interval(m["precision_interval_95"]), percent(m["recall"]), _interval(m["recall_interval_95"]),
                percent(m["f1"]), _interval(m["f1_interval_95"]), m["true_positives"], m["false_positives"], m["false_negatives"]]  # fmt: skip

    note = (
        f"{evaluation['labelled']} 个标注文档（{evaluation['labelled_unsafe']} 个不安全），来自 {evaluation['labels']['source']}；"
        f"标注为不安全却无任何命中：{evaluation['unsafe_without_hit']['documents']}。误报最多的词条："
        if zh
        else f"{evaluation['labelled']} labelled documents ({evaluation['labelled_unsafe']} unsafe), from {evaluation['labels']['source']}; "
        f"labelled unsafe without any hit: {evaluation['unsafe_without_hit']['documents']}. Terms behind most false positives: "
    ) + (", ".join(f"{t['term']} ({t['documents']})" for t in evaluation["false_positive_terms"][:10]) or "-")
    rows = [row(name, evaluation[name]) for name in ("flagged", "unsafe")]
    rows += [row(f"{name} · {signal}", s[signal]) for name, s in evaluation["by_source"].items() for signal in ("flagged", "unsafe")]
    return [Section("evaluation", "与人工标注的一致性" if zh else "Agreement with people's labels", header, rows, note)]


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
