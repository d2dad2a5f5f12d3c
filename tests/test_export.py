"""A conversation exported with its sources, as Markdown and as .docx."""
import docx

from rag.export import to_docx, to_markdown
from rag.models import Answer, Citation


def _turns():
    cite = Citation(1, "report.pdf", "甲市报告", "一、目标", "甲市地区生产总值增长6%。", quote="甲市地区生产总值增长6%。", page=2)
    other = Citation(2, "b.txt", "乙区报告", "", "无关。")
    return [Answer("甲市GDP增长多少", "增长6%[1]", True, [cite, other]),
            Answer("那乙区呢？", "知识库中没有找到与该问题相关的内容。", False, [other], standalone="乙区GDP增长多少")]


def test_markdown_holds_each_answer_with_its_quoted_sources():
    md = to_markdown(_turns())
    assert "## 1. 甲市GDP增长多少" in md and "增长6%[1]" in md
    assert "[1] 甲市报告 › 一、目标 · 第2页（report.pdf）" in md and "> 甲市地区生产总值增长6%。" in md
    assert "[2] 乙区报告" not in md.split("## 2.")[0]  # an answer lists the passages it quotes
    assert "按「乙区GDP增长多少」检索" in md and "未找到答案" in md


def test_docx_opens_and_holds_both_answers_and_quotes(tmp_path):
    path = to_docx(_turns(), tmp_path / "记录.docx")
    text = "\n".join(p.text for p in docx.Document(path).paragraphs)
    assert "甲市GDP增长多少" in text and "那乙区呢？" in text and "甲市地区生产总值增长6%。" in text and "第2页" in text
