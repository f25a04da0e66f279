"""Small Arrow/numpy helpers every layer uses: the buffers of a string column, lists and nullable columns built from numpy arrays."""

from __future__ import annotations

import hashlib
import string
from collections.abc import Iterable

import numpy as np
import pyarrow as pa

ASCII_ALNUM = string.ascii_letters + string.digits
"""The characters that make a term end case-insensitive and bounded (``scanner.lexicon.load``), and that
words and numbers are made of for the byte-level checks."""


def byte_mask(characters: str) -> np.ndarray:
    """A 256-entry table, True at the byte values of these ASCII ``characters``."""
    mask = np.zeros(256, dtype=bool)
    mask[list(characters.encode("ascii"))] = True
    return mask


_INT64 = pa.int64()


def with_nulls(values: np.ndarray, valid: np.ndarray, kind: pa.DataType = _INT64) -> pa.Array:
    """An int64 (or ``kind``: float64) array, null where not ``valid`` (``pa.array(mask=...)`` would
    import numpy.ma: 30 ms per worker)."""
    bitmap = np.packbits(valid, bitorder="little")
    return pa.Array.from_buffers(kind, len(values), [pa.py_buffer(bitmap), pa.py_buffer(np.ascontiguousarray(values, dtype=kind.to_pandas_dtype()))])


def keyed_hashes(ids: Iterable[str], key: str) -> np.ndarray:
    """64-bit keyed BLAKE2b of each id, as uint64: what decides, order-free, whether a document is in a
    sample (the human sample, the classifier's technical sample); ~1 us per id."""
    digest_key = hashlib.blake2b(key.encode(), digest_size=32).digest()
    digests = b"".join(hashlib.blake2b(i.encode(), key=digest_key, digest_size=8).digest() for i in ids)
    return np.frombuffer(digests, dtype=">u8").astype(np.uint64)


def bit_lists(masks: np.ndarray, names: tuple[str, ...]) -> pa.Array:
    """list<string> per bitmask: the names of its set bits, in bit order (risk codes: sorted)."""
    bits = np.arange(len(names), dtype=np.int64)
    item, bit = np.nonzero((masks[:, None] >> bits[None, :]) & 1)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(item, minlength=len(masks)))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(names, type=pa.string()).take(pa.array(bit)))


def offsets_and_data(array: pa.Array) -> tuple[np.ndarray, pa.Buffer]:
    """The array's own window of the offsets buffer (handles slices) and its data buffer."""
    _, offsets_buffer, data = array.buffers()
    dtype = np.int64 if array.type == pa.large_string() else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=dtype)[array.offset : array.offset + len(array) + 1]
    if data is None:
        data = pa.py_buffer(b"")
    return offsets.astype(np.int64, copy=False), data
