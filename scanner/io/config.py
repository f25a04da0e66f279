"""Reading the project's TOML files (lexicon manifests, source registries, policies, command configs)
with one error style: the file, the key, and for a misspelt key the closest known one."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable
from typing import Any

from scanner.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


def closest(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the known name closest to ``name``, or nothing."""
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def parse_toml(text: str, where: str, error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """The TOML document ``text`` read from ``where``; invalid TOML is an ``error`` naming it."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = f"{where}: invalid TOML: {e}"
        raise error(msg) from e


def refuse_unknown_keys(keys: Iterable[str], known: Iterable[str], where: str, error: type[ConfigError] = ConfigError) -> None:
    """An ``error`` for the first key that is not ``known``, naming ``where``, the key and the closest
    known key: a misspelt key (``blocklistd``) must not be ignored silently."""
    known = list(known)
    for key in keys:
        if key not in known:
            msg = f"{where}: unknown key {key!r}{closest(key, known)}; known keys: {', '.join(known)}"
            raise error(msg)
