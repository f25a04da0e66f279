"""``scanner report --verify``: recompute report.json from the output folder and list every difference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scanner.evidence.outfolder import OutputFolder
from scanner.lexicon.taxonomy import DEFAULT_PROFILE
from scanner.report.build import build_report


def verify_report(out: str | Path, profile: str = DEFAULT_PROFILE) -> list[str]:
    """Differences between ``OUT/report.json`` and a recomputation from the shard files (empty = verified)."""
    folder = OutputFolder(out)
    if not folder.has_report():
        return [f"{folder.uri('report.json')}: missing"]
    written = folder.read_report()
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
