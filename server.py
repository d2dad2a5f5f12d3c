"""`rag serve`: one web server on one port (FastAPI + uvicorn): the chat page (ui.py) at "/", an
OpenAI-compatible chat endpoint at /v1, a REST API at /api (docs at /docs); and `rag mcp`, the same search and
answers for agents over MCP (stdio).

The page is served in Chinese whatever the browser's language: Gradio picks its built-in strings from
navigator.language, so the page's HTML reports zh-CN before Gradio starts. The port is checked first, so a
taken one is one line naming --port, not a traceback."""
from __future__ import annotations

import errno
import hmac
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from typing import Iterator

from fastapi import APIRouter, Depends, FastAPI, File, Header, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from rag import Answer, Settings, ask, search, stream_ask
from rag import corpus as kb
from rag.errors import BadQuestion, BadUpload, DocumentNotFound, IndexMissing, NotManaged, RagError

MODEL = "rag-knowledge-base"  # the knowledge base, as /v1/models names it
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
LOCALE = (b"<script>Object.defineProperty(navigator,'language',{get:()=>'zh-CN'});"
          b"Object.defineProperty(navigator,'languages',{get:()=>['zh-CN','zh']});</script>")


class PortInUse(OSError):
    """The port is taken by another program."""


def check_port(host: str, port: int) -> None:
    """Raise PortInUse when nothing can listen on host:port."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise PortInUse(f"端口 {port} 已被占用（port {port} is in use）：用 --port 或 GRADIO_SERVER_PORT 换一个端口") from exc
            raise


def chinese_pages(app: FastAPI) -> None:
    """Make every HTML page the app serves start with the zh-CN locale script."""

    @app.middleware("http")
    async def zh_cn(request: Request, call_next):
        resp = await call_next(request)
        if request.method == "GET" and resp.headers.get("content-type", "").startswith("text/html"):
            body = b"".join([chunk async for chunk in resp.body_iterator])
            headers = {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}
            return Response(body.replace(b"<head>", b"<head>" + LOCALE, 1), resp.status_code, headers)
        return resp


# --- the API -------------------------------------------------------------------------------------------------

class Message(BaseModel):
    role: str
    content: str | list[dict] | None = ""


class ChatRequest(BaseModel):
    model: str = MODEL
    messages: list[Message]
    stream: bool = False
    top_k: int = Field(5, ge=1, le=20)


class AskRequest(BaseModel):
    question: str
    history: list[str] = []  # earlier questions, oldest first
    top_k: int = Field(5, ge=1, le=20)


def text_of(m: Message) -> str:
    """A message's text (OpenAI clients may send a list of parts)."""
    if isinstance(m.content, list):
        return "".join(p.get("text", "") for p in m.content if isinstance(p, dict))
    return m.content or ""


def with_sources(a: Answer) -> str:
    """The answer with a short 来源 list, for clients that show only the message content."""
    if not a.found:
        return a.answer
    lines = [f"[{c.n}] {c.title} › {c.section or '正文'}" + (f"（第{c.page}页）" if c.page else "")
             for c in a.citations if c.quote]
    return a.answer + ("\n\n来源：\n" + "\n".join(lines) if lines else "")


def completion(a: Answer, model: str) -> dict:
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": {"role": "assistant", "content": with_sources(a)},
                                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": [c.to_dict() for c in a.citations], "standalone": a.standalone or a.question}


def chunk_event(cid: str, model: str, delta: dict, finish: str | None = None, **extra) -> str:
    body = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def api_routes(index: str, corpus: str, settings: Settings, api_key: str) -> list[APIRouter]:
    """The /v1 (OpenAI-compatible) and /api routers, behind the bearer key when one is set."""

    def require_key(authorization: str = Header(default="")) -> None:
        if not api_key:
            return
        token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
        if not hmac.compare_digest(token.encode(), api_key.encode()):  # constant time
            raise HTTPException(401, "a valid API key is required: Authorization: Bearer <key>",
                                headers={"WWW-Authenticate": "Bearer"})

    guard = [Depends(require_key)]
    v1 = APIRouter(prefix="/v1", tags=["OpenAI-compatible"], dependencies=guard)
    api = APIRouter(prefix="/api", tags=["knowledge base"], dependencies=guard)

    @v1.get("/models")
    def models() -> dict:
        """The knowledge base, as a model."""
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "rag"}]}

    @v1.post("/chat/completions")
    def chat(req: ChatRequest):
        """The last user message is the question; the earlier user messages are its history (follow-ups)."""
        users = [text_of(m) for m in req.messages if m.role == "user"]
        if not users:
            raise BadQuestion("no user message: the last user message is the question")
        question, history = users[-1], users[:-1]
        s = settings
        if not req.stream:
            return completion(ask(question, history=history, index=index, top_k=req.top_k, settings=s), req.model)
        pieces = stream_ask(question, history=history, index=index, top_k=req.top_k, settings=s)
        first = next(pieces)  # a bad question fails here, before the stream starts (a 400, not a broken stream)

        def events() -> Iterator[str]:
            cid = f"chatcmpl-{uuid.uuid4().hex}"
            yield chunk_event(cid, req.model, {"role": "assistant", "content": ""})
            said = ""
            for piece in [first, *pieces]:
                if isinstance(piece, Answer):
                    rest = with_sources(piece)[len(said):] if with_sources(piece).startswith(said) else ""
                    if rest:
                        yield chunk_event(cid, req.model, {"content": rest})
                    yield chunk_event(cid, req.model, {}, "stop", citations=[c.to_dict() for c in piece.citations])
                else:
                    said += piece
                    yield chunk_event(cid, req.model, {"content": piece})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @api.post("/ask")
    def ask_route(req: AskRequest) -> dict:
        """An answer with its citations (Answer.to_dict())."""
        return ask(req.question, history=req.history, index=index, top_k=req.top_k, settings=settings).to_dict()

    @api.get("/search")
    def search_route(q: str, k: int = 5) -> list[dict]:
        """The k best passages for a query, without an answer."""
        return [c.to_dict() for c in search(q, index=index, k=max(1, min(k, 50)), settings=settings)]

    @api.get("/documents")
    def list_documents() -> list[dict]:
        """The indexed documents."""
        return kb.documents(index)

    @api.post("/documents")
    def upload(files: list[UploadFile] = File(...)) -> dict:
        """Add files to the knowledge-base folder (the page's checks: name, type, size) and re-index."""
        kb.managed(index, corpus)  # raises NotManaged (409) before anything is saved or deleted
        saved = []
        with tempfile.TemporaryDirectory() as tmp:
            for f in files:
                path = os.path.join(tmp, "upload")
                with open(path, "wb") as out:
                    shutil.copyfileobj(f.file, out)
                saved.append(kb.save_upload(path, corpus, f.filename or ""))
        stats = kb.reindex(index, corpus, settings)
        return {"saved": saved, "documents": stats.documents, "chunks": stats.chunks,
                "skipped": [{"path": os.path.basename(k.path), "reason": k.reason} for k in stats.skipped]}

    @api.delete("/documents/{name}")
    def delete(name: str) -> dict:
        """Remove a file from the knowledge-base folder and re-index."""
        kb.managed(index, corpus)  # raises NotManaged (409) before anything is saved or deleted
        kb.delete_file(name, corpus)
        stats = kb.reindex(index, corpus, settings)
        return {"deleted": name, "documents": stats.documents, "chunks": stats.chunks}

    return [v1, api]


STATUS = {BadQuestion: 400, BadUpload: 400, DocumentNotFound: 404, NotManaged: 409, IndexMissing: 503}


def make_server_app(index: str, corpus: str | None, auth: tuple[str, str] | None = None, api_key: str = "",
                    page: bool = True) -> FastAPI:
    """The FastAPI app: the API routes, and the chat page at "/" (in Chinese, without Gradio's footer)."""
    settings = Settings.from_env(index_dir=index, corpus=corpus)
    app = FastAPI(title="文档问答 API", description="问答、检索和知识库管理；/v1 与 OpenAI 的接口兼容。",
                  docs_url="/docs", redoc_url=None)

    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError):
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 500)
        return JSONResponse({"error": {"message": str(exc), "type": type(exc).__name__}}, status_code=status)

    for router in api_routes(index, settings.corpus, settings, api_key):
        app.include_router(router)
    if page:
        import gradio as gr

        from ui import CSS, make_app
        from rag.corpus import MAX_UPLOAD_MB

        chinese_pages(app)
        blocks = make_app(index, settings.corpus).queue(default_concurrency_limit=8)
        app = gr.mount_gradio_app(app, blocks, path="/", auth=auth, css=CSS, footer_links=[], show_error=True,
                                  max_file_size=f"{MAX_UPLOAD_MB}mb")
    return app


def serve(host: str | None = None, port: int | None = None, auth: str | None = None, index: str | None = None,
          corpus: str | None = None, api_key: str | None = None, insecure: bool = False) -> int:
    """Start the page and the API: check the port, start indexing in the background, then serve.
    Returns an exit code (2: bad options or a taken port)."""
    import uvicorn

    from ui import start_indexing

    host = host or "127.0.0.1"
    port = port or int(os.environ.get("GRADIO_SERVER_PORT", 7860))
    settings = Settings.from_env(index_dir=index, corpus=corpus, api_key=api_key)
    credentials = None
    if auth:
        if ":" not in auth:
            print("error: --auth must be user:pass", file=sys.stderr)
            return 2
        credentials = tuple(auth.split(":", 1))
    if host not in LOCAL_HOSTS and not (settings.api_key or credentials or insecure):
        print(f"error: --host {host} opens the page and the API to other machines; set --api-key (or RAG_API_KEY) "
              "and --auth user:pass, or add --insecure if that is really meant", file=sys.stderr)
        return 2
    try:
        check_port(host, port)
    except PortInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Index in the background from the start: the terminal shows progress at once, the page its banner.
    threading.Thread(target=start_indexing, args=(settings,), daemon=True).start()
    app = make_server_app(settings.index_dir, settings.corpus, credentials, settings.api_key)
    print(f"文档问答：http://{host}:{port}  · API：http://{host}:{port}/v1 （文档 /docs）  （Ctrl-C 退出）", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0


# --- MCP ------------------------------------------------------------------------------------------------------

def mcp_server(index: str, settings: Settings):
    """An MCP server with two tools: search_documents(query, k) and ask(question)."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("rag", instructions="Search and answer from the indexed Chinese documents, with sources.")

    def passage(c) -> dict:
        return {"n": c.n, "source": c.source, "title": c.title, "section": c.section, "page": c.page,
                "text": c.text, "quote": c.quote}

    @server.tool()
    def search_documents(query: str, k: int = 5) -> list[dict]:
        """The k passages of the knowledge base that best match the query, best first, with their sources
        (document title, section, page)."""
        return [passage(c) for c in search(query, index=index, k=max(1, min(k, 20)), settings=settings)]

    @server.tool(name="ask")
    def ask_tool(question: str) -> dict:
        """Answer a question from the knowledge base: the answer with [n] markers and the passages it cites.
        found is false when the documents do not answer it (the answer then says why)."""
        a = ask(question, index=index, settings=settings)
        return {"answer": a.answer, "found": a.found, "citations": [passage(c) for c in a.citations if c.quote]}

    return server


def mcp_main(index: str | None = None) -> int:
    """`rag mcp`: serve the MCP tools over stdio."""
    settings = Settings.from_env(index_dir=index)
    mcp_server(settings.index_dir, settings).run("stdio")
    return 0


def serve_command(args) -> int:
    """`rag serve` (the "rag.commands" entry point)."""
    return serve(host=args.host, port=args.port, auth=args.auth, index=args.index, corpus=args.corpus,
                 api_key=args.api_key, insecure=args.insecure)


def mcp_command(args) -> int:
    """`rag mcp` (the "rag.commands" entry point)."""
    return mcp_main(args.index)
