"""ShardStats is an exact commutative monoid: merge(stats(a), stats(b)) == stats(a + b)."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
from conftest import make_lexicon
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import naive_hits, naive_normalized_hits

import scanner

LEXICON = make_lexicon(("sex", "A1.6"), ("中国人", "A1.1;A1.3"), ("傻逼", "A4.3"), ("中国", "A1.1"))
SCANNER = scanner.Scanner(LEXICON, scanner.ScanOptions(langid=False))

documents = st.lists(
    st.fixed_dictionaries(
        {
            "text": st.one_of(st.none(), st.text("ab sex中国人傻逼x", max_size=20)),
            "source": st.sampled_from(["s1", "s2", "s3"]),
        }
    ),
    max_size=15,
)


def stats_of(docs: list[dict], shard: str = "t") -> scanner.ShardStats:
    table = pa.Table.from_pylist(docs, schema=pa.schema([("text", pa.string()), ("source", pa.string())]))
    return SCANNER.stats_of([table], shard)


@given(a=documents, b=documents)
@settings(max_examples=150, deadline=None)
def test_merge_equals_stats_of_concatenation(a, b):
    assert stats_of(a) + stats_of(b) == stats_of(a + b)
    assert stats_of(a) + stats_of(b) == stats_of(b) + stats_of(a)


@given(a=documents, b=documents, c=documents)
@settings(max_examples=50, deadline=None)
def test_merge_is_associative_with_identity(a, b, c):
    x, y, z = stats_of(a), stats_of(b), stats_of(c)
    assert (x + y) + z == x + (y + z)
    assert x + scanner.ShardStats() == x == scanner.ShardStats() + x


@given(docs=documents)
@settings(max_examples=100, deadline=None)
def test_json_round_trip_and_counts_match_naive_reference(docs):
    stats = stats_of(docs)
    assert scanner.ShardStats.from_dict(json.loads(json.dumps(stats.to_dict()))) == stats
    naive = [naive_hits(LEXICON, d["text"]) for d in docs]
    assert stats.totals["documents"] == len(docs)
    assert stats.totals["hits"] == sum(len(h) for h in naive)
    assert stats.totals["flagged_documents"] == sum(1 for h in naive if h)
    assert stats.totals["empty_documents"] == sum(1 for d in docs if not d["text"])
    assert stats.totals["chars"] == sum(len(d["text"] or "") for d in docs)
    assert stats.totals["bytes"] == sum(len((d["text"] or "").encode()) for d in docs)
    for term in LEXICON.terms:
        hits = sum(1 for h in naive for t, _ in h if t == term.text)
        documents_hit = sum(1 for h in naive if any(t == term.text for t, _ in h))
        assert stats.by_term.get(term.text, {"hits": 0, "documents": 0}) == {"hits": hits, "documents": documents_hit}
    for code in ("A1.1", "A1.3", "A1.6", "A4.3"):
        codes_of = {t.text: t.categories for t in LEXICON.terms}
        expected_docs = sum(1 for h in naive if any(code in codes_of[t] for t, _ in h))
        expected_hits = sum(1 for h in naive for t, _ in h if code in codes_of[t])
        assert stats.by_category.get(code, {"documents": 0, "hits": 0}) == {"documents": expected_docs, "hits": expected_hits}
    for source in {d["source"] for d in docs}:
        mine = [h for d, h in zip(docs, naive) if d["source"] == source]
        assert stats.by_source[source]["documents"] == len(mine)
        assert stats.by_source[source]["flagged_documents"] == sum(1 for h in mine if h)
        assert stats.by_source[source]["languages"] == {"und": len(mine)}


def test_rejections_and_inputs_merge():
    a = scanner.ShardStats(inputs=[{"path": "b", "bytes": 1, "rows": 2}])
    a.reject("malformed_json", 2)
    b = scanner.ShardStats(inputs=[{"path": "a", "bytes": 3, "rows": 4}])
    b.reject("malformed_json")
    b.reject("invalid_utf8")
    merged = a + b
    assert merged.rejected == {"malformed_json": 3, "invalid_utf8": 1}
    assert merged.rejected_rows == 4
    assert [i["path"] for i in merged.inputs] == ["a", "b"]


def test_work_units_of_one_file_merge_into_one_input():
    parts = [scanner.ShardStats(inputs=[{"path": "big.parquet", "bytes": 100, "rows": rows}]) for rows in (3, 4, 5)]
    other = scanner.ShardStats(inputs=[{"path": "a.jsonl", "bytes": 7, "rows": 1}])
    merged = (parts[0] + other) + (parts[2] + parts[1])
    assert merged.inputs == [{"path": "a.jsonl", "bytes": 7, "rows": 1}, {"path": "big.parquet", "bytes": 100, "rows": 12}]
    assert merged == parts[1] + (other + parts[0] + parts[2])


# Disguised documents: full-width, zero-width, Traditional, separated and repeated spellings.
DISGUISED = scanner.Scanner(LEXICON, scanner.ScanOptions(langid=False, normalize="all"))
disguised_documents = st.lists(
    st.fixed_dictionaries(
        {
            "text": st.one_of(st.none(), st.text("ab sexｓｅｘ\u200b中国國人傻逼*x", max_size=20)),
            "source": st.sampled_from(["s1", "s2"]),
        }
    ),
    max_size=12,
)


def disguised_stats(docs: list[dict]) -> scanner.ShardStats:
    table = pa.Table.from_pylist(docs, schema=pa.schema([("text", pa.string()), ("source", pa.string())]))
    return DISGUISED.stats_of([table], "t")


@given(a=disguised_documents, b=disguised_documents)
@settings(max_examples=100, deadline=None)
def test_by_normalization_merges_round_trips_and_counts_hits_per_step(a, b):
    merged = disguised_stats(a) + disguised_stats(b)
    assert merged == disguised_stats(a + b) == disguised_stats(b) + disguised_stats(a)
    assert scanner.ShardStats.from_dict(json.loads(json.dumps(merged.to_dict()))) == merged
    naive = [naive_normalized_hits(LEXICON, d["text"], DISGUISED.options.normalize) for d in a + b]
    expected = Counter(step for hits in naive for *_, steps in hits for step in steps)
    assert merged.by_normalization == dict(expected)
    assert merged.totals["hits"] == sum(len(h) for h in naive)


EXACT = scanner.Scanner(LEXICON, scanner.ScanOptions(langid=False, tokens="exact"))


@given(a=documents, b=documents)
@settings(max_examples=50, deadline=None)
def test_data_type_counters_merge_round_trip_and_count_tokens_exactly(a, b):
    """by_source[...]["data_types"] stays an exact monoid; tokens equal the tokenizer's own count."""
    from scanner.detect.tokens import count_tokens

    schema = pa.schema([("text", pa.string()), ("source", pa.string())])
    x, y = (EXACT.stats_of([pa.Table.from_pylist(d, schema=schema)]) for d in (a, b))
    assert x + y == EXACT.stats_of([pa.Table.from_pylist(a + b, schema=schema)]) == y + x
    assert scanner.ShardStats.from_dict(json.loads(json.dumps((x + y).to_dict()))) == x + y
    for source in {d["source"] for d in a + b}:
        texts = [d["text"] for d in a + b if d["source"] == source]
        cells = (x + y).by_source[source]["data_types"]
        assert sum(c["documents"] for c in cells.values()) == len(texts)
        assert sum(c["bytes"] for c in cells.values()) == sum(len((t or "").encode()) for t in texts)
        assert sum(c["tokens"] for c in cells.values()) == int(count_tokens(texts).sum())
