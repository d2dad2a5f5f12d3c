"""The Gradio chat page over rag's public API, served by `rag serve` (server.py) at http://127.0.0.1:7860.

Three tabs: 问答 (chat; every answer keeps its own sources, each opens in the reader at its sentence),
知识库 (the indexed documents; upload, delete, re-index the corpus folder) and 设置."""
from __future__ import annotations

import argparse
import html
import os
import re
import sys
import tempfile
import threading
from pathlib import Path

import gradio as gr

from rag import Answer, RagError, Settings, read_document, stream_ask
from rag.chain import get_engine
from rag import corpus as kb
from rag.corpus import MAX_UPLOAD_MB, UPLOAD_SUFFIXES, corpus_files, delete_file, save_upload
from rag.errors import BadUpload, NotManaged
from rag.export import to_docx, to_markdown

EXAMPLES = [
    "起步区2024年固定资产投资目标是多少",
    "历城区2023年地区生产总值是多少",
    "市中区2024年计划开工项目多少个",
    "济南市2025年地区生产总值预期增长多少",
]
ANSWERERS = {"extractive": "摘录原文（离线）", "llm": "大模型生成（根据检索到的段落）"}
CSS = """
.turn {border-bottom:1px solid #e5e7eb;padding:4px 0}
.turn > summary {cursor:pointer;font-weight:600;color:#374151}
.cite {border:1px solid #e5e7eb;border-radius:8px;padding:10px 12px;margin:8px 0;background:#fafafa}
.cite .head {font-weight:600;color:#1f2937}
.cite .src {color:#6b7280;font-size:12px}
.cite mark, #doc-viewer mark {background:#fde68a;padding:0 2px}
.cite .body {white-space:pre-line}
.cite .open-doc {margin-top:6px;border:1px solid #d1d5db;border-radius:6px;padding:2px 10px;background:#fff;cursor:pointer}
.notfound {border-left:4px solid #f59e0b;padding:6px 10px;background:#fffbeb}
#doc-viewer {border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px}
#doc-viewer .meta {color:#6b7280;font-size:12px}
#doc-viewer .toc {font-size:13px;margin:8px 0 12px;padding:6px 10px;background:#f9fafb;border-radius:6px}
#doc-viewer .toc a {display:block;color:#2563eb;text-decoration:none}
#doc-viewer .focus {background:#fffbeb;border-left:3px solid #f59e0b;padding-left:6px}
#doc-viewer .page {color:#9ca3af;font-size:12px;text-align:center;margin:10px 0}
#doc-viewer .row {font-family:inherit;font-size:13px;border-bottom:1px dotted #e5e7eb}
"""
# A click on a 查看原文 button inside the sources panel becomes the panel's click event, with which passage.
OPEN_JS = ("element.addEventListener('click', (e) => { const b = e.target.closest('.open-doc'); "
           "if (b) trigger('click', {turn: Number(b.dataset.turn), n: Number(b.dataset.n)}); });")
SCROLL_JS = ("() => { const m = document.querySelector('#doc-viewer mark') || document.querySelector('#doc-viewer .focus');"
             " if (m) m.scrollIntoView({block: 'center'}); }")
MARKER_RE = re.compile(r"\[(\d+)\]")

# Indexing at start-up, for the page's banner: state is "idle", "running", "ready" or "failed".
INDEXING = {"state": "idle", "done": 0, "total": 0, "what": "", "message": ""}
READY = threading.Event()


def start_indexing(settings: Settings) -> None:
    """Build (or load) the index before the first question, telling the terminal and the page how it goes."""
    from rag.cli import TerminalProgress

    terminal = TerminalProgress()
    INDEXING.update(state="running", message="")

    def progress(done: int, total: int, what: str) -> None:
        INDEXING.update(done=done, total=total, what=what)
        terminal(done, total, what)

    try:
        get_engine(settings.index_dir, settings, progress=progress)
        INDEXING.update(state="ready")
    except RagError as exc:
        INDEXING.update(state="failed", message=str(exc))
        print(f"error: {exc}", file=sys.stderr)
    finally:
        terminal.close()
        READY.set()


def indexing_status() -> str:
    """The banner: what indexing is doing, or nothing once the index is ready."""
    state, done, total = INDEXING["state"], INDEXING["done"], INDEXING["total"]
    if state == "running":
        if INDEXING["what"] == "embedding" and total:
            return f"正在建立索引：计算向量 {done}/{total}……完成后即可提问。"
        if INDEXING["what"] == "ocr":
            return f"正在识别扫描页（第 {done}/{total} 页）……"
        return "正在读取和切分文档……"
    if state == "failed":
        return f"索引失败：{INDEXING['message']}"
    return ""


def render_citation(c, turn: int, show_scores: bool = False) -> str:
    """One cited passage: title › section (page), the passage with its quote highlighted, 查看原文."""
    body = html.escape(c.text)
    if c.quote:
        q = html.escape(c.quote)
        body = body.replace(q, f"<mark>{q}</mark>", 1)
    page = f" · 第{c.page}页" if c.page else ""
    score = f" · 分数 {c.score:.4f}" if show_scores else ""
    return (f'<div class="cite" id="cite-{turn}-{c.n}"><div class="head">[{c.n}] {html.escape(c.title)} › '
            f'{html.escape(c.section or "正文")}{page}</div><div class="src">{html.escape(c.source)}{score}</div>'
            f'<div class="body">{body}</div>'
            f'<button class="open-doc" data-turn="{turn}" data-n="{c.n}">查看原文</button></div>')


def render_citations(answer: Answer, show_scores: bool = False, turn: int = 1) -> str:
    """An answer's cited passages: those it quotes first; a declined answer keeps retrieval order."""
    if not answer.citations:
        return "<p>（没有检索到段落）</p>"
    parts = []
    if not answer.found:
        parts.append('<div class="notfound">知识库中没有找到答案。以下段落可能相关：</div>')
    shown = sorted(answer.citations, key=lambda c: not c.quote) if answer.found else answer.citations
    parts += [render_citation(c, turn, show_scores) for c in shown]
    return "\n".join(parts)


def render_sources(turns: list[Answer], show_scores: bool = False) -> str:
    """Every answer's sources, newest first and open; earlier ones folded under their question."""
    if not turns:
        return ""
    out = []
    for k in range(len(turns), 0, -1):
        a = turns[k - 1]
        opened = " open" if k == len(turns) else ""
        out.append(f'<details class="turn" id="turn-{k}"{opened}><summary>第{k}问：{html.escape(a.question)}</summary>'
                   f"{render_citations(a, show_scores, k)}</details>")
    return "\n".join(out)


def answer_text(a: Answer, turn: int) -> str:
    """The answer as shown in the chat: [n] links to its passage, the searched question when it differs."""
    text = MARKER_RE.sub(lambda m: f"[[{m.group(1)}]](#cite-{turn}-{m.group(1)})", a.answer)
    if not a.found:
        text = f"未找到答案：{text}"
    if a.standalone:
        text += f"\n\n*按「{a.standalone}」检索*"  # what a follow-up was completed to
    if a.warning:
        text += f"\n\n（{a.warning}）"
    return text


def render_document(view) -> str:
    """The reader: title, table of contents, the text by paragraph with page breaks, the cited sentence marked."""
    pages = f" · 共{view.pages}页" if view.pages else ""
    where = f" · 引文在第{view.page}页" if view.page else ""
    toc = "".join(f'<a href="#doc-p-{i}" style="padding-left:{(level - 1) * 1.2}em">{html.escape(text)}</a>'
                  for i, level, text in view.toc())
    out = [f"<h3>{html.escape(view.title)}</h3><div class='meta'>{html.escape(view.source)}{pages}{where}</div>"]
    if toc:
        out.append(f"<nav class='toc'><b>目录</b>{toc}</nav>")
    page = None
    for i, p in enumerate(view.paragraphs):
        if p.page and p.page != page:
            page = p.page
            out.append(f"<div class='page'>第{page}页</div>")
        text = html.escape(p.text)
        if i == view.focus and view.mark:
            a, b = view.mark
            text = f"{html.escape(p.text[:a])}<mark>{html.escape(p.text[a:b])}</mark>{html.escape(p.text[b:])}"
        focus = " class='focus'" if i == view.focus else ""
        if p.kind == "heading":
            level = min(p.level + 3, 6)
            out.append(f"<h{level} id='doc-p-{i}'{focus}>{text}</h{level}>")
        elif p.kind == "table":
            cells = " │ ".join(html.escape(c) for c in p.cells) if p.cells and i != view.focus else text
            out.append(f"<div class='row' id='doc-p-{i}'{focus}>{cells}</div>")
        else:
            out.append(f"<p id='doc-p-{i}'{focus}>{text}</p>")
    return "\n".join(out)


def export_files(turns: list[Answer], folder: str) -> tuple[str | None, str | None]:
    """The conversation as .docx and .md files in `folder` (None, None before the first answer)."""
    if not turns:
        return None, None
    docx_path = os.path.join(folder, "问答记录.docx")
    md_path = os.path.join(folder, "问答记录.md")
    to_docx(turns, docx_path)
    Path(md_path).write_text(to_markdown(turns), "utf-8")
    return docx_path, md_path


def document_rows(index: str) -> list[list]:
    """One row per indexed document: title, file, pages, chunk count, when it was indexed."""
    try:
        docs = kb.documents(index)
    except RagError:
        return []
    return [[d["title"], d["source"], d["pages"] or "", d["chunks"], d["indexed_at"]] for d in docs]


def file_choices(index: str, corpus: str) -> list[tuple[str, str]]:
    """The corpus's files as (title（file）, file), titled from the index where it has them."""
    titles = {d["source"]: d["title"] for d in kb.documents(index)}
    return [(f"{titles[f]}（{f}）" if f in titles else f, f) for f in corpus_files(corpus)]


def make_app(index: str = "index", corpus: str | None = None) -> gr.Blocks:
    """Build the Blocks app (not launched) over an index directory and its corpus folder."""
    base = Settings.from_env(index_dir=index, corpus=corpus)
    corpus = base.corpus

    def reindex(progress: gr.Progress) -> str:
        """Rebuild the index from the corpus folder, reporting progress; returns a summary."""
        progress(0, desc="读取并切分文件…")
        try:
            stats = kb.reindex(index, corpus, base, lambda done, total, what: progress((done, total), desc="计算向量")
                               if what == "embedding" else None)
        except NotManaged as exc:
            return f"注意：{exc}"
        except RagError as exc:  # the previous index stays live: builds switch in atomically
            return f"索引失败：{exc}"
        text = (f"已索引 {stats.documents} 个文档、{stats.chunks} 个段落"
                f"（新计算 {stats.embedded} 个，复用 {stats.reused} 个），用时 {stats.seconds:.1f} 秒。")
        if stats.skipped:
            text += "\n\n以下文件无法读取，已跳过：\n" + "\n".join(
                f"- `{Path(k.path).name}`：{k.reason}" for k in stats.skipped)
        return text

    def kb_outputs(status: str):
        return status, document_rows(index), gr.Dropdown(choices=file_choices(index, corpus), value=None)

    def upload(paths, progress=gr.Progress()):
        if not paths:
            return kb_outputs("请先选择要上传的文件。") + (None,)
        try:
            kb.managed(index, corpus)
        except NotManaged as exc:
            return kb_outputs(f"注意：{exc}") + (None,)
        saved, refused = [], []
        for p in paths:
            try:
                saved.append(save_upload(p, corpus))
            except BadUpload as exc:
                refused.append(f"- {exc}")
        parts = [f"已保存：{'、'.join(saved)}"] if saved else []
        if refused:
            parts.append("以下文件未保存：\n" + "\n".join(refused))
        if saved:
            parts.append(reindex(progress))
        return kb_outputs("\n\n".join(parts)) + (None,)

    def delete(source, progress=gr.Progress()):
        if not source:
            return kb_outputs("没有删除任何文档（未选择，或已取消）。")
        try:
            kb.managed(index, corpus)
        except NotManaged as exc:
            return kb_outputs(f"注意：{exc}")
        try:
            delete_file(source, corpus)
        except BadUpload as exc:
            return kb_outputs(f"注意：{exc}")
        return kb_outputs(f"已删除 `{source}`。\n\n" + reindex(progress))

    def reindex_clicked(progress=gr.Progress()):
        return kb_outputs(reindex(progress))

    def respond(question, history, top_k, show_scores, answerer, turns, folder):
        if not (question or "").strip():  # 提问 on an empty box: nothing to ask
            yield gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
            return
        history = list(history or [])
        turns = list(turns or [])  # this page's answers: a follow-up is completed from them
        history.append({"role": "user", "content": question})
        history.append({"role": "assistant", "content": ""})
        if INDEXING["state"] == "running":
            history[-1]["content"] = "正在建立索引，完成后自动回答……"
            yield history, gr.update(), "", turns, gr.update(), gr.update()
            READY.wait()
            history[-1]["content"] = ""
        settings = base.replace(answerer=answerer)
        try:
            for piece in stream_ask(question, history=turns, index=index, top_k=int(top_k), settings=settings):
                if isinstance(piece, Answer):
                    turns.append(piece)
                    history[-1]["content"] = answer_text(piece, len(turns))
                    docx_file, md_file = export_files(turns, folder)
                    yield history, render_sources(turns, show_scores), "", turns, docx_file, md_file
                else:
                    history[-1]["content"] += piece
                    yield history, gr.update(), "", gr.update(), gr.update(), gr.update()
        except RagError as exc:
            history[-1]["content"] = f"出错了：{exc}"
            yield history, render_sources(turns, show_scores), "", turns, gr.update(), gr.update()

    def open_document(turns, evt: gr.EventData):
        """查看原文: the reader opened at the clicked citation's sentence."""
        data = getattr(evt, "_data", None) or {}
        turn, n = int(data.get("turn", 0)), int(data.get("n", 0))
        if not 0 < turn <= len(turns or []):
            return gr.update(), gr.update()
        cite = next((c for c in turns[turn - 1].citations if c.n == n), None)
        if cite is None:
            return gr.update(), gr.update()
        try:
            view = read_document(cite.source, index=index, chunk=cite.chunk, quote=cite.quote, settings=base)
        except RagError as exc:
            return gr.Column(visible=True), f"<p>无法打开原文：{html.escape(str(exc))}</p>"
        return gr.Column(visible=True), render_document(view)

    choices = [(ANSWERERS["extractive"], "extractive")]
    if base.llm_configured:
        choices.append((ANSWERERS["llm"], "llm"))
    chosen = base.answerer if base.answerer in {value for _, value in choices} else "extractive"

    with gr.Blocks(title="文档问答") as app:
        gr.Markdown("## 文档问答 · 从政府报告、规划和新闻中查找确切数字与原文出处")
        banner = gr.Markdown(indexing_status, elem_id="index-status")
        timer = gr.Timer(1.0)
        folder = gr.State(lambda: tempfile.mkdtemp(prefix="rag-export-"))  # this page's export files
        with gr.Tab("问答"):
            with gr.Row():
                with gr.Column(scale=5):
                    chat = gr.Chatbot(label="对话", height=460, elem_id="chat")
                    box = gr.Textbox(label="问题", placeholder="例如：起步区2024年固定资产投资目标是多少", lines=1)
                    with gr.Row():
                        send = gr.Button("提问", variant="primary", elem_id="send")
                        clear = gr.Button("清空对话", elem_id="clear")
                    examples = gr.Dataset(components=[box], samples=[[e] for e in EXAMPLES], label="示例问题（点击即问）",
                                          elem_id="examples")
                    with gr.Row():
                        export_docx = gr.DownloadButton("导出 Word", elem_id="export-docx", size="sm")
                        export_md = gr.DownloadButton("导出 Markdown", elem_id="export-md", size="sm")
                with gr.Column(scale=5):
                    with gr.Column(visible=False) as reader:
                        viewer = gr.HTML(elem_id="doc-viewer", js_on_load=None, max_height=640)
                        close = gr.Button("关闭原文", size="sm", elem_id="close-doc")
                    cites = gr.HTML(label="出处", elem_id="cites", js_on_load=OPEN_JS, max_height=760)
            turns = gr.State([])  # this page's conversation: its Answers, newest last
        with gr.Tab("知识库"):
            gr.Markdown(f"知识库文件夹：`{corpus}`。可上传文本（.txt .md .csv）、Word、PDF（扫描件自动识别文字）、图片、"
                        f"Excel（.xlsx）和网页（.html），每个不超过 {MAX_UPLOAD_MB} MB；上传或删除后自动重新索引，问答立即使用新索引。")
            table = gr.Dataframe(headers=["标题", "文件", "页数", "段落数", "索引时间"], value=lambda: document_rows(index),
                                 interactive=False, label="已索引的文档", elem_id="documents")
            with gr.Row():
                files = gr.File(label="上传文档", file_count="multiple", file_types=list(UPLOAD_SUFFIXES),
                                type="filepath")
                with gr.Column():
                    victim = gr.Dropdown(choices=file_choices(index, corpus), value=None, label="选择要删除的文档",
                                         interactive=True)
                    remove = gr.Button("删除所选文档", variant="stop")
                    rebuild = gr.Button("重新索引")
            status = gr.Markdown(elem_id="kb-status")
        with gr.Tab("设置"):
            top_k = gr.Slider(1, 10, value=base.top_k, step=1, label="每次引用的段落数")
            answerer = gr.Radio(choices, value=chosen, label="回答方式",
                                info=None if base.llm_configured else "配置大模型接口后可选用大模型生成（见 README）")
            show_scores = gr.Checkbox(label="显示检索分数", value=False)

        ask_inputs = [box, chat, top_k, show_scores, answerer, turns, folder]
        ask_outputs = [chat, cites, box, turns, export_docx, export_md]
        for trigger in (box.submit, send.click):
            trigger(respond, ask_inputs, ask_outputs)
        examples.click(lambda sample: sample[0], examples, box).then(respond, ask_inputs, ask_outputs)
        clear.click(lambda: ([], "", "", [], None, None, gr.Column(visible=False)), None,
                    [chat, cites, box, turns, export_docx, export_md, reader])
        chat.clear(lambda: ("", []), None, [cites, turns])  # the chat's own trash icon clears the sources too
        cites.click(open_document, turns, [reader, viewer]).then(None, None, None, js=SCROLL_JS)
        close.click(lambda: gr.Column(visible=False), None, reader)
        timer.tick(lambda: (indexing_status(), gr.Timer(active=INDEXING["state"] == "running")), None, [banner, timer])
        # Index builds run one at a time (concurrency_id), whoever starts them; the progress bar
        # covers the document table, which is stale until the build ends.
        views = [status, table, victim]
        one = dict(concurrency_limit=1, concurrency_id="index", show_progress_on=table)
        files.upload(upload, files, views + [files], **one)
        # A confirm() dialog before deleting: cancelling sends no name, so nothing is deleted.
        remove.click(delete, victim, views, js="(name) => [name && confirm('从知识库删除 ' + name + '？') ? name : null]",
                     **one)
        rebuild.click(reindex_clicked, None, views, **one)
        app.load(lambda: kb_outputs("")[1:], None, [table, victim])  # another tab may have changed it
    return app


def main(host: str | None = None, port: int | None = None, auth: str | None = None, index: str | None = None,
         corpus: str | None = None) -> int:
    """Start the page (server.py serves it). Binds 127.0.0.1 unless a host is given; port from
    GRADIO_SERVER_PORT or 7860."""
    from server import serve

    return serve(host, port, auth, index, corpus)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="rag chat page")
    p.add_argument("--host", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, help="default: GRADIO_SERVER_PORT or 7860")
    p.add_argument("--auth", help="user:pass")
    p.add_argument("--index", help="index directory (default: index, or RAG_INDEX_DIR)")
    p.add_argument("--corpus", help="knowledge-base folder that uploads go to (default: seeds, or RAG_CORPUS)")
    a = p.parse_args()
    try:
        sys.exit(main(a.host, a.port, a.auth, a.index, a.corpus))
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(3)
