"""Whole-scan time of several variants in one run: git revisions of this repository and/or extra options.

    python benchmarks/bench_revisions.py INPUT --variant before=f10ebf5 --variant now=HEAD -- --lexicon L --workers 1
    python benchmarks/bench_revisions.py INPUT --variant plain=HEAD --variant tuned=HEAD:--lexicon,T.tsv -- --workers 1

Each variant is ``NAME=REV`` or ``NAME=REV:ARG,ARG...`` (options added to the shared ones after ``--``). A
revision other than the working tree (``WORKTREE``) is checked out once into ``benchmarks/work/rev-<sha>``
(``git worktree``) and run from there with this environment's packages (``PYTHONPATH`` puts its
``scanner`` first). Variants run in turn, ``--repeat`` rounds, each into a fresh output folder with a
warm page cache; the first variant is the baseline of the printed ratios (median seconds / baseline's).
The machine is shared: only ratios within one run mean something. A dated record goes to
``results/<date>-bench_revisions.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "benchmarks" / "work"
WORKTREE = "WORKTREE"


def checkout(revision: str) -> Path:
    """A directory holding ``revision`` (the repository itself for ``WORKTREE``)."""
    if revision == WORKTREE:
        return REPO
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", revision], capture_output=True, text=True, check=True).stdout.strip()
    target = WORK / f"rev-{sha[:12]}"
    if not target.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(target), sha], check=True, capture_output=True)
    return target


def run_once(tree: Path, arguments: list[str], out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "scanner", "scan", *arguments, "--out", str(out), "--no-progress"], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 5):
        sys.exit(f"{tree}: scan failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input")
    parser.add_argument("--variant", action="append", required=True, help="NAME=REV or NAME=REV:ARG,ARG...")
    parser.add_argument("--repeat", type=int, default=5)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:cut])
    shared = argv[cut + 1 :]  # after --: options every variant gets
    variants = []
    for spec in args.variant:
        name, _, rest = spec.partition("=")
        revision, _, extra = rest.partition(":")
        variants.append((name, checkout(revision), [*shared, *(extra.split(",") if extra else [])], revision))
    times: dict[str, list[float]] = {name: [] for name, *_ in variants}
    for name, tree, arguments, _ in variants:  # warm-up: page cache, bytecode, the scanner's cache
        run_once(tree, [args.input, *arguments], WORK / f"out-{name}")
    for _ in range(args.repeat):
        for name, tree, arguments, _ in variants:
            times[name].append(run_once(tree, [args.input, *arguments], WORK / f"out-{name}"))
    baseline = statistics.median(times[variants[0][0]])
    print(f"{'variant':<16} {'median s':>9} {'MAD s':>7} {'ratio':>7}")
    for name, *_ in variants:
        median = statistics.median(times[name])
        mad = statistics.median(abs(t - median) for t in times[name])
        print(f"{name:<16} {median:>9.2f} {mad:>7.2f} {median / baseline:>7.3f}")
    record = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": args.input,
        "shared": shared,
        "variants": {name: {"revision": revision, "arguments": arguments, "seconds": times[name]} for name, _, arguments, revision in variants},
        "load_average": os.getloadavg(),
    }
    results = REPO / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    path = results / f"{datetime.now(timezone.utc):%Y-%m-%d}-bench_revisions.json"
    existing = json.loads(path.read_text()) if path.exists() else []
    path.write_text(json.dumps([*existing, record], indent=1) + "\n")


if __name__ == "__main__":
    main()
