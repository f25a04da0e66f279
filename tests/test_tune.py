"""``scanner lexicon tune``: one small fixture per rule of the method (scanner/curate/tune.py) and of the
term mining (scanner/curate/mine.py, ``--mine``), the files it writes loading back and scanning as
documented, and the audit showing what the policy reads."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import scanner
from scanner.cli import cli
from scanner.curate.classifier import LabelledText, read_labelled_texts
from scanner.curate.mine import (
    DEFAULT_CATEGORY,
    MineParams,
    ReferenceCounts,
    candidates,
    count_labels,
    count_support,
    majority_categories,
    reference_strings,
    select,
    word_shaped,
)
from scanner.curate.tune import tune
from scanner.errors import ConfigError
from scanner.scan import ScanOptions

# Filler characters share none with the terms below, so a term hits only where a test puts it.
FILLER = "天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往秋收冬藏闰余成岁律吕调阳云腾致雨露结为霜金生丽水玉出昆冈剑号巨阙珠称夜光果珍李柰菜重芥姜海咸河淡鳞潜羽翔"


def filler(seed: int, chars: int) -> str:
    """Deterministic Han text of ``chars`` characters."""
    return "".join(FILLER[(seed * 31 + i * i * 7 + i) % len(FILLER)] for i in range(chars))


def write_references(path: Path, inserts: dict[str, tuple[int, str, str]], docs: int = 250, chars: int = 1000) -> Path:
    """``docs`` documents of ``chars`` Han characters; ``inserts`` puts each term (count, left, right)
    into that many different documents, between its left and right context."""
    texts = [filler(i, chars) for i in range(docs)]
    for number, (term, (count, left, right)) in enumerate(inserts.items()):
        for k in range(count):
            i = (k * 7 + number) % docs
            texts[i] = texts[i][: chars // 2] + f"，{left}{term}{right}，" + texts[i][chars // 2 :]
    path.write_text("".join(json.dumps({"id": f"r{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    return path


def write_lexicon(path: Path, terms: list[str], header: str = "term\tcategory\tlanguage", rows: list[str] = ()) -> Path:
    lines = [header, *(f"{t}\tA1.6;A4.3\tzh" for t in terms), *rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_labels(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def decisions(result) -> dict:
    return {d.term: d for d in result.decisions}


BANDS = {"稀有词": (1, "", ""), "常见词": (3, "", ""), "频繁词": (20, "", ""), "普通词": (100, "", "")}


def test_structure_drops_single_characters_digits_and_short_ascii_by_their_normalised_form(tmp_path):
    refs = write_references(tmp_path / "refs.jsonl", {}, docs=10)
    lexicon = write_lexicon(tmp_path / "lex.tsv", ["性", "1234", "IS", "６４", "ｓｍ", "㊣", "a-b", "sex", "未见词"])
    result = tune([lexicon], [str(refs)], tmp_path / "out", ScanOptions())
    found = decisions(result)
    assert {t: found[t].reason for t in ("性", "㊣")} == {"性": "single character", "㊣": "single character"}  # ㊣ becomes 正 (nfkc)
    assert found["1234"].reason == found["６４"].reason == "digits/punctuation only"
    assert found["IS"].reason == found["ｓｍ"].reason == found["a-b"].reason == "ASCII term shorter than 3 letters"
    assert all(found[t].action == "drop" for t in ("性", "1234", "IS", "６４", "ｓｍ", "㊣", "a-b"))
    assert found["sex"].severity != "drop" and found["未见词"].severity != "drop"


def test_bands_by_reference_rate_per_thousand_characters_of_the_script(tmp_path):
    refs = write_references(tmp_path / "refs.jsonl", BANDS)
    english = tmp_path / "english.jsonl"  # ASCII letters do not dilute the rates of Chinese terms
    english.write_text("".join(json.dumps({"text": "the quick brown fox jumps over a lazy dog " * 50}) + "\n" for _ in range(20)), encoding="utf-8")
    lexicon = write_lexicon(tmp_path / "lex.tsv", [*BANDS, "未见词"])
    result = tune([lexicon], [str(refs), str(english)], tmp_path / "out", ScanOptions())
    found = decisions(result)
    han = result.references.han_chars
    assert han == 250 * 1000 + sum(count * 3 for count, _, _ in BANDS.values())
    assert found["稀有词"].evidence["ref_rate_per_1k"] == round(1 / han * 1000, 6)
    assert {t: (found[t].evidence["band"], found[t].severity) for t in [*BANDS, "未见词"]} == {
        "未见词": ("unseen", "high"),  # its class's unseen terms hit little new text (Good-Turing)
        "稀有词": ("rare", "medium"),  # rare, no stated severity: at most medium
        "常见词": ("common", "low"),
        "频繁词": ("frequent", "low"),
        "普通词": ("ordinary", "drop"),
    }
    assert {t: found[t].action for t in found} == {"未见词": "keep", "稀有词": "demote", "常见词": "demote", "频繁词": "demote", "普通词": "drop"}


def test_a_frequent_term_gets_its_benign_enclosing_word_as_an_allow_row_which_suppresses_it_in_a_scan(tmp_path):
    refs = write_references(tmp_path / "refs.jsonl", {"口交": (30, "", "易")})
    lexicon = write_lexicon(tmp_path / "lex.tsv", ["口交"])
    result = tune([lexicon], [str(refs)], tmp_path / "out", ScanOptions())
    found = decisions(result)["口交"]
    assert (found.action, found.severity, found.allow) == ("allow", "high", ["口交易"])
    assert found.evidence["allow_residual_hits"] == 0 and found.evidence["band"] == "unseen"
    tuned = scanner.load_lexicon(tmp_path / "out" / "lexicon.tsv")
    assert tuned.allow == ("口交易",)
    table = scanner.Scanner(tuned, ScanOptions(langid=False)).annotate(pa.table({"text": ["今天口交易市场平稳", "他说口交两个字"]}))
    assert table["unsafe"].to_pylist() == [False, True]
    assert table["flagged"].to_pylist() == [False, True]


@pytest.mark.parametrize(
    ("right", "others", "why"),
    [("了", [], "only a particle added"), ("易", ["交易"], "the context holds another term")],
)
def test_allow_contexts_that_would_hide_a_term_or_only_continue_it_are_refused(tmp_path, right, others, why):
    refs = write_references(tmp_path / "refs.jsonl", {"口交": (30, "", right)})
    lexicon = write_lexicon(tmp_path / "lex.tsv", ["口交", *others])
    found = decisions(tune([lexicon], [str(refs)], tmp_path / "out", ScanOptions()))["口交"]
    assert (found.allow, found.severity) == ([], "low"), why


def labelled_rows() -> list[tuple[str, str]]:
    """200 unsafe and 200 safe documents: 人渣 precise, 垃圾 fairly precise, 女人 not; labels in every spelling."""
    unsafe, safe = ["fail", "1", "不合格", "unsafe", "不通过"], ["pass", "0", "合格", "safe", "通过"]
    rows = []
    for term, positives, negatives in (("人渣", 40, 2), ("垃圾", 30, 8), ("女人", 50, 45)):
        rows += [(f"{filler(i, 20)}{term}{filler(i + 1, 20)}", unsafe[i % 5]) for i in range(positives)]
        rows += [(f"{filler(i, 20)}{term}{filler(i + 2, 20)}", safe[i % 5]) for i in range(negatives)]
    rows += [(filler(i, 30), unsafe[i % 5]) for i in range(200 - 120)]
    rows += [(filler(i, 30), safe[i % 5]) for i in range(200 - 55)]
    return rows


def test_label_precision_makes_terms_high_medium_or_low(tmp_path):
    refs = write_references(tmp_path / "refs.jsonl", {})
    lexicon = write_lexicon(tmp_path / "lex.tsv", ["人渣", "垃圾", "女人"])
    labelled = read_labelled_texts(write_labels(tmp_path / "labels.csv", labelled_rows()))[0]
    assert sum(t.unsafe for t in labelled) == 200 and len(labelled) == 400
    found = decisions(tune([lexicon], [str(refs)], tmp_path / "out", ScanOptions(), labelled))
    assert {t: found[t].severity for t in found} == {"人渣": "high", "垃圾": "medium", "女人": "low"}
    assert (found["人渣"].evidence["label_pos"], found["人渣"].evidence["label_neg"]) == (40, 2)
    assert found["人渣"].evidence["label_bp_lb"] >= 0.8 > found["垃圾"].evidence["label_bp_lb"] >= 0.6 > found["女人"].evidence["label_bp_lb"]


def test_cooccurrence_rules_are_mined_from_labels_and_fire_in_a_scan(tmp_path):
    refs = write_references(tmp_path / "refs.jsonl", {})
    lexicon = write_lexicon(tmp_path / "lex.tsv", ["甲方", "乙方"])
    rows = [(f"{filler(i, 10)}甲方乙方{filler(i, 10)}", "1") for i in range(20)]
    for term in ("甲方", "乙方"):
        rows += [(f"{filler(i, 10)}{term}{filler(i + 3, 30)}", "0") for i in range(60)]
        rows += [(f"{filler(i, 10)}{term}{filler(i + 4, 30)}", "1") for i in range(5)]
    rows += [(filler(i, 30), "1") for i in range(60)] + [(filler(i, 30), "0") for i in range(20)]
    labelled = read_labelled_texts(write_labels(tmp_path / "labels.csv", rows))[0]
    result = tune([lexicon], [str(refs)], tmp_path / "out", ScanOptions(), labelled)
    found = decisions(result)
    assert found["甲方"].severity == found["乙方"].severity == "low"
    assert (found["乙方"].action, found["乙方"].cooc) == ("cooc", [("甲方", 10)])
    tuned = scanner.load_lexicon(tmp_path / "out" / "lexicon.tsv")
    assert [(r.text, r.severity, sorted(r.categories)) for r in tuned.rules] == [("乙方&&甲方~10", "high", ["A1.6", "A4.3"])]
    table = scanner.Scanner(tuned, ScanOptions(langid=False)).annotate(pa.table({"text": ["甲方与乙方签约", "甲方" + "很" * 30 + "乙方", "只有甲方"]}))
    assert table["unsafe"].to_pylist() == [True, False, False]
    assert table["unsafe_reason"].to_pylist()[0] == "cooccur:乙方&&甲方~10"


def test_a_stated_severity_is_a_ceiling_and_input_allow_rows_and_rules_are_kept(tmp_path):
    refs = write_references(tmp_path / "refs.jsonl", BANDS)
    stated = write_lexicon(
        tmp_path / "stated.tsv",
        [],
        header="term\tcategory\tlanguage\tseverity",
        rows=["稀有词\tA1.6\tzh\tlow", "未见词\tA1.6\tzh\tmedium", "普通词\tA1.6\tzh\thigh", "另见词\tA1.6\tzh\t", "普通词语\t\t\tallow", "稀有词&&未见词~5\tA1.6\tzh\tmedium"],
    )
    plain = write_lexicon(tmp_path / "plain.tsv", ["再见词"])  # no severity column: nothing stated
    result = tune([stated, plain], [str(refs)], tmp_path / "out", ScanOptions())
    found = decisions(result)
    assert {t: (found[t].severity, found[t].action) for t in found} == {
        "稀有词": ("low", "keep"),  # rare would allow medium; low was stated
        "未见词": ("medium", "keep"),  # unseen: the stated severity, not the class default
        "另见词": ("high", "keep"),  # an empty cell in a severity column states high
        "普通词": ("drop", "drop"),  # an ordinary word is dropped whatever was stated
        "再见词": ("high", "keep"),  # nothing stated: the class default
    }
    tuned = scanner.load_lexicon(tmp_path / "out" / "lexicon.tsv")
    assert tuned.allow == ("普通词语",)
    assert [(r.text, r.severity) for r in tuned.rules] == [("稀有词&&未见词~5", "medium")]


def test_no_term_is_made_high_when_the_references_hold_under_200000_characters_of_its_script(tmp_path):
    refs = write_references(tmp_path / "refs.jsonl", {}, docs=100)
    lexicon = write_lexicon(tmp_path / "lex.tsv", ["未见词", "人渣"])
    labels = write_labels(tmp_path / "labels.csv", labelled_rows())
    result = CliRunner().invoke(cli, ["lexicon", "tune", str(lexicon), "--reference", str(refs), "--labels", str(labels), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "100,000 Han characters (< 200,000): no term of that script was made high" in result.stderr
    rows = {r[0]: r for r in csv.reader((tmp_path / "out" / "changes.tsv").read_text(encoding="utf-8").splitlines(), delimiter="\t")}
    assert rows["未见词"][2] == "low"  # the class default needs evidence
    assert rows["人渣"][2] == "medium" and "under 200,000 characters of its script" in rows["人渣"][3]


def test_outputs_load_back_and_scanning_with_them_gives_the_documented_unsafe_result(tmp_path):
    refs = write_references(tmp_path / "refs.jsonl", {**BANDS, "口交": (30, "", "易")})
    lexicon = write_lexicon(tmp_path / "lex.tsv", [*BANDS, "未见词", "口交", "性"])
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["lexicon", "tune", str(lexicon), "--reference", str(refs), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "7 terms: keep 1, demote 3, allow 1, cooc 0, drop 2" in result.output
    assert "no --labels: tuning only removes noise" in result.output
    assert "held out, tuned on half 1" in result.output and "held out, tuned on half 2" in result.output

    header, *rows = (out / "lexicon.tsv").read_text(encoding="utf-8").splitlines()
    assert header == "term\tcategory\tlanguage\tseverity\tnote"
    tuned = scanner.load_lexicon(out / "lexicon.tsv")
    assert {t.text: (t.severity, sorted(t.categories), sorted(t.languages)) for t in tuned.terms} == {
        "未见词": ("high", ["A1.6", "A4.3"], ["zh"]),
        "口交": ("high", ["A1.6", "A4.3"], ["zh"]),
        "稀有词": ("medium", ["A1.6", "A4.3"], ["zh"]),
        "常见词": ("low", ["A1.6", "A4.3"], ["zh"]),
        "频繁词": ("low", ["A1.6", "A4.3"], ["zh"]),
    }
    changes = list(csv.DictReader((out / "changes.tsv").read_text(encoding="utf-8").splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))
    assert [c["term"] for c in changes] == sorted(["性", "普通词", "未见词", "口交", *(t for t in BANDS if t != "普通词")])
    evidence = {c["term"]: json.loads(c["evidence"]) for c in changes}
    assert evidence["频繁词"]["ref_hits"] == 20 and isinstance(evidence["频繁词"]["ref_rate_per_1k"], float)
    assert {c["term"]: c["allow"] for c in changes}["口交"] == "口交易"

    # Documented: high hit -> unsafe; two medium terms within 20 characters -> unsafe; low never decides.
    corpus = tmp_path / "corpus.jsonl"
    texts = ["未见词", "稀有词", "常见词频繁词常见词", "口交易", "稀有词" + "天" * 5 + "稀有词", "普通词性", "口交"]
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    scan = CliRunner().invoke(cli, ["scan", str(corpus), "--lexicon", str(out / "lexicon.tsv"), "--out", str(tmp_path / "scan"),
                                    "--no-langid", "--tokens", "off", "--sample-size", "0", "--workers", "1", "--annotate"])
    assert scan.exit_code == 0, scan.output
    report = json.loads((tmp_path / "scan" / "report.json").read_text(encoding="utf-8"))
    assert report["totals"]["unsafe_documents"] == 2  # 未见词 and 口交; one medium term twice is one term
    assert report["totals"]["flagged_documents"] == 5  # 口交易 is allowed; 普通词 and 性 were dropped


def test_the_held_out_estimate_measures_each_half_with_the_lexicon_tuned_on_the_other(tmp_path):
    refs = write_references(tmp_path / "refs.jsonl", BANDS)
    lexicon = write_lexicon(tmp_path / "lex.tsv", [*BANDS, "未见词"])
    first = tune([lexicon], [str(refs)], tmp_path / "a", ScanOptions())
    again = tune([lexicon], [str(refs)], tmp_path / "b", ScanOptions())
    halves = [e.documents for e in first.held_out]
    assert sum(halves) == first.before.documents == 250 and min(halves) > 80
    assert halves == [e.documents for e in again.held_out]  # split by a hash of the document id
    assert (tmp_path / "a" / "lexicon.tsv").read_bytes() == (tmp_path / "b" / "lexicon.tsv").read_bytes()
    assert first.before.unsafe_share > first.after.unsafe_share


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("text,label\n好的,pass\n不好,maybe\n", ".csv", "row 3: bad label 'maybe'"),
        ("text,label\n好的,pass\n,fail\n", ".csv", "row 3: empty text"),
        ("text,verdict\n好的,合格\n", ".csv", None),
        ("doc_id,label\n1,pass\n", ".csv", "needs the columns text and label; columns found: doc_id, label"),
        ('{"text": "好", "label": "1"}\n{"label": "0"}\n', ".jsonl", "labels.jsonl:2: empty text"),
        ("text,label,category\n好的,pass,\n不好,fail,X9\n", ".csv", "row 3: unknown category 'X9'"),
    ],
)
def test_bad_label_rows_are_named(tmp_path, content, suffix, message):
    path = tmp_path / f"labels{suffix}"
    path.write_text(content, encoding="utf-8")
    if message is None:
        assert read_labelled_texts(path)[0] == [LabelledText("好的", False)]
        return
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        read_labelled_texts(path)
    lexicon = write_lexicon(tmp_path / "lex.tsv", ["人渣"])
    refs = write_references(tmp_path / "refs.jsonl", {}, docs=2)
    result = CliRunner().invoke(cli, ["lexicon", "tune", str(lexicon), "--reference", str(refs), "--labels", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and message in result.output


@pytest.mark.parametrize(("reference", "message"), [("none*.jsonl", "the pattern matches no file"), ("empty.jsonl", "the references hold no documents")])
def test_references_that_hold_nothing_are_an_error(tmp_path, reference, message):
    lexicon = write_lexicon(tmp_path / "lex.tsv", ["人渣"])
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    result = CliRunner().invoke(cli, ["lexicon", "tune", str(lexicon), "--reference", str(tmp_path / reference), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and message in result.output


def test_the_audit_shows_severities_rules_and_allow_rows(tmp_path):
    path = tmp_path / "lex.tsv"
    allow = [f"允许{i:02d}\t\tallow" for i in range(25)]
    path.write_text("\n".join(["term\tcategory\tseverity", "人渣\tA4.3\thigh", "垃圾\tA4.3\tmedium", "女人\tA2.5\tlow", "女人&&垃圾~10\tA2.5\thigh", *allow]) + "\n", encoding="utf-8")
    audit = json.loads(CliRunner().invoke(cli, ["lexicon", "audit", str(path), "--json"]).output)
    assert audit["terms_by_severity"] == {"high": 1, "medium": 1, "low": 1}
    assert audit["cooccurrence_rules"] == [{"rule": "女人&&垃圾~10", "severity": "high", "categories": ["A2.5"]}]
    assert len(audit["allow"]) == 25
    text = CliRunner().invoke(cli, ["lexicon", "audit", str(path)]).output
    assert "terms by severity: high 1, medium 1, low 1" in text
    assert "co-occurrence rules: 1\n  女人&&垃圾~10 (high; A2.5)" in text
    assert "allow rows: 25\n" in text and "允许19" in text and "允许20" not in text


# -- term mining (--mine) ---------------------------------------------------------------------------

SMALL = MineParams(min_pos=3, high_bp=0.8, medium_bp=0.6)
"""Thresholds for fixtures of a few dozen documents."""


def references_of(hits: dict[str, int] | None = None, measured: frozenset[str] = frozenset({"han", "ascii"})) -> ReferenceCounts:
    """Reference counts as the tuner would pass them: 1,000,000 characters per script, ``hits`` per string."""
    hits = hits or {}
    return ReferenceCounts(hits, {g: min(n, 1) for g, n in hits.items()}, {"han": 1_000_000, "ascii": 1_000_000}, measured)


def mined(unsafe: list[str], safe: list[str], params: MineParams = SMALL, hits: dict[str, int] | None = None, known: dict[str, str] | None = None, **kwargs) -> dict:
    return {m.term: m for m in select(count_labels(unsafe, safe, params), references_of(hits, **kwargs), params, known)}


def test_candidates_are_han_ngrams_within_runs_and_whole_ascii_runs_of_word_shape():
    text = "黑蛆滚，CNM! 2333 ab 黑人们"
    assert candidates(text, 2, SMALL) == {"黑蛆", "蛆滚", "cnm", "黑人", "人们"}  # no 滚黑 across the comma; digits and 'ab' are not words
    assert candidates(text, 3, SMALL) == {"黑蛆滚", "黑人们"}  # ASCII runs are counted once, at the first level
    assert [word_shaped(g, SMALL) for g in ("黑蛆", "的傻", "黑人们", "哈哈哈", "地域黑", "黑到地", "cnm")] == [True, False, False, False, True, False, True]


def naive_support(texts: list[str], params: MineParams) -> Counter:
    """Documents holding each candidate, by enumerating every substring (no level-wise pruning)."""
    found: Counter = Counter()
    for text in texts:
        held = {run[i:j] for run in re.findall("[\u4e00-\u9fff]+", text) for i in range(len(run)) for j in range(i + params.min_n, min(i + params.max_n, len(run)) + 1)}
        held |= {run.lower() for run in re.findall("[A-Za-z0-9]+", text) if params.min_ascii <= len(run) <= params.max_ascii and not run.isdigit()}
        found.update(held)
    return Counter({g: n for g, n in found.items() if n >= params.min_pos})


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(st.text(alphabet="黑人歧视女权黑黑abC1，", max_size=14), max_size=12),
    min_pos=st.integers(1, 4),
    max_n=st.integers(2, 6),
)
def test_the_level_wise_candidate_count_equals_a_naive_count(texts, min_pos, max_n):
    params = MineParams(min_pos=min_pos, max_n=max_n)
    assert count_support(texts, params) == naive_support(texts, params)


def test_closed_ngrams_keep_the_word_a_fragment_stands_for():
    unsafe = ["田园女权！"] * 6 + ["直男癌！"] * 9 + ["男癌！"]
    safe = ["今天天气不错"] * 20
    found = mined(unsafe, safe)
    assert "田园女权" in found and not {"田园女", "园女权", "田园", "女权"} & set(found)  # same support: the longer one
    assert "直男癌" in found and "男癌" not in found  # 9 of its 10 documents: >= closed_ratio 0.8
    strict = mined(unsafe, safe, MineParams(min_pos=3, high_bp=0.8, medium_bp=0.6, closed_ratio=1.0))
    assert set(strict) == {"田园女权", "男癌"}  # only the same counts close; 直男癌 then holds the high 男癌: redundant


def test_severity_follows_the_balanced_precision_lower_bound():
    unsafe = ["黑蛆滚"] * 20 + ["蠢货"] * 20 + ["女人"] * 20
    safe = ["蠢货"] * 2 + ["女人"] * 18 + ["今天天气不错"] * 40
    found = mined(unsafe, safe)
    assert (found["黑蛆滚"].severity, found["黑蛆滚"].pos, found["黑蛆滚"].neg) == ("high", 20, 0)
    assert found["蠢货"].severity == "medium" and 0.6 <= found["蠢货"].bp_lb < 0.8
    assert "女人" not in found  # about as common in safe documents
    assert mined(unsafe, safe, MineParams(min_pos=3, high_bp=0.8, medium_bp=0.6, min_len_high=4))["黑蛆滚"].severity == "medium"


def test_a_term_seen_in_the_references_is_vetoed_and_a_compound_of_generic_words_is_at_most_medium():
    unsafe = ["黑蛆滚"] * 20 + ["中国女人"] * 20
    safe = ["今天天气不错"] * 40
    assert {"黑蛆滚", "中国女人"} <= set(mined(unsafe, safe))
    assert reference_strings(count_labels(unsafe, safe, SMALL)) == {"黑蛆滚", "中国女人", "中国", "女人"}  # terms and their two-part splits
    found = mined(unsafe, safe, hits={"黑蛆滚": 1, "中国": 500, "女人": 100})
    assert "黑蛆滚" not in found  # one hit in the references
    assert (found["中国女人"].severity, found["中国女人"].reason) == ("medium", "bp_lb 0.92; compound of generic words")
    assert mined(unsafe, safe, measured=frozenset({"ascii"}))["黑蛆滚"].severity == "medium"  # too little Han reference text for high


def test_known_terms_make_candidates_redundant_and_the_cap_keeps_the_most_supported():
    unsafe = ["黑蛆滚"] * 20 + ["洋垃圾"] * 12 + ["蠢货"] * 8
    safe = ["今天天气不错"] * 40
    assert set(mined(unsafe, safe)) == {"黑蛆滚", "洋垃圾", "蠢货"}
    found = mined(unsafe, safe, known={"黑蛆": "high", "蠢货": "low", "垃圾": "medium"})
    assert set(found) == {"洋垃圾"}  # 黑蛆滚 holds the high 黑蛆 and 蠢货 is known; a medium 垃圾 alone decides nothing
    assert list(mined(unsafe, safe, MineParams(min_pos=3, high_bp=0.8, medium_bp=0.6, max_terms=2))) == ["黑蛆滚", "洋垃圾"]


def test_a_mined_term_takes_the_risk_code_most_of_its_unsafe_documents_carry():
    unsafe = [("杂种", "A2.1")] * 3 + [("杂种", "")] + [("蠢货", "A2.4"), ("蠢货", "A2.5"), ("蠢货", "")]
    found = majority_categories({"杂种", "蠢货"}, unsafe, SMALL)
    assert found == {"杂种": ("A2.1", 0.75), "蠢货": (DEFAULT_CATEGORY, 0.0)}


def mining_rows() -> list[tuple[str, str, str]]:
    """(text, label, category): 杂种 (half of it Traditional) always in A2.1; 蠢货 split over two codes; 口交
    also in the references (vetoed); safe documents of filler, which the references hold too."""
    rows = [(f"{filler(i, 20)}，{'杂种' if i % 2 else '雜種'}，{filler(i + 1, 20)}", "1", "A2.1") for i in range(40)]
    rows += [(f"{filler(i, 20)}，蠢货，{filler(i + 2, 20)}", "1", "A2.4" if i % 2 else "A2.5") for i in range(40)]
    rows += [(f"{filler(i, 20)}，口交，{filler(i + 3, 20)}", "1", "A1.6") for i in range(20)]
    rows += [(filler(i, 40), "0", "") for i in range(100)]
    return rows


def write_mining_labels(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label", "category"])
        writer.writerows(mining_rows())
    return path


def test_mine_adds_terms_with_category_and_evidence_which_load_and_hit_in_a_scan_traditional_text_too(tmp_path):
    refs = write_references(tmp_path / "refs.jsonl", {"口交": (30, "", "易")})
    lexicon = write_lexicon(tmp_path / "lex.tsv", ["人渣"])
    labels = write_mining_labels(tmp_path / "labels.csv")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["lexicon", "tune", str(lexicon), "--reference", str(refs), "--labels", str(labels), "--mine", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "added 2 terms mined from the labels (high 2, medium 0; categories: A2.1 1, A4.3 1)" in result.output
    assert "review the add rows of" in result.stderr and "(most supported: 杂种, 蠢货)" in result.stderr
    assert "tuned and mined on one half" in result.output

    changes = {c["term"]: c for c in csv.DictReader((out / "changes.tsv").read_text(encoding="utf-8").splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)}
    assert {t: (c["action"], c["severity"]) for t, c in changes.items()} == {"人渣": ("keep", "high"), "杂种": ("add", "high"), "蠢货": ("add", "high")}
    evidence = json.loads(changes["杂种"]["evidence"])
    assert (evidence["label_pos"], evidence["label_neg"], evidence["ref_hits"]) == (40, 0, 0) and evidence["label_bp_lb"] > 0.85
    assert changes["杂种"]["reason"] == "mined from the labels: bp_lb 0.96; category A2.1: 100.0 % of its unsafe documents"
    assert "category A4.3 by default" in changes["蠢货"]["reason"]

    tuned = scanner.load_lexicon(out / "lexicon.tsv")
    assert {t.text: (t.severity, sorted(t.categories)) for t in tuned.terms} == {"人渣": ("high", ["A1.6", "A4.3"]), "杂种": ("high", ["A2.1"]), "蠢货": ("high", ["A4.3"])}
    corpus = tmp_path / "corpus.jsonl"
    texts = ["你这个杂种", "你這個雜種", "口交易市场", "今天天气不错"]
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    scan = CliRunner().invoke(cli, ["scan", str(corpus), "--lexicon", str(out / "lexicon.tsv"), "--out", str(tmp_path / "scan"),
                                    "--no-langid", "--tokens", "off", "--sample-size", "0", "--workers", "1"])  # fmt: skip
    assert scan.exit_code == 0, scan.output
    report = json.loads((tmp_path / "scan" / "report.json").read_text(encoding="utf-8"))
    assert report["totals"]["unsafe_documents"] == 2  # the Simplified and the Traditional spelling


def test_the_held_out_estimate_mines_on_one_half_and_measures_on_the_other(tmp_path):
    refs = write_references(tmp_path / "refs.jsonl", {}, docs=500)  # each half holds over 200,000 Han characters: high is possible
    lexicon = write_lexicon(tmp_path / "lex.tsv", ["人渣"])
    labelled = read_labelled_texts(write_mining_labels(tmp_path / "labels.csv"))[0]
    plain = tune([lexicon], [str(refs)], tmp_path / "plain", ScanOptions(), labelled)
    mining = tune([lexicon], [str(refs)], tmp_path / "mined", ScanOptions(), labelled, mining=MineParams())
    assert plain.added == [] and all(e.recall == 0 for e in plain.held_out)
    assert {d.term for d in mining.added} == {"杂种", "蠢货", "口交"}  # 口交 is not in these references
    held_out = mining.held_out  # each half measured with the terms mined on the other
    assert [e.labelled for e in held_out] == [e.labelled for e in plain.held_out] and sum(e.labelled for e in held_out) == 200
    assert sum(e.true_positives for e in held_out) == 80 and sum(e.false_positives for e in held_out) == 0  # every 杂种 and 蠢货
    assert sum(e.false_negatives for e in held_out) == 20  # 口交: 20 documents, under min_pos 12 in either half
    assert mining.decisions == plain.decisions


def test_mine_needs_labels_with_unsafe_and_safe_documents(tmp_path):
    refs = write_references(tmp_path / "refs.jsonl", {}, docs=2)
    lexicon = write_lexicon(tmp_path / "lex.tsv", ["人渣"])
    result = CliRunner().invoke(cli, ["lexicon", "tune", str(lexicon), "--reference", str(refs), "--mine", "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "--mine needs --labels FILE" in result.output
    with pytest.raises(ConfigError, match="both unsafe and safe"):
        tune([lexicon], [str(refs)], tmp_path / "out", ScanOptions(), [LabelledText("杂种", True)], mining=MineParams())
