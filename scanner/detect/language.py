"""Language identification with fastText's ``lid.176.ftz``, offline, batched, and cheap for plain Han.

The model (917 KB, CC BY-SA 3.0, see ``scanner/models/NOTICE.md``) ships in the package, so no
download ever happens. fastText holds the GIL and its cost grows with the prefix (on unspaced
Chinese faster than linearly), so:

- only a bounded prefix of each document is looked at (``PREFIX_CHARS``);
- a *script shortcut* labels text whose prefix is plainly Han (>= 100 characters, >= 60 % of them
  three-byte, a run of 10 Han characters, no letter of another script, no Cantonese-only character)
  ``zh`` without calling the model; Arrow kernels decide this for the whole batch at once;
- everything else goes to fastText in one ``predict`` call per batch.

Agreement with fastText on whole documents is measured by benchmarks/langid_accuracy.py.
Codes are the model's own (``zh``, ``en``, ``yue``, ``wuu`` ...); ``und`` marks empty text and
text without a single letter (digits, punctuation, emoji).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scanner.detect.base import Batch, Counts, Detector, codes_of, group_counts

MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "lid.176.ftz"
PREFIX_CHARS = 200
SHORTCUT_MIN_CHARS = 100  # short texts go to the model: it is cheap there, and it is what users compare with
# >= 60 % three-byte characters (Han, CJK punctuation): Chinese with English words, numbers and links
# in it takes the shortcut too. At 80 % (2.6), 8.6 % of the zh benchmark's documents went to the model
# and 0.13 % disagreed with fastText on whole documents; at 60 %, 3.6 % and 0.10 %.
SHORTCUT_MIN_BYTES_PER_CHAR = 2.2
UNDETERMINED = "und"
_LABEL_PREFIX = "__label__"
# Characters written in Cantonese but not in Mandarin: their presence sends text to the model (yue).
_CANTONESE = "嘅咗喺哋冇乜嘢佢㗎啲唔係嚟噉咁睇瞓攞"
# Any letter that is neither Han nor ASCII (kana, hangul, Thai, Devanagari ...) also goes to the model.
_NOT_PLAIN_HAN = r"[^\p{Han}\p{P}\p{S}\p{N}\p{Z}\x00-\x7f]|[" + _CANTONESE + "]"
_HAN_RUN = r"\p{Han}{10}"


def _plainly_han(prefixes: pa.Array) -> np.ndarray:
    """Prefixes that are long, mostly three-byte characters, hold a run of Han and no other script.

    Only first-match regexes and length kernels: ~10x cheaper than counting characters by script.
    """
    chars = np.asarray(pc.fill_null(pc.utf8_length(prefixes), 0), dtype=np.int64)
    size = np.asarray(pc.fill_null(pc.binary_length(prefixes), 0), dtype=np.int64)
    candidates = (chars >= SHORTCUT_MIN_CHARS) & (size >= SHORTCUT_MIN_BYTES_PER_CHAR * chars)
    if not candidates.any():
        return candidates
    has_run = np.asarray(pc.fill_null(pc.match_substring_regex(prefixes, _HAN_RUN), False))
    foreign = np.asarray(pc.fill_null(pc.match_substring_regex(prefixes, _NOT_PLAIN_HAN), True))
    return candidates & has_run & ~foreign


class LanguageIdentifier:
    """Loads the model on first use (so the object pickles cheaply to worker processes)."""

    def __init__(self, model_path: Path = MODEL_PATH, prefix_chars: int = PREFIX_CHARS, *, script_shortcut: bool = True) -> None:
        self.model_path = Path(model_path)
        self.prefix_chars = prefix_chars
        self.script_shortcut = script_shortcut

    @cached_property
    def model_sha256(self) -> str:
        return hashlib.sha256(self.model_path.read_bytes()).hexdigest()

    @cached_property
    def _model(self):
        import fasttext

        return fasttext.load_model(str(self.model_path))

    def describe(self) -> dict[str, str | int | bool]:
        return {
            "model": self.model_path.name,
            "sha256": self.model_sha256,
            "prefix_chars": self.prefix_chars,
            "script_shortcut": self.script_shortcut,
        }

    def __getstate__(self) -> dict:
        return {"model_path": self.model_path, "prefix_chars": self.prefix_chars, "script_shortcut": self.script_shortcut}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def identify(self, texts: pa.Array | pa.ChunkedArray) -> pa.Array:
        """One language code per text (``und`` for null, empty or letterless text)."""
        prefixes = pc.utf8_slice_codeunits(texts, 0, self.prefix_chars)
        if isinstance(prefixes, pa.ChunkedArray):
            prefixes = prefixes.combine_chunks()
        codes = np.full(len(prefixes), UNDETERMINED, dtype=object)
        to_model = np.asarray(pc.fill_null(pc.match_substring_regex(prefixes, r"\pL"), False))
        if self.script_shortcut:
            plainly_han = _plainly_han(prefixes)
            codes[plainly_han] = "zh"
            to_model &= ~plainly_han
        positions = np.flatnonzero(to_model)
        if len(positions):
            wanted = pc.replace_substring_regex(prefixes.take(pa.array(positions)), r"[\r\n\v\f\x{85}\x{2028}\x{2029}]", " ")
            labels, _ = self._model.predict(wanted.to_pylist(), k=1)
            codes[positions] = [label[0].removeprefix(_LABEL_PREFIX) if label else UNDETERMINED for label in labels]
        return pa.array(codes.tolist(), type=pa.string())


@dataclass(frozen=True)
class LanguageOptions:
    langid: bool = True
    """Identify each document's language (off: every document is ``und``)."""


class LanguageDetector(Detector):
    """``language`` per document; ``by_language`` {code: documents, chars, flagged_documents} and, per
    source, ``languages`` {code: documents}."""

    name = "language"
    Options = LanguageOptions
    columns = (pa.field("language", pa.string()),)

    def __init__(self, options: Any, lexicon: Any) -> None:
        super().__init__(options, lexicon)
        self.identifier = LanguageIdentifier() if options.langid else None

    def warm_up(self) -> None:
        if self.identifier is not None:
            self.identifier.identify(pa.array(["warm-up"]))

    def describe(self) -> dict[str, Any] | None:
        return self.identifier.describe() if self.identifier is not None else None

    def detect(self, batch: Batch) -> dict[str, Any]:
        if self.identifier is None:
            return {"language": pa.array([UNDETERMINED] * batch.rows, type=pa.string())}
        return {"language": self.identifier.identify(batch.text)}

    def count(self, batch: Batch) -> Counts:
        language, names = codes_of(batch.values["language"])
        source, sources = codes_of(batch.values["source"])
        documents = np.bincount(language, minlength=len(names))
        chars = np.bincount(language, weights=batch.doc_chars, minlength=len(names))
        flagged = np.bincount(language, weights=batch.hits_per_doc > 0, minlength=len(names))
        by_language = {
            name: {"documents": int(documents[i]), "chars": int(chars[i]), "flagged_documents": int(flagged[i])} for i, name in enumerate(names) if documents[i]
        }
        pairs = group_counts(source, len(sources), language, len(names))
        by_source = {sources[s]: {"languages": {names[k]: int(pairs[s, k]) for k in np.flatnonzero(pairs[s])}} for s in range(len(sources))}
        return {"by_language": by_language, "by_source": by_source}
