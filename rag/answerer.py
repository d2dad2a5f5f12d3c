"""Answerers turn retrieved passages into an Answer. The default is extractive (no LLM needed)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache, reduce
from typing import Callable, Iterator

from .bm25 import ChineseTokenizer
from .config import Settings
from .models import Answer, Citation, ScoredChunk
from .retriever import RESULT_SECTION, YEAR_RE, expected_unit, has_amount, query_signals
from .textutil import expand_abbreviations, is_cjk, normalize, split_clauses, split_sentences, squash

NOT_FOUND = "知识库中没有找到与该问题相关的内容。"
CONTEXT_CREDIT = 0.5  # a question word in the answer's sentence (not the span itself) or its heading counts half
RANK_PENALTY = 0.06  # per passage rank: prefer the top passage when two spans tie
LENGTH_PENALTY = 0.002  # per character: of two spans that answer equally, the shorter
SHORT_TOKEN = 0.3  # weight factor of one-character words (多, 大, 新): weak evidence
CHAR_WEIGHT = 0.3  # share of the question's characters found in the sentence
QUESTION_CHARS = set("的了是在和与及吗呢么什哪谁几多少怎样为何请问有")
NOVELTY_BONUS, NOVELTY_CHARS = 0.3, 8  # full bonus once the span adds this many characters to the question
NUMBER_RE = re.compile(r"\d|[一二两三四五六七八九十百]+(?=个|大|项|条|类|方面|位|批)")
QTYPES = {
    "number": re.compile(r"多少|几|多大|多高|多长|多快|比重|占比|比例|增速|增幅|规模|金额|总量|数量|产量|排名|第几|百分之|%|目标"),
    "list": re.compile(r"哪些|有哪|包括|包含|列举|几大|几个方面|哪[一二两三四五六七八九十几]"),
    "why": re.compile(r"为什么|为何|目的|原因|旨在|意义|为了什么|用意|何在"),
    "yesno": re.compile(r"是否|是不是|有没有|能否|会不会|可否|吗[？?]?$"),
}
REASON_RE = re.compile(r"为了|旨在|以便|目的|确保|为(?!主|止|了解)|以(?=[\u4e00-\u9fff]{2,}(提升|推动|促进|实现|保障|加快|满足|增强))|推动|促进|助力|让")
# Words that make a figure another indicator: 人均地区生产总值 is not 地区生产总值.
QUALIFIERS = ("人均", "平均", "户均", "亩均")
LAST_YEAR = ("去年", "上年", "过去一年")
PLACE_SUFFIX_RE = re.compile(r"(区|县|市|镇|街道)$")
TABLE_ROW_RE = re.compile(r"^[^：\n]{1,16}：[^\n]*；[^：；\n]{1,16}：", re.M)


def passage_sentences(text: str) -> list[str]:
    """Sentences of a passage; in a table (rows of 列名：值；列名：值) each row is one sentence, so a
    row's name and its values stay together."""
    if len(TABLE_ROW_RE.findall(text)) >= 2:
        return [line for line in text.splitlines(keepends=True) if line.strip()]
    return split_sentences(text)


def sentence_clauses(sentence: str) -> list[str]:
    """The pieces an answer is built from: clauses, or for a table row its 列名：值 cells, so that a
    column's name stays with its value (2024年计划：2.82)."""
    if TABLE_ROW_RE.match(sentence):
        return re.findall(r"[^；\n]+；?\n?", sentence)
    return split_clauses(sentence)


def question_type(question: str) -> str:
    """number, list, why, yesno or entity: what kind of clause answers the question."""
    for name in ("why", "list", "yesno", "number"):
        if QTYPES[name].search(question):
            return name
    return "entity"


@dataclass
class _Candidate:
    rank: int  # 0-based position among the passages
    sentence: str  # the whole sentence: the verbatim quote
    span: str  # the clauses of it that answer
    score: float
    coverage: float
    first: int  # the span's first and last clause among the sentence's clauses
    last: int


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


def _split_from_suffix(word: str, nxt: str) -> bool:
    """A Chinese word right before a lone place suffix: jieba split 章丘区 into 章丘 + 区."""
    return nxt in ("区", "县", "市", "镇") and len(word) >= 2 and bool(re.fullmatch(r"[\u4e00-\u9fff]+", word))


@lru_cache(maxsize=256)
def _tagged_words(text: str) -> tuple:
    """jieba's words with part-of-speech tags; cached, since each candidate answer asks again."""
    from jieba import posseg

    return tuple(posseg.lcut(text))


class ExtractiveAnswerer(Answerer):
    """Finds the clauses in the passages that answer the question, or declines when none do."""

    name = "extractive"

    def __init__(self, tokenizer: ChineseTokenizer, settings: Settings | None = None,
                 places: list[str] | None = None, idf: Callable[[str], float] | None = None) -> None:
        self.tokenizer = tokenizer
        self.settings = settings or Settings()
        self.places = places or []  # the corpus's place names, to tell a question's topic from its place
        self.idf = idf  # corpus statistics: a rare word is better evidence than a common one
        self._never = idf("\u0000") if idf else 0.0  # the idf of a word no passage contains

    def _weights(self, question: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for t in self.tokenizer(expand_abbreviations(question)):
            if self.idf is not None:
                # A word the corpus never uses (块头, 打算, 何在) is the asker's phrasing, not evidence.
                w = 0.0 if self.idf(t) >= self._never else self.idf(t)
                w *= SHORT_TOKEN if len(t) == 1 else 1.0
            else:  # no corpus statistics: longer tokens are more specific
                w = min(len(t), 4) / 2.0
            if t.isdigit():
                w = max(w, 2.5)  # years and figures pin the answer to one row
            out[t] = max(out.get(t, 0.0), w)
        return out

    @staticmethod
    def _coverage(weights: dict[str, float], span: str, context: str) -> float:
        total = sum(weights.values()) or 1.0
        got = sum(w if t in span else CONTEXT_CREDIT * w if t in context else 0.0 for t, w in weights.items())
        return got / total

    @staticmethod
    def _type_bonus(qtype: str, unit: str, text: str, novelty: int) -> float:
        """How well the span looks like the kind of answer asked for. `novelty`: characters of the span
        that are not question words: an answer says something the question does not."""
        fresh = NOVELTY_BONUS * min(novelty, NOVELTY_CHARS) / NOVELTY_CHARS
        if qtype == "number":
            if unit and has_amount(unit, text):
                return 0.35
            return 0.15 if NUMBER_RE.search(text) else -0.3
        if qtype == "list":
            return fresh + 0.05 * min(text.count("、") + text.count("，") + text.count(","), 4)
        if qtype == "why":
            return fresh + (0.2 if REASON_RE.search(text) else 0.0)
        return fresh

    def candidates(self, question: str, hits: list[ScoredChunk]) -> list[_Candidate]:
        """Each top passage's best run of clauses (within one sentence, at most answer_max_chars),
        best first."""
        weights = self._weights(question)
        if not weights:
            return []
        qtype = question_type(question)
        unit = expected_unit(question)
        limit = self.settings.answer_max_chars
        qchars = {ch for ch in normalize(question) if is_cjk(ch) and ch not in QUESTION_CHARS}
        total = sum(weights.values()) or 1.0
        found: list[_Candidate] = []
        for rank, h in enumerate(hits[: self.settings.answer_passages]):
            best: _Candidate | None = None
            head = normalize(h.chunk.title + " " + h.chunk.section).lower()
            for sent in passage_sentences(h.chunk.text):
                norm_sent = normalize(sent).lower()
                if len(squash(norm_sent)) < 4:
                    continue
                clauses = sentence_clauses(sent) or [sent]
                # Per clause, once: its question words and its characters that are not question words.
                # A window's are the sums (words never cross the punctuation that splits clauses).
                norm_clauses = [normalize(c).lower() for c in clauses]
                words_in = [{t for t in weights if t in c} for c in norm_clauses]
                fresh = [len(squash(reduce(lambda t, w: t.replace(w, ""), weights, c))) for c in norm_clauses]
                in_context = {t for t in weights if t in head or t in norm_sent}
                # Shared characters catch what word overlap misses (树叶 ~ 其叶, 体重 ~ 公斤重).
                chars = len(qchars & set(norm_sent)) / len(qchars) if qchars else 0.0
                # In a table row the answer is one cell; the row's name (its first cell) is context.
                row = bool(TABLE_ROW_RE.match(sent)) and len(clauses) > 1
                for i in range(1 if row else 0, len(clauses)):
                    span, norm, got, novelty = "", "", set(), 0
                    for j in range(i, i + 1 if row else len(clauses)):
                        if len(span) + len(clauses[j]) > limit and span:
                            break
                        span += clauses[j]
                        norm += norm_clauses[j]
                        got |= words_in[j]
                        novelty += fresh[j]
                        cov = (sum(weights[t] for t in got)
                               + CONTEXT_CREDIT * sum(weights[t] for t in in_context - got)) / total
                        said = re.split("[：:]", norm, maxsplit=1)[-1] if row else norm  # a cell: its value
                        score = (cov + CHAR_WEIGHT * chars + self._type_bonus(qtype, unit, said, novelty)
                                 - RANK_PENALTY * rank - LENGTH_PENALTY * len(span))
                        if best is None or score > best.score:
                            best = _Candidate(rank, sent.strip(), span, score, cov, i, j)
            if best is not None:
                found.append(best)
        return sorted(found, key=lambda c: -c.score)

    def span(self, question: str, cand: _Candidate) -> str:
        """The answer text: the chosen clauses, with the clause before a bare figure, trimmed to the limit.
        A question that is not after a figure (why, what, which) gets the whole sentence when it is short
        enough: its answer rarely fits one clause."""
        sentence = cand.sentence.strip()
        number = question_type(question) == "number"
        limit = self.settings.answer_max_chars if number else self.settings.answer_sentence_chars
        if len(sentence) <= limit:
            return sentence.rstrip("。；;，,、：:")
        clauses = sentence_clauses(cand.sentence)
        if not number:  # grow around the chosen clauses, forwards first: what follows usually explains
            lo, hi = cand.first, cand.last + 1
            size = sum(len(c) for c in clauses[lo:hi])
            while hi < len(clauses) and size + len(clauses[hi]) <= limit:
                size += len(clauses[hi])
                hi += 1
            while lo > 0 and size + len(clauses[lo - 1]) <= limit:
                lo -= 1
                size += len(clauses[lo])
            return "".join(clauses[lo:hi]).strip()[:limit].rstrip("。；;，,、：:")
        text = cand.span.strip()
        if TABLE_ROW_RE.match(cand.sentence) and cand.first > 0:
            text = clauses[0].split("：", 1)[-1] + text  # the row's name: 床位数；2024年计划：2.82
        elif len(squash(text)) < 8 and cand.first > 0:  # a bare figure needs the clause naming what it is
            text = (clauses[cand.first - 1] + text).strip()
        return text[: self.settings.answer_max_chars].rstrip("。；;，,、：:")

    def question_places(self, question: str) -> list[str]:
        """Places the question names (青岛市, 天桥区, 章丘 …), known to the corpus or not."""
        text = normalize(question)
        plain = self.tokenizer.words(text)
        # Part-of-speech tags tell an unknown place from other words; jieba's tagger takes most of a
        # second to load, so it is asked only when the question has such a word.
        if any(self._maybe_place(w, nxt) for w, nxt in zip(plain, plain[1:] + [""])):
            words = [(w.word, w.flag) for w in _tagged_words(text)]
        else:
            words = [(w, "") for w in plain]
        out = []
        for k, (w, flag) in enumerate(words):
            nxt = words[k + 1][0] if k + 1 < len(words) else ""
            named = len(w) >= 3 and PLACE_SUFFIX_RE.search(w) and (flag == "ns" or w in self.places)
            if named or (len(w) >= 2 and any(p.startswith(w) for p in self.places)):
                out.append(w)
            elif _split_from_suffix(w, nxt) and flag.startswith("n"):
                # jieba split an unknown district name from its suffix (章丘 + 区); a noun only, so
                # 哪个县 and “领跑县” name no place
                out.append(w)
        return out

    def _maybe_place(self, word: str, nxt: str) -> bool:
        """A word that may be a place the corpus does not know: it ends in a place suffix, or jieba split
        it from one (章丘 + 区)."""
        if len(word) >= 3 and PLACE_SUFFIX_RE.search(word):
            return word not in self.places
        return _split_from_suffix(word, nxt)

    def place_mismatch(self, question: str, passage: str, sentence: str) -> bool:
        """True when the question names a place the answer does not speak of: a place of the corpus's
        titles (济南, 市中区) must appear in the passage, its title or section; any other place (青岛市,
        天桥区) in the answer's own sentence, since a passage may mention it only in passing."""
        for p in self.question_places(question):
            stem = PLACE_SUFFIX_RE.sub("", p) if len(p) > 2 else p
            known = any(stem in k for k in self.places)
            if stem not in (passage if known else sentence):
                return True
        return False

    @staticmethod
    def _same_year(year: str, chunk, sentence: str) -> bool:
        """Whether the answer can be about the year asked: the sentence, section or passage names it, or
        the title names it or a year next to it (a report titled 2024 speaks of 2023 as 去年)."""
        sent, section = normalize(sentence), normalize(chunk.section)
        if year in section + sent:
            return True
        title_years = set(YEAR_RE.findall(normalize(chunk.title)))
        if year in title_years and str(int(year) - 1) not in title_years and any(w in sent for w in LAST_YEAR):
            return False  # 去年 in a report of the year asked means the year before it
        # Measured: also refusing a sentence that names another year lost 16 right answers for 3 declines.
        return year in chunk.norm_text or bool(title_years & {year, str(int(year) + 1), str(int(year) - 1)})

    def supported(self, question: str, hits: list[ScoredChunk], cand: _Candidate | None) -> bool:
        """Whether the best span really answers: same year and place as the question, and it covers the
        question's topic words (not just its place and year)."""
        if cand is None:
            return False
        h = hits[cand.rank].chunk
        where = normalize(h.title + h.section).lower() + h.norm_text
        sig = query_signals(question, self.places)
        if not all(self._same_year(y, h, cand.sentence) for y in sig.years):
            return False
        if sig.wants_target and not sig.wants_result and sig.years and any(w in h.section for w in RESULT_SECTION):
            if not set(sig.years) & set(YEAR_RE.findall(normalize(h.section + cand.sentence))):
                return False  # asked for a year's plan; this passage reports another year's results
        unit = expected_unit(question)
        if unit and question_type(question) == "number" and not has_amount(unit, normalize(cand.span)):
            return False  # asked for 多少元 or 多少家, and the best span has no such figure
        said = normalize(h.section + cand.sentence)
        if any(w in question and w not in said for w in QUALIFIERS):
            return False  # asked for a per-head or average figure; the sentence gives a total
        if self.place_mismatch(question, where, normalize(h.title + h.section + cand.sentence).lower()):
            return False
        # Zero-weight words are the asker's phrasing (定位, 打算), not evidence either way.
        topic = {t: w for t, w in self._weights(question).items()
                 if w > 0 and not t.isdigit() and not (sig.place and (t in sig.place or sig.place.startswith(t)))}
        if not topic:
            return cand.coverage >= self.settings.decline_threshold
        context = normalize(h.title + " " + h.section + " " + cand.sentence).lower()
        return self._coverage(topic, normalize(cand.span).lower(), context) >= self.settings.decline_threshold

    def answer(self, question: str, hits: list[ScoredChunk]) -> Answer:
        cites = citations_for(hits)
        # The best span that passes the checks: a passage about another year or place gives way to
        # the next passage rather than to a decline.
        cand = next((c for c in self.candidates(question, hits) if self.supported(question, hits, c)), None)
        if cand is None:
            return Answer(question, NOT_FOUND, False, cites)
        span = self.span(question, cand)
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
