"""Shared fixtures: tiny lexicons and corpora written into tmp_path (only test_filing also reads ../shared, when present)."""

from __future__ import annotations

import json
import os
import random
import re
import socket
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import scanner
from scanner.io.cache import CACHE_ENV

REPO = Path(__file__).resolve().parents[1]


def make_lexicon(*pairs: tuple[str, str]) -> scanner.Lexicon:
    """Lexicon from (term, category-codes) pairs, e.g. ``("中国", "A1.1;A1.2")``."""
    return scanner.Lexicon.from_terms("test", "1", [(t, c.split(";")) for t, c in pairs])


@pytest.fixture
def sample_dir() -> Path:
    return REPO / "examples" / "sample"


TERMS = ["傻逼", "中国人", "sex", "porn"]
FILLER = ["今天天气很好我们去公园散步市场反应平稳新的货币政策报告发布了", "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "and", "learns", "class"]


def synthetic_rows(count: int, doc_chars: int = 400, seed: int = 0) -> list[dict]:
    """Deterministic documents of about ``doc_chars`` characters; some hold lexicon terms, some are empty."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        words = [rng.choice(FILLER) for _ in range(doc_chars // 12)]
        if i % 7 == 0:
            words.insert(rng.randrange(len(words)), rng.choice(TERMS))
        text = None if i % 97 == 0 else ("" if i % 89 == 0 else " ".join(words))
        rows.append({"id": f"doc-{seed}-{i}", "text": text, "source": ["news", "forum", "web"][i % 3]})
    return rows


def write_parquet(path: Path, rows: list[dict], row_group_rows: int) -> Path:
    """Rows as a zstd Parquet file with row groups of ``row_group_rows`` rows."""
    schema = pa.schema([("id", pa.string()), ("text", pa.string()), ("source", pa.string())])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, row_group_size=row_group_rows, compression="zstd")
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory) -> Path:
    """The compiled-artefact cache (``scanner.io.cache``) of every test and the processes it starts: a
    temporary folder, not the user's ~/.cache."""
    folder = tmp_path_factory.mktemp("cache")
    os.environ[CACHE_ENV] = str(folder)
    return folder


@pytest.fixture(scope="session")
def lexicon_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lexicon") / "tiny.csv"
    path.write_text("term,category\nsex,A1.6\nporn,A1.6\n中国人,A1.1;A1.3\n傻逼,A4.3\n", encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """A moto S3 server on 127.0.0.1 for the whole session; the AWS_* variables point pyarrow.fs
    (and every worker process or Ray worker started later) at it. Stopped at the end."""
    moto_server = pytest.importorskip("moto.server")
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def s3_bucket(s3_endpoint, request) -> str:
    """A fresh bucket on the test server; returns ``s3://<bucket>``."""
    import pyarrow.fs as pafs

    name = "t-" + re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + f"-{free_port()}"
    fs = pafs.S3FileSystem(endpoint_override=s3_endpoint, scheme="http", access_key="testing", secret_key="testing", region="us-east-1", allow_bucket_creation=True)
    fs.create_dir(name)
    return f"s3://{name}"


def upload(local: Path, uri: str) -> None:
    """Copy a local folder to ``uri`` (on the test S3 server)."""
    import pyarrow.fs as pafs

    from scanner.io import storage

    fs, path = storage.resolve(uri)
    pafs.copy_files(str(local), path, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)


@pytest.fixture(scope="session")
def ray_local(s3_endpoint):
    """A local Ray with 2 CPUs for the session (started after the S3 server, so its workers see it)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 << 20, logging_level="WARNING")
    try:
        yield ray
    finally:
        ray.shutdown()


def without_timing(report: dict) -> dict:
    """A report without ``provenance`` (command lines and start/finish times): the only fields that
    differ between equivalent runs (1 or 2 workers, Ray or local, resumed or not)."""
    return {k: v for k, v in report.items() if k != "provenance"}


def without_locations(report: dict) -> dict:
    """``without_timing``, and without where the inputs are (paths name the disk or the bucket, and
    error messages quote them)."""
    report = without_timing(report)
    inputs = [{k: v for k, v in i.items() if k != "path"} for i in report["inputs"]]
    shards = [{k: v for k, v in s.items() if k not in ("path", "errors")} for s in report["shards"]]
    return {k: v for k, v in report.items() if k != "errors"} | {"inputs": inputs, "shards": shards}


@pytest.fixture(scope="module", params=["windows", "spellings"])
def t2s_mode(request):
    """Run a module's tests twice: with ``t2s`` covered by windows around Traditional characters,
    and by Traditional spellings of the terms (``scanner.match.matcher`` picks one per column by the
    share of Traditional characters; small test documents would nearly always pick spellings)."""
    import scanner.match.matcher

    saved = scanner.match.matcher.T2S_WINDOWS_MAX_SHARE
    scanner.match.matcher.T2S_WINDOWS_MAX_SHARE = 2.0 if request.param == "windows" else -1.0
    yield request.param
    scanner.match.matcher.T2S_WINDOWS_MAX_SHARE = saved
