"""Stopping a scan: Ctrl-C (SIGINT to the process group) and SIGTERM stop a multi-worker scan promptly,
leave only complete outputs and no worker process, exit 130 / 143, and a re-run resumes.

The scans run as real processes (``scanner scan`` in a new session, so a signal can go to its whole
process group as a terminal's Ctrl-C does). Language ID off runs worker threads, on runs worker
processes (``scanner.run.local``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import synthetic_rows, write_jsonl

from scanner.resources import deferred_interrupts, interrupt

pytestmark = pytest.mark.skipif(not hasattr(os, "killpg") or not Path("/proc").is_dir(), reason="POSIX signals and process groups, Linux /proc")

ROWS, FILES = 5_000, 64  # ~2.1 MB of JSONL per file, ~136 MB in all
SCAN = [sys.executable, "-c", "from scanner.cli import main; main()", "scan"]


@pytest.fixture(scope="module")
def big(tmp_path_factory, lexicon_file) -> Path:
    """On 2 cores an uninterrupted scan of these takes >10 s with threads (no language ID), and ~3x
    that with worker processes (language ID); small files, so that the first unit is done soon."""
    folder = tmp_path_factory.mktemp("big")
    first = write_jsonl(folder / "f00.jsonl", synthetic_rows(ROWS, seed=1))
    for i in range(1, FILES):
        shutil.copyfile(first, folder / f"f{i:02d}.jsonl")
    return folder


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (psutil if installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found, todo = [], [pid]
        while todo:
            found += (kids := children.get(todo.pop(), []))
            todo += kids
        return found
    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


def running(pids: list[int], timeout: float = 10.0) -> list[int]:
    """The processes among ``pids`` still running after up to ``timeout`` seconds (zombies count as gone);
    those are then killed, so a failing test leaves no orphan (before the fix, workers idled for hours)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state not in ("Z", "X"):
                alive.append(pid)
        if not alive or time.monotonic() > deadline:
            for pid in alive:
                os.kill(pid, signal.SIGKILL)
            return alive
        time.sleep(0.05)


def stats_files(out: Path) -> list[Path]:
    return sorted((out / "shards").glob("*.json"))


def start(data: Path, out: Path, lexicon: Path, *extra: str) -> subprocess.Popen:
    args = [*SCAN, str(data), "--out", str(out), "--lexicon", str(lexicon), "--workers", "2", "--no-progress", *extra]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def interrupt_after_first_unit(process: subprocess.Popen, out: Path, number: int, *, group: bool) -> tuple[int, list[int], float, bytes]:
    """Wait for the first finished unit, then send ``number`` to the process group (as a terminal's
    Ctrl-C or a batch scheduler does) or to the driver alone (as ``kill PID`` does). Returns the units
    done then, the processes below the driver, the seconds from the signal to the exit, and stderr."""
    deadline = time.monotonic() + 120
    while not stats_files(out):
        assert process.poll() is None and time.monotonic() < deadline, "the scan ended or stalled before finishing a unit"
        time.sleep(0.02)
    workers = descendants(process.pid)
    done = len(stats_files(out))
    signalled = time.monotonic()
    (os.killpg if group else os.kill)(process.pid, number)
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    return done, workers, time.monotonic() - signalled, stderr


@pytest.mark.parametrize(
    ("langid", "number", "group", "code", "word"),
    [
        ([], signal.SIGINT, True, 130, b"interrupted"),  # worker processes, Ctrl-C in a terminal
        ([], signal.SIGTERM, False, 143, b"terminated"),  # worker processes, `kill PID`: they must not outlive the driver
        (["--no-langid"], signal.SIGINT, True, 130, b"interrupted"),  # worker threads
        (["--no-langid"], signal.SIGTERM, True, 143, b"terminated"),  # worker threads, a scheduler's SIGTERM to the job
    ],
    ids=["processes-SIGINT", "processes-SIGTERM-driver", "threads-SIGINT", "threads-SIGTERM"],
)
def test_a_signal_stops_a_multi_worker_scan_promptly(tmp_path, big, lexicon_file, langid, number, group, code, word):
    """REGRESSION: Ctrl-C let every thread-run unit finish (and 7 more units with worker processes)
    before exiting; SIGTERM killed the driver at once and left forked workers scanning."""
    out = tmp_path / "out"
    process = start(big, out, lexicon_file, "--annotate", *langid)
    done, workers, took, stderr = interrupt_after_first_unit(process, out, number, group=group)
    assert process.returncode == code, stderr.decode()
    assert word in stderr
    after = stats_files(out)
    assert len(after) <= done + 2 and len(after) < FILES // 4, f"{len(after)} of {FILES} units done after the signal ({done} before it)"
    assert took < 10, f"stopping took {took:.1f} s"
    assert running(workers) == [], "worker processes outlived the scan"
    for path in after:  # each a complete unit
        document = json.loads(path.read_text(encoding="utf-8"))
        assert document["stats"]["rows_read"] == ROWS
        assert (out / "annotations" / f"{path.stem}.parquet").is_file()
    assert len(list((out / "annotations").glob("*.parquet"))) == len(after)  # abandoned units left no annotations
    assert not [p for p in out.rglob(".*") if p.is_file()], "temporary files left behind"
    assert not (out / "report.json").exists()


@pytest.mark.parametrize("langid", [["--no-langid"], []], ids=["threads", "processes"])
def test_an_interrupted_scan_resumes_to_the_uninterrupted_report(tmp_path, lexicon_file, langid):
    """Ctrl-C mid-run, then the same command again: the units finished before the signal are kept
    (not rescanned) and the report equals an uninterrupted run's."""
    data = tmp_path / "data"
    data.mkdir()
    for i in range(6):
        write_jsonl(data / f"f{i}.jsonl", synthetic_rows(3000, seed=i))
    reference = tmp_path / "reference"
    subprocess.run([*SCAN, str(data), "--out", str(reference), "--lexicon", str(lexicon_file), "--workers", "2", "--no-progress", *langid], check=True, capture_output=True)

    out = tmp_path / "out"
    process = start(data, out, lexicon_file, *langid)
    *_, stderr = interrupt_after_first_unit(process, out, signal.SIGINT, group=True)
    assert process.returncode == 130, stderr.decode()
    kept = {path.name: path.read_bytes() for path in stats_files(out)}
    assert 0 < len(kept) < 6

    rerun = subprocess.run([*SCAN, str(data), "--out", str(out), "--lexicon", str(lexicon_file), "--workers", "2", "--no-progress", *langid], capture_output=True)
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert {name: (out / "shards" / name).read_bytes() for name in kept} == kept  # skipped, not rescanned
    report, expected = (json.loads((folder / "report.json").read_text(encoding="utf-8")) for folder in (out, reference))
    assert report["totals"] == expected["totals"]
    assert report["by_source"] == expected["by_source"]
    assert report["errors"] == []


@pytest.mark.ray
@pytest.mark.slow  # ~17 s on 2 cores, most of it starting a local Ray in the scan's process
def test_sigterm_stops_a_ray_scan_with_exit_143(tmp_path, big, lexicon_file):
    """REGRESSION: ``ray.init`` replaced the CLI's SIGTERM handler with ``sys.exit(15)``: exit 15."""
    pytest.importorskip("ray")
    out = tmp_path / "out"
    process = start(big, out, lexicon_file, "--no-langid", "--executor", "ray")
    done, workers, _, stderr = interrupt_after_first_unit(process, out, signal.SIGTERM, group=False)
    assert process.returncode == 143, stderr.decode()
    assert b"terminated" in stderr
    assert len(stats_files(out)) < FILES // 4
    assert running(workers, timeout=30) == [], "Ray processes outlived the scan"
    assert not (out / "report.json").exists()


def wait_through_a_signal(seconds: float) -> bool:
    """Wait on a threading.Event (a Condition) while SIGUSR1 arrives 0.1 s in."""
    threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGUSR1)).start()
    return threading.Event().wait(seconds)


def test_a_signal_inside_deferred_interrupts_is_raised_at_a_check_not_inside_a_wait():
    """REGRESSION: Ctrl-C raised inside ``concurrent.futures.wait`` (a Condition's wait, between
    releasing and re-taking its lock) came out as ``RuntimeError: release unlocked lock``, exit 1."""
    previous = signal.signal(signal.SIGUSR1, lambda number, frame: interrupt(KeyboardInterrupt()))
    try:
        with deferred_interrupts() as check:
            assert wait_through_a_signal(1.0) is False  # the wait ran its course, nothing was raised inside it
            with pytest.raises(KeyboardInterrupt):
                check()
        with pytest.raises(KeyboardInterrupt):  # outside the block: raised at once, inside the wait
            wait_through_a_signal(10.0)
    finally:
        signal.signal(signal.SIGUSR1, previous)
