"""Where the compiled-artefact cache lives, and that it only ever stores what it is given."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scanner.io import cache


def test_the_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "corpus-scanner"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.cache_dir() == Path.home() / ".cache" / "corpus-scanner"
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "mine"))
    assert cache.cache_dir() == tmp_path / "mine"
    monkeypatch.setenv(cache.CACHE_ENV, "")
    assert cache.cache_dir() is None


def test_entries_round_trip_privately_and_keys_tell_their_parts_apart(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    key = cache.entry_key(b"ab", b"c")
    assert key != cache.entry_key(b"a", b"bc") and key == cache.entry_key(b"ab", b"c")
    assert cache.load("kind", key) is None
    cache.store("kind", key, b"\x00data")
    assert cache.load("kind", key) == b"\x00data"
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o700
    assert [p.name for p in (tmp_path / "cache" / "kind").iterdir()] == [key]  # no temporary file left


def test_normalisation_tables_from_the_cache_equal_the_built_ones(tmp_path, monkeypatch):
    from scanner.match import normalize, textview

    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    steps = ("invisible", "nfkc", "casefold", "t2s")
    built = []
    for _ in range(2):  # the first builds and stores, the second loads
        normalize.t2s_table.cache_clear()
        textview.char_table.cache_clear()
        built.append((normalize.t2s_table(), textview.char_table(steps), textview.char_table(steps[:2])))
        assert len(list((tmp_path / "cache" / "tables").iterdir())) == 3  # t2s and one per step set
    (t2s, table, narrow), (t2s_again, table_again, narrow_again) = built
    assert t2s == t2s_again and len(t2s) > 5000 and t2s["亂"] == "乱"
    for a, b in ((table, table_again), (narrow, narrow_again)):
        assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("index", "offsets", "cps"))
    assert not np.array_equal(table.index, narrow.index)
    fullwidth_f = table.index[ord("Ｆ")]
    assert table.cps[table.offsets[fullwidth_f] : table.offsets[fullwidth_f + 1]].tolist() == [ord("F")]
