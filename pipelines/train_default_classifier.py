"""The recipe of the bundled classifier, ``scanner/models/classifier_zh.ftz`` (``scan --classifier default``).

    python pipelines/train_default_classifier.py [--data ../shared/data] [-o scanner/models/classifier_zh.ftz]

Training data, all openly licensed and read from ``../shared/data/corpora`` (nothing is copied into the
repository):

- COLD (thu-coai/COLDataset, Apache-2.0): the train and dev splits of the Chinese offensive-comment
  corpus, ``meta.offensive_label`` 1 = unsafe. The test split is never trained on: it is what the model is
  measured on (docs/unsafe.md#the-bundled-model).
- Chinese Wikipedia paragraphs of CMRC 2018 (CC BY-SA 4.0), the even-numbered half, split into sentences
  of at least 5 characters, as safe examples: COLD alone teaches the model that encyclopedic talk of
  peoples and regions is offensive. The odd half is never trained on and stays a clean reference.

It writes the files through ``scanner.curate.classifier.train`` (what ``scanner classifier train`` runs),
with ``languages = ["zh"]`` on the card: the model knows no English (it scored 0-64 % of English news
unsafe across configurations), so scans score only Chinese documents with it. Two training threads, a
fixed seed; fastText's threaded training still varies slightly between runs (threshold about +-0.02,
F1 about +-0.003). About 3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import tempfile
from pathlib import Path

from scanner.curate.classifier import read_labelled_texts, train

REPO = Path(__file__).resolve().parents[1]
SENTENCE_END = re.compile(r"(?<=[。！？!?；])")
MIN_SENTENCE_CHARS = 5


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def write_training_files(corpora: Path, folder: Path) -> list[tuple[Path, str, str]]:
    """The two label files (text, label), each with its licence and what it was made from (for the card)."""
    cold = [{"text": d["text"], "label": int(d["meta"]["offensive_label"])} for d in _jsonl(corpora / "zh_cold_offensive_comments.jsonl") if d["meta"]["split"] in ("train", "dev")]
    paragraphs = [d["text"] for d in _jsonl(corpora / "zh_cmrc2018_wikipedia_contexts.jsonl")][0::2]
    wiki = [{"text": s, "label": 0} for p in paragraphs for s in SENTENCE_END.split(p) if len(s.strip()) >= MIN_SENTENCE_CHARS]
    files = []
    for name, rows, licence, origin in (
        ("cold_train_dev.jsonl", cold, "Apache-2.0", "thu-coai/COLDataset@a0c55a94 train+dev (zh_cold_offensive_comments.jsonl)"),
        ("cmrc2018_wiki_even_sentences.jsonl", wiki, "CC-BY-SA-4.0", "ymcui/cmrc2018@c0eb1b6b even paragraphs as sentences, label 0 (zh_cmrc2018_wikipedia_contexts.jsonl)"),
    ):
        path = folder / name
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        files.append((path, licence, origin))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("-o", "--output", type=Path, default=REPO / "scanner" / "models" / "classifier_zh.ftz")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        texts, files = [], []
        for path, licence, origin in write_training_files(args.data / "corpora", Path(folder)):
            found, file = read_labelled_texts(path, licence)
            texts += found
            files.append(dataclasses.replace(file, path=origin))
        card = train(texts, args.output, files, threads=args.threads, languages=["zh"])
    held = card["held_back"]
    sys.stdout.write(f"trained on {card['training']['documents']} documents, threshold {card['threshold']:.4f}; held back {held['documents']}: "
          f"precision {held['precision']:.3f}, recall {held['recall']:.3f}, F1 {held['f1']:.3f}; {card['model_bytes']} bytes\n")  # fmt: skip


if __name__ == "__main__":
    main()
