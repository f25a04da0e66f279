"""End to end against the naive reference: a few thousand documents, a 1,000+ term TSV lexicon,
Parquet and JSONL.gz inputs, per-document annotations identical to the literal rules."""

from __future__ import annotations

import gzip
import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from reference import naive_hits

import scanner
from scanner.cli import cli

CJK = "中国人民政府法轮功天安门暴乱色情赌博毒品枪支"
LATIN = ["sex", "porn", "Ass", "c++", "4chan", "XXX", "fuck", "nazi", "kill", "drug", "bet", "gun"]


def make_corpus(seed: int = 7, documents: int = 3000) -> tuple[list[str], list[dict]]:
    """Random but reproducible: CJK n-gram terms and Latin words (some glued to letters) in noise."""
    rng = random.Random(seed)
    terms = {"".join(rng.choice(CJK) for _ in range(rng.randint(2, 4))) for _ in range(1100)}
    terms |= {w + str(i) for i, w in enumerate(LATIN * 10)} | set(LATIN) | {"中A国", "卖B"}
    pieces = [*sorted(terms)[:300], *LATIN, "class", "bass", "中a国", "卖b", "ABC", " ", "，", "。", "x", "1", "\n", "🍆", "𠀀"]
    docs = []
    for i in range(documents):
        text = "".join(rng.choice(pieces) if rng.random() < 0.3 else rng.choice(CJK + "abc de ") for _ in range(rng.randint(0, 60)))
        docs.append({"id": f"doc-{i}", "text": text if i % 97 else None, "source": f"src{i % 5}"})
    return sorted(terms), docs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    terms, docs = make_corpus()
    folder = tmp_path_factory.mktemp("ref")
    lexicon_path = folder / "lexicon.tsv"
    lexicon_path.write_text("term\tcategory\n" + "".join(f"{t}\tA1.{1 + len(t) % 8}\n" for t in terms), encoding="utf-8")
    pq.write_table(pa.Table.from_pylist(docs), folder / "docs.parquet", row_group_size=1000)
    with gzip.open(folder / "docs.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in docs)
    return folder, lexicon_path, docs


@pytest.mark.parametrize("name", ["docs.parquet", "docs.jsonl.gz"])
def test_annotations_equal_the_naive_reference(corpus, tmp_path, name):
    folder, lexicon_path, docs = corpus
    lexicon = scanner.load_lexicons([lexicon_path])
    assert len(lexicon.terms) > 1000
    out = tmp_path / "out"
    args = ["scan", str(folder / name), "--out", str(out), "--lexicon", str(lexicon_path), "--annotate", "--no-langid"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    rows = {r["doc_id"]: r for r in pq.read_table(next((out / "annotations").glob("*.parquet"))).to_pylist()}
    categories = {t.text: t.categories for t in lexicon.terms}
    flagged = 0
    for doc in docs:
        naive = naive_hits(lexicon, doc["text"])
        row = rows[doc["id"]]
        assert (row["hits"], row["terms"]) == (len(naive), sorted({t for t, _ in naive})), doc["id"]
        assert row["categories"] == sorted({c for t, _ in naive for c in categories[t]})
        flagged += bool(naive)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["totals"]["flagged_documents"] == flagged
    assert 0 < flagged < len(docs)
