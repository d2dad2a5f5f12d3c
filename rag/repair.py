"""Repair raw document text into blocks: headings, paragraphs and table rows.

Undoes what OCR and page layout did to the text: hard-wrapped lines are rejoined, a sentence
cut by a page break (blank lines) is rejoined (with the repeated overlap some exporters leave
dropped), markdown/bold markup is removed, and false headings are turned back into text.
Every block keeps the offsets of its text in the original document.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .question import YEAR_RE
from .textutil import ends_sentence, is_cjk

CN_NUM = "一二三四五六七八九十百零〇两"
# Numbering families, in no fixed order: the nesting comes from the order a document uses them.
FAMILIES = [
    ("chapter", re.compile(rf"^第[{CN_NUM}\d]+[章编篇部](分)?\s*")),
    ("section", re.compile(rf"^第[{CN_NUM}\d]+节\s*")),
    ("article", re.compile(rf"^第[{CN_NUM}\d]+条\s*")),
    ("cn", re.compile(rf"^[{CN_NUM}]+、\s*")),
    ("cn_paren", re.compile(rf"^[（(][{CN_NUM}]+[）)]\s*")),
    ("arabic", re.compile(r"^\d{1,2}(?:[.．](?!\d)|、)\s*")),
    ("arabic_paren", re.compile(r"^[（(]\d{1,2}[）)]\s*")),
]
MARKUP_RE = re.compile(r"\*\*|</?sub>|</?sup>|</?b>")
MD_RE = re.compile(r"^(#{1,6})\s+")
HEADING_MAX = 40  # a numbered line longer than this is a paragraph, not a heading
LEAD_MAX = 24  # a lead-in heading ("1.全力扩大有效投资。…") is at most this long
PLAIN_HEADING_MAX = 36
HEADLINE_MAX = 40  # two stacked title lines longer than this together are two headlines
DATE_END_RE = re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日$")
BYLINE_RE = re.compile(r"\S+(\s+\S+){2,}")
BAD_HEADING_END = "。，,；;、：:"


@dataclass
class Block:
    """A repaired paragraph. pieces are (original offset, text) runs, so offsets survive edits."""

    kind: str  # "text" | "heading" | "table"
    pieces: list[tuple[int, str]] = field(default_factory=list)
    family: str = ""  # heading numbering family ("cn", "arabic", "plain", ...)
    indent: bool = False  # the paragraph began indented: body text, never a title line
    hard: bool = False  # it follows a markdown hard break, so it never continues the block before
    cells: list[str] = field(default_factory=list)  # table rows only

    @property
    def text(self) -> str:
        return "".join(t for _, t in self.pieces)

    @property
    def start(self) -> int:
        return self.pieces[0][0] if self.pieces else 0

    @property
    def end(self) -> int:
        return self.pieces[-1][0] + len(self.pieces[-1][1]) if self.pieces else 0


@dataclass
class _Line:
    pieces: list[tuple[int, str]]
    indent: bool
    md: int  # markdown heading level, 0 if none
    bold: bool  # the whole line is bold
    lead: int  # length of a bold lead-in ("**1. 标题。**正文"), 0 if none
    tab: bool  # a table row
    hard: bool = False  # ends with a markdown hard break (two trailing spaces): the next line is new

    @property
    def text(self) -> str:
        return "".join(t for _, t in self.pieces)


def numbering_family(text: str) -> str:
    for name, rx in FAMILIES:
        if rx.match(text):
            return name
    return ""


def _clean(line: str, offset: int) -> _Line | None:
    """Strip indentation and markup from one line, keeping offsets."""
    tab = "\t" in line.strip(" \u3000")
    # a table row keeps its leading tab: it marks a wrapped cell continuing the row above
    stripped = line.lstrip(" \u3000") if tab else line.lstrip(" \u3000\t")
    indent = len(line) - len(stripped) >= 2 or line.startswith("\u3000")
    pos = offset + len(line) - len(stripped)
    md = 0
    m = MD_RE.match(stripped)
    if m:
        md = len(m.group(1))
        stripped, pos = stripped[m.end():], pos + m.end()
    body = stripped.rstrip()
    if not body.strip():
        return None
    bold = body.startswith("**") and body.endswith("**") and body.count("**") == 2
    lead = 0
    mm = re.match(r"^\*\*([^*]{2,40})\*\*(?=\S)", body)
    if mm and not bold:
        lead = len(mm.group(1))
    pieces, last = [], 0
    for mk in MARKUP_RE.finditer(body):
        if mk.start() > last:
            pieces.append((pos + last, body[last:mk.start()]))
        last = mk.end()
    if last < len(body):
        pieces.append((pos + last, body[last:]))
    if not pieces:
        return None
    return _Line(pieces, indent, md, bold, lead, tab, hard=line.endswith("  "))


def _is_numbered_heading(text: str) -> bool:
    fam = numbering_family(text)
    if not fam:
        return False
    rest = FAMILIES_BY_NAME[fam].sub("", text, count=1)
    return 1 < len(text) <= HEADING_MAX and bool(rest) and text[-1] not in BAD_HEADING_END and "。" not in text


FAMILIES_BY_NAME = dict(FAMILIES)


def _join(a: list[tuple[int, str]], b: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Join two runs of text as one sentence: no space between CJK, one space between Latin words."""
    if a and b and a[-1][1] and b[0][1]:
        x, y = a[-1][1][-1], b[0][1][0]
        if x.isascii() and y.isascii() and x.isalpha() and y.isalpha():
            return a + [(a[-1][0] + len(a[-1][1]), " ")] + b
    return a + b


def _drop_overlap(a: str, b: list[tuple[int, str]], lo: int = 4, hi: int = 12) -> list[tuple[int, str]]:
    """Page exports sometimes repeat the last words of a page at the top of the next; drop the repeat."""
    head = "".join(t for _, t in b)[:hi]
    for k in range(min(hi, len(head), len(a)), lo - 1, -1):
        if a.endswith(head[:k]) and all(is_cjk(c) for c in head[:k]):
            out, cut = [], k
            for off, t in b:
                if cut >= len(t):
                    cut -= len(t)
                    continue
                out.append((off + cut, t[cut:]))
                cut = 0
            return out
    return b


def _table_cells(lines: list[_Line]) -> list[list[str]]:
    """Rows of a tab-separated table. A paragraph whose lines start with tabs is one wrapped row."""
    raw = [l.text for l in lines]
    if any(l.pieces and l.text.startswith("\t") for l in lines[1:]) or len(lines) == 1:
        joined = "\n".join(raw)
        cells = re.split(r"\n?\t+", joined)
        return [_trim([c.replace("\n", "").strip() for c in cells])]
    return [_trim([c.strip() for c in r.split("\t")]) for r in raw]


def _trim(cells: list[str]) -> list[str]:
    while cells and not cells[0]:
        cells.pop(0)
    while cells and not cells[-1]:
        cells.pop()
    return cells


def repair(text: str) -> list[Block]:
    """Turn raw text into repaired blocks (see module doc)."""
    # 1. lines, grouped into paragraphs by blank lines
    groups: list[list[_Line]] = [[]]
    offset = 0
    for raw in text.split("\n"):
        ln = _clean(raw, offset) if raw.strip() else None
        offset += len(raw) + 1
        if ln is None:
            if groups[-1]:
                groups.append([])
            continue
        groups[-1].append(ln)
    groups = [g for g in groups if g]
    has_markdown = sum(1 for g in groups for l in g if l.md) >= 2

    blocks: list[Block] = []
    for g in groups:
        blocks.extend(_group_blocks(g))
    blocks = _fix_headings(blocks, has_markdown)
    return _rejoin(blocks)


def _group_blocks(g: list[_Line]) -> list[Block]:
    """Blocks of one blank-line-separated group: rejoin hard-wrapped lines, split off headings."""
    if any(l.tab for l in g):
        return _table_rows(g)
    out: list[Block] = []
    hard = False
    for ln in g:
        t = ln.text
        after_hard, hard = hard, ln.hard
        if ln.md or ln.bold or _is_numbered_heading(t):
            out.append(Block("heading", ln.pieces, family=_family_of(ln)))
            continue
        if ln.lead:
            out.append(Block("heading", _prefix(ln.pieces, ln.lead), family=numbering_family(t) or "lead"))
            out.append(Block("text", list(ln.pieces)))
            continue
        fam = numbering_family(t)
        if fam in ("arabic", "arabic_paren", "cn_paren") and not ln.indent:
            # "1.全力扩大有效投资。牢牢把握…": a short first sentence is the item's own heading
            m = re.match(r"^([^。，,；;：:]{3,%d})。(?=.{20,})" % LEAD_MAX, t)
            if m:
                out.append(Block("heading", _prefix(ln.pieces, m.end()), family=fam))
                out.append(Block("text", list(ln.pieces)))
                continue
        prev = out[-1] if out else None
        if prev is not None and prev.kind == "text" and not ln.indent and not after_hard and not ends_sentence(prev.text):
            prev.pieces = _join(prev.pieces, ln.pieces)  # a hard-wrapped line continues its paragraph
        else:
            out.append(Block("text", list(ln.pieces), indent=ln.indent, hard=after_hard))
    return out


def _table_rows(g: list[_Line]) -> list[Block]:
    rows = _table_cells(g)
    if len(rows) == 1:
        pieces: list[tuple[int, str]] = []
        for ln in g:
            pieces = _join(pieces, ln.pieces)
        return [Block("table", pieces, cells=rows[0])]
    return [Block("table", ln.pieces, cells=cells) for ln, cells in zip(g, rows)]


def _family_of(ln: _Line) -> str:
    fam = numbering_family(ln.text)
    if fam:
        return fam
    if ln.md:
        return "plain"
    return "bold"


def _prefix(pieces: list[tuple[int, str]], n: int) -> list[tuple[int, str]]:
    """The first n characters of a run as a heading, without its closing full stop.

    The paragraph itself keeps the lead-in sentence, so it is shown as the document has it."""
    head, seen = [], 0
    for off, t in pieces:
        if seen >= n:
            break
        head.append((off, t[: n - seen]))
        seen += len(t)
    text = "".join(t for _, t in head).rstrip()
    text = text.rstrip("。.．：:")
    return [(head[0][0], text)] if head and text else head


def _fix_headings(blocks: list[Block], has_markdown: bool) -> list[Block]:
    """Reject false headings; promote short standalone title lines (newspaper pages) to headings."""
    out: list[Block] = []
    for i, b in enumerate(blocks):
        t = b.text.strip()
        prev = out[-1] if out else None
        if b.kind == "heading" and _false_heading(b, t, prev):
            b = Block("text", b.pieces)
        elif b.kind == "text" and not b.indent and not has_markdown and _plain_heading(t) and i + 1 < len(blocks):
            # A flush line between indented paragraphs (a newspaper's box: "2024 年主要预期目标") heads what
            # follows, though the item before it ends without a full stop.
            boxed = (prev is not None and prev.indent and blocks[i + 1].kind == "text" and blocks[i + 1].indent
                     and not re.search(r"[\d，,]", YEAR_RE.sub("", t)))  # not a wrapped line's figures
            after_break = (prev is None or prev.kind != "text" or ends_sentence(prev.text)
                           or prev.text.endswith(("：", ":")) or boxed)
            if after_break:
                b = Block("heading", b.pieces, family="plain")
                if prev is not None and prev.kind == "text" and len(prev.text) <= 16 and prev.text.endswith(("：", ":")):
                    # a kicker line ("市政协委员钟倩：") belongs to the headline under it
                    out.pop()
                    b.pieces = prev.pieces + b.pieces
                elif (prev is not None and prev.kind == "heading" and prev.family == "plain"
                      and len(prev.text) + len(t) <= HEADLINE_MAX):
                    # consecutive title lines are one headline set over two lines
                    out.pop()
                    b.pieces = prev.pieces + b.pieces
        out.append(b)
    return out


def _false_heading(b: Block, t: str, prev: Block | None) -> bool:
    """A heading that ends like a sentence, is too long, or continues the previous sentence."""
    if not t or len(t) > 60:
        return True
    if b.family != "lead" and t[-1] in "。，,；;、":
        return True
    continues = prev is not None and prev.kind == "text" and len(prev.text) > 20 and not ends_sentence(prev.text)
    return continues and b.family in ("plain", "bold")


def _plain_heading(t: str) -> bool:
    return (
        2 <= len(t) <= PLAIN_HEADING_MAX
        and t[-1] not in BAD_HEADING_END + "”"
        and "。" not in t
        and not _byline(t)
        and not DATE_END_RE.search(t)  # a signature line ("…管理委员会 2024年5月8日")
        and not t.startswith(("□", "■", "●", "（", "("))
        and not re.fullmatch(r"[\d\s\-—第页/Pp.]+", t)
    )


def _byline(t: str) -> bool:
    """Bylines ("□记者 王健 段婷婷 报道") are short runs of names separated by spaces."""
    return len(t) <= 40 and bool(BYLINE_RE.fullmatch(t.strip())) and not ends_sentence(t)


# A paragraph that ends on a figure (增长 5.5%以上, 40万辆, 32所) followed by a short one is a box of items, each a
# paragraph of its own (地区生产总值增长 5.5%以上 / 一般公共预算收入增长 5%左右), not a sentence cut by a page.
FIGURE_END_RE = re.compile(r"(\d[\d.]*\s*(%|‰|倍|[万亿千百]?[元个家所人吨辆条项亩户座公里]+)|以上|以下|左右|以内)$")
BOX_ITEM_MAX = 32  # 城乡居民人均可支配收入分别增长 5.5%左右和 6.5%以上 is 29; 24 and 32 were the same on dev


def box_item(prev: str, text: str) -> bool:
    """Whether `text` is an item of a box of figures after the item `prev`, rather than a sentence `prev` began."""
    t = text.strip()
    return bool(FIGURE_END_RE.search(prev.rstrip())) and len(t) <= BOX_ITEM_MAX and t[:1] not in "，,、；;。"


def _rejoin(blocks: list[Block]) -> list[Block]:
    """Rejoin a sentence cut by a page break: a paragraph that does not end one continues in the next."""
    out: list[Block] = []
    for b in blocks:
        prev = out[-1] if out else None
        if (
            b.kind == "text"
            and prev is not None
            and prev.kind == "text"
            and not ends_sentence(prev.text)
            and not prev.text.endswith(("：", ":"))
            and len(prev.text) > 12
            and not _byline(prev.text)
            and not b.hard
            and not b.indent  # an indented line starts a paragraph; a sentence cut by a page runs on flush
            and not box_item(prev.text, b.text)
        ):
            prev.pieces = _join(prev.pieces, _drop_overlap(prev.text, b.pieces))
            continue
        out.append(b)
    return [b for b in out if b.text.strip()]
