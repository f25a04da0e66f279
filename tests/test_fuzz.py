"""Fuzzing: readers on random bytes, the matcher on random Arrow arrays. Nothing may crash except
with the documented errors (``ShardError`` for a bad shard), and row accounting must stay exact.

Normal runs use a few hundred cases; the full fuzz run (docs/development.md#tests) sets FUZZ_EXAMPLES:
``FUZZ_EXAMPLES=10000 python -m pytest tests/test_fuzz.py -p no:cacheprovider``.
"""

from __future__ import annotations

import contextlib
import gzip
import os

import pyarrow as pa
import zstandard
from conftest import make_lexicon
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import naive_hits

from scanner.errors import ShardError
from scanner.io.discovery import discover_shards
from scanner.io.readers import Columns, read_batches
from scanner.match.matcher import Matcher

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_like = st.lists(
    st.one_of(
        st.binary(max_size=40),
        st.sampled_from([b'{"text": "ok"}', b'{"text": null}', b'{"text": 5}', b"[]", b'{"id": 1}', b'{"text": "\xff"}', b'\xef\xbb\xbf{"text": "bom"}']),
    ),
    max_size=20,
).map(lambda lines: b"\n".join(lines))


def read_all(path) -> tuple[int, int]:
    """(documents, rejected rows) of a shard, or raises ShardError."""
    shard = discover_shards([str(path)])[0]
    documents = rejected = 0
    for batch in read_batches(shard, Columns()):
        assert len(batch.text) == len(batch.row_number)
        documents += len(batch.text)
        rejected += sum(batch.rejected.values())
    return documents, rejected


@FUZZ
@given(data=json_like, wrap=st.sampled_from(["plain", "gzip", "zstd", "gzip-cut", "zstd-cut"]))
def test_jsonl_reader_survives_random_bytes(tmp_path_factory, data, wrap):
    folder = tmp_path_factory.mktemp("fuzz")
    if wrap == "plain":
        path, payload = folder / "f.jsonl", data
    elif wrap.startswith("gzip"):
        payload = gzip.compress(data)
        path, payload = folder / "f.jsonl.gz", payload[: len(payload) // 2] if wrap.endswith("cut") else payload
    else:
        payload = zstandard.ZstdCompressor().compress(data)
        path, payload = folder / "f.jsonl.zst", payload[: len(payload) // 2] if wrap.endswith("cut") else payload
    path.write_bytes(payload)
    try:
        documents, rejected = read_all(path)
    except ShardError:
        return
    # A UTF-8 BOM at the very start of the file is not part of the first line.
    body = data.removeprefix(b"\xef\xbb\xbf")
    non_blank = [line for line in body.split(b"\n") if line.strip()]
    if wrap in ("plain", "gzip", "zstd"):
        assert documents + rejected == len(non_blank)


@FUZZ
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".parquet", ".arrow", ".feather"]))
def test_columnar_readers_survive_random_bytes(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("fuzz") / f"f{suffix}"
    path.write_bytes(data)
    with contextlib.suppress(ShardError):
        read_all(path)


ALPHABET = "aA1 -中国人𠀀\x00\n\ufeff"


@st.composite
def arrow_columns(draw):
    docs = draw(st.lists(st.one_of(st.none(), st.text(ALPHABET, max_size=25)), max_size=15))
    kind = draw(st.sampled_from([pa.string(), pa.large_string()]))
    prefix = draw(st.lists(st.one_of(st.none(), st.text(ALPHABET, max_size=5)), max_size=3))
    suffix = draw(st.lists(st.one_of(st.none(), st.text(ALPHABET, max_size=5)), max_size=3))
    array = pa.array(prefix + docs + suffix, type=kind).slice(len(prefix), len(docs))
    if draw(st.booleans()) and len(docs) > 1:
        cut = draw(st.integers(1, len(docs) - 1))
        return docs, pa.chunked_array([array.slice(0, cut), array.slice(cut)])
    return docs, array


@FUZZ
@given(terms=st.lists(st.text(ALPHABET, min_size=1, max_size=4).filter(lambda t: t.strip() and "\x00" not in t and "\n" not in t), min_size=1, max_size=6), column=arrow_columns())
def test_matcher_on_random_arrow_arrays(terms, column):
    docs, array = column
    lexicon = make_lexicon(*[(t, "A1.6") for t in terms])
    hits = Matcher(lexicon).find(array)
    got = [[] for _ in docs]
    for row, term, start in zip(hits.row.tolist(), hits.term.tolist(), hits.start.tolist()):
        got[row].append((lexicon.terms[term].text, start))
    assert [sorted(g) for g in got] == [naive_hits(lexicon, d) for d in docs]
