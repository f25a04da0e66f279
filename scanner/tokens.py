"""Token counts for the filing form's corpus-scale table (按词元计数).

Two tokenizers: a user's Hugging Face ``tokenizer.json`` through the ``tokenizers`` package, or by
default the bundled ``o200k_base`` vocabulary of the ``bpe-openai`` wheel (works offline). Both count
a batch of texts at once; special-token strings in the corpus are counted as ordinary text.
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache

import numpy as np
import pyarrow as pa

DEFAULT_TOKENIZER = "o200k_base"
TOKEN_MODES = ("estimate", "exact", "off")
PIECE_CHARS = 50_000


@lru_cache(maxsize=4)
def _load(name: str):
    """Cached per process: a vocabulary loads in seconds, a batch tokenizes in milliseconds."""
    if name == DEFAULT_TOKENIZER:
        with warnings.catch_warnings():  # bpe-openai 0.1.4 reads vocabularies (at import) with a deprecated importlib API
            warnings.simplefilter("ignore", DeprecationWarning)
            import bpe_openai

            encoding = bpe_openai.get_encoding(name)
        # One thread: a scan worker is one core (bpe-openai would start 8 threads per batch).
        return lambda texts: _count_in_pieces(texts, lambda pieces: [len(ids) for ids in encoding.encode_ordinary_batch(pieces, num_threads=1)])
    # One core per scan worker; and a worker forked after a parallel batch would otherwise have its
    # parallelism disabled with a warning on stderr. An explicit user setting is kept.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(name)
    return lambda texts: [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]


def _count_in_pieces(texts: list[str], count) -> list[int]:
    """bpe-openai refuses inputs over 200,000 tokens, so texts longer than ``PIECE_CHARS`` (at most 4
    tokens per character) are counted in pieces and summed; a cut may shift a count by a token."""
    owners, pieces = [], []
    for i, text in enumerate(texts):
        for start in range(0, max(len(text), 1), PIECE_CHARS):
            owners.append(i)
            pieces.append(text[start : start + PIECE_CHARS])
    return np.bincount(owners, weights=count(pieces), minlength=len(texts)).astype(np.int64).tolist()


def count_tokens(texts: pa.Array | pa.ChunkedArray | list[str], tokenizer: str = DEFAULT_TOKENIZER) -> np.ndarray:
    """Tokens per text (nulls count 0) with ``tokenizer``: ``o200k_base`` or a ``tokenizer.json`` path."""
    values = texts.to_pylist() if not isinstance(texts, list) else texts
    counts = _load(tokenizer)([v or "" for v in values])
    return np.asarray(counts, dtype=np.int64)
