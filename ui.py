"""The Gradio chat page over rag's public API: `python ui.py` or `rag serve` (http://127.0.0.1:7860)."""
from __future__ import annotations

import argparse
import html
import os
import sys

import gradio as gr

from rag import Answer, RagError, Settings, stream_ask
from rag.chain import get_engine

EXAMPLES = [
    "起步区2024年固定资产投资目标是多少",
    "历城区2023年地区生产总值是多少",
    "市中区2024年计划开工项目多少个",
    "济南市2025年地区生产总值预期增长多少",
]
CSS = """
.cite {border:1px solid #e5e7eb;border-radius:8px;padding:10px 12px;margin:8px 0;background:#fafafa}
.cite .head {font-weight:600;color:#1f2937}
.cite .src {color:#6b7280;font-size:12px}
.cite mark {background:#fde68a;padding:0 2px}
.notfound {border-left:4px solid #f59e0b;padding:6px 10px;background:#fffbeb}
"""


def render_citations(answer: Answer, show_scores: bool = False) -> str:
    """Cited passages as HTML: title › section, the passage with its quote highlighted, the file."""
    if not answer.citations:
        return "<p>（没有检索到段落）</p>"
    parts = []
    if not answer.found:
        parts.append('<div class="notfound">知识库中没有找到答案。以下段落可能相关：</div>')
    shown = [c for c in answer.citations if c.quote] if answer.found else answer.citations
    for c in shown + ([x for x in answer.citations if not x.quote] if answer.found else []):
        body = html.escape(c.text)
        if c.quote:
            q = html.escape(c.quote)
            body = body.replace(q, f"<mark>{q}</mark>", 1)
        score = f" · score {c.score:.4f}" if show_scores else ""
        parts.append(
            f'<div class="cite"><div class="head">[{c.n}] {html.escape(c.title)} › {html.escape(c.section or "正文")}</div>'
            f'<div class="src">{html.escape(c.source)}{score}</div><div>{body}</div></div>'
        )
    return "\n".join(parts)


def make_app(index: str = "index") -> gr.Blocks:
    """Build the Blocks app (not launched)."""

    def respond(question, history, top_k, show_scores):
        history = list(history or [])
        history.append({"role": "user", "content": question})
        history.append({"role": "assistant", "content": ""})
        try:
            for piece in stream_ask(question, index=index, top_k=int(top_k)):
                if isinstance(piece, Answer):
                    text = piece.answer if piece.found else f"⚠️ {piece.answer}"
                    history[-1]["content"] = text
                    yield history, render_citations(piece, show_scores), ""
                else:
                    history[-1]["content"] += piece
                    yield history, gr.update(), ""
        except RagError as exc:
            history[-1]["content"] = f"⚠️ {exc}"
            yield history, "", ""

    def documents():
        engine = get_engine(index)
        rows = [[d["title"], src, d["chunks"], d["indexed_at"]] for src, d in engine.index.manifest["documents"].items()]
        return rows

    with gr.Blocks(title="文档问答") as app:
        gr.Markdown("## 文档问答 · 从政府报告、规划和新闻中查找确切数字与原文出处")
        with gr.Tab("问答"):
            with gr.Row():
                with gr.Column(scale=5):
                    chat = gr.Chatbot(label="对话", height=420)
                    box = gr.Textbox(label="问题", placeholder="例如：起步区2024年固定资产投资目标是多少", lines=1)
                    with gr.Row():
                        send = gr.Button("提问", variant="primary")
                        clear = gr.Button("清空对话")
                    gr.Examples(EXAMPLES, inputs=box, label="示例问题")
                with gr.Column(scale=5):
                    cites = gr.HTML(label="引用段落")
        with gr.Tab("知识库"):
            table = gr.Dataframe(headers=["标题", "文件", "段落数", "索引时间"], value=documents, interactive=False)
        with gr.Tab("设置"):
            top_k = gr.Slider(1, 10, value=5, step=1, label="引用段落数 (top_k)")
            show_scores = gr.Checkbox(label="显示检索分数", value=False)
        for trigger in (box.submit, send.click):
            trigger(respond, [box, chat, top_k, show_scores], [chat, cites, box])
        clear.click(lambda: ([], "", ""), None, [chat, cites, box])
    return app


def main(host: str | None = None, port: int | None = None, auth: str | None = None, index: str | None = None) -> int:
    """Start the page. Binds 127.0.0.1 unless a host is given."""
    settings = Settings.from_env(index_dir=index)
    get_engine(settings.index_dir, settings)  # build or load the index before the page opens
    app = make_app(settings.index_dir)
    credentials = tuple(auth.split(":", 1)) if auth else None
    app.queue(default_concurrency_limit=8).launch(
        server_name=host or "127.0.0.1",
        server_port=port or int(os.environ.get("GRADIO_SERVER_PORT", 7860)),
        auth=credentials,
        css=CSS,
        max_file_size="20mb",
        show_error=True,
    )
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="rag chat page")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--auth", help="user:pass")
    p.add_argument("--index")
    a = p.parse_args()
    try:
        sys.exit(main(a.host, a.port, a.auth, a.index))
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(3)
