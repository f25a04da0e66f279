"""Shared fixtures: tiny lexicons and corpora written into tmp_path (tests never read ../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

import scanner

REPO = Path(__file__).resolve().parents[1]


def make_lexicon(*pairs: tuple[str, str]) -> scanner.Lexicon:
    """Lexicon from (term, category-codes) pairs, e.g. ``("中国", "A1.1;A1.2")``."""
    return scanner.Lexicon.from_terms("test", "1", [(t, c.split(";")) for t, c in pairs])


@pytest.fixture
def sample_dir() -> Path:
    return REPO / "examples" / "sample"
