"""Chunking on the real seeds."""
import re
from pathlib import Path

import pytest

from rag.chunking import chunk_document
from rag.config import Settings
from rag.loaders import load_file
from rag.models import Document
from rag.repair import _byline, repair
from rag.textutil import is_cjk, split_sentences, squash

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
FILES = sorted(p.name for p in SEEDS.glob("*.txt"))


def chunks_of(name):
    return chunk_document(load_file(SEEDS / name))


def test_003_target_chunk_has_its_section_and_title():
    hits = [c for c in chunks_of("003_400c03503814481d.txt") if "固定资产投资增长50%" in c.text]
    assert hits
    assert any("（一）关于经济发展" in c.section for c in hits)
    assert all("起步区" in c.title for c in hits)
    assert all("起步区" in c.embed_text() and "主要目标" in c.embed_text() for c in hits if "（一）关于经济发展" in c.section)


def test_000_no_line_break_inside_a_sentence():
    # A line break between two Chinese characters must be a paragraph's start in the source (a newspaper box's
    # items end without a full stop), or follow a byline.
    raw = (SEEDS / "000_b0255db324f54625.txt").read_text("utf-8")
    for c in chunks_of("000_b0255db324f54625.txt"):
        for m in re.finditer(r"([^\n]*)\n([^\n]{1,6})", c.text):
            before, after = m.group(1), m.group(2)
            if not (is_cjk(before[-1:]) and is_cjk(after[:1])) or _byline(before):
                continue
            starts = [k.start() for k in re.finditer(re.escape(after), raw)]
            assert any(raw[:k].rstrip(" \u3000").endswith("\n\n") for k in starts), \
                f"line break inside a sentence: {c.text[max(0, m.start() - 20):m.end() + 20]!r}"


def test_a_flush_line_between_indented_paragraphs_heads_a_box():
    text = ("某市两会特刊\n\n2023 年经济社会发展情况\n\n  预计全市地区生产总值增长6%左右，完成一般公\n\n共预算收入100亿元\n\n"
            "  财政民生支出 100 亿元，占比达到 80%\n\n2024 年主要预期目标\n\n  新增规上工业企业 200 家\n\n"
            "  开工新建改扩建幼儿园 32所\n")
    headings = [b.text for b in repair(text) if b.kind == "heading"]
    assert "2024 年主要预期目标" in headings
    assert not any("共预算收入" in h for h in headings)  # a wrapped line's figures are not a heading
    kids = [c for c in chunk_document(Document("box.txt", text)) if "幼儿园 32所" in c.text]
    assert kids and all("2024 年主要预期目标" in c.section for c in kids)


def test_a_box_of_figures_keeps_one_item_a_line():
    text = ("某市两会特刊\n\n2024 年主要预期目标\n\n  全年新增城镇就业 15 万人以上，开工新建改扩建幼儿园 32所、中小学 28所\n\n"
            "地区生产总值\n增长 5.5%以上\n\n一般公共预算收\n入增长 5%左右\n\n"
            "居民消费价格涨\n幅控制在 3%左右\n\n  全市经营主体超过154万户，预计新增高新技术企业超1100家，技术合同成交额达到\n\n"
            "806.53亿元，居全省首位。\n")
    texts = [b.text for b in repair(text) if b.kind == "text"]
    assert "地区生产总值增长 5.5%以上" in texts and "一般公共预算收入增长 5%左右" in texts
    assert any(t.endswith("806.53亿元，居全省首位。") and t.startswith("全市经营主体") for t in texts)  # a page cut
    chunk = chunk_document(Document("box.txt", text))[0].text
    assert "5.5%以上\n一般公共预算收入增长 5%左右\n居民消费价格" in chunk


def test_000_split_headline_is_one_heading_and_false_heading_rejected():
    blocks = repair((SEEDS / "000_b0255db324f54625.txt").read_text("utf-8"))
    headings = [b.text for b in blocks if b.kind == "heading"]
    assert any("建议加快推进无障碍设施的建设管理" in h for h in headings)
    assert not any(h.startswith("一、全国前列") for h in headings)
    assert any("全省第一、全国前列。" in squash(b.text) for b in blocks if b.kind == "text")


@pytest.mark.parametrize("name", ["001_1b987398aee72c23.txt", "002_5f250789493869b4.txt"])
def test_numbered_sections_nest_by_family_not_markdown_level(name):
    chunks = chunks_of(name)
    for c in chunks:
        parts = c.section.split(" > ")
        families = [re.match(r"^(第.+?[章节条]|[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|\d+[.．、])", p) for p in parts]
        kinds = [("cn" if "、" in m.group(0) and not m.group(0)[0].isdigit() else "paren" if m.group(0).startswith("（") else "num")
                 if m else "plain" for m in families]
        order = {"cn": 0, "paren": 1, "num": 2}
        ranks = [order[k] for k in kinds if k in order]
        assert ranks == sorted(ranks), c.section
    # 001 marks （四） with #### and （二） with ##, yet both sit directly under their 一、
    if name.startswith("001"):
        secs = {c.section.split(" > ")[1] for c in chunks if c.section.startswith("一、") and " > " in c.section}
        assert any(s.startswith("（二）") for s in secs) and any(s.startswith("（四）") for s in secs)


@pytest.mark.parametrize("name", FILES)
def test_no_text_is_lost(name):
    """Every repaired block's text is in some chunk (headings in its title or section path)."""
    chunks = chunks_of(name)
    hay = [squash(c.title + c.section + c.text) for c in chunks]
    for b in repair((SEEDS / name).read_text("utf-8")):
        pieces = b.cells if b.kind == "table" and b.cells else split_sentences(b.text)
        for piece in pieces:
            p = squash(piece)
            # a sentence longer than a chunk is cut at clause boundaries: check it in windows
            windows = [p] if len(p) <= 200 else [p[i:i + 60] for i in range(0, len(p), 60)]
            for w in windows:
                assert any(w in h for h in hay), f"lost: {w[:60]!r}"


@pytest.mark.parametrize("name", FILES)
def test_chunk_sizes_and_offsets(name):
    s = Settings()
    text = (SEEDS / name).read_text("utf-8")
    for c in chunks_of(name):
        assert len(c.text) <= s.chunk_max + 400  # a table row group may run long; prose never does
        assert 0 <= c.start < c.end <= len(text)
        first = squash(c.text)[:4]
        assert first in squash(text[c.start:c.end]) or c.text.startswith(("项目序号", "指"))


def test_chunk_ids_are_stable_content_hashes():
    a, b = chunks_of("001_1b987398aee72c23.txt"), chunks_of("001_1b987398aee72c23.txt")
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)


def test_table_rows_carry_their_header():
    chunks = chunks_of("001_1b987398aee72c23.txt")
    assert any("项目名称：宋刘城市更新项目" in c.text for c in chunks)


def test_page_break_rejoins_a_cut_sentence():
    chunks = chunks_of("002_5f250789493869b4.txt")
    assert any("社会主义思想为指导，深入学习贯彻" in c.text for c in chunks)
    assert not any("思想会主义思想" in c.text for c in chunks)


def test_two_row_table_header_names_every_column():
    """003's appendix: 2023年 and 2024年 each span two columns of the second header row."""
    text = "\n".join(c.text for c in chunks_of("003_400c03503814481d.txt"))
    assert "指标名称：地区生产总值；计算单位：亿元；2022年实际：69.3；2023年实际：113.2；2023年增长（%）：37.8；2024年计划：125.7" in text
    assert "指标名称：居民人均可支配收入；计算单位：元；2022年实际：-；2023年实际：27093" in text
    # a row one cell short ending in words: that cell spans the plan's two columns
    assert "指标名称：外贸进出口；计算单位：亿元；2022年实际：11.59；2023年实际：15.2；2023年增长（%）：31.5；2024年计划：外贸促稳提质" in text


def test_merge_header_only_when_the_lower_row_splits_the_upper_evenly():
    from rag.chunking import _merge_header

    assert _merge_header(["名称", "2023年", "2024年"], ["实际", "增长", "计划", "增长"], 5) == [
        "名称", "2023年实际", "2023年增长", "2024年计划", "2024年增长"]
    assert _merge_header(["名称", "2023年", "2024年"], ["实际", "增长", "计划"], 4) is None  # 3 cells over 2
    assert _merge_header(["名称", "数值"], ["单位"], 9) is None
