"""The Gradio page without a browser: rendering, upload names and sizes, the knowledge-base handlers, launch options."""
import gradio as gr
import pytest

import ui
from rag import Answer, Citation, build_index, stream_ask
from rag import corpus as kb


def test_citations_render_with_highlight_and_escaping():
    c = Citation(n=1, source="a.txt", title="甲市报告", section="一、目标", text="<b>增长6%</b>，其余。", quote="<b>增长6%</b>")
    html = ui.render_citations(Answer("q", "增长6%[1]", True, [c]))
    assert "<mark>&lt;b&gt;增长6%&lt;/b&gt;</mark>" in html and "甲市报告 › 一、目标" in html and "a.txt" in html
    declined = ui.render_citations(Answer("q", "没有", False, [c]))
    assert "没有找到答案" in declined and "<mark>" in declined


@pytest.mark.parametrize("name", ["../x.txt", "a/b.txt", "a\\b.txt", "..", "x..txt", "/etc/passwd.txt"])
def test_upload_names_with_paths_are_refused(name):
    with pytest.raises(ValueError, match="路径分隔符"):
        kb.safe_name(name)


@pytest.mark.parametrize("name", ["", ".hidden.txt", "a\x00.txt", "run.exe", "noext"])
def test_other_bad_upload_names_are_refused(name):
    with pytest.raises(ValueError):
        kb.safe_name(name)


def test_plain_chinese_names_are_kept():
    assert kb.safe_name("报告 2024.txt") == "报告 2024.txt"
    assert kb.safe_name("计划.DOCX") == "计划.DOCX"


def test_save_upload_uses_the_original_name_and_limits_size(tmp_path):
    corpus = tmp_path / "corpus"
    tmp = tmp_path / "gradio-temp"
    tmp.write_text("内容", "utf-8")
    assert kb.save_upload(str(tmp), str(corpus), "报告 2024.txt") == "报告 2024.txt"
    assert (corpus / "报告 2024.txt").read_text("utf-8") == "内容"
    with pytest.raises(ValueError):
        kb.save_upload(str(tmp), str(corpus), "../escape.txt")
    assert not (tmp_path / "escape.txt").exists()
    big = tmp_path / "big.txt"
    with open(big, "wb") as fh:
        fh.truncate(kb.MAX_UPLOAD_MB * 1024 * 1024 + 1)  # sparse: no real disk use
    with pytest.raises(ValueError, match="20 MB"):
        kb.save_upload(str(big), str(corpus))
    assert not (corpus / "big.txt").exists()


def test_delete_file_stays_inside_the_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("x", "utf-8")
    (tmp_path / "outside.txt").write_text("x", "utf-8")
    with pytest.raises(ValueError):
        kb.delete_file("../outside.txt", str(corpus))
    assert (tmp_path / "outside.txt").exists()
    kb.delete_file("a.txt", str(corpus))
    assert not (corpus / "a.txt").exists()


def _handler(app: gr.Blocks, name: str):
    return next(f.fn for f in app.fns.values() if f.name == name)


def test_upload_delete_and_reindex_update_the_index(tiny_corpus, fake_settings, tmp_path):
    index = str(tmp_path / "index")
    corpus = str(tiny_corpus)
    build_index([corpus], index=index, settings=fake_settings)
    app = ui.make_app(index, corpus)
    assert [r[1] for r in ui.document_rows(index)] == ["a.txt", "b.md"]

    upload_dir = tmp_path / "upload"
    upload_dir.mkdir()
    new = upload_dir / "丙县通知.txt"
    new.write_text("# 丙县2024年预算公告\n\n## 一、预算\n\n丙县2024年一般公共预算支出安排8765万元。\n", "utf-8")
    bad = upload_dir / "坏.pdf"
    bad.write_bytes(b"not a pdf")
    status, rows, _, _ = _handler(app, "upload")([str(new), str(bad)])
    assert "已索引 3 个文档" in status and "坏.pdf" in status  # the bad file is saved, skipped and named
    assert [r[1] for r in rows] == ["a.txt", "b.md", "丙县通知.txt"]
    # The chat sees the new document without a restart.
    answer = list(stream_ask("丙县2024年一般公共预算支出是多少", index=index, settings=fake_settings))[-1]
    assert "8765" in answer.answer

    status, rows, _ = _handler(app, "delete")("丙县通知.txt")
    assert "已删除" in status and "丙县通知.txt" not in [r[1] for r in rows]
    assert not (tiny_corpus / "丙县通知.txt").exists()
    status, _, _ = _handler(app, "delete")(None)  # the confirm dialog was cancelled
    assert "没有删除" in status
    status, rows, _ = _handler(app, "reindex_clicked")()
    assert "已索引 2 个文档" in status


def test_knowledge_base_refuses_to_replace_an_index_of_other_files(tiny_corpus, fake_settings, tmp_path):
    index = str(tmp_path / "index")
    build_index([str(tiny_corpus)], index=index, settings=fake_settings)
    app = ui.make_app(index, str(tmp_path / "elsewhere"))
    status, rows, _ = _handler(app, "reindex_clicked")()
    assert "--corpus" in status and len(rows) == 2


def test_answerer_choice_is_passed_through(tiny_corpus, fake_settings, tmp_path, monkeypatch):
    index = str(tmp_path / "index")
    build_index([str(tiny_corpus)], index=index, settings=fake_settings)
    radio = lambda app: next(b for b in app.blocks.values() if isinstance(b, gr.Radio))  # noqa: E731
    assert [v for _, v in radio(ui.make_app(index)).choices] == ["extractive"]
    monkeypatch.setenv("RAG_LLM_BASE_URL", "http://localhost:1/v1")
    monkeypatch.setenv("RAG_LLM_MODEL", "m")
    app = ui.make_app(index)
    assert [v for _, v in radio(app).choices] == ["extractive", "llm"]

    seen = {}

    def fake_stream(question, *, history, index, top_k, settings):
        seen.update(answerer=settings.answerer, top_k=top_k, history=list(history))
        yield Answer(question, "答[1]", True, [], standalone="完整的问题" if history else "")

    monkeypatch.setattr(ui, "stream_ask", fake_stream)
    folder = str(tmp_path / "export")
    (tmp_path / "export").mkdir()
    out = list(_handler(app, "respond")("问题", [], 3, False, "llm", [], folder))
    chat, _, _, turns, docx_file, md_file = out[-1]
    assert seen == {"answerer": "llm", "top_k": 3, "history": []} and chat[-1]["content"] == "答[[1]](#cite-1-1)"
    assert [a.question for a in turns] == ["问题"]  # the page's own answers, passed back in with the next question
    assert docx_file.endswith(".docx") and "## 1. 问题" in open(md_file, encoding="utf-8").read()
    out = list(_handler(app, "respond")("追问", chat, 3, False, "llm", turns, folder))
    assert [a.question for a in seen["history"]] == ["问题"] and "按「完整的问题」检索" in out[-1][0][-1]["content"]
    assert [a.question for a in out[-1][3]] == ["问题", "追问"]


def test_every_answer_keeps_its_sources_and_opens_in_the_reader(tiny_corpus, fake_settings, tmp_path):
    index = str(tmp_path / "index")
    build_index([str(tiny_corpus)], index=index, settings=fake_settings)
    app = ui.make_app(index, str(tiny_corpus))
    folder = str(tmp_path)
    first = list(_handler(app, "respond")("甲市2024年地区生产总值增长多少", [], 3, False, "extractive", [], folder))[-1]
    second = list(_handler(app, "respond")("乙区2023年完成固定资产投资多少", first[0], 3, False, "extractive",
                                            first[3], folder))[-1]
    sources = second[1]
    assert "第1问" in sources and "第2问" in sources and 'id="cite-1-1"' in sources and 'id="cite-2-1"' in sources
    assert sources.index("第2问") < sources.index("第1问")  # the newest first

    class Click:  # what the sources panel's 查看原文 button sends
        _data = {"turn": 1, "n": next(c.n for c in second[3][0].citations if c.quote)}

    reader, page = _handler(app, "open_document")(second[3], Click())
    assert "<mark>" in page and "甲市2024年地区生产总值增长6%左右" in page and "一、主要目标" in page


def test_a_taken_port_is_one_line_and_exit_2(tmp_path):
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, str(ui.Path(ui.__file__).parent / "ui.py"), "--port", str(port),
                            "--index", str(tmp_path / "none")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "--port" in r.stderr and str(port) in r.stderr


def test_serve_binds_this_machine_by_default(monkeypatch):
    import server

    calls = {}
    monkeypatch.setattr(server, "check_port", lambda host, port: calls.update(checked=(host, port)))
    monkeypatch.setattr(server, "make_server_app", lambda index, corpus, auth, key: calls.update(auth=auth, key=key))
    monkeypatch.setattr(ui, "start_indexing", lambda settings: None)
    monkeypatch.setattr("uvicorn.run", lambda app, host, port, **kw: calls.update(host=host, port=port))
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    assert server.serve() == 0
    assert calls["host"] == "127.0.0.1" and calls["port"] == 7860 and calls["checked"] == ("127.0.0.1", 7860)
    assert calls["auth"] is None
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    server.serve(auth="u:p:q")
    assert calls["port"] == 7999 and calls["auth"] == ("u", "p:q")
    assert server.serve(auth="nocolon") == 2
    # Another host opens the page and the API to other machines: only with a key, a password, or --insecure.
    monkeypatch.delenv("RAG_API_KEY", raising=False)
    assert server.serve(host="0.0.0.0") == 2 and calls["host"] == "127.0.0.1"
    assert server.serve(host="0.0.0.0", api_key="k") == 0 and calls["host"] == "0.0.0.0" and calls["key"] == "k"
    assert server.serve(host="0.0.0.0", auth="u:p") == 0 and server.serve(host="0.0.0.0", insecure=True) == 0


def test_app_builds(tiny_corpus, fake_settings, tmp_path):
    index = str(tmp_path / "index")
    build_index([tiny_corpus], index=index, settings=fake_settings)
    assert ui.make_app(index) is not None


def test_the_served_page_reports_chinese_before_gradio_starts(tiny_corpus, fake_settings, tmp_path):
    from fastapi.testclient import TestClient

    import server

    index = str(tmp_path / "index")
    build_index([str(tiny_corpus)], index=index, settings=fake_settings)
    with TestClient(server.make_server_app(index, str(tiny_corpus))) as client:
        page = client.get("/").text
    assert page.index(server.LOCALE.decode()) < page.index("<script", page.index(server.LOCALE.decode()) + 1)


def test_make_run_installs_no_test_tools():
    import tomllib

    root = ui.Path(ui.__file__).parent
    deps = " ".join(tomllib.loads((root / "pyproject.toml").read_text("utf-8"))["project"]["dependencies"])
    assert "pytest" not in deps and "playwright" not in deps
    make = (root / "Makefile").read_text("utf-8")
    run_stamp = make.split("\nrun: ")[1].split()[0]
    recipe = make.split(f"\n{run_stamp}: ")[1].split("\n\n")[0]
    assert "pip install -q -e ." in recipe and "[dev]" not in recipe


def test_a_paged_citation_says_its_page():
    c = Citation(n=1, source="r.pdf", title="报告", section="二、目标", text="增长6%。", quote="增长6%。", page=2)
    assert "第2页" in ui.render_citation(c, 1)
    assert "页" not in ui.render_citation(Citation(n=1, source="r.txt", title="报告", section="", text="x"), 1)
