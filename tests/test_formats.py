"""Every format the knowledge base takes, made by the test itself: a PDF with a scanned page (OCR), an image,
a spreadsheet with a two-row merged header, a GBK .csv, a web page with navigation, Big5 and UTF-16 text, and
traditional characters. Each answers a question about a fact inside it; bad files are skipped with a reason."""
from __future__ import annotations

import random

import pytest

from rag import Settings, ask, build_index, read_document
from rag.loaders import load_file
from rag.errors import LoaderError

from conftest import make_pdf, render_lines

SCAN = ["二、主要目标", "  青禾县2024年地区生产总值增长6.5%左右，", "一般公共预算收入增长4%。"]
TRADITIONAL = "# 澄江市2024年工作報告\n\n## 一、主要目標\n\n澄江市2024年地區生產總值增長5.8%，新增城鎮就業1.2萬人。\n"
SIMPLIFIED = "# 白沙县2024年工作报告\n\n## 一、主要目标\n\n白沙县2024年粮食总产量达到36.5万吨，新建高标准农田8万亩。\n"
HTML = """<html><head><title>临河县统计公报 - 临河县人民政府网</title></head><body>
<nav><a href='/'>首页</a> | <a href='/news'>新闻中心</a> | <a href='/gk'>政务公开</a> | <a href='/hd'>互动交流</a></nav>
<div class="content"><h1>临河县2024年国民经济和社会发展统计公报</h1>
<h2>一、综合</h2><p>初步核算，全年全县地区生产总值达到356.8亿元，比上年增长6.2%。其中第一产业增加值40.1亿元，
第二产业增加值150.2亿元，第三产业增加值166.5亿元。</p>
<h2>二、农业</h2><p>全年粮食总产量达到52.3万吨，比上年增长1.5%。全年新建高标准农田3.2万亩。</p>
<h2>三、主要指标</h2>
<table><tr><th>指标</th><th>2024年</th><th>增长（%）</th></tr>
<tr><td>社会消费品零售总额（亿元）</td><td>120.5</td><td>5.1</td></tr>
<tr><td>一般公共预算收入（亿元）</td><td>18.7</td><td>3.9</td></tr></table>
</div><footer>版权所有 临河县人民政府 ICP备案号 12345678 联系我们 网站地图</footer></body></html>"""


def _xlsx(path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "主要指标"
    ws.append(["丁区2024年主要计划指标", None, None, None, None])
    ws.merge_cells("A1:E1")
    ws.append(["指标名称", "2023年", None, "2024年", None])
    ws.merge_cells("A2:A3")
    ws.merge_cells("B2:C2")
    ws.merge_cells("D2:E2")
    ws.append([None, "实际", "增长（%）", "计划", "增长（%）"])
    ws.append(["地区生产总值（亿元）", 512.3, 6.1, 545.6, 6.5])
    ws.append(["固定资产投资（亿元）", 210.4, 8.2, 227.2, 8.0])
    wb.save(path)


@pytest.fixture(scope="module")
def formats(tmp_path_factory):
    root = tmp_path_factory.mktemp("formats")
    corpus = root / "corpus"
    corpus.mkdir()
    text_page = ["青禾县2024年工作报告", "一、总体情况", "全县经济运行总体平稳，民生保障有力。"]
    (corpus / "青禾县报告.pdf").write_bytes(make_pdf([text_page, render_lines(SCAN, height=1754),
                                                     ["三、保障措施", "加强组织领导，压实工作责任。"]]))
    render_lines(["戊镇2024年重点工作", "  戊镇全年计划新建村级养老服务站14个，", "改造农村公路26公里。"]).save(corpus / "戊镇.png")
    _xlsx(corpus / "丁区指标.xlsx")
    (corpus / "己县.csv").write_bytes("指标,2024年目标,单位\n新增城镇就业,8500,人\n城镇化率,61.5,%\n".encode("gbk"))
    (corpus / "临河县公报.html").write_text(HTML, "utf-8")
    (corpus / "澄江.txt").write_bytes(TRADITIONAL.encode("big5"))
    (corpus / "白沙.txt").write_bytes(SIMPLIFIED.encode("utf-16"))
    random.seed(7)
    (corpus / "乱码.txt").write_bytes(bytes(random.randrange(1, 256) for _ in range(4000)))
    settings = Settings(embed_model="fake", corpus=str(corpus))
    index = str(root / "index")
    stats = build_index([str(corpus)], index=index, settings=settings)
    return index, settings, stats


def answer(formats, question):
    index, settings, _ = formats
    return ask(question, index=index, settings=settings)


@pytest.mark.parametrize("question, figure, source", [
    ("青禾县2024年地区生产总值增长多少", "6.5%", "青禾县报告.pdf"),  # the scanned page 2, read by OCR
    ("戊镇2024年计划新建多少个村级养老服务站", "14个", "戊镇.png"),
    ("丁区2024年地区生产总值计划是多少亿元", "545.6", "丁区指标.xlsx"),
    ("己县2024年新增城镇就业目标是多少", "8500", "己县.csv"),
    ("临河县2024年粮食总产量是多少", "52.3万吨", "临河县公报.html"),
    ("临河县一般公共预算收入是多少亿元", "18.7", "临河县公报.html"),  # a table row
    ("白沙县2024年粮食总产量是多少", "36.5万吨", "白沙.txt"),  # UTF-16
])
def test_a_fact_inside_each_format_is_answered(formats, question, figure, source):
    a = answer(formats, question)
    assert a.found and figure in a.answer, a.answer
    assert next(c for c in a.citations if c.quote).source == source


def test_the_scanned_pdf_page_is_page_2_and_counted(formats):
    index, settings, stats = formats
    a = answer(formats, "青禾县2024年地区生产总值增长多少")
    cite = next(c for c in a.citations if c.quote)
    assert cite.page == 2
    v = read_document(cite.source, index=index, chunk=cite.chunk, quote=cite.quote, settings=settings)
    assert v.pages == 3 and v.page == 2
    from rag.store import read_manifest

    doc = read_manifest(index)["documents"]["青禾县报告.pdf"]
    assert doc["ocr_pages"] == 1 and doc["ocr_lines"] >= 3 and "ocr_low_confidence" in doc


def test_the_web_page_keeps_its_content_and_drops_navigation(formats):
    index, settings, _ = formats
    from rag.store import load_index

    text = load_index(index).document("临河县公报.html").text
    assert text.startswith("# 临河县2024年国民经济和社会发展统计公报") and "52.3万吨" in text
    assert "新闻中心" not in text and "ICP备案号" not in text


def test_traditional_and_simplified_find_each_other(formats):
    a = answer(formats, "澄江市2024年地区生产总值增长多少")  # simplified question, Big5 traditional document
    cite = next(c for c in a.citations if c.quote)
    assert a.found and "5.8%" in a.answer and cite.source == "澄江.txt" and "地區生產總值" in cite.quote
    b = answer(formats, "白沙縣2024年糧食總產量是多少")  # traditional question, simplified document
    assert b.found and "36.5万吨" in b.answer


def test_random_bytes_are_skipped_with_the_reason(formats):
    _, _, stats = formats
    skipped = {s.path.rsplit("/", 1)[-1]: s.reason for s in stats.skipped}
    assert list(skipped) == ["乱码.txt"] and "encoding" in skipped["乱码.txt"]


@pytest.mark.parametrize("name, data, reason", [
    ("blank.png", None, "OCR found none"),
    ("broken.xlsx", b"PK\x03\x04 not really a workbook", "corrupt"),
    ("nav.html", "<html><body><nav><a href='/'>首页</a></nav></body></html>".encode(), "no main content"),
])
def test_bad_files_of_the_new_kinds_say_why(tmp_path, name, data, reason):
    path = tmp_path / name
    if data is None:
        from PIL import Image

        Image.new("RGB", (400, 200), "white").save(path)
    else:
        path.write_bytes(data)
    with pytest.raises(LoaderError, match=reason):
        load_file(path)


def test_a_password_protected_pdf_says_so(tmp_path):
    from pypdf import PdfReader, PdfWriter

    plain = tmp_path / "plain.pdf"
    plain.write_bytes(make_pdf([["甲市2024年工作报告", "地区生产总值增长6%。"]]))
    writer = PdfWriter()
    for page in PdfReader(str(plain)).pages:
        writer.add_page(page)
    writer.encrypt("secret")
    with open(tmp_path / "locked.pdf", "wb") as fh:
        writer.write(fh)
    with pytest.raises(LoaderError, match="password"):
        load_file(tmp_path / "locked.pdf")


def test_an_unchanged_file_is_not_read_again(formats, tmp_path, monkeypatch):
    index, settings, _ = formats
    import rag.loaders

    def no_reading(path, *args, **kwargs):
        if path.name == "乱码.txt":  # a skipped file is checked again: it may have been fixed
            raise LoaderError("still not text")
        raise AssertionError(f"the unchanged {path.name} was read again")

    monkeypatch.setattr(rag.loaders, "load_file", no_reading)
    stats = build_index([settings.corpus], index=index, settings=settings)
    assert stats.documents == 7 and stats.embedded == 0


def test_ocr_lines_are_read_column_by_column_under_a_title_across_both():
    from rag.ocr import Line, layout

    def line(text, x0, y0, x1):
        return Line(text, x0, y0, x1, y0 + 30, 0.99)

    lines = [line("右栏第一行", 650, 100, 1050), line("左栏第一行", 50, 100, 450), line("总标题横跨两栏", 200, 20, 1000),
             line("右栏第二行", 650, 150, 1050), line("左栏第二行", 50, 150, 450), line("  左栏缩进行", 110, 200, 450)]
    text = layout(lines, 1100)
    order = [t for t in text.replace(" ", "").splitlines() if t]
    assert order == ["总标题横跨两栏", "左栏第一行", "左栏第二行", "左栏缩进行", "右栏第一行", "右栏第二行"]
    assert "\n  左栏缩进行" in text  # a first line indented by two characters starts a paragraph


def test_the_cli_prints_the_page(formats, capsys):
    from rag.cli import main as cli

    index, settings, _ = formats
    import os

    os.environ["RAG_EMBED_MODEL"] = "fake"
    try:
        cli(["ask", "青禾县2024年地区生产总值增长多少", "--index", index])
    finally:
        del os.environ["RAG_EMBED_MODEL"]
    assert "第2页" in capsys.readouterr().out


def test_ocr_reports_its_pages(tmp_path):
    seen = []
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_pdf([["甲市2024年工作报告", "地区生产总值增长6%。"], render_lines(SCAN, height=1754)]))
    doc = load_file(path, progress=lambda done, total, what: seen.append((done, total, what)))
    assert seen == [(2, 2, "ocr")] and doc.stats["ocr_pages"] == 1 and doc.page_at(doc.text.index("6.5%")) == 2
