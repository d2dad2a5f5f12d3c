"""A document's outline: the headings its passages sit under, in order, so that a question about a part of a
report (起步区2024年的重点任务，第一部分讲的什么？ 第二条呢？ after 重点工作要抓几个方面？) is answered with the heading
itself, which no passage's text holds."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from .chunking import SECTION_SEP as SEP  # between the levels of a chunk's section path
from .models import Chunk, ScoredChunk
from .textutil import normalize, ordinal_number

PART_NOUNS = "部分|方面|大项|章|节|条|块"
# 第二部分讲的什么？ 第一条是啥 第三个方面呢: a part, then what is asked of it (not 第二条产业链条是什么？, a named thing).
PART_RE = re.compile(rf"第([一二三四五六七八九十\d]+)(?:个|大)?(?:{PART_NOUNS})(?:的?(?:内容|工作|任务))?"
                     r"(?=[是讲说写呢谈提]|主要|[？?]?$)")
LAST_RE = re.compile(rf"最后(?:一)?(?:个|大)?(?:{PART_NOUNS})(?:的?(?:内容|工作|任务))?(?=[是讲说写呢谈提]|主要|[？?]?$)")
# 再往后呢？ 下一部分呢？ 接下来呢？: the part after the one the last answer gave.
NEXT_RE = re.compile(rf"^(?:那|那么)?(?:再往后|往后|再往下|下一(?:个|大)?(?:{PART_NOUNS})?|接下来|后面(?:一)?(?:个)?(?:{PART_NOUNS})?)"
                     r"(?:的?(?:内容|是|讲|呢|说|是什么|是啥))*[？?]?$")
LAST = -1


def part_asked(text: str) -> int:
    """Which part of an outline a question asks for: N for 第N部分 (第二条呢？), LAST for 最后一部分, 0 for none."""
    t = normalize(text).strip()
    if m := PART_RE.search(t):
        return ordinal_number(m.group(1))
    return LAST if LAST_RE.search(t) else 0


def asks_next(text: str) -> bool:
    """再往后呢？ 下一部分呢？: the part after the last one given."""
    return bool(NEXT_RE.match(normalize(text).strip()))


def without_part(text: str) -> str:
    """The question without the part it asks for: what the part is of (起步区2024年的重点任务和政策举措，)."""
    return LAST_RE.sub("", PART_RE.sub("", normalize(text)))


@dataclass
class Part:
    """A heading given as an answer: its parent's path, its title, its position (1-based) and the first chunk under it."""

    parent: str
    title: str
    n: int
    chunk: Chunk


class Outline:
    """The headings of every document, each with its children in document order."""

    def __init__(self, chunks: Iterable[Chunk]) -> None:
        self.children: dict[tuple[str, str], list[str]] = {}  # (source, parent path) -> child titles in order
        self.first: dict[tuple[str, str], Chunk] = {}  # (source, path) -> the first chunk under it
        for c in chunks:
            levels = [s for s in c.section.split(SEP) if s.strip()] if c.section else []
            for k in range(len(levels)):
                parent, path = SEP.join(levels[:k]), SEP.join(levels[:k + 1])
                kids = self.children.setdefault((c.source, parent), [])
                if levels[k] not in kids:
                    kids.append(levels[k])
                self.first.setdefault((c.source, path), c)

    def part(self, source: str, parent: str, n: int) -> Part | None:
        """The n-th heading under `parent` (LAST: the last), or None when it has no such part."""
        kids = self.children.get((source, parent), [])
        if len(kids) < 2 or not (n == LAST or 1 <= n <= len(kids)):
            return None
        k = len(kids) if n == LAST else n
        path = SEP.join([p for p in (parent, kids[k - 1]) if p])
        return Part(parent, kids[k - 1], k, self.first[(source, path)])

    def given(self, source: str, section: str, answer: str) -> Part | None:
        """The heading an earlier answer gave, found along the section path of the passage it cited."""
        levels = section.split(SEP) if section else []
        for k in range(len(levels) - 1, -1, -1):
            if levels[k] and levels[k] in answer:
                parent, path = SEP.join(levels[:k]), SEP.join(levels[:k + 1])
                kids = self.children.get((source, parent), [])
                if levels[k] not in kids or (source, path) not in self.first:
                    return None  # an answer from another build of the index
                return Part(parent, levels[k], kids.index(levels[k]) + 1, self.first[(source, path)])
        return None

    def parent_for(self, topic: dict[str, float], hits: list[ScoredChunk], n: int, least: float) -> tuple[str, str] | None:
        """The heading a question's part is of: of the headings above the passages found, the one whose title
        holds most of the question's words (IDF-weighted, at least `least` of them) and that has that part.
        (source, path), or None."""
        total = sum(topic.values())
        if not total:
            return None
        best, best_score = None, least
        for h in hits:
            levels = h.chunk.section.split(SEP) if h.chunk.section else []
            for k in range(len(levels)):
                path = SEP.join(levels[:k + 1])
                kids = self.children.get((h.chunk.source, path), [])
                if len(kids) < 2 or (n != LAST and n > len(kids)):
                    continue
                title = normalize(levels[k]).lower()
                score = sum(w for t, w in topic.items() if t in title) / total
                if score > best_score:
                    best, best_score = (h.chunk.source, path), score
        return best
