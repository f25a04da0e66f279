"""Lexicon loading: every supported form, every validation error naming file and line, fingerprints."""

from __future__ import annotations

import os

import pytest

import scanner
from scanner.lexicon.load import Lexicon, LexiconError, load_lexicon, load_lexicons


def write(path, text, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_csv_with_optional_columns_and_multiple_categories(tmp_path):
    path = write(tmp_path / "lex.csv", "term,category,language,severity,note\n中国人,A1.1;A1.3,zh,high,x\nsex,A1.6,en,,\n")
    lexicon = load_lexicon(path)
    assert [t.text for t in lexicon.terms] == ["sex", "中国人"]
    assert lexicon.terms[1].categories == {"A1.1", "A1.3"}
    assert lexicon.terms[1].languages == {"zh"}
    assert lexicon.terms_by_category()["A1.3"] == 1
    assert lexicon.version == "sha-" + lexicon.fingerprint[:12]
    assert lexicon.fingerprint == Lexicon("", "", lexicon.terms).fingerprint  # the kept value is the lexicon's own


def test_tsv_and_bom(tmp_path):
    path = write(tmp_path / "lex.tsv", "\ufeffterm\tcategory\n傻逼\tA4.3\n")
    assert [t.text for t in load_lexicon(path).terms] == ["傻逼"]


def test_tsv_terms_may_contain_quotes(tmp_path):
    path = write(tmp_path / "lex.tsv", 'term\tcategory\n"quoted phrase\tA1.8\nsay "no"\tA1.8\n')
    assert sorted(t.text for t in load_lexicon(path).terms) == ['"quoted phrase', 'say "no"']


def test_term_in_several_rows_unites_categories(tmp_path):
    path = write(tmp_path / "lex.csv", "term,category\nsex,A1.6\nsex,A2.5\n")
    (term,) = load_lexicon(path).terms
    assert term.categories == {"A1.6", "A2.5"}


def test_case_variants_of_latin_terms_are_one_term(tmp_path):
    path = write(tmp_path / "lex.csv", "term,category\nFuck,A1.6\nfuck,A4.3\n")
    (term,) = load_lexicon(path).terms
    assert term.text == "Fuck" and term.categories == {"A1.6", "A4.3"}


def test_exact_terms_differing_in_inner_case_stay_distinct(tmp_path):
    path = write(tmp_path / "lex.csv", "term,category\n中A国,A1.6\n中a国,A1.6\n")
    assert len(load_lexicon(path).terms) == 2


def test_directory_of_tables(tmp_path):
    write(tmp_path / "d" / "a.csv", "term,category\nsex,A1.6\n")
    write(tmp_path / "d" / "b.tsv", "term\tcategory\n中国人\tA1.1\n")
    write(tmp_path / "d" / "README.md", "ignored")
    lexicon = load_lexicon(tmp_path / "d")
    assert lexicon.name == "d" and len(lexicon.terms) == 2
    assert [f.terms for f in lexicon.files] == [1, 1]


def test_manifest_with_txt_lists(tmp_path):
    write(tmp_path / "m" / "sexual.txt", "sex\n\nporn\n")
    write(tmp_path / "m" / "insults.txt", "傻逼\n")
    write(
        tmp_path / "m" / "lexicon.toml",
        'name = "demo"\nversion = "2026.1"\n'
        '[[files]]\npath = "sexual.txt"\ncategories = ["A1.6"]\nlanguage = "en"\nlicence = "CC-BY-4.0"\n'
        '[[files]]\npath = "insults.txt"\ncategories = ["A4.3", "A2.9"]\nlanguage = "zh"\n',
    )
    for path in (tmp_path / "m", tmp_path / "m" / "lexicon.toml"):
        lexicon = load_lexicon(path)
        assert (lexicon.name, lexicon.version, len(lexicon.terms)) == ("demo", "2026.1", 3)
        assert lexicon.files[0].licence == "CC-BY-4.0"
        assert {t.text: t.categories for t in lexicon.terms}["傻逼"] == {"A4.3", "A2.9"}


def test_fingerprint_is_order_and_layout_independent(tmp_path):
    a = load_lexicon(write(tmp_path / "a.csv", "term,category\nsex,A1.6\n中国人,A1.1\n"))
    b = load_lexicon(write(tmp_path / "b.tsv", "term\tcategory\tnote\n中国人\tA1.1\tx\nSEX\tA1.6\t\n"))
    c = load_lexicon(write(tmp_path / "c.csv", "term,category\nsex,A1.7\n中国人,A1.1\n"))
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert len(a.fingerprint) == 64


def test_combining_lexicons(tmp_path):
    a = write(tmp_path / "a.csv", "term,category\nsex,A1.6\n")
    b = write(tmp_path / "b.csv", "term,category\nsex,A2.5\nporn,A1.6\n")
    lexicon = load_lexicons([a, b])
    assert len(lexicon.terms) == 2 and lexicon.name == "a+b"
    assert {t.text: t.categories for t in lexicon.terms}["sex"] == {"A1.6", "A2.5"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("term,category\nsex,A9.9\n", r"lex.csv:2: unknown category 'A9.9'"),
        ("term,category\nsex,A1.6\n  ,A1.6\n", r"lex.csv:3: empty term"),
        ("term,category\nsex,\n", r"lex.csv:2: empty category"),
        ("term,category\n\"se\x07x\",A1.6\n", r"lex.csv:2: term .* control character U\+0007"),
        ("term,cat\nsex,A1.6\n", r"lex.csv:1: header lacks column 'category' \(found: term, cat\)"),
        ("", r"lex.csv:1: empty file"),
        (b"term,category\nsex,A1.6\n\xff\xfe,A1.6\n", r"lex.csv:3: not valid UTF-8"),
    ],
    ids=["unknown-category", "empty-term", "empty-category", "control-char", "bad-header", "empty-file", "bad-utf8"],
)
def test_invalid_tables_name_file_and_line(tmp_path, content, message):
    path = write(tmp_path / "lex.csv", content)
    with pytest.raises(LexiconError, match=message):
        load_lexicon(path)


def test_manifest_errors(tmp_path):
    write(tmp_path / "m" / "a.txt", "sex\n")
    manifest = tmp_path / "m" / "lexicon.toml"
    write(manifest, 'name = "x"\n[[files]]\npath = "a.txt"\ncategories = ["A1.6"]\n')
    with pytest.raises(LexiconError, match="no 'version'"):
        load_lexicon(manifest)
    write(manifest, 'name = "x"\nversion = "1"\n[[files]]\npath = "a.txt"\n')
    with pytest.raises(LexiconError, match=r"list 'a.txt' needs 'categories'"):
        load_lexicon(manifest)
    write(manifest, 'name = "x"\nversion = "1"\n[[files]]\npath = "missing.txt"\ncategories = ["A1.6"]\n')
    with pytest.raises(LexiconError, match="missing.txt: cannot read"):
        load_lexicon(manifest)
    write(manifest, 'name = "x"\nversion = "1"\n[[files]]\npath = "a.txt"\ncategories = ["B1"]\n')
    with pytest.raises(LexiconError, match=r"\[\[files\]\] #1: unknown category 'B1'"):
        load_lexicon(manifest)
    write(tmp_path / "m" / "b.txt", "ok\n\x00bad\n")
    write(manifest, 'name = "x"\nversion = "1"\n[[files]]\npath = "b.txt"\ncategories = ["A1.6"]\n')
    with pytest.raises(LexiconError, match=r"b.txt:2: term .* control character U\+0000"):
        load_lexicon(manifest)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without read permission")
def test_unreadable_file(tmp_path):
    path = write(tmp_path / "lex.csv", "term,category\nsex,A1.6\n")
    path.chmod(0)
    with pytest.raises(LexiconError, match="lex.csv: cannot read"):
        load_lexicon(path)


def test_missing_and_unsupported_paths(tmp_path):
    with pytest.raises(LexiconError, match="lexicon not found"):
        load_lexicon(tmp_path / "nope.csv")
    with pytest.raises(LexiconError, match="unsupported lexicon file"):
        load_lexicon(write(tmp_path / "words.txt", "sex\n"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(LexiconError, match="no lexicon.toml and no .csv/.tsv"):
        load_lexicon(tmp_path / "empty")


def test_from_terms_validates():
    with pytest.raises(LexiconError, match="unknown category"):
        scanner.Lexicon.from_terms("x", "1", [("sex", ["Z"])])


def test_bundled_default_lexicon_loads():
    lexicon = load_lexicons()
    assert lexicon.name == "default" and lexicon.version
    assert len(lexicon.terms) > 100
    assert all(t.categories for t in lexicon.terms)
    # Curated: no single-character CJK entries that flag ordinary text.
    assert not [t.text for t in lexicon.terms if len(t.text) == 1 and not t.text.isascii()]
