"""The index on Milvus: Milvus Lite (`tmp_path/"idx.db"`) and a Milvus server reached by URI (`milvus-lite
server` on a free loopback port), with the real seeds and model. Each Milvus index starts from the session's
seeds vectors (put in its embedding checkpoint), so building it embeds nothing that was embedded before."""
from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, SEEDS, kill_midway, slow_build
from rag import Settings, ask, build_index, checkpoint, milvus
from rag.embeddings import get_embeddings
from rag.store import load_index, read_manifest, state_folder

pytestmark = pytest.mark.integration

QUESTION = "起步区2024年固定资产投资目标是多少"
SOURCE = "003_400c03503814481d.txt"
NO_CORPUS = "no-such-corpus"  # ask() must answer from the index as it is, never rebuild it from seeds


def seeded(location: str, seeds_index: str) -> None:
    """Put the session's seeds vectors in the location's embedding checkpoint."""
    idx = load_index(seeds_index)
    emb = get_embeddings()
    checkpoint.append(state_folder(location), emb.model_id, emb.dim, [c.id for c in idx.chunks], idx.vectors.vectors())


def copy_seeds(root: Path) -> Path:
    corpus = root / "corpus"
    shutil.copytree(SEEDS, corpus, ignore=shutil.ignore_patterns("README*"))
    return corpus


def dev_questions(n: int) -> list[str]:
    lines = (ROOT / "eval" / "dev.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines[:n]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_seeds_on_milvus_lite_answer_as_the_folder_index(tmp_path, seeds_index):
    corpus = copy_seeds(tmp_path)
    db = str(tmp_path / "idx.db")
    seeded(db, seeds_index)
    s = Settings(corpus=NO_CORPUS)
    try:
        stats = build_index([str(corpus)], index=db, settings=s)
        assert stats.embedded == 0 and stats.chunks == len(load_index(seeds_index).chunks)
        a = ask(QUESTION, index=db, settings=s)
        assert "固定资产投资增长50%" in a.answer and a.citations[0].source == SOURCE
        for q in dev_questions(25):  # our own fusion over Milvus's candidates: the folder index's answers
            here, there = ask(q, index=db, settings=s), ask(q, index=seeds_index, settings=s)
            assert (here.answer, [c.source for c in here.citations]) == (there.answer, [c.source for c in there.citations]), q

        # Editing a file re-embeds only its changed chunks.
        edited = corpus / "004_ef7e7b1f7dc22885.txt"
        edited.write_text(edited.read_text("utf-8") + "\n\n六、新增项目\n\n市中区2025年计划新建口袋公园31处。\n", "utf-8")
        stats = build_index([str(corpus)], index=db, settings=s)
        assert 0 < stats.embedded <= stats.per_document[edited.name]["chunks"] and stats.reused >= 180
        assert "31处" in ask("市中区2025年计划新建口袋公园多少处", index=db, settings=s).answer

        # Deleting a file removes its chunks; old generations go.
        (corpus / "000_b0255db324f54625.txt").unlink()
        build_index([str(corpus)], index=db, settings=s)
        idx = load_index(db, s)
        assert "000_b0255db324f54625.txt" not in idx.manifest["documents"]
        assert not [c for c in idx.chunks if c.source.startswith("000_")] and len(idx.chunks) == idx.manifest["chunks"]
        store = milvus.store_at(db)
        generations = [n for n in store.client.list_collections() if n.startswith(store.name + "_g")]
        assert len(generations) <= milvus.KEEP
    finally:
        milvus.close(db)


KILLABLE = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from conftest import FakeEmbeddings
from rag.embeddings import register_embeddings
from rag import milvus
from rag.cli import main

put_blob = milvus.MilvusStore._put_blob


def slow_put_blob(self, *args):
    Path({marker!r}).touch()  # the new generation's rows are in: its blobs are being written
    time.sleep(0.3)
    put_blob(self, *args)


milvus.MilvusStore._put_blob = slow_put_blob
"""


def test_sigkill_mid_milvus_reindex_leaves_the_index_answering(tiny_corpus, fake_settings, tmp_path):
    db = str(tmp_path / "idx.db")
    build_index([tiny_corpus], index=db, settings=fake_settings)
    milvus.close(db)  # Milvus Lite serves one process: the killed builds open it themselves
    for i in range(40):
        (tiny_corpus / f"n{i}.txt").write_text(f"# 新文件{i}\n\n第{i}号新区2024年新建道路{i}条。" * 3, "utf-8")
    script, writing = tmp_path / "killable.py", tmp_path / "writing"
    script.write_text(KILLABLE.format(tests=str(ROOT / "tests"), marker=str(writing)) + slow_build(), "utf-8")
    cmd = [sys.executable, str(script), "index", str(tiny_corpus), "--index", db]
    env = {**os.environ, "RAG_EMBED_BATCH": "1"}
    reader = fake_settings.replace(corpus=NO_CORPUS)
    rng = random.Random(11)
    for when in [rng.uniform(0.5, 4.0) for _ in range(3)] + ["writing", "writing"]:
        kill_midway(cmd, env, writing, when, rng, pause=0.5)
        try:
            idx = load_index(db, reader)
            assert len(idx.chunks) == idx.manifest["chunks"]
            a = ask("甲市2024年地区生产总值增长多少", index=db, settings=reader)
            assert a.found and "6%" in a.answer
        finally:
            milvus.close(db)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    try:
        assert "n39.txt" in read_manifest(db)["documents"]
        store = milvus.store_at(db)
        assert len([n for n in store.client.list_collections() if n.startswith(store.name + "_g")]) <= milvus.KEEP
    finally:
        milvus.close(db)


@pytest.fixture
def milvus_server(tmp_path, monkeypatch):
    """`milvus-lite server` on a free loopback port; its URI. Killed at teardown."""
    exe = Path(sys.executable).with_name("milvus-lite")
    assert exe.exists(), "milvus-lite is not installed: pip install -e '.[dev]'"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the build's local state, out of $HOME
    port = free_port()
    log = open(tmp_path / "milvus.log", "w")
    proc = subprocess.Popen([str(exe), "server", "--data-dir", str(tmp_path / "milvus"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "milvus.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "milvus-lite server did not start within 60 s"
                time.sleep(0.2)
        yield uri
    finally:
        milvus.close(uri)
        proc.kill()
        proc.wait(30)
        log.close()


def _serve(root: Path, name: str, uri: str, corpus: Path, key: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(root / f"{name}.log", "w")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "RAG_API_KEY": key}
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port), "--index", uri,
                             "--corpus", str(corpus)], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    return proc, f"http://127.0.0.1:{port}"


def _call(url: str, key: str, path: str, body: dict | None = None, data: bytes | None = None,
          content_type: str = "application/json") -> dict:
    payload = json.dumps(body).encode() if body is not None else data
    req = urllib.request.Request(url + path, data=payload, method="POST" if payload else "GET",
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read())


def _wait(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=5):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(log.read_text("utf-8", "replace")[-3000:])
            time.sleep(0.3)


def test_two_servers_share_one_milvus_server_by_uri(tmp_path, seeds_index, milvus_server):
    corpus = copy_seeds(tmp_path)
    seeded(milvus_server, seeds_index)
    s = Settings(corpus=NO_CORPUS)
    assert build_index([str(corpus)], index=milvus_server, settings=s).embedded == 0
    a = ask(QUESTION, index=milvus_server, settings=s)
    assert "固定资产投资增长50%" in a.answer and a.citations[0].source == SOURCE

    key = "milvus-test-key"
    servers = [_serve(tmp_path, name, milvus_server, corpus, key) for name in ("a", "b")]
    try:
        for (proc, url), name in zip(servers, ("a", "b")):
            _wait(proc, url, tmp_path / f"{name}.log")
        (_, first), (_, second) = servers
        assert "50%" in _call(second, key, "/api/ask", {"question": QUESTION})["answer"]
        boundary = "----rag-test"
        text = "# 丙县2025年预算公告\n\n丙县2025年一般公共预算支出安排9876万元。\n".encode()
        data = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"bing.txt\"\r\n"
                f"Content-Type: text/plain\r\n\r\n").encode() + text + f"\r\n--{boundary}--\r\n".encode()
        saved = _call(first, key, "/api/documents", data=data, content_type=f"multipart/form-data; boundary={boundary}")
        assert saved["saved"] == ["bing.txt"]
        # The other server was never told: it finds the new generation in Milvus at its next question.
        assert "9876" in _call(second, key, "/api/ask", {"question": "丙县2025年一般公共预算支出是多少"})["answer"]
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait(30)
