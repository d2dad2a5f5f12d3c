"""The reader: a whole document as headings, paragraphs and table rows, opened at a cited passage.

Built from the text the index stored for the document (`Index.document`), repaired and sectioned the way
chunking does it, so headings match the citations' section paths and offsets match the chunks'."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from .chain import get_engine
from .chunking import build_sections, find_title
from .models import Chunk, Document
from .repair import repair


@dataclass
class Paragraph:
    """One block of the document as shown: a heading (with its level), a paragraph or a table row."""

    kind: str  # "heading", "text" or "table"
    text: str
    level: int = 0  # a heading's depth, 1 = top level
    start: int = 0  # offsets in the document's text
    end: int = 0
    page: int | None = None
    cells: list[str] = field(default_factory=list)  # a table row's cells


@dataclass
class DocumentView:
    """A document to read: its title, its paragraphs, and where the cited passage is."""

    source: str
    title: str
    paragraphs: list[Paragraph]
    pages: int | None = None  # how many pages a paged document (PDF) has
    focus: int = -1  # the paragraph holding the cited sentence (-1: none)
    mark: tuple[int, int] | None = None  # where that sentence is in the paragraph's text
    page: int | None = None  # the page of the cited sentence

    def toc(self) -> list[tuple[int, int, str]]:
        """The table of contents: (paragraph index, level, heading) for every heading."""
        return [(i, p.level, p.text) for i, p in enumerate(self.paragraphs) if p.kind == "heading"]


def view(doc: Document, chunk: Chunk | None = None, quote: str = "") -> DocumentView:
    """The document as paragraphs; with a chunk (and its quote), opened at the quote's paragraph."""
    blocks = repair(doc.text)
    title, title_index = find_title(blocks, doc.source)
    paragraphs: list[Paragraph] = []
    for sec in build_sections(blocks, title_index):
        if sec.heading is not None:
            h = sec.heading
            paragraphs.append(Paragraph("heading", h.text.strip(), len(sec.path), h.start, h.end, doc.page_at(h.start)))
        for b in sec.blocks:
            if b.kind == "heading" or not b.text.strip():
                continue  # the title line: shown as the title
            paragraphs.append(Paragraph(b.kind, b.text.strip(), 0, b.start, b.end, doc.page_at(b.start), list(b.cells)))
    out = DocumentView(doc.source, title, paragraphs, len(doc.pages) or None)
    if chunk is not None:
        out.focus, out.mark = locate(paragraphs, chunk, quote)
        if out.focus >= 0:
            p = paragraphs[out.focus]
            out.page = p.page if out.mark is None else doc.page_at(p.start + out.mark[0])
    return out


def locate(paragraphs: list[Paragraph], chunk: Chunk, quote: str) -> tuple[int, tuple[int, int] | None]:
    """The paragraph of the chunk that holds the quote, and the quote's place in it (spaces ignored: the
    chunk's text is repaired). A table row's quote is reformatted (列名：值), so its row is found by its cells.
    Without the quote, the chunk's first paragraph."""
    inside = [i for i, p in enumerate(paragraphs) if p.end > chunk.start and p.start < max(chunk.end, chunk.start + 1)]
    for i in inside:
        span = find_loose(paragraphs[i].text, quote) if quote else None
        if span:
            return i, span
    for i in inside:  # a table row: every cell of it is in the quote
        p = paragraphs[i]
        if quote and p.kind == "table" and p.cells and all(_squash(c) in _squash(quote) for c in p.cells if c.strip()):
            return i, (0, len(p.text))
    return (inside[0], None) if inside else (-1, None)


def find_loose(text: str, needle: str) -> tuple[int, int] | None:
    """Where `needle` occurs in `text` when whitespace is ignored on both sides: (start, end) in `text`."""
    want = _squash(needle)
    if not want:
        return None
    keep = [i for i, ch in enumerate(text) if not ch.isspace()]
    at = "".join(text[i] for i in keep).find(want)
    if at < 0:
        return None
    return keep[at], keep[at + len(want) - 1] + 1


def _squash(text: str) -> str:
    return "".join(text.split())


def read_document(source: str, *, index: str | os.PathLike = "index", chunk: str = "", quote: str = "",
                  settings=None) -> DocumentView:
    """Open an indexed document for reading; with a citation's chunk id and quote, at that passage.
    Raises DocumentNotFound when the index holds no such document."""
    idx = get_engine(index, settings).index
    doc = idx.document(source)
    by_id = idx.cache.get("chunk_ids")
    if by_id is None:
        by_id = idx.cache["chunk_ids"] = {c.id: c for c in idx.chunks}
    return view(doc, by_id.get(chunk), quote)
