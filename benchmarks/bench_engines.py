"""Throughput of scanner.spark and scanner.datatrove next to ``scanner scan`` on the same data, in one run.

    python benchmarks/bench_engines.py                     # the shared corpora x4 (~75 MB of text), 3 rounds
    python benchmarks/bench_engines.py --copies 8 --rounds 5 --only cli-1,spark-1

Data: the JSONL corpora of ``../shared/data/corpora`` tiled ``--copies`` times into
``benchmarks/work/engines/x<copies>/`` (ids suffixed ``-c<copy>``, so every id stays unique). Each
configuration runs as its own process tree, in turn within each round, so a busy neighbour hits all
alike; every one scans all files with the default lexicon and options (language ID on) and writes the
report. ``expected_documents`` is passed to the engines (the document count), as the docs advise, so
their sample costs are the CLI's.

| configuration | what runs |
| --- | --- |
| ``cli-1``, ``cli-2`` | ``scanner scan DATA --out OUT --workers N`` (the baselines) |
| ``spark-1``, ``spark-2`` | a fresh Python: ``SparkSession`` ``local[N]``, ``spark.read.json`` with a schema, ``scanner.spark.scan`` |
| ``datatrove-1``, ``datatrove-2`` | ``LocalPipelineExecutor([JsonlReader, ComplianceTagger(out=...)], tasks=N, workers=N)``, then the report |

Measured per run: wall time (everything the user waits for: interpreter, engine start, scan, report),
CPU seconds of the whole process tree (the JVM, Python workers, pools: each process's own user+system
time, sampled from /proc every 0.1 s), and, inside the Spark runs, the session start, the first job and
the ``scan`` call alone. Printed: medians, MB/s of text per core (wall), and ratios against the CLI with
the same number of cores measured in this run (wall and CPU; for Spark also the ``scan`` call alone, i.e.
inside a job whose session is already up). The reports' totals must equal the CLI's (checked). A dated
record goes to ``results/<date>-bench_engines.json`` (runs are appended). Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import prepare  # the benchmark helpers beside this file (bytecode)

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "benchmarks" / "work" / "engines"
RESULTS = REPO / "benchmarks" / "results"
TICK = os.sysconf("SC_CLK_TCK")

SPARK_CHILD = r"""
import json, sys, time
cores, data, out, expected = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
t0 = time.perf_counter()
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master(f"local[{cores}]").config("spark.ui.enabled", "false")
         .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
t1 = time.perf_counter()
spark.range(1).count()
t2 = time.perf_counter()
from scanner import spark as scanner_spark
df = spark.read.schema("id string, text string, source string").json(data)
result = scanner_spark.scan(df, out, expected_documents=expected)
t3 = time.perf_counter()
print("RESULT " + json.dumps({"session_s": t1 - t0, "first_job_s": t2 - t1, "scan_s": t3 - t2, "partitions": len(result.partitions),
      "scanners_built": sum(p["built_scanner"] for p in result.partitions), "totals": result.report["totals"]}))
spark.stop()
"""

DATATROVE_CHILD = r"""
import json, sys, time
if __name__ == "__main__":  # datatrove's workers start with forkserver
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from scanner.datatrove import ComplianceTagger
    from scanner.report.build import write_report
    tasks, data, out, logs, expected = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    t0 = time.perf_counter()
    LocalPipelineExecutor([JsonlReader(data), ComplianceTagger(out=out, expected_documents=expected)], tasks=tasks, workers=tasks, logging_dir=logs).run()
    t1 = time.perf_counter()
    report = write_report(out)
    print("RESULT " + json.dumps({"pipeline_s": t1 - t0, "report_s": time.perf_counter() - t1, "totals": report["totals"]}))
"""


def build_data(corpora: Path, copies: int) -> tuple[Path, int, int]:
    """The corpora tiled ``copies`` times; returns (folder, documents, text bytes)."""
    folder = WORK / f"x{copies}"
    if not (folder / ".done").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for copy in range(copies):
            for path in sorted(corpora.glob("*.jsonl")):
                with path.open(encoding="utf-8") as src, (folder / f"{path.stem}-c{copy}.jsonl").open("w", encoding="utf-8") as dst:
                    for line in src:
                        record = json.loads(line)
                        record["id"] = f"{record['id']}-c{copy}"
                        dst.write(json.dumps(record, ensure_ascii=False) + "\n")
        (folder / ".done").write_text("")
    documents = text_bytes = 0
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.open(encoding="utf-8"):
            documents += 1
            text_bytes += len(json.loads(line)["text"].encode())
    return folder, documents, text_bytes


def _processes() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, own user+system seconds) of every process now."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            found[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK)
    return found


def measure(command: list[str], env: dict[str, str]) -> dict:
    """Run ``command``: wall seconds, CPU seconds of its process tree, and its RESULT line."""
    seen: dict[int, float] = {}
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            table = _processes()
            children: dict[int, list[int]] = {}
            for pid, (parent, _) in table.items():
                children.setdefault(parent, []).append(pid)
            tree, frontier = {process.pid}, [process.pid]
            while frontier:
                for child in children.get(frontier.pop(), []):
                    if child not in tree:
                        tree.add(child)
                        frontier.append(child)
            for pid in tree & table.keys():
                seen[pid] = max(seen.get(pid, 0.0), table[pid][1])
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    with contextlib.suppress(ProcessLookupError):  # what the run left behind, in its own session only (a JVM outliving its driver)
        os.killpg(process.pid, 9)
    if process.returncode not in (0, 5):
        sys.exit(f"{command[:4]} failed ({process.returncode}): {stderr[-3000:]}")
    result = next((json.loads(line[7:]) for line in stdout.splitlines() if line.startswith("RESULT ")), {})
    return {"wall_s": wall, "cpu_s": sum(seen.values()), **result}


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("corpus-scanner", "pyarrow", "pyspark", "datatrove", "numpy"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = None
    java = subprocess.run(["java", "-version"], capture_output=True, text=True) if shutil.which("java") else None
    found["java"] = java.stderr.splitlines()[0] if java and java.stderr else None
    return found


def cpu_model() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def git_state() -> dict:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    return {"commit": git("rev-parse", "HEAD"), "dirty_paths": git("status", "--porcelain", "--", "scanner").splitlines()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="the shared data folder (its corpora/ are read)")
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated configurations (default: all)")
    args = parser.parse_args()
    prepare.precompile(REPO / "scanner")
    data, documents, text_bytes = build_data(args.data / "corpora", args.copies)
    py = sys.executable
    env = {**os.environ, "PYSPARK_PYTHON": py, "SPARK_LOCAL_IP": "127.0.0.1"}
    configs = {
        "cli-1": (1, lambda out: [py, "-m", "scanner", "scan", str(data), "--out", out, "--workers", "1", "--no-progress"]),
        "spark-1": (1, lambda out: [py, "-c", SPARK_CHILD, "1", str(data), out, str(documents)]),
        "datatrove-1": (1, lambda out: [py, "-c", DATATROVE_CHILD, "1", str(data), out, out + "-logs", str(documents)]),
        "cli-2": (2, lambda out: [py, "-m", "scanner", "scan", str(data), "--out", out, "--workers", "2", "--no-progress"]),
        "spark-2": (2, lambda out: [py, "-c", SPARK_CHILD, "2", str(data), out, str(documents)]),
        "datatrove-2": (2, lambda out: [py, "-c", DATATROVE_CHILD, "2", str(data), out, out + "-logs", str(documents)]),
    }
    if args.only:
        configs = {name: configs[name] for name in args.only.split(",")}
    load_start = os.getloadavg()
    runs: dict[str, list[dict]] = {name: [] for name in configs}
    for round_ in range(args.rounds):
        for name, (cores, command) in configs.items():
            out = WORK / "out" / name
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(f"{out}-logs", ignore_errors=True)
            before = os.getloadavg()[0]
            result = measure(command(str(out)), env)
            if "totals" not in result:  # the CLI prints no RESULT line: its report
                result["totals"] = json.loads((out / "report.json").read_text(encoding="utf-8"))["totals"]
            result.update(cores=cores, round=round_, load_before=before)
            runs[name].append(result)
            print(f"round {round_} {name:12s} wall {result['wall_s']:6.1f} s  cpu {result['cpu_s']:6.1f} s  load {before:.1f}", flush=True)
    mb = text_bytes / 1e6
    reference = next((r["totals"] for name in ("cli-1", "cli-2") for r in runs.get(name, [])), None)
    summary = {}
    for name, results in runs.items():
        cores = results[0]["cores"]
        wall = statistics.median(r["wall_s"] for r in results)
        cpu = statistics.median(r["cpu_s"] for r in results)
        entry = {"cores": cores, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "mb_per_s_per_core": round(mb / wall / cores, 2), "mb_per_cpu_s": round(mb / cpu, 2)}
        baseline = runs.get(f"cli-{cores}")
        if baseline and not name.startswith("cli"):
            cli_wall = statistics.median(r["wall_s"] for r in baseline)
            entry["wall_ratio_vs_cli"] = round(wall / cli_wall, 2)
            entry["cpu_ratio_vs_cli"] = round(cpu / statistics.median(r["cpu_s"] for r in baseline), 2)
            if name.startswith("spark"):
                entry["scan_call_s"] = round(statistics.median(r["scan_s"] for r in results), 2)
                entry["scan_call_ratio_vs_cli"] = round(entry["scan_call_s"] / cli_wall, 2)
                entry["session_and_first_job_s"] = round(statistics.median(r["session_s"] + r["first_job_s"] for r in results), 2)
        entry["totals_equal_cli"] = reference is None or all(r["totals"] == reference for r in results)
        summary[name] = entry
    print(f"\n{len(list(data.glob('*.jsonl')))} JSONL files, {documents:,} documents, {mb:.1f} MB of text; medians of {args.rounds} rounds")
    print(f"{'configuration':14s}{'wall s':>8s}{'CPU s':>8s}{'MB/s/core':>11s}{'wall/CLI':>10s}{'CPU/CLI':>9s}  notes")
    for name, e in summary.items():
        notes = f"scan call {e['scan_call_s']} s = {e['scan_call_ratio_vs_cli']}x CLI; session + first job {e['session_and_first_job_s']} s" if "scan_call_s" in e else ""
        notes += "" if e["totals_equal_cli"] else "  TOTALS DIFFER FROM THE CLI"
        print(f"{name:14s}{e['wall_s']:8.1f}{e['cpu_s']:8.1f}{e['mb_per_s_per_core']:11.2f}{e.get('wall_ratio_vs_cli', 1.0):10.2f}{e.get('cpu_ratio_vs_cli', 1.0):9.2f}  {notes}")
    record = {
        "benchmark": "bench_engines",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "data": {"folder": str(data), "copies": args.copies, "files": len(list(data.glob("*.jsonl"))), "documents": documents, "text_bytes": text_bytes},
        "rounds": args.rounds,
        "summary": summary,
        "runs": runs,
        "environment": {**versions(), "cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
                        "loadavg_start": load_start, "loadavg_end": os.getloadavg()},
        "git": git_state(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{time.strftime('%Y-%m-%d')}-bench_engines.json"
    previous = json.loads(path.read_text(encoding="utf-8"))["runs"] if path.is_file() else []
    path.write_text(json.dumps({"runs": [*previous, record]}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nappended to {path}")


if __name__ == "__main__":
    main()
