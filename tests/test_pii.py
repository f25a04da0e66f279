"""Personal information: the finder against a table of cases built with independent check-digit code,
the detector's annotation column and counters, the report section, and masking."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

import scanner
from scanner.cli import cli
from scanner.detect import pii
from scanner.detect.pii import KINDS, _candidates, find_pii, mask_pii, pii_masks

_ID_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]


def _id_check(body: str) -> str:
    """ISO 7064 MOD 11-2, written here independently of python-stdnum."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS)) % 11]


def _luhn_digit(body: str) -> str:
    total = 0
    for i, d in enumerate(reversed(body)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str((10 - total % 10) % 10)


def _id_number(rng: random.Random, *, valid: bool = True) -> str:
    body = f"{rng.choice(['110105', '310104', '440305', '510107', '330106'])}{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    check = _id_check(body)
    if not valid:
        check = next(c for c in "0123456789X" if c != check)
    return body + check


def _card(rng: random.Random, *, valid: bool = True, length: int = 19) -> str:
    body = "62" + "".join(str(rng.randint(0, 9)) for _ in range(length - 3))
    check = _luhn_digit(body)
    return body + (check if valid else str((int(check) + 1) % 10))


def _mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _cases() -> list[tuple[str, set[str]]]:
    rng = random.Random(45654)
    cases: list[tuple[str, set[str]]] = []
    for _ in range(25):
        mobile, id_number, card = _mobile(rng), _id_number(rng), _card(rng, length=rng.choice([16, 19]))
        cases += [
            (f"联系电话{mobile}，欢迎来电。", {"mobile"}),
            (f"call +86 {mobile[:3]}-{mobile[3:7]}-{mobile[7:]} today", {"mobile"}),
            (f"身份证号：{id_number}，请核对。", {"id_card"}),
            (f"卡号 {card} 已绑定", {"bank_card"}),
            (f"邮箱 user{rng.randint(1, 999)}.name@mail{rng.randint(1, 9)}.example.cn 有事联系", {"email"}),
            (f"全角号码{_fullwidth(mobile)}也算", {"mobile"}),
        ]
        # Negatives: failed checks, digit runs that only contain a number, look-alikes.
        cases += [
            (f"身份证号：{_id_number(rng, valid=False)}", set()),
            (f"订单号 {_card(rng, valid=False)} 已发货", set()),
            (f"时间戳 {rng.randint(1_600_000_000_000, 1_800_000_000_000)} 毫秒", set()),
            (f"流水号 9{mobile}7 已生成", set()),
            (f"编号 12{rng.randint(0, 999_999_999):09d} 不是手机号", set()),
            (f"user at example dot com, 价格 {rng.randint(100, 99999)} 元", set()),
        ]
    cases += [
        (f"手机{_mobile(rng)}，邮箱 a@b.org，身份证{_id_number(rng)}", {"mobile", "email", "id_card"}),
        ("11010519491231002X", {"id_card"}),
        ("110105194912310021", set()),  # wrong check digit
        ("11010519491331002X", set()),  # month 13
        ("@weibo 转发", set()),
        ("版本 1.2.3.4 发布", set()),
    ]
    return cases


CASES = _cases()


def test_the_case_table_is_large_and_balanced():
    positives = sum(1 for _, kinds in CASES if kinds)
    assert len(CASES) >= 200 and positives >= 100 and len(CASES) - positives >= 100


def test_precision_and_recall_on_the_case_table():
    true_positive = false_positive = false_negative = 0
    wrong = []
    for text, expected in CASES:
        found = {kind for _, _, kind in find_pii(text)}
        true_positive += len(found & expected)
        false_positive += len(found - expected)
        false_negative += len(expected - found)
        if found != expected:
            wrong.append((text, expected, found))
    precision = true_positive / (true_positive + false_positive)
    recall = true_positive / (true_positive + false_negative)
    assert precision >= 0.99 and recall >= 0.99, wrong[:10]


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("13812345678", ["mobile"]),
        ("138123456789", []),  # 12 digits: inside a longer run
        ("电话：１３８１２３４５６７８", ["mobile"]),  # full-width digits
        ("a.b+c@example.com", ["email"]),
        ("name@localhost", []),  # no top-level domain
        ("6222021234567890128", ["bank_card"] if _luhn_digit("622202123456789012") == "8" else []),
        ("1234567890123456", []),  # starts with 1: no card issuer
    ],
)
def test_each_rule(text, kinds):
    assert [kind for _, _, kind in find_pii(text)] == kinds


def test_masking_hides_numbers_of_each_shape_even_when_a_check_fails():
    masked = mask_pii("身份证110105194912310021，电话138-1234-5678，邮箱 a@b.cn")
    assert masked == "身份证[ID]，电话[MOBILE]，邮箱 [EMAIL]"


def test_pii_masks_match_the_finder_per_document():
    texts = [text for text, _ in CASES[:60]] + [None, ""]
    masks = pii_masks(pa.array(texts, pa.large_string()))
    for text, mask in zip(texts, masks.tolist()):
        expected = {kind for _, _, kind in find_pii(text)} if text else set()
        assert {kind for bit, kind in enumerate(KINDS) if mask >> bit & 1} == expected


def test_annotation_column_and_counters_per_source():
    s = scanner.Scanner(scanner.Lexicon.from_terms("t", "1", [("违禁", ["A1.8"])]), scanner.ScanOptions(langid=False))
    table = pa.table({"text": ["电话13812345678", "邮箱 a@b.cn 电话13912345678", "nothing here", None], "source": ["a", "a", "b", "b"]})
    stats = scanner.ShardStats()
    out = s.annotate(table, stats=stats)
    assert out["pii"].to_pylist() == [["mobile"], ["mobile", "email"], [], []]
    assert stats.totals["pii"] == {"mobile": 2, "id_card": 0, "email": 1, "bank_card": 0} and stats.totals["pii_documents"] == 2
    assert stats.by_source["a"]["pii"]["mobile"] == 2 and stats.by_source["a"]["pii_documents"] == 2
    assert "pii" not in stats.by_source["b"]


def test_report_has_pii_per_source_with_shares_and_a_section(tmp_path):
    data = tmp_path / "in.jsonl"
    rows = [{"text": "联系13812345678", "source": "forum"}, {"text": "无", "source": "forum"}, {"text": "news text", "source": "news"}]
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    result = CliRunner().invoke(cli, ["scan", str(data), "--out", str(tmp_path / "out"), "--no-langid", "--no-progress", "--tokens", "off"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["totals"]["pii"]["mobile"] == 1 and report["totals"]["pii_documents"] == 1
    assert report["by_source"]["forum"]["pii_share"] == 0.5 and report["by_source"]["news"]["pii"]["mobile"] == 0
    assert "## 个人信息" in (tmp_path / "out" / "report.md").read_text()
    assert 'id="section-pii"' in (tmp_path / "out" / "report.html").read_text()


_PIECES = st.sampled_from(["1", "3", "8", "6", "2", "0", "X", "-", " ", "@", "a", ".", "cn", "中", "，", "：", "１", "３", "８", "＠", "\n", "13812345678",
                           "6222021234567890128", "11010519491231002X", "ａ", "Ｘ", "－", "　", "123 ", "456-"])


@given(st.lists(st.lists(_PIECES, max_size=30).map("".join), min_size=1, max_size=8))
@example(["１３８１２３４５６７８"])
@example(["x", "138 1234 5678"])
@example(["110 105 194 912 310 02X"])  # groups of 3 digits: missed by the earlier prefilter
@example(["ａ@b.cn", "x＠b.cn", "a@-b.cn"])  # a full-width letter before @, a hyphen after it: missed too
@settings(max_examples=300, deadline=None)
def test_the_byte_prefilter_keeps_every_document_the_finder_would_match(texts):
    kept = set(_candidates(pa.array(texts, pa.large_string())).tolist())
    for row, text in enumerate(texts):
        if find_pii(text, validate=False):
            assert row in kept, text


@given(st.lists(st.one_of(st.none(), st.lists(_PIECES, max_size=30).map("".join)), min_size=1, max_size=8))
@settings(max_examples=200, deadline=None)
def test_pii_masks_equal_the_finder_on_random_documents(texts):
    """Masks from the byte prefilter and the finder equal the finder's kinds on every document."""
    masks = pii_masks(pa.array(texts, pa.large_string())).tolist()
    assert masks == [sum(1 << KINDS.index(kind) for kind in {k for _, _, k in find_pii(t)}) if t else 0 for t in texts]


@given(st.lists(_PIECES, max_size=40).map("".join), st.booleans())
@example("1-2-3-4-5-6-7-8-9-0-1 12345678901X-1", True)
@settings(max_examples=300, deadline=None)
def test_reading_long_chains_only_finds_the_numbers_of_every_run(text, validate):
    """``find_pii`` reads only chains of digit runs long enough for a number; reading every run of the
    whole text (``_numbers`` over it, as before) finds the same numbers."""
    every_run = pii._numbers(text.translate(pii._FULLWIDTH_AS_ASCII), validate=validate)
    assert [span for span in find_pii(text, validate=validate) if span[2] != "email"] == sorted(every_run)
