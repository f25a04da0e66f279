"""Where the compiled-artefact cache lives, and that it only ever stores what it is given."""

from __future__ import annotations

from pathlib import Path

from scanner import cache


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
