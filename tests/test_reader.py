"""The reader: a document opened at its cited passage, and page numbers for paged sources."""
import pytest

from rag import DocumentNotFound, ask, read_document
from rag.models import Chunk, Document
from rag.reader import find_loose, view

TEXT = ("# 甲市2024年工作报告\n\n## 一、主要目标\n\n甲市2024年地区生产总值增长6%左右，一般公共预算收入增长4%。\n\n"
        "## 二、重点工作\n\n加快建设甲市轨道交通3号线，\n新建公园12处。\n")


def test_a_document_reads_as_headings_and_paragraphs_opened_at_the_quote():
    doc = Document("a.md", TEXT)
    start = TEXT.index("加快")
    chunk = Chunk("c", "a.md", "甲市2024年工作报告", "二、重点工作", "加快建设甲市轨道交通3号线，新建公园12处。",
                  start=start, end=len(TEXT))
    v = view(doc, chunk, "新建公园12处。")
    assert v.title == "甲市2024年工作报告"
    assert [(level, text) for _, level, text in v.toc()] == [(1, "一、主要目标"), (1, "二、重点工作")]
    p = v.paragraphs[v.focus]
    assert p.text[v.mark[0]:v.mark[1]] == "新建公园12处。"  # the hard-wrapped line was rejoined
    assert v.page is None and v.pages is None  # a text file has no pages
    assert view(doc).focus == -1


def test_whitespace_does_not_hide_a_quote():
    assert find_loose("地区生产总值 增长\n6%", "地区生产总值增长6%") == (0, 12)
    assert find_loose("地区生产总值", "人口") is None


def test_a_citation_on_page_two_says_so_and_the_reader_opens_there(paged_index, fake_settings):
    a = ask("青禾县2024年地区生产总值增长多少", index=paged_index, settings=fake_settings)
    cite = next(c for c in a.citations if c.quote)
    assert a.found and "6%" in a.answer and cite.page == 2
    v = read_document(cite.source, index=paged_index, chunk=cite.chunk, quote=cite.quote, settings=fake_settings)
    assert v.pages == 3 and v.page == 2 and "地区生产总值增长6%" in v.paragraphs[v.focus].text
    assert [p.page for p in v.paragraphs if p.kind == "heading"] == [1, 2, 3]


def test_a_document_the_index_lacks_is_a_typed_error(paged_index, fake_settings):
    with pytest.raises(DocumentNotFound):
        read_document("nope.pdf", index=paged_index, settings=fake_settings)


def test_a_word_document_reads_with_its_headings_and_table(tmp_path, fake_settings):
    import docx

    from rag import build_index

    d = docx.Document()
    d.add_heading("丁区2024年工作要点", level=0)
    d.add_heading("一、主要目标", level=1)
    d.add_paragraph("丁区2024年地区生产总值增长7%。")
    table = d.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [["指标", "目标"], ["新增就业", "3000人"]]):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    corpus = tmp_path / "docs"
    corpus.mkdir()
    d.save(str(corpus / "要点.docx"))
    index = str(tmp_path / "ix")
    build_index([str(corpus)], index=index, settings=fake_settings)
    a = ask("丁区2024年地区生产总值增长多少", index=index, settings=fake_settings)
    cite = next(c for c in a.citations if c.quote)
    v = read_document(cite.source, index=index, chunk=cite.chunk, quote=cite.quote, settings=fake_settings)
    assert v.title == "丁区2024年工作要点" and [t for _, _, t in v.toc()] == ["一、主要目标"]
    assert "增长7%" in v.paragraphs[v.focus].text and cite.page is None
    assert any(p.kind == "table" and p.cells == ["新增就业", "3000人"] for p in v.paragraphs)
