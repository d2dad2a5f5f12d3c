"""The Gradio chat page over rag's public API: `python ui.py` or `rag serve` (http://127.0.0.1:7860).

Three tabs: 问答 (chat with cited passages), 知识库 (the indexed documents; upload, delete, re-index the
corpus folder) and 设置 (top_k, answerer, retrieval scores)."""
from __future__ import annotations

import argparse
import html
import os
import shutil
import sys
import unicodedata
from pathlib import Path

import gradio as gr

from rag import Answer, RagError, Settings, build_index, stream_ask
from rag.chain import get_engine
from rag.loaders import iter_files
from rag.store import read_manifest

EXAMPLES = [
    "起步区2024年固定资产投资目标是多少",
    "历城区2023年地区生产总值是多少",
    "市中区2024年计划开工项目多少个",
    "济南市2025年地区生产总值预期增长多少",
]
UPLOAD_SUFFIXES = (".txt", ".md", ".docx", ".pdf")
MAX_UPLOAD_MB = 20
ANSWERERS = {"extractive": "抽取式（离线，直接摘录原文）", "llm": "大模型（LLM，根据段落生成）"}
CSS = """
.cite {border:1px solid #e5e7eb;border-radius:8px;padding:10px 12px;margin:8px 0;background:#fafafa}
.cite .head {font-weight:600;color:#1f2937}
.cite .src {color:#6b7280;font-size:12px}
.cite mark {background:#fde68a;padding:0 2px}
.cite .body {white-space:pre-line}
.notfound {border-left:4px solid #f59e0b;padding:6px 10px;background:#fffbeb}
"""


def render_citations(answer: Answer, show_scores: bool = False) -> str:
    """Cited passages as HTML: title › section, the passage with its quote highlighted, the file."""
    if not answer.citations:
        return "<p>（没有检索到段落）</p>"
    parts = []
    if not answer.found:
        parts.append('<div class="notfound">知识库中没有找到答案。以下段落可能相关：</div>')
    # A found answer lists the passages it quotes first; a declined one keeps retrieval order.
    shown = sorted(answer.citations, key=lambda c: not c.quote) if answer.found else answer.citations
    for c in shown:
        body = html.escape(c.text)
        if c.quote:
            q = html.escape(c.quote)
            body = body.replace(q, f"<mark>{q}</mark>", 1)
        score = f" · score {c.score:.4f}" if show_scores else ""
        parts.append(
            f'<div class="cite"><div class="head">[{c.n}] {html.escape(c.title)} › {html.escape(c.section or "正文")}</div>'
            f'<div class="src">{html.escape(c.source)}{score}</div><div class="body">{body}</div></div>'
        )
    return "\n".join(parts)


def safe_name(name: str) -> str:
    """The name an uploaded file is stored under in the corpus folder.

    Raises ValueError with a message for the user when the name could leave the folder (a path
    separator or '..'), is hidden, has control characters, or is not a supported type."""
    name = unicodedata.normalize("NFC", (name or "").strip())
    if not name:
        raise ValueError("文件名为空，已拒绝")
    if "/" in name or "\\" in name or ".." in name:
        raise ValueError(f"文件名“{name}”含有路径分隔符或“..”，已拒绝；请改名后再上传")
    if name.startswith(".") or any(unicodedata.category(ch) == "Cc" for ch in name):
        raise ValueError(f"文件名“{name}”以“.”开头或含有控制字符，已拒绝；请改名后再上传")
    if Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
        raise ValueError(f"不支持“{name}”的文件类型：请上传 .txt、.md、.docx 或 .pdf 文件")
    return name


def save_upload(path: str, corpus: str, name: str | None = None) -> str:
    """Copy an uploaded file (a temporary path) into the corpus folder; return the stored name.

    `name` is the original file name (default: the temp file's basename, which Gradio keeps).
    Raises ValueError with a message for the user when the name or the size is refused."""
    target = safe_name(name if name is not None else os.path.basename(path))
    size = os.path.getsize(path)
    if size > MAX_UPLOAD_MB * 1024 * 1024:
        raise ValueError(f"文件“{target}”有 {size / 1024 / 1024:.1f} MB，超过 {MAX_UPLOAD_MB} MB 的上限，未保存")
    Path(corpus).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, Path(corpus) / target)
    return target


def corpus_files(corpus: str) -> list[str]:
    """Files in the corpus folder by source name (as the index names them), bad ones included."""
    if not Path(corpus).is_dir():
        return []
    return [source for _, source in iter_files([corpus])]


def delete_file(source: str, corpus: str) -> None:
    """Remove a file from the corpus folder. Raises ValueError when it is not a file in that folder."""
    root = Path(corpus).resolve()
    target = (root / source).resolve()
    if source not in corpus_files(corpus) or root not in target.parents or not target.is_file():
        raise ValueError(f"知识库文件夹中没有文件“{source}”")
    target.unlink()


def document_rows(index: str) -> list[list]:
    """One row per indexed document: title, file, chunk count, when it was indexed."""
    try:
        manifest = read_manifest(index)
    except RagError:
        return []
    docs = (manifest or {}).get("documents", {})
    return [[d.get("title", src), src, d.get("chunks", 0), d.get("indexed_at", "")] for src, d in sorted(docs.items())]


def make_app(index: str = "index", corpus: str | None = None) -> gr.Blocks:
    """Build the Blocks app (not launched) over an index directory and its corpus folder."""
    base = Settings.from_env(index_dir=index, corpus=corpus)
    corpus = base.corpus

    def index_paths() -> list[str] | None:
        """What a re-index rebuilds: the corpus folder, or None when the index holds other folders
        (an index of the user's own files is never silently replaced by the corpus)."""
        manifest = read_manifest(index)
        if manifest is None:
            return [corpus]
        paths = manifest.get("paths") or []
        same = [Path(p).resolve() for p in paths] == [Path(corpus).resolve()]
        return paths if same else None

    def not_managed() -> str:
        paths = (read_manifest(index) or {}).get("paths")
        return (f"⚠️ 这个索引来自 {paths}，不是知识库文件夹 `{corpus}`；"
                f"请用 `--corpus` 指定该文件夹，或在命令行用 `rag index` 重新索引。")

    def reindex(progress: gr.Progress) -> str:
        """Rebuild the index from the corpus folder, reporting progress; returns a summary."""
        paths = index_paths()
        if paths is None:
            return not_managed()
        manifest = read_manifest(index)
        # Keep the index's own model, as get_engine does, so a re-index never switches models silently.
        s = base.replace(embed_model=(manifest or {}).get("embed_model"))
        progress(0, desc="读取并切分文件…")
        try:
            stats = build_index(paths, index=index, settings=s,
                                progress=lambda done, total, what: progress((done, total), desc="计算向量"))
            progress(1.0, desc="加载新索引…")
            get_engine(index, base)  # load it now, so the next question does not wait for it
        except RagError as exc:  # the previous index stays live: builds switch in atomically
            return f"⚠️ 索引失败：{exc}"
        text = (f"✅ 已索引 {stats.documents} 个文档、{stats.chunks} 个段落"
                f"（新计算 {stats.embedded} 个，复用 {stats.reused} 个），用时 {stats.seconds:.1f} 秒。")
        if stats.skipped:
            text += "\n\n⚠️ 以下文件无法读取，已跳过：\n" + "\n".join(
                f"- `{Path(k.path).name}`：{k.reason}" for k in stats.skipped)
        return text

    def kb_outputs(status: str):
        files = corpus_files(corpus)
        return status, document_rows(index), gr.Dropdown(choices=files, value=None)

    def upload(paths, progress=gr.Progress()):
        if not paths:
            return kb_outputs("请先选择要上传的文件。") + (None,)
        if index_paths() is None:
            return kb_outputs(not_managed()) + (None,)
        saved, refused = [], []
        for p in paths:
            try:
                saved.append(save_upload(p, corpus))
            except ValueError as exc:
                refused.append(f"- {exc}")
        parts = [f"已保存：{'、'.join(saved)}"] if saved else []
        if refused:
            parts.append("⚠️ 以下文件未保存：\n" + "\n".join(refused))
        if saved:
            parts.append(reindex(progress))
        return kb_outputs("\n\n".join(parts)) + (None,)

    def delete(source, progress=gr.Progress()):
        if not source:
            return kb_outputs("没有删除任何文档（未选择，或已取消）。")
        if index_paths() is None:
            return kb_outputs(not_managed())
        try:
            delete_file(source, corpus)
        except ValueError as exc:
            return kb_outputs(f"⚠️ {exc}")
        return kb_outputs(f"已删除 `{source}`。\n\n" + reindex(progress))

    def reindex_clicked(progress=gr.Progress()):
        return kb_outputs(reindex(progress))

    def respond(question, history, top_k, show_scores, answerer, turns):
        history = list(history or [])
        turns = list(turns or [])  # the questions searched so far: a follow-up is completed from them
        history.append({"role": "user", "content": question})
        history.append({"role": "assistant", "content": ""})
        settings = base.replace(answerer=answerer)
        try:
            for piece in stream_ask(question, history=turns, index=index, top_k=int(top_k), settings=settings):
                if isinstance(piece, Answer):
                    text = piece.answer if piece.found else f"⚠️ {piece.answer}"
                    if piece.standalone:
                        text += f"\n\n*按「{piece.standalone}」检索*"  # what a follow-up was completed to
                    history[-1]["content"] = text
                    turns.append(piece.standalone or piece.question)
                    yield history, render_citations(piece, show_scores), "", turns
                else:
                    history[-1]["content"] += piece
                    yield history, gr.update(), "", gr.update()
        except RagError as exc:
            history[-1]["content"] = f"⚠️ {exc}"
            yield history, "", "", turns

    choices = [(ANSWERERS["extractive"], "extractive")]
    if base.llm_configured:
        choices.append((ANSWERERS["llm"], "llm"))
    chosen = base.answerer if base.answerer in {value for _, value in choices} else "extractive"

    with gr.Blocks(title="文档问答") as app:
        gr.Markdown("## 文档问答 · 从政府报告、规划和新闻中查找确切数字与原文出处")
        with gr.Tab("问答"):
            with gr.Row():
                with gr.Column(scale=5):
                    chat = gr.Chatbot(label="对话", height=420, elem_id="chat")
                    box = gr.Textbox(label="问题", placeholder="例如：起步区2024年固定资产投资目标是多少", lines=1)
                    with gr.Row():
                        send = gr.Button("提问", variant="primary", elem_id="send")
                        clear = gr.Button("清空对话", elem_id="clear")
                    gr.Examples(EXAMPLES, inputs=box, label="示例问题")
                with gr.Column(scale=5):
                    cites = gr.HTML(label="引用段落", elem_id="cites")
            turns = gr.State([])  # this page's conversation: the questions searched, newest last
        with gr.Tab("知识库"):
            gr.Markdown(f"知识库文件夹：`{corpus}`。可上传 .txt、.md、.docx、.pdf（每个不超过 {MAX_UPLOAD_MB} MB），"
                        "上传或删除后自动重新索引，问答立即使用新索引。")
            table = gr.Dataframe(headers=["标题", "文件", "段落数", "索引时间"], value=lambda: document_rows(index),
                                 interactive=False, label="已索引的文档", elem_id="documents")
            with gr.Row():
                files = gr.File(label="上传文档", file_count="multiple", file_types=list(UPLOAD_SUFFIXES),
                                type="filepath")
                with gr.Column():
                    victim = gr.Dropdown(choices=corpus_files(corpus), value=None, label="选择要删除的文档",
                                         interactive=True)
                    remove = gr.Button("删除所选文档", variant="stop")
                    rebuild = gr.Button("重新索引")
            status = gr.Markdown(elem_id="kb-status")
        with gr.Tab("设置"):
            top_k = gr.Slider(1, 10, value=base.top_k, step=1, label="引用段落数 (top_k)")
            answerer = gr.Radio(choices, value=chosen, label="回答方式",
                                info=None if base.llm_configured else "设置 RAG_LLM_BASE_URL 和 RAG_LLM_MODEL 后可选用大模型")
            show_scores = gr.Checkbox(label="显示检索分数", value=False)

        for trigger in (box.submit, send.click):
            trigger(respond, [box, chat, top_k, show_scores, answerer, turns], [chat, cites, box, turns])
        clear.click(lambda: ([], "", "", []), None, [chat, cites, box, turns])
        chat.clear(lambda: ("", []), None, [cites, turns])  # the chat's own trash icon clears the citations too
        # Index builds run one at a time (concurrency_id), whoever starts them; the progress bar
        # covers the document table, which is stale until the build ends.
        kb = [status, table, victim]
        one = dict(concurrency_limit=1, concurrency_id="index", show_progress_on=table)
        files.upload(upload, files, kb + [files], **one)
        # A confirm() dialog before deleting: cancelling sends no name, so nothing is deleted.
        remove.click(delete, victim, kb, js="(name) => [name && confirm('从知识库删除 ' + name + '？') ? name : null]",
                     **one)
        rebuild.click(reindex_clicked, None, kb, **one)
        app.load(lambda: kb_outputs("")[1:], None, [table, victim])  # another tab may have changed it
    return app


def main(host: str | None = None, port: int | None = None, auth: str | None = None, index: str | None = None,
         corpus: str | None = None) -> int:
    """Start the page. Binds 127.0.0.1 unless a host is given; port from GRADIO_SERVER_PORT or 7860."""
    settings = Settings.from_env(index_dir=index, corpus=corpus)
    credentials = None
    if auth:
        if ":" not in auth:
            print("error: --auth must be user:pass", file=sys.stderr)
            return 2
        credentials = tuple(auth.split(":", 1))
    get_engine(settings.index_dir, settings)  # build or load the index before the page opens
    app = make_app(settings.index_dir, settings.corpus)
    app.queue(default_concurrency_limit=8).launch(
        server_name=host or "127.0.0.1",
        server_port=port or int(os.environ.get("GRADIO_SERVER_PORT", 7860)),
        auth=credentials,
        css=CSS,
        max_file_size=f"{MAX_UPLOAD_MB}mb",
        show_error=True,
    )
    return 0


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
