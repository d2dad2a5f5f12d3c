"""`rag serve` as clients use it: the official openai client, LangChain's ChatOpenAI, plain HTTP for the REST
API and keys, and an MCP client session over stdio. The server runs in a subprocess on a free port, over a
temporary copy of the seeds and their index, so nothing is written into the repository."""
from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import knowledge_base


pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
KEY = "test-key-7f3a9c"
MODEL = "rag-knowledge-base"
QUESTION = "起步区2024年固定资产投资目标是多少"
SOURCE = "003_400c03503814481d.txt"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    seeds_index = request.getfixturevalue("seeds_index")
    root = tmp_path_factory.mktemp("server")
    corpus, index = knowledge_base(root, seeds_index)
    port = _free_port()
    log = open(root / "server.log", "w")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "RAG_API_KEY": KEY}
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port), "--index", str(index),
                             "--corpus", str(corpus)], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/", timeout=5):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail((root / "server.log").read_text("utf-8", "replace")[-3000:])
            time.sleep(0.3)
    yield SimpleNamespace(url=url, index=str(index), corpus=corpus)
    proc.terminate()
    proc.wait(30)


def call(server, method: str, path: str, body: dict | None = None, key: str | None = KEY, data: bytes | None = None,
         content_type: str = "application/json") -> tuple[int, dict | list]:
    headers = {"Content-Type": content_type} if (body is not None or data is not None) else {}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    payload = json.dumps(body).encode() if body is not None else data
    req = urllib.request.Request(server.url + path, data=payload, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_the_openai_client_gets_the_answer_with_its_sources(server):
    from openai import OpenAI

    client = OpenAI(base_url=server.url + "/v1", api_key=KEY)
    assert MODEL in [m.id for m in client.models.list()]
    resp = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": QUESTION}])
    content = resp.choices[0].message.content
    assert "50%" in content and "来源" in content and "起步区" in content.split("来源")[1]
    assert any(c["source"] == SOURCE and c["quote"] for c in resp.model_extra["citations"])

    streamed = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": QUESTION}],
                                              stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in streamed)
    assert "50%" in text and "起步区" in text.split("来源")[1]

    # The earlier user messages are the history: a follow-up is completed from them.
    resp = client.chat.completions.create(model=MODEL, messages=[
        {"role": "user", "content": "历城区2024年地区生产总值增长目标是多少？"},
        {"role": "assistant", "content": "地区生产总值增长6%[1]"},
        {"role": "user", "content": "那市中区呢？"}])
    assert "6%" in resp.choices[0].message.content and resp.model_extra["standalone"].startswith("市中区2024年")


def test_langchain_chatopenai_gets_the_same_answer(server):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=server.url + "/v1", api_key=KEY, model=MODEL, max_retries=0)
    assert "50%" in llm.invoke(QUESTION).content


def test_keys_are_required(server):
    assert call(server, "GET", "/v1/models", key=None)[0] == 401
    assert call(server, "GET", "/api/search?q=GDP", key="wrong")[0] == 401
    status, hits = call(server, "GET", "/api/search?q=" + urllib.parse.quote(QUESTION) + "&k=3")
    assert status == 200 and len(hits) == 3 and hits[0]["source"] == SOURCE


def test_a_bad_question_is_a_400_with_a_message(server):
    status, body = call(server, "POST", "/api/ask", {"question": "问" * 2001})
    assert status == 400 and "2000" in body["error"]["message"]
    status, body = call(server, "POST", "/v1/chat/completions",
                        {"model": MODEL, "messages": [{"role": "user", "content": "问" * 2001}]})
    assert status == 400 and "2000" in body["error"]["message"]
    status, body = call(server, "POST", "/api/ask", {"question": QUESTION, "top_k": 3})
    assert status == 200 and "50%" in body["answer"] and len(body["citations"]) == 3


def _multipart(name: str, content: bytes) -> tuple[bytes, str]:
    boundary = "----ragtest"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
            f"Content-Type: text/plain\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_documents_are_listed_uploaded_and_deleted_with_the_pages_checks(server):
    status, docs = call(server, "GET", "/api/documents")
    assert status == 200 and SOURCE in [d["source"] for d in docs]
    for bad in ("../escape.txt", "a/b.txt", "..\\x.txt"):
        data, kind = _multipart(bad, "丙县预算。".encode())
        status, body = call(server, "POST", "/api/documents", data=data, content_type=kind)
        assert status == 400, bad
    assert not (server.corpus.parent / "escape.txt").exists()
    data, kind = _multipart("丙县公告.txt", "# 丙县2024年预算公告\n\n丙县2024年一般公共预算支出安排8765万元。\n".encode())
    status, body = call(server, "POST", "/api/documents", data=data, content_type=kind)
    assert status == 200 and body["saved"] == ["丙县公告.txt"] and body["documents"] == 6
    status, body = call(server, "POST", "/api/ask", {"question": "丙县2024年一般公共预算支出是多少"})
    assert "8765" in body["answer"]
    status, body = call(server, "DELETE", "/api/documents/" + urllib.parse.quote("丙县公告.txt"))
    assert status == 200 and body["documents"] == 5 and not (server.corpus / "丙县公告.txt").exists()


def test_an_mcp_client_lists_the_tools_and_searches(server):
    from mcp import ClientSession, StdioServerParameters, stdio_client

    async def session() -> tuple[set[str], str]:
        params = StdioServerParameters(command=sys.executable, args=["-m", "rag.cli", "mcp", "--index", server.index],
                                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as s:
                await s.initialize()
                tools = {t.name for t in (await s.list_tools()).tools}
                result = await s.call_tool("search_documents", {"query": QUESTION, "k": 3})
                return tools, json.dumps([c.model_dump() for c in result.content], ensure_ascii=False)

    tools, found = asyncio.run(session())
    assert tools == {"search_documents", "ask"} and SOURCE in found and "固定资产投资增长50%" in found


def test_import_rag_pulls_in_no_web_framework():
    code = "import rag, sys; assert 'gradio' not in sys.modules and 'fastapi' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
