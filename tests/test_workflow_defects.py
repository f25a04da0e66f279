"""Defects a new user hit doing the filing workflow: misspelt keys, files that vanished without a
record, truncated console lists, library gaps, smaller report and message defects, a registry to start from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from conftest import write_jsonl

import scanner
from scanner.cli import cli
from scanner.cli.common import EXIT_BROKEN_PIPE
from scanner.detect.source import load_registry
from scanner.errors import ConfigError, LexiconError
from scanner.io.readers import Columns


def _scan(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["scan", *args, "--no-langid", "--no-progress", "--tokens", "off"])
    return result.exit_code, result.output


# -- misspelt keys are errors naming the file, the key and the closest known key ------------------


@pytest.mark.parametrize(
    ("text", "key", "closest"),
    [
        ('[[source]]\nname = "a"\ntype = "open-source"\nblocklistd = true\n', "blocklistd", "blocklisted"),
        ('[[source]]\nname = "a"\ntype = "open-source"\nsource = ["x"]\n', "source", "sources"),
        ('[[sourc]]\nname = "a"\ntype = "open-source"\n', "sourc", "source"),
    ],
)
def test_a_misspelt_registry_key_in_toml_is_an_error(tmp_path, text, key, closest):
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"sources.toml.*unknown key '{key}' \(did you mean '{closest}'\?\)"):
        load_registry(path)


def test_a_misspelt_registry_column_in_csv_is_an_error(tmp_path):
    path = tmp_path / "sources.csv"
    path.write_text("name,type,blocklistd\na,open-source,yes\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sources.csv:1 \(header\): unknown key 'blocklistd' \(did you mean 'blocklisted'\?\)"):
        load_registry(path)


def test_a_misspelt_lexicon_manifest_key_is_an_error(tmp_path):
    (tmp_path / "words.txt").write_text("badword\n", encoding="utf-8")
    manifest = tmp_path / "lexicon.toml"
    manifest.write_text('name = "x"\nversoin = "1"\n[[files]]\npath = "words.txt"\ncategories = ["A1.6"]\n', encoding="utf-8")
    with pytest.raises(LexiconError, match=r"lexicon.toml: unknown key 'versoin' \(did you mean 'version'\?\)"):
        scanner.load_lexicon(manifest)
    manifest.write_text('name = "x"\nversion = "1"\n[[files]]\npath = "words.txt"\ncategory = ["A1.6"]\nlicense = "MIT"\nlanguag = "en"\n', encoding="utf-8")
    with pytest.raises(LexiconError, match=r"\[\[files\]\] #1: unknown key 'languag' \(did you mean 'language'\?\)"):
        scanner.load_lexicon(manifest)


def test_a_misspelt_scan_config_key_exits_2_naming_the_closest(tmp_path, sample_dir):
    config = tmp_path / "scan.toml"
    config.write_text(f'inputs = ["{sample_dir}"]\nout = "{tmp_path / "out"}"\nworker = 2\n', encoding="utf-8")
    code, output = _scan(tmp_path, "-c", str(config))
    assert code == 2 and "scan.toml: unknown key 'worker' (did you mean 'workers'?)" in output
    assert not (tmp_path / "out").exists()
    config.write_text(f'inputs = ["{sample_dir}"]\nout = "{tmp_path / "out"}"\nworkers = "four"\n', encoding="utf-8")
    code, output = _scan(tmp_path, "-c", str(config))
    assert code == 2 and "scan.toml: workers = 'four':" in output  # a wrong type names the file and the key too
    assert not (tmp_path / "out").exists()


def test_a_scan_config_file_takes_every_option_and_flags_override_it(tmp_path, sample_dir):
    config = tmp_path / "scan.toml"
    config.write_text(f'inputs = ["{sample_dir}"]\nout = "{tmp_path / "out"}"\nannotate = true\nsample-size = 5\nno-langid = true\n', encoding="utf-8")
    code, output = _scan(tmp_path, "-c", str(config), "--sample-size", "3")
    assert code == 0, output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["options"]["sample"]["size"] == 3 and report["human_sample"]["size"] == 3
    assert list((tmp_path / "out" / "annotations").glob("*.parquet"))


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, sample_dir):
    code, output = _scan(tmp_path, str(sample_dir), "--out", str(tmp_path / "out"), "--dry-run")
    assert code == 0, output
    plan = json.loads(output)
    assert plan["units"] == 3 and plan["files"] == 3 and len(plan["options_digest"]) == 16 and len(plan["lexicon"]["fingerprint"]) == 64
    assert not (tmp_path / "out").exists()


# -- every file found in an input folder is scanned or listed as skipped -----------------------------


def test_files_of_an_input_folder_that_are_not_shards_are_listed_as_skipped(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [{"text": "hello"}])
    write_jsonl(folder / "b.json", [{"text": "a JSON Lines file named .json"}])
    (folder / "config.json").write_text('{\n  "vocab_size": 3\n}\n', encoding="utf-8")
    (folder / "extra.csv").write_text("text\nhello\n", encoding="utf-8")
    (folder / "README.md").write_text("# data\n", encoding="utf-8")
    code, output = _scan(tmp_path, str(folder), "--out", str(tmp_path / "out"))
    assert code == 0, output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    skipped = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert set(skipped) == {"config.json", "extra.csv", "README.md"}
    assert "not JSON Lines" in skipped["config.json"] and "unsupported file type" in skipped["extra.csv"]
    assert report["totals"]["documents"] == 2 and not report["errors"]
    assert "3 files skipped" in output


# -- the console summary says when it cuts a list, and names offenders of failures only ----------


def test_the_console_summary_says_how_many_offenders_it_left_out(tmp_path):
    rows = [{"text": "bad word here" if i % 12 < 6 else "clean", "source": f"s{i % 12:02d}"} for i in range(96)]
    write_jsonl(tmp_path / "in.jsonl", rows)
    lexicon = tmp_path / "lex.csv"
    lexicon.write_text("term,category\nbad word,A1.6\n", encoding="utf-8")
    code, output = _scan(tmp_path, str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "out"), "--lexicon", str(lexicon))
    assert code == 0, output
    line = next(line for line in output.splitlines() if line.strip().startswith("source-unsafe-share"))
    assert "fail" in line and "(s00, s01, s02, s03, s04 and 1 more)" in line  # six sources fail
    human = next(line for line in output.splitlines() if line.strip().startswith("human-spot-check"))
    assert "(" not in human  # not-assessed: no offenders printed


# -- library and pipeline gaps ------------------------------------------------------------------


def test_scan_options_take_no_registry_or_a_registry_path(tmp_path):
    assert not scanner.ScanOptions(registry=None).registry
    path = tmp_path / "sources.toml"
    path.write_text('[[source]]\nname = "news"\ntype = "open-source"\nlicence = "CC-BY-4.0"\nsources = ["n"]\n', encoding="utf-8")
    options = scanner.ScanOptions(registry=str(path), langid=False, columns=Columns(source="site"))
    assert options.registry == scanner.load_registry(path)
    out = scanner.Scanner(scanner.Lexicon.from_terms("t", "1", [("x", ["A1.6"])]), options).annotate(pa.table({"text": ["a"], "site": ["n"]}))
    assert out["source"].to_pylist() == ["news"]


def test_the_cleaning_job_reads_every_input_format_and_takes_a_registry(tmp_path):
    from pipelines.clean_job import clean

    write_jsonl(tmp_path / "a.jsonl", [{"text": "bad word", "source": "n"}, {"text": "fine", "source": "n", "extra": 1}])
    registry = tmp_path / "sources.toml"
    registry.write_text('[[source]]\nname = "news"\ntype = "open-source"\nlicence = "CC-BY-4.0"\nsources = ["n"]\n', encoding="utf-8")
    lexicon = tmp_path / "lex.csv"
    lexicon.write_text("term,category\nbad word,A1.6\n", encoding="utf-8")
    report = clean([str(tmp_path / "a.jsonl")], tmp_path / "clean", [lexicon], registry)
    (kept,) = (tmp_path / "clean" / "data").glob("*.jsonl")
    assert [json.loads(line) for line in kept.read_text(encoding="utf-8").splitlines()] == [{"text": "fine", "source": "n", "extra": 1, "language": "en"}]
    assert report["totals"]["documents"] == 2 and report["by_source"]["news"]["registered"]
    check = next(c for c in report["checks"] if c["id"] == "source-traceability")
    assert check["status"] == "pass"


# -- a registry to start from ----------------------------------------------------------------------


def test_sources_init_writes_a_registry_template_of_every_source_found(tmp_path):
    write_jsonl(tmp_path / "forum.jsonl", [{"text": "hello"}, {"text": "world"}])
    write_jsonl(tmp_path / "web.jsonl", [{"text": "a page", "url": "https://news.example.cn/a"}, {"text": "b", "source": "wiki-dump"}])
    out = tmp_path / "out"
    assert _scan(tmp_path, str(tmp_path / "forum.jsonl"), str(tmp_path / "web.jsonl"), "--out", str(out))[0] == 0
    result = CliRunner().invoke(cli, ["sources", "init", str(out), "-o", str(tmp_path / "sources.toml")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "sources.toml").read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match="type ''"):  # the template must be filled in before use
        load_registry(tmp_path / "sources.toml")
    filled = text.replace('type = ""', 'type = "open-source"').replace('licence = ""', 'licence = "CC-BY-4.0"')
    (tmp_path / "sources.toml").write_text(filled, encoding="utf-8")
    registry = load_registry(tmp_path / "sources.toml")
    assert {e.name for e in registry.entries} == {"forum", "news.example.cn", "wiki-dump"}
    assert registry.by_name()["news.example.cn"].origin == "domestic" and registry.by_name()["news.example.cn"].domains == ("news.example.cn",)
    assert "# 2 documents" in text
    rescan = _scan(tmp_path, str(tmp_path / "forum.jsonl"), str(tmp_path / "web.jsonl"), "--out", str(tmp_path / "out2"), "--sources", str(tmp_path / "sources.toml"))
    assert rescan[0] == 0, rescan[1]
    report = json.loads((tmp_path / "out2" / "report.json").read_text())
    assert all(s["registered"] for s in report["by_source"].values()) and set(report["by_source"]) == {"forum", "news.example.cn", "wiki-dump"}
    again = CliRunner().invoke(cli, ["sources", "init", str(out), "-o", str(tmp_path / "sources.toml")])
    assert again.exit_code == 2 and "exists; pass --force" in again.output


# -- the audit judges terms by what normalisation makes of them ------------------------------------


def test_the_audit_lists_terms_that_normalisation_makes_common_and_says_which_step(tmp_path):
    path = tmp_path / "lex.csv"
    path.write_text("term,category\n㊣,A1.8\n政府,A1.1\nｐｏｒｎ,A1.6\nporn,A1.6\n\u200b\u200c,A1.6\n傻逼,A4.3\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["lexicon", "audit", str(path), "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)["normalized"]
    assert found["single_character"] == [{"term": "㊣", "form": "正", "steps": ["nfkc"]}]
    assert {(f["term"], tuple(f["steps"])) for f in found["common_word"]} >= {("政府", ()), ("ｐｏｒｎ", ("nfkc",))}
    assert found["same_form"] == [{"form": "porn", "terms": ["porn", "ｐｏｒｎ"], "steps": ["nfkc"]}]
    assert found["empty"] == [{"term": "\u200b\u200c", "steps": ["invisible"]}]
    plain = CliRunner().invoke(cli, ["lexicon", "audit", str(path), "--normalize", "none", "--json"])
    assert json.loads(plain.output)["normalized"]["single_character"] == [{"term": "㊣", "form": "㊣", "steps": []}]  # a rare character as written
    text = CliRunner().invoke(cli, ["lexicon", "audit", str(path)]).output
    assert "'㊣' -> '正' via nfkc" in text


# -- smaller defects ---------------------------------------------------------------------------------


def test_a_plain_word_list_given_as_a_lexicon_points_to_lexicon_import(tmp_path, sample_dir):
    (tmp_path / "words.txt").write_text("badword\n", encoding="utf-8")
    code, output = _scan(tmp_path, str(sample_dir), "--out", str(tmp_path / "out"), "--lexicon", str(tmp_path / "words.txt"))
    assert code == 2 and "scanner lexicon import" in output


def test_a_shard_error_names_the_file_once_on_the_console(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"body": "no text field"}])
    code, output = _scan(tmp_path, str(tmp_path / "a.jsonl"), "--out", str(tmp_path / "out"), "--text-column", "text", "--id-column", "doc")
    error = next(line for line in output.splitlines() if line.startswith("error:"))
    assert error.count("a.jsonl") == 1, error


def test_rare_languages_fold_into_other_in_the_views_but_not_in_report_json(tmp_path):
    rows = [{"text": "This is an ordinary English sentence about the weather today.", "source": "web"} for _ in range(2000)]
    rows.append({"text": "Dies ist ein ganz gewöhnlicher deutscher Satz über das Wetter.", "source": "web"})
    write_jsonl(tmp_path / "in.jsonl", rows)
    result = CliRunner().invoke(cli, ["scan", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "out"), "--no-progress", "--tokens", "off", "--report-lang", "en"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["by_language"]["de"]["documents"] == 1
    markdown = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "| other languages (1) | 1 |" in markdown and "| de |" not in markdown
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    matrix = html[html.index('id="matrix"') :].split("</table>")[0]
    assert ">de<" not in matrix and "other languages" in matrix


def test_the_chinese_html_report_has_no_english_lint_sentence(tmp_path, sample_dir):
    path = tmp_path / "lex.csv"
    path.write_text("term,category\n性,A1.6\n傻逼,A4.3\n", encoding="utf-8")
    assert _scan(tmp_path, str(sample_dir), "--out", str(tmp_path / "out"), "--lexicon", str(path))[0] == 0
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "single-character CJK terms" not in html and "单字中文词条" in html


def test_lexicon_import_stops_at_a_bad_line_or_skips_and_lists_bad_lines(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("赌博网站\n2kshr7b\x16yrwq\n\n代开发票\n=cmd\n", encoding="utf-8")
    out = tmp_path / "lexicon.tsv"
    runner = CliRunner()
    stopped = runner.invoke(cli, ["lexicon", "import", str(words), "--category", "A1.8", "-o", str(out)])
    assert stopped.exit_code == 2 and f"{words}:2" in stopped.output and "U+0016" in stopped.output and not out.exists()
    skipped = runner.invoke(cli, ["lexicon", "import", str(words), "--category", "A1.8", "-o", str(out), "--skip-bad-lines"])
    assert skipped.exit_code == 0, skipped.output
    assert "wrote 2 terms" in skipped.output and "skipped 2 bad lines" in skipped.output
    assert f"{words}:2" in skipped.output and f"{words}:5" in skipped.output
    assert sorted(t.text for t in scanner.load_lexicon(out).terms) == ["代开发票", "赌博网站"]


def test_lexicon_import_skips_comments_and_with_skip_bad_lines_undecodable_lines(tmp_path):
    words = tmp_path / "words.txt"
    words.write_bytes("# a list of gambling terms\n赌博网站\n#\n#赌球\n".encode() + b"\xff\xfe bad\n" + "代开发票\n".encode())
    out = tmp_path / "lexicon.tsv"
    runner = CliRunner()
    stopped = runner.invoke(cli, ["lexicon", "import", str(words), "--category", "A1.8", "-o", str(out)])
    assert stopped.exit_code == 2 and f"{words}:5: not valid UTF-8" in stopped.output and not out.exists()
    skipped = runner.invoke(cli, ["lexicon", "import", str(words), "--category", "A1.8", "-o", str(out), "--skip-bad-lines"])
    assert skipped.exit_code == 0, skipped.output
    assert "skipped 1 bad line:" in skipped.output and f"{words}:5: not valid UTF-8" in skipped.output
    assert sorted(t.text for t in scanner.load_lexicon(out).terms) == ["#赌球", "代开发票", "赌博网站"]  # '# ...' is a comment, '#tag' a term


def test_the_cleaning_job_drops_unsafe_or_flagged_and_refuses_another_scans_folder(tmp_path):
    from pipelines.clean_job import clean

    rows = [{"id": "1", "text": "冰毒 和 大麻 都是毒品"}, {"id": "2", "text": "新闻里提到冰毒"}, {"id": "3", "text": "今天天气很好"}]
    write_jsonl(tmp_path / "a.jsonl", rows)
    lexicon = tmp_path / "lex.tsv"
    lexicon.write_text("term\tcategory\tseverity\n冰毒\tA1.8\tmedium\n大麻\tA1.8\tmedium\n", encoding="utf-8")

    def kept(out):
        (data,) = (out / "data").glob("*.jsonl")
        return [json.loads(line)["id"] for line in data.read_text(encoding="utf-8").splitlines()]

    report = clean([str(tmp_path / "a.jsonl")], tmp_path / "unsafe", [lexicon])
    assert kept(tmp_path / "unsafe") == ["2", "3"] and report["totals"]["unsafe_documents"] == 1  # two medium terms close together
    report = clean([str(tmp_path / "a.jsonl")], tmp_path / "flagged", [lexicon], drop="flagged")
    assert kept(tmp_path / "flagged") == ["3"] and report["totals"]["flagged_documents"] == 2
    other = tmp_path / "other.tsv"
    other.write_text("term\tcategory\n天气\tA1.8\n", encoding="utf-8")
    before = {p: p.read_bytes() for p in (tmp_path / "unsafe").rglob("*") if p.is_file()}
    with pytest.raises(ConfigError, match="was made with another lexicon"):
        clean([str(tmp_path / "a.jsonl")], tmp_path / "unsafe", [other])
    assert {p: p.read_bytes() for p in (tmp_path / "unsafe").rglob("*") if p.is_file()} == before


def test_a_reader_that_quits_early_ends_the_command_quietly_with_its_work_kept(tmp_path, sample_dir):
    """`scanner scan ... | head`: the summary goes to a closed pipe; the outputs are there, no traceback, exit 141."""
    command = [sys.executable, "-m", "scanner", "scan", str(sample_dir), "--out", str(tmp_path / "out"), "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before the first line
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == EXIT_BROKEN_PIPE, stderr.decode()
    assert b"Traceback" not in stderr and b"BrokenPipeError" not in stderr
    assert json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))["totals"]["documents"] > 0
