"""Token counts for the filing form's corpus-scale table (按词元计数).

Two tokenizers: a user's Hugging Face ``tokenizer.json`` through the ``tokenizers`` package, or by
default the bundled ``o200k_base`` vocabulary of the ``bpe-openai`` wheel (works offline). Both count
a batch of texts at once; special-token strings in the corpus are counted as ordinary text.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from scanner.detect.base import Batch, Counts, Detector
from scanner.detect.datatype import per_source_and_type
from scanner.errors import ConfigError

DEFAULT_TOKENIZER = "o200k_base"


@dataclass(frozen=True)
class TokenMode:
    """How a scan counts tokens: ``exact`` tokenizes every document, ``estimate`` only the first
    ``SampleSpec.tokens`` documents of the human sample (the filing table scales their ratio), ``off``
    counts none."""

    name: str
    every_document: bool
    sample: bool

    @property
    def counts(self) -> bool:
        return self.every_document or self.sample


TOKEN_MODES = {mode.name: mode for mode in (TokenMode("estimate", every_document=False, sample=True), TokenMode("exact", every_document=True, sample=False), TokenMode("off", every_document=False, sample=False))}


def token_mode(name: str) -> TokenMode:
    """The mode called ``name``; an unknown name is a ``ConfigError`` listing the known ones."""
    if name not in TOKEN_MODES:
        msg = f"tokens must be one of {', '.join(TOKEN_MODES)}, not {name!r}"
        raise ConfigError(msg)
    return TOKEN_MODES[name]
PIECE_CHARS = 50_000


@lru_cache(maxsize=4)
def _load(name: str, file_version: tuple[int, int] | None):
    """Cached per process: a vocabulary loads once, a batch tokenizes in milliseconds. A
    ``tokenizer.json`` is cached by its ``file_version`` too (``_file_version``), so a file
    rewritten in place is loaded again."""
    if name == DEFAULT_TOKENIZER:
        count = _o200k_counter()
        return lambda texts: _count_in_pieces(texts, lambda pieces: [count(p) for p in pieces])
    # One core per scan worker; and a worker forked after a parallel batch would otherwise have its
    # parallelism disabled with a warning on stderr. An explicit user setting is kept.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(name)
    except Exception as e:  # the tokenizers package raises a bare Exception for a file it cannot parse
        msg = f"{name}: not a Hugging Face tokenizer.json ({e})"
        raise ConfigError(msg) from e
    return lambda texts: [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]


def check_tokenizer(name: str) -> None:
    """Load ``name`` now (it stays loaded for the counts), so a file that is no tokenizer is a
    ``ConfigError`` before any work rather than a failure in the middle of a scan."""
    _load(name, _file_version(name))


def _file_version(name: str) -> tuple[int, int] | None:
    """(modification time in ns, size) of a tokenizer file; None for the bundled vocabulary."""
    if name == DEFAULT_TOKENIZER:
        return None
    status = os.stat(name)
    return status.st_mtime_ns, status.st_size


def _o200k_counter() -> Callable[[str], int]:
    """o200k_base token count of one text, from bpe-openai's Rust tokenizer.

    Importing the ``bpe_openai`` package builds three vocabularies in Python (0.5 s per process) and
    its ``encode`` returns token lists; the package's extension module alone (``_bindings``, typed in
    its ``_bindings.pyi``) loads in 0.06 s and counts twice as fast, with the same counts (tested).
    If that module is not where bpe-openai 0.1 keeps it, the public API is used instead.
    """
    try:
        spec = importlib.util.find_spec("bpe_openai")
        path = next(Path(spec.submodule_search_locations[0]).glob("_bindings*.so"))
        loader = importlib.machinery.ExtensionFileLoader("bpe_openai._bindings", str(path))
        bindings = importlib.util.module_from_spec(importlib.util.spec_from_loader("bpe_openai._bindings", loader))
        loader.exec_module(bindings)
        backend = bindings.tokenizer_for_encoding(DEFAULT_TOKENIZER)
    except (ImportError, AttributeError, StopIteration, TypeError, OSError):
        with warnings.catch_warnings():  # bpe-openai 0.1.4 reads vocabularies (at import) with a deprecated importlib API
            warnings.simplefilter("ignore", DeprecationWarning)
            import bpe_openai

            encoding = bpe_openai.get_encoding(DEFAULT_TOKENIZER)
        return lambda text: len(encoding.encode_ordinary(text)) if text else 0

    def count(text: str) -> int:
        try:
            return backend.count(text)
        except UnicodeEncodeError:  # lone surrogates (not from Arrow, which holds valid UTF-8): as bpe-openai does
            return backend.count(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))

    return count


def _count_in_pieces(texts: list[str], count) -> list[int]:
    """bpe-openai's API refuses inputs over 200,000 tokens, so texts longer than ``PIECE_CHARS`` (at
    most 4 tokens per character) are counted in pieces and summed, whichever path counts (the same
    counts either way); a cut may shift a count by a token."""
    owners, pieces = [], []
    for i, text in enumerate(texts):
        for start in range(0, max(len(text), 1), PIECE_CHARS):
            owners.append(i)
            pieces.append(text[start : start + PIECE_CHARS])
    return np.bincount(owners, weights=count(pieces), minlength=len(texts)).astype(np.int64).tolist()


def count_tokens(texts: pa.Array | pa.ChunkedArray | list[str], tokenizer: str = DEFAULT_TOKENIZER) -> np.ndarray:
    """Tokens per text (nulls count 0) with ``tokenizer``: ``o200k_base`` or a ``tokenizer.json`` path."""
    values = texts.to_pylist() if not isinstance(texts, list) else texts
    counts = _load(tokenizer, _file_version(tokenizer))([v or "" for v in values])
    return np.asarray(counts, dtype=np.int64)


@dataclass(frozen=True)
class TokenOptions:
    tokens: str = "estimate"
    """``TOKEN_MODES``: estimate, exact or off."""
    tokenizer: str = DEFAULT_TOKENIZER
    """``o200k_base`` (bundled) or a Hugging Face ``tokenizer.json`` path."""
    tokenizer_sha256: str | None = field(default=None, init=False)
    """Set from the ``tokenizer.json`` file: a file changed in place changes the counts, so it must
    change the options digest (and redo the units) too."""

    def __post_init__(self) -> None:
        """Check the mode, and load a ``tokenizer.json`` now (it stays loaded for the counts): a file that
        is no tokenizer is a ``ConfigError`` before any work rather than a failure in the middle of a scan."""
        mode = token_mode(self.tokens)
        if mode.counts and self.tokenizer != DEFAULT_TOKENIZER:
            try:
                object.__setattr__(self, "tokenizer_sha256", hashlib.sha256(Path(self.tokenizer).read_bytes()).hexdigest())
            except OSError as e:
                msg = f"tokenizer {self.tokenizer!r} is neither {DEFAULT_TOKENIZER} nor a readable tokenizer.json file ({e})"
                raise ConfigError(msg) from e
            check_tokenizer(self.tokenizer)

    @property
    def token_mode(self) -> TokenMode:
        return token_mode(self.tokens)


class TokenDetector(Detector):
    """In ``exact`` mode, ``doc_tokens`` per document and, per source and data type, ``tokens``. The
    ``estimate`` mode tokenizes sample candidates only (``scanner.run.stream.StreamUnit.add_result``)."""

    name = "tokens"
    Options = TokenOptions

    def __init__(self, options: Any, lexicon: Any) -> None:
        super().__init__(options, lexicon)
        self.mode = options.token_mode

    def warm_up(self) -> None:
        if self.mode.counts:
            count_tokens(["warm-up"], self.options.tokenizer)

    def detect(self, batch: Batch) -> dict[str, Any]:
        return {"doc_tokens": count_tokens(batch.text, self.options.tokenizer)} if self.mode.every_document else {}

    def count(self, batch: Batch) -> Counts:
        if not self.mode.every_document:
            return {}
        return {"by_source": per_source_and_type(batch, {"tokens": batch.values["doc_tokens"]})}
