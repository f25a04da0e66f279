"""Process-resource helpers: each restores what it changed, also when the block raises."""

from __future__ import annotations

import gc
import subprocess
import sys

import pyarrow as pa
import pytest

from scanner.resources import arrow_cpu_threads, fork_ready, gc_paused


def test_gc_paused_restores_the_collector_and_nests():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block does not switch it back on early
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError
    assert gc.isenabled()


def test_gc_paused_leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_fork_ready_freezes_objects_for_the_block_only():
    assert gc.get_freeze_count() == 0
    with fork_ready():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), fork_ready():
        raise RuntimeError
    assert gc.get_freeze_count() == 0


def test_arrow_cpu_threads_restores_the_pool_size():
    before = pa.cpu_count()
    with arrow_cpu_threads(1):
        assert pa.cpu_count() == 1
    assert pa.cpu_count() == before


def test_no_collection_at_exit_freezes_before_the_last_collection_and_flushes_output():
    # atexit runs handlers last-registered first: the one registered before sees the freeze done.
    script = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen at exit', gc.get_freeze_count() > 0))\n"
        "from scanner.resources import no_collection_at_exit\n"
        "no_collection_at_exit()\n"
        "print('frozen before exit', gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["frozen before exit False", "frozen at exit True"]
    assert gc.get_freeze_count() == 0  # nothing happened in this process


def test_no_collection_at_exit_is_registered_by_the_command_line_entry_point(monkeypatch):
    import scanner.cli

    registered = []
    monkeypatch.setattr(scanner.cli, "no_collection_at_exit", lambda: registered.append(True))
    monkeypatch.setattr(scanner.cli, "hide_pandas_from_pyarrow", lambda argv: False)
    monkeypatch.setattr(scanner.cli, "cli", lambda: None)
    scanner.cli.main()
    assert registered == [True]
