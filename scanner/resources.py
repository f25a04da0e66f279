"""Process resources that the scan manages on purpose: Arrow's CPU thread pool, the garbage
collector, the memory that forked workers share, and where a signal's exception is raised.

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

import atexit
import ctypes
import gc
from collections.abc import Callable, Iterator
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


def no_collection_at_exit() -> None:
    """Skip the collector's last walk over every live object when the interpreter exits.

    At exit CPython collects once more and then tears modules down; with a compiled lexicon alive
    (10k terms: tens of thousands of objects) that walk is most of the exit: a scan's process took
    0.06 s from its last ``atexit`` handler to its end, and 0.026 s once ``gc.freeze()`` had moved
    those objects out of the collector's reach (a bare compiled scanner: 0.12-0.16 s against
    0.035 s). Objects are still freed by reference counting; only finalizers of objects left in
    reference cycles may not run, which Python does not promise at exit either. For command-line
    processes, whose outputs are closed and renamed before they return.
    """
    atexit.register(gc.freeze)


@contextmanager
def fork_ready() -> Iterator[None]:
    """Prepare this process for forking workers inside the block, so they share its pages instead
    of copying them on first write:

    - ``gc.freeze()`` moves every object alive now out of the collector's reach (as the ``gc`` docs
      advise before ``fork``): no collection, in the driver or a worker, writes to their pages;
    - glibc's ``malloc_trim`` returns the free pages of the C heap, so a worker's first allocations
      land in fresh pages, not in copies of the driver's (measured: a forked worker's first unit
      took 0.35-0.55 s, 0.2 s of it system time, and 0.32-0.36 s after the trim; elsewhere a no-op).
    """
    gc.freeze()
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        malloc_trim = None
    if malloc_trim is not None:
        malloc_trim(0)
    try:
        yield
    finally:
        gc.unfreeze()


_deferring = 0
_pending: list[BaseException] = []


def interrupt(exception: BaseException) -> None:
    """For signal handlers: raise ``exception`` now or, inside ``deferred_interrupts``, at its next check."""
    if _deferring:
        _pending.append(exception)
        return
    raise exception


@contextmanager
def deferred_interrupts() -> Iterator[Callable[[], None]]:
    """Within the block, an exception a signal handler passes to ``interrupt`` is raised only where the
    block calls the check it is given (and at its end), at points that hold no lock. Raised wherever the
    main thread happens to be, it can land inside ``threading.Condition.wait`` (which
    ``concurrent.futures.wait`` uses) between releasing and re-taking its lock, and come out as
    ``RuntimeError: release unlocked lock`` instead. Main thread only, as signal handlers are."""
    global _deferring  # noqa: PLW0603 - one main thread per process

    def check() -> None:
        if _pending:
            raise _pending.pop()

    _deferring += 1
    try:
        yield check
        check()
    finally:
        _deferring -= 1
        _pending.clear()
