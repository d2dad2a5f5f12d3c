"""`rag serve`: one web server on one port (FastAPI + uvicorn) with the chat page (ui.py) mounted at "/".

The page is served in Chinese whatever the browser's language: Gradio picks its built-in strings from
navigator.language, so the page's HTML reports zh-CN before Gradio starts. The port is checked first, so a
taken one is one line naming --port, not a traceback."""
from __future__ import annotations

import errno
import os
import socket
import sys
import threading

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


def chinese_pages(app) -> None:
    """Make every HTML page the app serves start with the zh-CN locale script."""
    from fastapi import Request
    from fastapi.responses import Response

    @app.middleware("http")
    async def zh_cn(request: Request, call_next):
        resp = await call_next(request)
        if request.method == "GET" and resp.headers.get("content-type", "").startswith("text/html"):
            body = b"".join([chunk async for chunk in resp.body_iterator])
            headers = {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}
            return Response(body.replace(b"<head>", b"<head>" + LOCALE, 1), resp.status_code, headers)
        return resp


def make_server_app(index: str, corpus: str | None, auth: tuple[str, str] | None = None):
    """The FastAPI app: the chat page at "/" (in Chinese, without Gradio's footer)."""
    import gradio as gr
    from fastapi import FastAPI

    from ui import CSS, MAX_UPLOAD_MB, make_app

    app = FastAPI(title="文档问答", docs_url=None, redoc_url=None)
    chinese_pages(app)
    page = make_app(index, corpus).queue(default_concurrency_limit=8)
    return gr.mount_gradio_app(app, page, path="/", auth=auth, css=CSS, footer_links=[], show_error=True,
                               max_file_size=f"{MAX_UPLOAD_MB}mb")


def serve(host: str | None = None, port: int | None = None, auth: str | None = None, index: str | None = None,
          corpus: str | None = None) -> int:
    """Start the page: check the port, start indexing in the background, then serve. Returns an exit code."""
    import uvicorn

    from rag import Settings
    from ui import start_indexing

    host = host or "127.0.0.1"
    port = port or int(os.environ.get("GRADIO_SERVER_PORT", 7860))
    credentials = None
    if auth:
        if ":" not in auth:
            print("error: --auth must be user:pass", file=sys.stderr)
            return 2
        credentials = tuple(auth.split(":", 1))
    try:
        check_port(host, port)
    except PortInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = Settings.from_env(index_dir=index, corpus=corpus)
    # Index in the background from the start: the terminal shows progress at once, the page its banner.
    threading.Thread(target=start_indexing, args=(settings,), daemon=True).start()
    app = make_server_app(settings.index_dir, settings.corpus, credentials)
    print(f"文档问答：http://{host}:{port}  （Ctrl-C 退出）", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
