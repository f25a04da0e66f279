"""A registry to start from: ``scanner sources init`` turns the sources a scan found into a
``sources.toml`` template, so a filer fills in types and licences instead of typing names.

Each source becomes one ``[[source]]`` entry with the rule that attributes its documents: a name that
came from an input file's name gets that file in ``shards``; one that looks like a host name gets it in
``domains``; any other came from the source column, which the entry's name matches by itself. ``type``,
``licence`` and ``reference`` are left empty to fill in (the registry refuses an empty type, so the
template cannot be used unfilled by mistake); ``origin`` is guessed from the domain suffix where there is
one. Documents and bytes are written as comments.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from scanner.detect.source import SOURCE_TYPES, UNREGISTERED_SUFFIX
from scanner.io.discovery import FORMATS

_HOST = re.compile(r"^[^\s/:]+\.[^\s/:]+$")


def _toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(value, ensure_ascii=False)


def _stem(path: str) -> str:
    base = os.path.basename(path)
    suffix = next((s for s in sorted(FORMATS, key=len, reverse=True) if base.lower().endswith(s)), "")
    return base[: len(base) - len(suffix)] or base


def sources_template(report: dict[str, Any], out: str) -> str:
    """The ``sources.toml`` template for the sources of ``report`` (report.json of the scan in ``out``)."""
    files_by_stem: dict[str, list[str]] = {}
    for entry in report["inputs"]:
        files_by_stem.setdefault(_stem(entry["path"]), []).append(entry["path"])
    lines = [
        f"# Source registry for the scan in {out}, written by `scanner sources init` from the sources it found.",
        f"# Fill in each source's type ({', '.join(SOURCE_TYPES)}), its licence (open-source corpora),",
        "# its reference (the collection record of self-collected corpora, the contract of commercial ones),",
        "# and check origin (domestic or foreign); then scan again with --sources this-file.",
        "",
    ]
    for name, source in report["by_source"].items():
        if source.get("registered"):
            continue
        plain = name.removesuffix(UNREGISTERED_SUFFIX)
        lines += ["[[source]]", f"name = {_toml_string(plain)}", f"# {source['documents']} documents, {source['bytes']} bytes of text"]
        lines += ['type = ""', f"origin = {_toml_string(source['origin'])}", 'licence = ""', 'reference = ""']
        if plain in files_by_stem:
            lines.append(f"shards = [{', '.join(_toml_string(path) for path in files_by_stem[plain])}]")
        elif _HOST.match(plain):
            lines.append(f"domains = [{_toml_string(plain)}]")
        lines.append("")
    return "\n".join(lines)

