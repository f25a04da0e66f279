"""Scale-out measurements behind docs/scale.md (run by hand; Linux, reads /proc).

    python benchmarks/prepare.py --work /tmp/bench --lang zh --size-mb 400 --row-group-rows 8192
    python benchmarks/bench_scale.py speedup /tmp/bench/zh_400MB.parquet --repeat 3
    python benchmarks/bench_scale.py rss /tmp/bench/zh_200MB.parquet /tmp/bench/zh_2000MB.parquet
    python benchmarks/bench_scale.py merge --units 2000

``speedup`` runs ``scanner scan FILE --workers 1`` and ``--workers 2`` alternately, checks that
the reports are identical apart from their ``provenance`` (timestamps, command line), and prints wall times (median) and their ratio. The machine may
be shared: a run during which other processes used more than 5 % of the CPUs is repeated (up to
``--tries`` times), and each line says how much the others used. ``rss`` samples the resident memory of the whole process tree (driver
plus workers) every 50 ms and prints each input's peak. ``merge`` times ``scanner report`` over
N copies of a real unit stats file (the merge cost per work unit). Extra arguments after ``--``
go to ``scanner scan`` (e.g. ``-- --lexicon /tmp/bench/lexicon_10k.tsv``). The scanner's bytecode
is written first (``prepare.precompile``), as an installed package has it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import prepare

REPO = Path(__file__).resolve().parents[1]
SCANNER = [sys.executable, "-m", "scanner"]


def tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants now."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
    return total


def busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_scan(path: str, workers: int, extra: list[str], poll_seconds: float = 0.05) -> tuple[float, int, bytes, float]:
    """(wall seconds, peak tree RSS sampled every ``poll_seconds``, report.json without its timing
    block (``provenance``), share of the machine other processes used meanwhile) of one fresh scan.

    Each sample walks /proc (~1.4 ms), on the cores the scan uses: every 50 ms that took ~3 % of a
    core from the scan, which a 2-worker run (both cores busy) pays and a 1-worker run does not, so
    ``speedup`` samples every 0.5 s. Samples come from a thread while the main thread waits for the
    exit, so the wall time is not rounded up to the sampling period (a polling loop that slept 0.5 s
    added 0-0.5 s to every run, more of a 2-worker run's time than of a 1-worker run's). This
    process's own CPU time is not counted as "other processes".
    """
    out = tempfile.mkdtemp(prefix="bench-scale-")
    try:
        busy_before, own_before, started = busy_seconds(), time.process_time(), time.perf_counter()
        process = subprocess.Popen([*SCANNER, "scan", path, "--out", out, "--workers", str(workers), "--no-progress", *extra], stdout=subprocess.DEVNULL)
        peaks, finished = [0], threading.Event()

        def sample() -> None:
            while not finished.wait(poll_seconds):
                peaks.append(tree_rss(process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)  # blocks until the exit itself: the wall time is exact
        elapsed = time.perf_counter() - started
        finished.set()
        sampler.join()
        peak = max(peaks)
        own = time.process_time() - own_before
        others = (busy_seconds() - busy_before - usage.ru_utime - usage.ru_stime - own) / (elapsed * os.cpu_count())
        if os.waitstatus_to_exitcode(status):
            sys.exit(f"scan failed with exit code {os.waitstatus_to_exitcode(status)}")
        report = json.loads(Path(out, "report.json").read_text(encoding="utf-8"))
        report.pop("provenance")  # command line and timestamps differ between any two runs
        return elapsed, peak, json.dumps(report, sort_keys=True).encode(), max(others, 0.0)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def quiet_scan(path: str, workers: int, extra: list[str], tries: int) -> tuple[float, int, bytes, float]:
    """``run_scan`` (RSS sampled every 0.5 s) repeated until other processes used under 5 % of the
    machine during it (the machine may be shared); after ``tries`` the least disturbed run is kept."""
    runs = []
    for _ in range(tries):
        runs.append(run_scan(path, workers, extra, poll_seconds=0.5))
        if runs[-1][3] < 0.05:
            break
        print(f"  (workers={workers}: disturbed, others used {runs[-1][3]:.0%} of the machine; again)", flush=True)
    return min(runs, key=lambda r: r[3])


def speedup(args: argparse.Namespace) -> None:
    times: dict[int, list[float]] = {1: [], 2: []}
    reports = set()
    for _ in range(args.repeat):
        for workers in (1, 2):
            elapsed, peak, report, others = quiet_scan(args.path, workers, args.extra, args.tries)
            times[workers].append(elapsed)
            reports.add(report)
            print(f"workers={workers}: {elapsed:.2f} s, peak RSS {peak / 1e6:.0f} MB (other processes: {others:.0%} of the machine)", flush=True)
    size = json.loads(next(iter(reports)))["totals"]["bytes"]
    one, two = statistics.median(times[1]), statistics.median(times[2])
    pairs = sorted(a / b for a, b in zip(times[1], times[2]))
    print(f"median: 1 worker {one:.2f} s ({size / one / 1e6:.1f} MB/s), 2 workers {two:.2f} s ({size / two / 1e6:.1f} MB/s), speed-up {one / two:.2f}x")
    # Each pair runs back to back, so a slow spell of the host (other virtual machines; invisible to
    # the "other processes" figure) slows both of its runs alike: the ratios within pairs drift less.
    print(f"speed-up within each pair (1 worker / the 2-worker run after it): median {statistics.median(pairs):.2f}x, all {', '.join(f'{r:.2f}' for r in pairs)}")
    print("reports identical" if len(reports) == 1 else f"REPORTS DIFFER ({len(reports)} variants)")


def rss(args: argparse.Namespace) -> None:
    peaks = []
    for path in args.paths:
        elapsed, peak, report, _ = run_scan(path, args.workers, args.extra)
        documents = json.loads(report)["totals"]
        peaks.append(peak)
        print(f"{path}: {documents['bytes'] / 1e6:.0f} MB of text, {elapsed:.1f} s, peak RSS {peak / 1e6:.0f} MB (workers={args.workers})", flush=True)
    print(f"largest minus smallest input's peak: {(peaks[-1] - peaks[0]) / 1e6:+.0f} MB")


def merge(args: argparse.Namespace) -> None:
    from scanner.report.build import write_report

    source = Path(args.stats_file) if args.stats_file else None
    with tempfile.TemporaryDirectory() as out:
        if source is None:
            sample = Path(out, "sample")
            subprocess.run([*SCANNER, "scan", str(REPO / "examples" / "sample"), "--out", str(sample), "--no-progress"], check=True, stdout=subprocess.DEVNULL)
            source = next((sample / "shards").glob("*.json"))
        unit_kb = source.stat().st_size / 1e3
        document = json.loads(source.read_text(encoding="utf-8"))
        shards = Path(out, "run", "shards")
        shards.mkdir(parents=True)
        for i in range(args.units):
            document["shard"]["path"] = document["stats"]["inputs"][0]["path"] = f"unit-{i:06d}"
            (shards / f"unit-{i:06d}.json").write_text(json.dumps(document), encoding="utf-8")
        started = time.perf_counter()
        write_report(Path(out, "run"))
        elapsed = time.perf_counter() - started
    print(f"merged {args.units} unit files of {unit_kb:.0f} KB in {elapsed:.1f} s ({elapsed / args.units * 1e3:.2f} ms per unit)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("speedup")
    p.add_argument("path")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--tries", type=int, default=4, help="runs per measurement to find one not disturbed by other processes")
    p.set_defaults(func=speedup)
    p = commands.add_parser("rss")
    p.add_argument("paths", nargs="+")
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.set_defaults(func=rss)
    p = commands.add_parser("merge")
    p.add_argument("--units", type=int, default=2000)
    p.add_argument("--stats-file", help="a unit stats file to copy (default: one from a scan of examples/sample)")
    p.set_defaults(func=merge)
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    args.extra = extra
    prepare.precompile(REPO / "scanner")
    args.func(args)


if __name__ == "__main__":
    main()
