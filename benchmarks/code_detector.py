"""Precision and recall of scanner.detect.datatype.detect_code on real code and real prose.

Code: source files of the installed Python packages (.py, .c, .h, .js, .pyi, .sh, .cpp found in
site-packages), cut into ~3 KB chunks at line boundaries. Prose: every corpus in ../shared/data,
consecutive texts of one source joined into ~3 KB documents (the benchmark document size).

    python benchmarks/code_detector.py [--data ../shared/data] [--max-code 3000]
"""

from __future__ import annotations

import argparse
import json
import random
import sysconfig
import time
from pathlib import Path

import pyarrow as pa

from scanner.detect.datatype import detect_code

REPO = Path(__file__).resolve().parents[1]
CODE_SUFFIXES = {".py", ".pyi", ".c", ".h", ".cpp", ".js", ".sh"}


def chunks(text: str, size: int = 3000) -> list[str]:
    out, current = [], []
    length = 0
    for line in text.splitlines(keepends=True):
        current.append(line)
        length += len(line)
        if length >= size:
            out.append("".join(current))
            current, length = [], 0
    if current:
        out.append("".join(current))
    return out


def code_documents(limit: int) -> list[str]:
    root = Path(sysconfig.get_paths()["purelib"])
    files = sorted(p for p in root.rglob("*") if p.suffix in CODE_SUFFIXES and p.is_file())
    random.Random(0).shuffle(files)
    docs: list[str] = []
    for path in files:
        try:
            docs.extend(c for c in chunks(path.read_text(encoding="utf-8")) if c.strip())
        except (UnicodeDecodeError, OSError):
            continue
        if len(docs) >= limit:
            break
    return docs[:limit]


def prose_documents(data: Path) -> dict[str, list[str]]:
    corpora = {}
    for path in sorted((data / "corpora").glob("*.jsonl")):
        texts = [json.loads(line)["text"] for line in path.open(encoding="utf-8")]
        joined, current = [], ""
        for text in texts:
            current = f"{current}\n{text}" if current else text
            if len(current.encode()) >= 3000:
                joined.append(current)
                current = ""
        corpora[path.stem] = joined + ([current] if current else [])
    return corpora


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--max-code", type=int, default=3000)
    args = parser.parse_args()
    code = code_documents(args.max_code)
    prose = prose_documents(args.data)
    started = time.perf_counter()
    code_hits = int(detect_code(pa.array(code)).sum())
    false_by_corpus = {name: int(detect_code(pa.array(docs)).sum()) for name, docs in prose.items()}
    elapsed = time.perf_counter() - started
    prose_total = sum(len(d) for d in prose.values())
    false_positives = sum(false_by_corpus.values())
    precision = code_hits / max(code_hits + false_positives, 1)
    recall = code_hits / len(code)
    megabytes = (sum(len(c.encode()) for c in code) + sum(len(d.encode()) for docs in prose.values() for d in docs)) / 1e6
    print(f"code documents: {len(code)} (site-packages), detected {code_hits}: recall {recall:.4f}")
    print(f"prose documents: {prose_total}, detected as code {false_positives}: precision {precision:.4f}")
    for name, count in false_by_corpus.items():
        print(f"  {name}: {count} / {len(prose[name])} prose documents called code")
    print(f"speed: {megabytes / elapsed:.0f} MB/s over {megabytes:.1f} MB")


if __name__ == "__main__":
    main()
