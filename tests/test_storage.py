"""``read_ahead``: the files of a merge read on other threads, in order, a bounded number ahead."""

from __future__ import annotations

import threading
import time

import pytest

from scanner.io.storage import read_ahead


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_read_ahead_keeps_the_order_and_reads_each_name_once(threads):
    names = [f"n{i}" for i in range(25)]
    calls = []

    def read(name):
        calls.append(name)
        time.sleep(0.001 * (hash(name) % 3))  # reads finish out of order
        return name.upper()

    assert list(read_ahead(read, names, threads)) == [n.upper() for n in names]
    assert sorted(calls) == sorted(names)


def test_read_ahead_with_one_thread_reads_on_the_caller_and_lazily():
    seen = []
    results = read_ahead(lambda name: seen.append((name, threading.current_thread())) or name, ["a", "b"], 1)
    assert seen == []
    assert next(results) == "a" and seen == [("a", threading.current_thread())]


def test_read_ahead_holds_at_most_threads_results_unconsumed():
    started = []
    results = read_ahead(lambda name: started.append(name) or name, [str(i) for i in range(50)], 3)
    assert next(results) == "0"
    time.sleep(0.05)
    assert len(started) == 1 + 3  # the one consumed and three ahead; nothing more until the next is taken
    assert list(results) == [str(i) for i in range(1, 50)]


def test_read_ahead_raises_the_first_failure_in_name_order():
    def read(name):
        if name in ("c", "e"):
            raise ValueError(name)
        return name

    results = read_ahead(read, list("abcdef"), 3)
    assert [next(results), next(results)] == ["a", "b"]
    with pytest.raises(ValueError, match="c"):
        next(results)
