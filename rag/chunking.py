"""Chunk repaired documents by section heading.

One chunk per section where it fits; long sections are split on sentence boundaries with a small
overlap; tiny sections merge into a neighbour; a chunk never crosses a top-level section.
Table rows become "列名：值；…" lines, a few rows per chunk.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from .config import Settings
from .models import Chunk, Document
from .repair import Block, box_item, repair
from .textutil import ends_sentence, split_clauses, split_sentences

SECTION_SEP = " > "
TITLE_MAX = 80
NUMERIC_CELL_RE = re.compile(r"[-\d.%]+")  # a table cell that is a figure (12.9, -2.2, 75%, -)


@dataclass
class Section:
    path: list[str]
    top: int  # id of the top-level section it belongs to
    blocks: list[Block] = field(default_factory=list)
    heading: Block | None = None  # the heading block that opens it (None for the text before any heading)


@dataclass
class _Unit:
    """A sentence (or table row) with its offsets in the original document."""

    text: str
    start: int
    end: int
    sep: str = ""  # what goes before it when joined to the previous unit


def find_title(blocks: list[Block], fallback: str) -> tuple[str, int]:
    """The document's title from its content, and the index of the block that holds it (-1 if none)."""
    head = blocks[:8]
    for i, b in enumerate(head):
        m = re.search(r"印发《(.{4,60}?)》", b.text)
        if m:
            return m.group(1), -1
    for i, b in enumerate(head):
        if b.kind == "heading" and not b.family.startswith(("cn", "arabic", "chapter", "section", "article")):
            title = b.text.strip()
            nxt = blocks[i + 1].text.strip() if i + 1 < len(blocks) else ""
            if nxt.startswith(("——", "--")):  # a dashed subtitle names the occasion, place and date
                title = f"{title}（{nxt.lstrip('—-').strip()}）"
            return title[:TITLE_MAX], i
    for b in blocks:
        if b.text.strip():
            return b.text.strip()[:TITLE_MAX], -1
    return fallback, -1


def build_sections(blocks: list[Block], title_index: int) -> list[Section]:
    """Group blocks under their heading path. Nesting follows the order numbering families appear."""
    stack: list[tuple[str, str]] = []
    top = 0
    sections = [Section([], 0)]
    for i, b in enumerate(blocks):
        if b.kind != "heading":
            sections[-1].blocks.append(b)
            continue
        if i == title_index:
            continue
        text = b.text.strip()
        fam = b.family
        families = [f for f, _ in stack]
        if fam == "plain" and stack and stack[-1][0] == "plain" and not sections[-1].blocks:
            stack.append((fam, text))  # a title line right under an empty one ("附件" / "…计划表") nests
        elif fam == "plain" or not stack:
            stack = [(fam, text)]
        elif fam in families:
            stack = stack[: families.index(fam)] + [(fam, text)]
        else:
            stack.append((fam, text))
        if len(stack) == 1:
            top += 1
        sections.append(Section([t for _, t in stack], top, heading=b))
    return [s for s in sections if s.blocks or s.path]


def _offset(block: Block, i: int) -> int:
    """Original-document offset of character i of block.text."""
    seen = 0
    for off, t in block.pieces:
        if i < seen + len(t):
            return off + (i - seen)
        seen += len(t)
    return block.end


def _text_units(blocks: list[Block], max_chars: int) -> list[_Unit]:
    units: list[_Unit] = []
    prev_text = ""
    for b in blocks:
        if b.kind != "text":
            continue
        pos = 0
        first = True
        for sent in split_sentences(b.text):
            pieces = [sent] if len(sent) <= max_chars else _split_long(sent, max_chars)
            for piece in pieces:
                k = len(piece)
                if piece.strip():
                    # A new line where the last block ended a sentence, or this one starts a paragraph indented
                    # (a newspaper box's items end without a full stop); else the block continues the line.
                    newline = (ends_sentence(prev_text) or prev_text.endswith(("：", ":")) or not prev_text or b.indent
                               or box_item(prev_text, b.text))
                    sep = "" if not first else ("\n" if newline else " ")
                    units.append(_Unit(piece, _offset(b, pos), _offset(b, pos + k - 1) + 1, sep if units else ""))
                    first = False
                pos += k
        prev_text = b.text
    return units


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """A sentence over max_chars is cut at clause boundaries (，、：), and hard-cut as a last resort."""
    out, cur = [], ""
    for clause in split_clauses(sentence) or [sentence]:
        while len(clause) > max_chars:
            out.append(cur + clause[: max_chars - len(cur)])
            clause, cur = clause[max_chars - len(cur):], ""
        if len(cur) + len(clause) > max_chars:
            out.append(cur)
            cur = ""
        cur += clause
    if cur:
        out.append(cur)
    joined = "".join(out)
    if joined != sentence:  # clause splitting dropped whitespace-only runs: fall back to hard cuts
        out = [sentence[i:i + max_chars] for i in range(0, len(sentence), max_chars)]
    return out


def _table_units(blocks: list[Block]) -> list[_Unit]:
    """Each table row as '列名：值；…' (when the header fits the row), else cells joined by ' | '."""
    units: list[_Unit] = []
    header: list[str] = []
    sub: list[str] = []  # a second header row under the first (2023年 -> 实际 | 增长)
    under_header = False
    for b in blocks:
        if b.kind != "table":
            continue
        cells = b.cells or [b.text]
        if len(cells) == 1:  # a one-cell row labels the rows under it ("二、创新驱动")
            units.append(_Unit(cells[0], b.start, b.end, "\n"))
            under_header = False
            continue
        # A header has no numeric cell; a second header row right under it spans it unevenly (its
        # first cells are merged into the upper row's), so it has another number of cells.
        if not any(NUMERIC_CELL_RE.fullmatch(c) for c in cells) and (
                not header or (under_header and len(cells) != len(header))):
            if header:
                sub = [_squash_spaced(c) for c in cells]
            else:
                header = [_squash_spaced(c) for c in cells]  # no numeric cell: a header
            under_header = not sub
            units.append(_Unit(" | ".join(cells), b.start, b.end, "\n"))
            continue
        under_header = False
        if sub and len(header) != len(cells):
            header = _merge_header(header, sub, len(cells)) or header
            sub = []
        # A row one cell short that ends in words (…| 31.5 | 外贸促稳提质): that cell is merged over the last two
        # columns, and goes with the first of them.
        merged_last = len(header) == len(cells) + 1 and not NUMERIC_CELL_RE.fullmatch(cells[-1])
        if header and (len(header) == len(cells) or merged_last):
            row = "；".join(f"{h}：{v}" for h, v in zip(header, cells))
        else:
            row = " | ".join(cells)
        units.append(_Unit(row, b.start, b.end, "\n"))
    return units


def _squash_spaced(cell: str) -> str:
    """'指 标 名 称' -> '指标名称': table headers are often letter-spaced."""
    return re.sub(r"(?<=[\u4e00-\u9fff]) +(?=[\u4e00-\u9fff])", "", cell)


def _merge_header(top: list[str], sub: list[str], width: int) -> list[str] | None:
    """One header from two rows where the lower row splits the last k upper cells evenly:
    [名称, 2023年, 2024年] over [实际, 增长, 计划, 增长] with 5 columns -> [名称, 2023年实际, 2023年增长, …].
    None when the rows do not fit the width that way."""
    k = len(top) + len(sub) - width
    if not 0 < k <= len(top) or len(sub) % k:
        return None
    span = len(sub) // k
    lead = top[: len(top) - k]
    return lead + [top[len(lead) + i // span] + sub[i] for i in range(len(sub))]


def _pack(units: list[_Unit], s: Settings) -> list[list[_Unit]]:
    """Greedy packing into chunks of about chunk_target chars (never over chunk_max), with overlap."""
    total = sum(len(u.text) for u in units)
    if total <= s.chunk_max:
        return [units] if units else []
    out: list[list[_Unit]] = []
    cur: list[_Unit] = []
    size = 0
    for u in units:
        if cur and size + len(u.text) > s.chunk_max or (size >= s.chunk_target and cur):
            out.append(cur)
            tail: list[_Unit] = []
            t = 0
            for prev in reversed(cur):  # carry the last short sentence(s) over as overlap
                if t + len(prev.text) > s.chunk_overlap:
                    break
                tail.insert(0, prev)
                t += len(prev.text)
            cur, size = tail, t
        cur.append(u)
        size += len(u.text)
    if cur:
        if out and size < s.chunk_min // 2 and sum(len(x.text) for x in out[-1]) + size <= s.chunk_max:
            out[-1].extend(x for x in cur if x not in out[-1])
        else:
            out.append(cur)
    return out


def _join_units(units: list[_Unit]) -> str:
    return "".join((u.sep if i else "") + u.text for i, u in enumerate(units)).strip()


def _page_marks(units: list[_Unit], doc: Document) -> list[list[int]]:
    """[offset in the chunk's text, page] where each page of the chunk begins (as _join_units joins them)."""
    text = "".join((u.sep if i else "") + u.text for i, u in enumerate(units))
    lead = len(text) - len(text.lstrip())
    marks: list[list[int]] = []
    at = 0
    for i, u in enumerate(units):
        at += len(u.sep) if i else 0
        page = doc.page_at(u.start)
        if not marks or marks[-1][1] != page:
            marks.append([max(0, at - lead), page])
        at += len(u.text)
    return marks


def _merge_tiny(sections: list[Section], s: Settings) -> list[Section]:
    """A section whose body is tiny moves into the next section when that is its own subsection."""
    out: list[Section] = []
    carry: list[Block] = []
    for i, sec in enumerate(sections):
        sec.blocks = carry + sec.blocks
        carry = []
        body = sum(len(b.text) for b in sec.blocks)
        nxt = sections[i + 1] if i + 1 < len(sections) else None
        is_parent = nxt is not None and nxt.top == sec.top and nxt.path[: len(sec.path)] == sec.path and len(nxt.path) > len(sec.path)
        if sec.blocks and body < s.tiny_section and is_parent and all(b.kind == "text" for b in sec.blocks):
            carry = sec.blocks
            continue
        out.append(sec)
    return out


def chunk_document(doc: Document, settings: Settings | None = None) -> list[Chunk]:
    """Repair and chunk one document."""
    s = settings or Settings()
    blocks = repair(doc.text)
    title, title_index = find_title(blocks, doc.source)
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for sec in _merge_tiny(build_sections(blocks, title_index), s):
        section = SECTION_SEP.join(sec.path)
        groups = _pack(_text_units(sec.blocks, s.chunk_max), s)
        table = _table_units(sec.blocks)
        groups += [table[i:i + s.table_rows_per_chunk] for i in range(0, len(table), s.table_rows_per_chunk)]
        for units in groups:
            text = _join_units(units)
            if not text:
                continue
            chunk = Chunk(id="", source=doc.source, title=title, section=section, text=text,
                          start=min(u.start for u in units), end=max(u.end for u in units),
                          pages=_page_marks(units, doc) if doc.pages else [])
            chunk.id = chunk_id(chunk, seen)
            chunks.append(chunk)
    return chunks


def chunk_id(chunk: Chunk, seen: set[str]) -> str:
    """A stable content hash of what gets embedded, so unchanged text keeps its id (and its vector)."""
    base = hashlib.sha256((chunk.source + "\x00" + chunk.embed_text()).encode("utf-8")).hexdigest()[:20]
    cid, n = base, 1
    while cid in seen:
        n += 1
        cid = f"{base}-{n}"
    seen.add(cid)
    return cid
