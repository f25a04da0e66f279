"""Filing table on real corpora: exact-mode token counts against a direct count, and the sampled
estimate against its 95 % interval.

Corpora: every ``../shared/data/corpora/*.jsonl`` plus ~3 KB chunks of Python files from the
installed packages (a code source the registry declares as ``data_type = "code"``). The registry
``benchmarks/shared_sources.toml`` assigns illustrative types and origins (a fixture, not advice on
these sets; tests/test_filing.py uses it too).
The direct count tokenizes every text with ``bpe_openai``'s o200k_base, without the scanner, and
sums per filing row.

    python benchmarks/filing_tokens.py [--data ../shared/data] [--work /tmp/filing_bench]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import sysconfig
import time
import warnings
from pathlib import Path

from scanner.detect.source import load_registry

REPO = Path(__file__).resolve().parents[1]
SHARED_SOURCES = REPO / "benchmarks" / "shared_sources.toml"  # the ../shared corpora's registry
CODE_SOURCE = '[[source]]\nname = "pycode"\ntype = "self-collected"\norigin = "domestic"\ndata_type = "code"\nreference = "benchmark"\n'


def code_corpus(path: Path, limit: int = 2000) -> None:
    """Chunks of installed Python source files, one JSONL document each."""
    site = Path(sysconfig.get_paths()["purelib"])
    rows = []
    for file in sorted(site.rglob("*.py")):
        text = file.read_text(encoding="utf-8", errors="replace")
        for start in range(0, len(text), 3000):
            rows.append({"id": f"pycode-{len(rows):06d}", "text": text[start : start + 3000], "source": "pycode"})
        if len(rows) >= limit:
            break
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows[:limit]) + "\n", encoding="utf-8")


def registry(path: Path) -> dict[str, tuple[str, str]]:
    """Write the shared corpora's registry plus the code source; return name -> (type, origin)."""
    path.write_text(SHARED_SOURCES.read_text(encoding="utf-8") + "\n" + CODE_SOURCE, encoding="utf-8")
    return {s.name: (s.type, s.origin) for s in load_registry(path).entries}


def direct_counts(files: list[Path], types: dict[str, tuple[str, str]]) -> dict[str, int]:
    """Tokens per filing row, counted without the scanner."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        encoding = bpe_openai.get_encoding("o200k_base")
    from scanner.report.filing import filing_row

    counts: dict[str, int] = {}
    for file in files:
        for line in file.open(encoding="utf-8"):
            doc = json.loads(line)
            kind, origin = types[doc["source"]]
            row = filing_row(kind, origin)
            counts[row] = counts.get(row, 0) + len(encoding.encode_ordinary(doc["text"] or ""))
    return counts


def scan(files: list[Path], out: Path, sources: Path, mode: str, workers: int) -> tuple[dict, float]:
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "scanner", "scan", *map(str, files), "--out", str(out), "--sources", str(sources), "--tokens", mode,
         "--workers", str(workers), "--no-progress"],
        check=False, capture_output=True,
    )
    seconds = time.perf_counter() - started
    return json.loads((out / "report.json").read_text(encoding="utf-8"))["filing_table"], seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=Path("/tmp/filing_bench"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    code_corpus(args.work / "pycode.jsonl")
    types = registry(args.work / "sources.toml")
    files = [*sorted((args.data / "corpora").glob("*.jsonl")), args.work / "pycode.jsonl"]
    total_bytes = sum(f.stat().st_size for f in files)

    started = time.perf_counter()
    direct = direct_counts(files, types)
    direct_seconds = time.perf_counter() - started
    exact, exact_seconds = scan(files, args.work / "out-exact", args.work / "sources.toml", "exact", args.workers)
    estimate, estimate_seconds = scan(files, args.work / "out-estimate", args.work / "sources.toml", "estimate", args.workers)
    _, off_seconds = scan(files, args.work / "out-off", args.work / "sources.toml", "off", args.workers)
    result = {"files": len(files), "file_bytes": total_bytes, "workers": args.workers, "direct_seconds": round(direct_seconds, 2),
              "scan_seconds": {"exact": round(exact_seconds, 2), "estimate": round(estimate_seconds, 2), "off": round(off_seconds, 2)}, "rows": {}}
    for row, cells in exact["row_totals"].items():
        est = estimate["row_totals"][row]
        low, high = est["tokens_interval_95"]
        result["rows"][row] = {"bytes": cells["bytes"], "direct": direct.get(row, 0), "exact": cells["tokens"], "equal": cells["tokens"] == direct.get(row, 0),
                               "estimate": est["tokens"], "interval_95": [low, high], "covered": low <= cells["tokens"] <= high}
    total = exact["totals"]["tokens"]
    low, high = estimate["totals"]["tokens_interval_95"]
    result["totals"] = {"direct": sum(direct.values()), "exact": total, "estimate": estimate["totals"]["tokens"], "interval_95": [low, high],
                        "covered": low <= total <= high, "estimate_samples": estimate["estimate_samples"]}
    result["data_type_bytes"] = {dt: exact["data_type_totals"][dt]["bytes"] for dt in exact["data_types"]}
    result["foreign_open_source_share"] = exact["shares"]["open-source-foreign"]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
