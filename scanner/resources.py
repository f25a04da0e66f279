"""Process resources that the scan sizes on purpose: Arrow's CPU thread pool and the garbage collector.

pyarrow runs some kernels (a ``take`` over a table's columns, ``group_by``) on its own pool of one
thread per core. A scan worker is meant to be one core, so the pool only competes with the other
workers; and its first use in a process costs ~0.2 s of system time. Measured on the report's merge
of 26 units' sample candidates: 0.27 s with the pool, 0.10 s on one thread.

Python's cyclic garbage collector runs after every ~700 new container objects and, now and then,
walks every live one. Building a lexicon creates several objects per term and no cycles, so those
walks are pure cost: loading and compiling 100k terms took 2.8 s + 1.6 s with the collector on and
1.2 s + 0.8 s with it paused (10k terms: 0.13 s + 0.13 s against 0.08 s + 0.07 s).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa


@contextmanager
def arrow_cpu_threads(count: int) -> Iterator[None]:
    """Run the block with Arrow's CPU pool capped at ``count`` threads, then restore its size."""
    previous = pa.cpu_count()
    pa.set_cpu_count(count)
    try:
        yield
    finally:
        pa.set_cpu_count(previous)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector off (reference counting still frees memory),
    for bulk building that creates many objects and no reference cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def gc_frozen() -> Iterator[None]:
    """Move every object alive now out of the collector's reach for the block (``gc.freeze``): the
    processes forked inside it then never write to those objects' pages to collect them, so the
    pages stay shared, and the driver's own collections skip them too."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
