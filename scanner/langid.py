"""Language identification with fastText's ``lid.176.ftz``, offline and batched.

The model (917 KB, CC BY-SA 3.0, see ``scanner/models/NOTICE.md``) ships in the package, so no
download ever happens. fastText holds the GIL and runs at ~25 MB/s of text, so only a bounded
prefix of each document is classified (``PREFIX_CHARS``), in one ``predict`` call per batch.
Codes are the model's own (``zh``, ``en``, ``yue``, ``wuu`` ...); ``und`` marks empty text and
text without a single letter (digits, punctuation, emoji).
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

MODEL_PATH = Path(__file__).resolve().parent / "models" / "lid.176.ftz"
PREFIX_CHARS = 300
UNDETERMINED = "und"
_LABEL_PREFIX = "__label__"


class LanguageIdentifier:
    """Loads the model on first use (so the object pickles cheaply to worker processes)."""

    def __init__(self, model_path: Path = MODEL_PATH, prefix_chars: int = PREFIX_CHARS) -> None:
        self.model_path = Path(model_path)
        self.prefix_chars = prefix_chars

    @cached_property
    def model_sha256(self) -> str:
        return hashlib.sha256(self.model_path.read_bytes()).hexdigest()

    @cached_property
    def _model(self):
        import fasttext

        return fasttext.load_model(str(self.model_path))

    def describe(self) -> dict[str, str | int]:
        return {"model": self.model_path.name, "sha256": self.model_sha256, "prefix_chars": self.prefix_chars}

    def __getstate__(self) -> dict:
        return {"model_path": self.model_path, "prefix_chars": self.prefix_chars}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def identify(self, texts: pa.Array | pa.ChunkedArray) -> pa.Array:
        """One language code per text (``und`` for null, empty or letterless text)."""
        prefixes = pc.utf8_slice_codeunits(texts, 0, self.prefix_chars)
        prefixes = pc.replace_substring_regex(prefixes, r"[\r\n\v\f\x{85}\x{2028}\x{2029}]", " ")
        has_letter = pc.fill_null(pc.match_substring_regex(prefixes, r"\pL"), False)
        if isinstance(has_letter, pa.ChunkedArray):
            has_letter = has_letter.combine_chunks()
        codes = [UNDETERMINED] * len(prefixes)
        wanted = pc.filter(prefixes, has_letter).to_pylist()
        if wanted:
            labels, _ = self._model.predict(wanted, k=1)
            positions = pc.indices_nonzero(has_letter).to_pylist()
            for position, label in zip(positions, labels):
                codes[position] = label[0].removeprefix(_LABEL_PREFIX) if label else UNDETERMINED
        return pa.array(codes, type=pa.string())
