"""Agreement of the scanner's cheap language ID (script shortcut + short prefix) with fastText on
whole documents, on the real corpora in ../shared/data, and the speed of both.

    python benchmarks/langid_accuracy.py [--data ../shared/data] [--prefix 200]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pyarrow as pa

from scanner.detect.language import LanguageIdentifier

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--prefix", type=int, default=200)
    args = parser.parse_args()
    full = LanguageIdentifier(prefix_chars=1_000_000, script_shortcut=False)
    cheap = LanguageIdentifier(prefix_chars=args.prefix)
    total_agree = total = 0
    timings = {"full": 0.0, "cheap": 0.0}
    size = 0
    print(f"{'corpus':<38} {'docs':>7} {'agree':>8}  top disagreements (full -> cheap)")
    for path in sorted((args.data / "corpora").glob("*.jsonl")):
        texts = pa.array([json.loads(line)["text"] for line in path.open(encoding="utf-8")])
        size += sum(len(t.encode()) for t in texts.to_pylist() if t)
        started = time.perf_counter()
        reference = full.identify(texts).to_pylist()
        timings["full"] += time.perf_counter() - started
        started = time.perf_counter()
        labels = cheap.identify(texts).to_pylist()
        timings["cheap"] += time.perf_counter() - started
        agree = sum(a == b for a, b in zip(reference, labels))
        pairs: dict[str, int] = {}
        for a, b in zip(reference, labels):
            if a != b:
                pairs[f"{a}->{b}"] = pairs.get(f"{a}->{b}", 0) + 1
        worst = ", ".join(f"{k} {v}" for k, v in sorted(pairs.items(), key=lambda kv: -kv[1])[:4])
        print(f"{path.stem:<38} {len(labels):>7} {agree / len(labels):>8.4f}  {worst}")
        total_agree += agree
        total += len(labels)
    print(f"{'all':<38} {total:>7} {total_agree / total:>8.4f}")
    print(f"speed: full fastText {size / timings['full'] / 1e6:.1f} MB/s, cheap {size / timings['cheap'] / 1e6:.1f} MB/s "
          f"(ratio {timings['full'] / timings['cheap']:.1f}x)")


if __name__ == "__main__":
    main()
