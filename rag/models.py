"""Typed results shared by every module."""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from functools import cached_property

from .textutil import normalize


@dataclass
class Document:
    """A loaded file: its name (the citation's source) and its raw text."""

    source: str
    text: str
    path: str = ""
    pages: list[int] = field(default_factory=list)  # where each page starts in text (paged formats: PDF)
    stats: dict = field(default_factory=dict)  # how it was read: OCR pages, lines, low-confidence lines

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding text[offset], or None for a document without pages."""
        return bisect_right(self.pages, offset) or 1 if self.pages else None


@dataclass
class Chunk:
    """A retrievable passage. `text` is displayed; `embed_text()` is what gets embedded and BM25-indexed."""

    id: str
    source: str
    title: str
    section: str
    text: str
    start: int = 0  # offsets into the original document text
    end: int = 0
    pages: list[list[int]] = field(default_factory=list)  # [offset in text, page] where a page begins (PDF)

    @cached_property
    def norm_text(self) -> str:
        """The text as matched against questions (full-width folded, lower case); computed once."""
        return normalize(self.text).lower()

    def page_at(self, offset: int) -> int | None:
        """The page holding text[offset], or None when the document has no pages."""
        page = None
        for at, p in self.pages:
            if at > offset:
                break
            page = p
        return page

    def embed_text(self) -> str:
        head = self.title if not self.section else f"{self.title}\n{self.section}"
        return f"{head}\n{self.text}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ScoredChunk:
    chunk: Chunk
    score: float
    dense: float = 0.0  # cosine similarity of question and passage, unscaled (evidence for answerability)


@dataclass
class Citation:
    """One cited passage, numbered by rank (n = 1 is the best)."""

    n: int
    source: str
    title: str
    section: str
    text: str
    quote: str = ""
    score: float = 0.0
    chunk: str = ""  # the passage's chunk id (a follow-up stays near it; the reader opens it)
    page: int | None = None  # the page of the quote (or of the passage) in a paged document, 1-based

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Answer:
    """The short answer with [n] markers, whether the documents answer it, and the passages."""

    question: str
    answer: str
    found: bool
    citations: list[Citation] = field(default_factory=list)
    warning: str = ""  # e.g. the LLM failed and the extractive answer is shown instead
    standalone: str = ""  # the question actually searched, when a follow-up was completed from the history

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "standalone": self.standalone or self.question,
            "answer": self.answer,
            "found": self.found,
            "citations": [c.to_dict() for c in self.citations],
            "warning": self.warning,
        }


@dataclass
class Skipped:
    """A file that indexing could not use, and why."""

    path: str
    reason: str


@dataclass
class IndexStats:
    documents: int
    chunks: int
    embedded: int
    reused: int
    seconds: float
    skipped: list[Skipped] = field(default_factory=list)
    per_document: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)
