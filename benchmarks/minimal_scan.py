"""The minimal pipeline baseline: the least code that streams a Parquet text column through the automaton.

Run as its own process by ``bench_scan.py`` (so start-up, imports and reading are in the timing):
read the lexicon's terms, build one ``BytesAhoCorasick`` over them (ASCII-lowered, as bytes), then
one ``find_matches_as_indexes`` call per record batch over the text column's data buffer, mapping
matches to rows with ``numpy.searchsorted`` on the offsets buffer and dropping spans that cross two
rows. Semantics are raw substrings: case-sensitive on the original bytes, no word boundaries.

Prints one JSON line: rows, text bytes, matches, flagged documents.

Usage: python benchmarks/minimal_scan.py CORPUS.parquet LEXICON.tsv [--batch-rows 8192]
"""

import argparse
import json

import ahocorasick_rs
import numpy as np
import pyarrow.parquet as pq


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus")
    parser.add_argument("lexicon")
    parser.add_argument("--batch-rows", type=int, default=8192)
    args = parser.parse_args()

    with open(args.lexicon, encoding="utf-8") as stream:
        next(stream)
        terms = {line.split("\t", 1)[0].strip() for line in stream if line.strip()}
    table = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
    patterns = sorted({t.translate(table).encode() for t in terms})
    automaton = ahocorasick_rs.BytesAhoCorasick(patterns, matchkind=ahocorasick_rs.MATCHKIND_STANDARD)

    rows = text_bytes = matches = flagged = 0
    for batch in pq.ParquetFile(args.corpus).iter_batches(batch_size=args.batch_rows, columns=["text"]):
        column = batch.column(0)
        _, offsets_buffer, data = column.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[column.offset : column.offset + len(column) + 1]
        base, stop = int(offsets[0]), int(offsets[-1])
        rows += len(column)
        text_bytes += stop - base
        found = automaton.find_matches_as_indexes(memoryview(data).cast("B")[base:stop], overlapping=True)
        if found:
            spans = np.array(found, dtype=np.int64)
            start, end = spans[:, 1] + base, spans[:, 2] + base
            row = np.searchsorted(offsets, start, side="right") - 1
            inside = end <= offsets[row + 1]
            matches += int(inside.sum())
            flagged += len(np.unique(row[inside]))
    print(json.dumps({"rows": rows, "text_bytes": text_bytes, "matches": matches, "flagged_documents": flagged}))


if __name__ == "__main__":
    main()
