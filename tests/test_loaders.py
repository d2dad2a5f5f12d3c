from pathlib import Path

import pytest

from rag.chunking import chunk_document
from rag.errors import LoaderError
from rag.loaders import decode_text, load_file, load_paths

SEED = Path(__file__).resolve().parent.parent / "seeds" / "003_400c03503814481d.txt"


def test_utf8_bom_and_gbk_decode_to_the_same_text():
    text = "济南新旧动能转换起步区，固定资产投资增长50%。"
    assert decode_text(text.encode("utf-8")) == text
    assert decode_text(b"\xef\xbb\xbf" + text.encode("utf-8")) == text
    assert decode_text(text.encode("gbk")) == text


def test_gbk_copy_of_a_seed_gives_the_same_chunks(tmp_path):
    gbk = tmp_path / SEED.name
    gbk.write_bytes(SEED.read_text("utf-8").encode("gb18030"))
    a = chunk_document(load_file(SEED))
    b = chunk_document(load_file(gbk))
    assert [(c.id, c.text, c.section) for c in a] == [(c.id, c.text, c.section) for c in b]


def test_bad_files_are_skipped_with_reasons(tmp_path):
    (tmp_path / "good.txt").write_text("甲市2024年地区生产总值增长6%。", "utf-8")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 10)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "notes.xyz").write_text("x", "utf-8")
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    docs, skipped = load_paths([tmp_path])
    assert [d.source for d in docs] == ["good.txt"]
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert set(reasons) == {"binary.txt", "empty.txt", "notes.xyz", "broken.docx", "broken.pdf"}
    assert "binary" in reasons["binary.txt"] and "empty" in reasons["empty.txt"]


def test_docx_headings_and_tables(tmp_path):
    import docx

    d = docx.Document()
    d.add_heading("甲市2024年计划", level=0)
    d.add_heading("一、主要目标", level=1)
    d.add_paragraph("地区生产总值增长6%左右。")
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text, t.cell(0, 1).text = "指标", "目标"
    t.cell(1, 0).text, t.cell(1, 1).text = "粮食产量", "23万吨"
    path = tmp_path / "plan.docx"
    d.save(path)
    chunks = chunk_document(load_file(path))
    assert chunks[0].title == "甲市2024年计划"
    assert any("一、主要目标" in c.section and "6%" in c.text for c in chunks)
    assert any("指标：粮食产量" in c.text and "目标：23万吨" in c.text for c in chunks)


def test_missing_file_raises_loader_error(tmp_path):
    with pytest.raises(LoaderError):
        load_file(tmp_path / "nope.pdf".replace("pdf", "zip"))
