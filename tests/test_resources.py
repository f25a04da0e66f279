"""Process-resource helpers: each restores what it changed, also when the block raises."""

from __future__ import annotations

import gc

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
