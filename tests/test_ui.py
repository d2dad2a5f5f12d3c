"""The Gradio page builds, and citations render with the quote highlighted (no browser here)."""
import ui
from rag import Answer, Citation


def test_citations_render_with_highlight_and_escaping():
    c = Citation(n=1, source="a.txt", title="甲市报告", section="一、目标", text="<b>增长6%</b>，其余。", quote="<b>增长6%</b>")
    html = ui.render_citations(Answer("q", "增长6%[1]", True, [c]))
    assert "<mark>&lt;b&gt;增长6%&lt;/b&gt;</mark>" in html and "甲市报告 › 一、目标" in html
    declined = ui.render_citations(Answer("q", "没有", False, [c]))
    assert "没有找到答案" in declined


def test_app_builds(tiny_corpus, fake_settings, tmp_path):
    from rag import build_index

    index = str(tmp_path / "index")
    build_index([tiny_corpus], index=index, settings=fake_settings)
    app = ui.make_app(index)
    assert app is not None
