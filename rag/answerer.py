"""Answerers turn retrieved passages into an Answer. The default is extractive (no LLM needed)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from .bm25 import ChineseTokenizer
from .config import Settings
from .models import Answer, Citation, ScoredChunk
from .retriever import query_signals
from .textutil import normalize, split_clauses, split_sentences, squash

NOT_FOUND = "知识库中没有找到与该问题相关的内容。"
GROW_COVERAGE = 0.2  # a neighbouring clause joins the answer span only if it shares this much of the question
NUMBER_RE = re.compile(r"\d")
QTYPES = {
    "number": re.compile(r"多少|几|多大|多高|多长|多快|比重|占比|比例|增速|增幅|规模|金额|总量|数量|产量|排名|第几|百分之|%|目标"),
    "list": re.compile(r"哪些|有哪|包括|包含|列举|几大|几个方面"),
    "why": re.compile(r"为什么|为何|目的|原因|旨在|意义|为了什么|用意"),
    "yesno": re.compile(r"是否|是不是|有没有|能否|会不会|可否|吗[？?]?$"),
}
REASON_RE = re.compile(r"为了|旨在|以便|目的|为(?!主|止|了解)|以(?=[\u4e00-\u9fff]{2,}(提升|推动|促进|实现|保障|加快|满足|增强))|推动|促进|助力")


def question_type(question: str) -> str:
    """number, list, why, yesno or entity: what kind of clause answers the question."""
    for name in ("why", "list", "yesno", "number"):
        if QTYPES[name].search(question):
            return name
    return "entity"


@dataclass
class _Candidate:
    rank: int  # 0-based position among the passages
    sentence: str
    score: float
    coverage: float


class Answerer:
    """Base class: answer(question, hits) -> Answer; stream() yields text pieces then the Answer."""

    name = "base"

    def answer(self, question: str, hits: list[ScoredChunk]) -> Answer:
        raise NotImplementedError

    def stream(self, question: str, hits: list[ScoredChunk]) -> Iterator[str | Answer]:
        result = self.answer(question, hits)
        yield result.answer
        yield result


def citations_for(hits: list[ScoredChunk]) -> list[Citation]:
    return [
        Citation(n=i + 1, source=h.chunk.source, title=h.chunk.title, section=h.chunk.section, text=h.chunk.text,
                 score=round(h.score, 6))
        for i, h in enumerate(hits)
    ]


class ExtractiveAnswerer(Answerer):
    """Finds the clause in the passages that answers the question, or declines when none does."""

    name = "extractive"

    def __init__(self, tokenizer: ChineseTokenizer, settings: Settings | None = None,
                 places: list[str] | None = None) -> None:
        self.tokenizer = tokenizer
        self.settings = settings or Settings()
        self.places = places or []  # the corpus's place names, to tell a question's topic from its place

    def _weights(self, question: str) -> dict[str, float]:
        # Longer tokens are more specific; years and numbers pin the answer to one figure.
        out: dict[str, float] = {}
        for t in self.tokenizer(question):
            w = min(len(t), 4) / 2.0
            if t.isdigit():
                w = 2.5
            out[t] = max(out.get(t, 0.0), w)
        return out

    def _coverage(self, weights: dict[str, float], text: str, head: str) -> float:
        total = sum(weights.values()) or 1.0
        got = 0.0
        for t, w in weights.items():
            if t in text:
                got += w
            elif t in head:
                got += 0.6 * w  # named by the title or section: the passage is about it
        return got / total

    def _type_bonus(self, qtype: str, text: str) -> float:
        if qtype == "number":
            return 0.25 if NUMBER_RE.search(text) else -0.2
        if qtype == "list":
            return 0.1 * min(text.count("、") + text.count("，"), 3)
        if qtype == "why":
            return 0.2 if REASON_RE.search(text) else 0.0
        return 0.0

    def best(self, question: str, hits: list[ScoredChunk]) -> _Candidate | None:
        weights = self._weights(question)
        if not weights:
            return None
        qtype = question_type(question)
        best: _Candidate | None = None
        for rank, h in enumerate(hits[: self.settings.answer_passages]):
            head = normalize(h.chunk.title + " " + h.chunk.section).lower()
            for sent in split_sentences(h.chunk.text):
                norm = normalize(sent).lower()
                if len(squash(norm)) < 4:
                    continue
                cov = self._coverage(weights, norm, head)
                score = cov + self._type_bonus(qtype, norm) - 0.06 * rank
                if best is None or score > best.score:
                    best = _Candidate(rank, sent.strip(), score, cov)
        return best

    def span(self, question: str, sentence: str) -> str:
        """The shortest run of clauses in the sentence that answers the question, within the length limit."""
        limit = self.settings.answer_max_chars
        text = sentence.strip()
        if len(text) <= limit:
            return text.rstrip("。；;，,")
        weights = self._weights(question)
        qtype = question_type(question)
        clauses = split_clauses(text)
        cover = [self._coverage(weights, normalize(c).lower(), "") for c in clauses]
        scored = [cv + self._type_bonus(qtype, normalize(c).lower()) for cv, c in zip(cover, clauses)]
        i = max(range(len(clauses)), key=lambda j: (scored[j], -j))
        lo, hi = i, i + 1
        # Grow the span while a neighbour also carries question words and it stays short.
        while True:
            size = sum(len(c) for c in clauses[lo:hi])
            grow = [(cover[j], a, b) for j, a, b in ((lo - 1, lo - 1, hi), (hi, lo, hi + 1))
                    if 0 <= j < len(clauses) and cover[j] >= GROW_COVERAGE and size + len(clauses[j]) <= limit * 0.75]
            if not grow:
                break
            _, lo, hi = max(grow)
        span = "".join(clauses[lo:hi]).strip()
        if len(span) < 8 and lo > 0:  # a bare figure needs the clause naming what it is
            span = (clauses[lo - 1] + span).strip()
        return span[:limit].rstrip("。；;，,、：:")

    def supported(self, question: str, hits: list[ScoredChunk], cand: _Candidate | None) -> bool:
        """Whether the best sentence really answers: it covers the question's topic words (not just its
        place and year), and its passage is about the same year."""
        if cand is None:
            return False
        h = hits[cand.rank].chunk
        where = normalize(h.title + h.section + h.text).lower()
        sig = query_signals(question, self.places)
        if any(year not in where for year in sig.years):
            return False
        topic = {t: w for t, w in self._weights(question).items()
                 if not t.isdigit() and not (sig.place and (t in sig.place or sig.place.startswith(t)))}
        if not topic:
            return cand.coverage >= self.settings.decline_threshold
        head = normalize(h.title + " " + h.section).lower()
        return self._coverage(topic, normalize(cand.sentence).lower(), head) >= self.settings.decline_threshold

    def answer(self, question: str, hits: list[ScoredChunk]) -> Answer:
        cites = citations_for(hits)
        cand = self.best(question, hits)
        if not self.supported(question, hits, cand):
            return Answer(question, NOT_FOUND, False, cites)
        span = self.span(question, cand.sentence)
        used = [cand.rank]
        cites[cand.rank].quote = cand.sentence
        key = squash(span)
        for j, c in enumerate(cites):  # a second passage saying the same thing is cited too
            if j != cand.rank and len(key) >= 6 and key in squash(c.text):
                sent = next((s.strip() for s in split_sentences(c.text) if key in squash(s)), "")
                if sent:
                    c.quote = sent
                    used.append(j)
                    break
        markers = "".join(f"[{cites[j].n}]" for j in sorted(used))
        return Answer(question, f"{span}{markers}", True, cites)


