"""The human sample at report time: candidates merged across units, texts and tokens read back where a unit kept none, and the sample's summary for report.json."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from scanner.detect.tokens import DEFAULT_TOKENIZER, count_tokens, token_mode
from scanner.errors import ConfigError, ShardError
from scanner.evidence.outfolder import OutputFolder
from scanner.evidence.sampling import (
    SampleSpec,
    held_cutoff,
    held_rows_decide,
    merge_candidates,
    per_source_samples,
    truncate_texts,
)
from scanner.io.discovery import shard_at
from scanner.io.readers import Columns, read_texts
from scanner.report.checks import share


def sample_spec(options: dict[str, Any]) -> SampleSpec:
    return SampleSpec(**options.get("sample", {}))


def merged_candidates(folder: OutputFolder, spec: SampleSpec, threads: int = 1) -> pa.Table:
    """Every sample's candidates, in rank order: the units' held candidates, and their reserves only
    if those cannot change the sample (see ``scanner.evidence.sampling``; files read ``threads`` ahead)."""
    cutoffs: list[int | None] = []

    def held() -> Iterator[pa.Table]:
        for table in folder.candidate_tables(reserve=False, threads=threads):
            cutoffs.append(held_cutoff(table.schema))
            yield table

    merged = merge_candidates(held(), spec)
    if held_rows_decide(merged, cutoffs, spec):
        return merged
    return merge_candidates(itertools.chain([merged], folder.candidate_tables(reserve=True, threads=threads)), spec)


def per_source_sample(folder: OutputFolder, spec: SampleSpec) -> pa.Table:
    """The per-source samples (``--sample-per-source``), drawn from the same rank-ordered candidates as the human sample."""
    return per_source_samples(merged_candidates(folder, spec), spec)


def sample_members(folder: OutputFolder, spec: SampleSpec, human: pa.Table) -> dict[str, dict[str, str]]:
    """The documents whose verdicts an import accepts, by id: their source, and which sample they
    belong to (``human``, or ``per-source`` for per-source documents outside the human sample).
    Only the human sample's verdicts judge the human spot check; the others feed per-source estimates."""
    members = {}
    if spec.per_source:
        chosen = per_source_sample(folder, spec)
        members = {d: {"source": s, "sample": "per-source"} for d, s in zip(chosen["doc_id"].to_pylist(), chosen["source"].to_pylist())}
    members.update({d: {"source": s, "sample": "human"} for d, s in zip(human["doc_id"].to_pylist(), human["source"].to_pylist())})
    return members


def read_back_missing(sample: pa.Table, locations: dict[str, str], options: dict[str, Any], spec: SampleSpec) -> pa.Table:
    """Read back from their inputs the documents of the human sample (in rank order) whose unit kept
    no text, or, in estimate mode, counted no tokens among the first ``spec.tokens`` (a rank cut-off
    was too low, see ``scanner.evidence.sampling``). Rare, and only those rows are read. A file that is gone
    or no longer holds the same document is a ConfigError naming it."""
    needs_text = np.asarray(sample["text"].is_null(), dtype=bool)
    needs_tokens = np.zeros(sample.num_rows, dtype=bool)
    if token_mode(options.get("tokens", "off")).sample:
        needs_tokens[: spec.tokens] = np.asarray(sample["doc_tokens"].is_null(), dtype=bool)[: spec.tokens]
    wanted = np.flatnonzero(needs_text | needs_tokens)
    if not len(wanted):
        return sample
    labels, rows, doc_bytes = (sample[name].to_pylist() for name in ("shard", "row", "doc_bytes"))
    full = {}
    for label in sorted({labels[i] for i in wanted}):
        mine = [int(i) for i in wanted if labels[i] == label]
        try:
            texts = read_texts(shard_at(locations[label], label), Columns(**options["columns"]), (rows[i] for i in mine))
        except (KeyError, ConfigError, ShardError, OSError) as e:
            msg = f"{label}: the sample needs texts from this input, which cannot be read now ({e}); scan again with --force"
            raise ConfigError(msg) from e
        for i in mine:
            text = texts.get(rows[i])
            if text is None or len(text.encode()) != doc_bytes[i]:
                msg = f"{label}: row {rows[i]} is not the document scanned there (the file changed); scan again"
                raise ConfigError(msg)
            full[i] = text
    read_back = [i for i in wanted if needs_text[i]]
    if read_back:
        texts = truncate_texts(pa.array([full[i] for i in read_back], pa.string()), spec.text_chars).to_pylist()
        sample = _with_values(sample, "text", read_back, texts)
    counted = [i for i in wanted if needs_tokens[i]]
    if counted:
        tokens = count_tokens([full[i] for i in counted], options.get("tokenizer", DEFAULT_TOKENIZER)).tolist()
        sample = _with_values(sample, "doc_tokens", counted, tokens)
    return sample


def _with_values(table: pa.Table, name: str, rows: list[int], values: list[Any]) -> pa.Table:
    """``table`` with column ``name`` set to ``values`` at ``rows`` (a few rows of a small table)."""
    column = table[name].to_pylist()
    for row, value in zip(rows, values):
        column[row] = value
    index = table.schema.get_field_index(name)
    return table.set_column(index, table.schema.field(index), pa.array(column, table.schema.field(index).type))


def sample_summary(sample: pa.Table, spec: SampleSpec, by_source: dict[str, dict[str, Any]], documents: int) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for source in sample["source"].to_pylist():
        counts[source] = counts.get(source, 0) + 1
    return {
        "size": sample.num_rows,
        "requested": spec.size,
        "seed": spec.seed,
        "method": "bottom-k of keyed BLAKE2b-64(doc_id); empty documents excluded",
        "per_source_k": spec.per_source,
        "by_source": {
            name: {"sampled": counts.get(name, 0), "share_of_sample": share(counts.get(name, 0), sample.num_rows), "share_of_corpus": share(s["documents"], documents)}
            for name, s in by_source.items()
        },
    }
