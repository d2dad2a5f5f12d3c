"""Answerers turn retrieved passages into an Answer. The default is extractive (no LLM needed)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import reduce
from typing import Callable, Iterator

from .answerability import (NOT_FOUND, Answerability, Verdict, answer_type, ask_agreement, bound_coverage,
                            joint_agreement, level_agreement, load_weights, loose_place_agreement, model_for,
                            place_agreement, plan_agreement, qualifier_agreement, question_reason, rivals, scope_agreement,
                            year_agreement)
from .config import Settings
from .models import Answer, Chunk, Citation, ScoredChunk
from .question import (DATED_RE, LAST_YEAR_RE, PLAN_SECTION, RESULT_SECTION, SERIAL_RE, YEAR_RE, Analyzer, Question,
                       counts, has_amount, main_place, without_figures)
from .textutil import is_cjk, normalize, split_clauses, split_sentences, squash

CONTEXT_CREDIT = 0.5  # a question word in the answer's sentence (not the span itself) or its heading counts half
RANK_PENALTY = 0.06  # per passage rank: prefer the top passage when two spans tie
LENGTH_PENALTY = 0.002  # per character: of two spans that answer equally, the shorter
CHAR_WEIGHT = 0.3  # share of the question's characters found in the sentence
QUESTION_CHARS = set("的了是在和与及吗呢么什哪谁几多少怎样为何请问有")
NOVELTY_BONUS, NOVELTY_CHARS = 0.3, 8  # full bonus once the span adds this many characters to the question
NUMBER_RE = re.compile(r"\d|[一二两三四五六七八九十百]+(?=个|大|项|条|类|方面|位|批)")
REASON_RE = re.compile(r"为了|旨在|以便|目的|确保|为(?!主|止|了解)|以(?=[\u4e00-\u9fff]{2,}(提升|推动|促进|实现|保障|加快|满足|增强))|推动|促进|助力|让")
# A sentence that opens with a consequence or a turn: why it happened is said in the sentence before.
CONSEQUENCE_RE = re.compile(r"[“\"]?(因此|所以|于是|因而|故而|从而|由此|此时|随后|但|然而|可是|不过)")
SHORT_ITEM_CHARS = 12  # items named as clauses are short: 市中区要推动农业全面升级 (12), 农村全面进步 (6)
ENUMERATION_RUN_RE = re.compile(r"[^、，,。；;：:（）()“”《》\"]+(?:、[^、，,。；;：:（）()“”《》\"]+)+")
TABLE_ROW_RE = re.compile(r"^[^：\n]{1,16}：[^\n]*；[^：；\n]{1,16}：", re.M)


def numbered_row(sentences: list[str], q: Question) -> int | None:
    """The index of the table row whose serial cell (项目序号：2) is the position the question asks, when it asks
    of what the table numbers (第二个项目; 第二个 of a table, 表里第二个); None when there is none."""
    if not q.position:
        return None
    text = normalize(q.text)
    for k, s in enumerate(sentences):
        m = SERIAL_RE.match(s)
        if m and int(m.group("n")) == q.position and ((m.group("label") or "表") in text):
            return k
    return None


def passage_sentences(text: str) -> list[str]:
    """Sentences of a passage; in a table (rows of 列名：值；列名：值) each row is one sentence, so a
    row's name and its values stay together."""
    if len(TABLE_ROW_RE.findall(text)) >= 2:
        return [line for line in text.splitlines(keepends=True) if line.strip()]
    out: list[str] = []
    for sent in split_sentences(text):
        if out and out[-1].rstrip().endswith(("：", ":")):
            out[-1] += sent  # a lead-in ("总体要求是：") and what it introduces are one sentence
        else:
            out.append(sent)
    return out


def sentence_clauses(sentence: str) -> list[str]:
    """The pieces an answer is built from: clauses, or for a table row its 列名：值 cells, so that a
    column's name stays with its value (2024年计划：2.82)."""
    if TABLE_ROW_RE.match(sentence):
        return re.findall(r"[^；\n]+；?\n?", sentence)
    return split_clauses(sentence)


@dataclass
class _Candidate:
    rank: int  # 0-based position among the passages
    sentence: str  # the whole sentence: the verbatim quote
    span: str  # the clauses of it that answer
    score: float
    coverage: float
    first: int  # the span's first and last clause among the sentence's clauses
    last: int
    follows: bool = False  # the sentence right after one the last answer gave (a list continued)
    before: str = ""  # the sentence before it in the passage
    after: str = ""  # and the one after it
    following: tuple[str, ...] = ()  # the sentences after it in the passage (a list's further items)


class Answerer:
    """Base class: answer(question, hits) -> Answer; stream() yields text pieces then the Answer."""

    name = "base"

    def answer(self, question: Question | str, hits: list[ScoredChunk]) -> Answer:
        raise NotImplementedError

    def stream(self, question: Question | str, hits: list[ScoredChunk]) -> Iterator[str | Answer]:
        result = self.answer(question, hits)
        yield result.answer
        yield result


def citations_for(hits: list[ScoredChunk]) -> list[Citation]:
    return [
        Citation(n=i + 1, source=h.chunk.source, title=h.chunk.title, section=h.chunk.section, text=h.chunk.text,
                 score=round(h.score, 6), chunk=h.chunk.id, page=h.chunk.page_at(0))
        for i, h in enumerate(hits)
    ]


LIST_SENTENCES = 12  # how many sentences after a list's first may hold its further items
ITEMS_FOLLOW_RE = re.compile(r"^(主要是|主要有|包括|分别是|一是|其一)")  # 还存在一些不足。主要是…: the items


def list_items(sentence: str, following: tuple[str, ...], limit: int) -> str:
    """A list the sentence opens and the sentences after it go on with, up to `limit` characters: items ended
    by ；or introduced by ：(目标是：…；…；…。), or the sentence after a lead-in that starts 主要是 / 包括 / 一是.
    "" when the sentence opens none."""
    text = sentence.strip()
    if following and not text.endswith(("；", ";", "：", ":")) and ITEMS_FOLLOW_RE.match(following[0]):
        return (text + following[0])[:limit].rstrip("。；;，,、：:")
    if not text.endswith(("；", ";", "：", ":")):
        return ""
    for nxt in following:
        if len(text) + len(nxt) > limit:
            break
        text += nxt
        if not nxt.endswith(("；", ";", "：", ":")):
            break
    return text.rstrip("。；;，,、：:")


RUN_ENDS = ("、", "和", "及", "与")  # a clause that ends so goes on with the next item


def after_first_run(sentence: str) -> str:
    """What a sentence lists after its first run of items (推动甲隧道、乙隧道建设，| 推进丙隧道、丁桥启动建设): a list
    shown whole is still asked to go on (还有呢？), and people read its first run as the answer."""
    clauses = split_clauses(sentence)
    k = next((i for i, c in enumerate(clauses) if c.rstrip().endswith(RUN_ENDS)), None)
    if k is None:
        return ""
    while k + 1 < len(clauses) and clauses[k].rstrip().endswith(RUN_ENDS):
        k += 1
    return "".join(clauses[k + 1:]).strip("，,、；; ")


def given_whole(sentence: str, answer: str) -> bool:
    """Whether an answer gave the sentence whole, and nothing else (once: not its rest again after it)."""
    return squash(re.sub(r"\[\d+\]", "", answer)).rstrip("。；;，,、：:") == squash(sentence).rstrip("。；;，,、：:")


def left_after(sentence: str, given: str) -> str:
    """The clauses of a sentence after the last one an answer gave (加快推进…216个产业类项目、…151个建设类项目 given:
    the 民生类项目 that follow); empty when the answer ended the sentence or gave none of it."""
    clauses = split_clauses(sentence)
    said = squash(given)
    bare = [squash(c).strip("，,、；;：:。") for c in clauses]
    last = max((i for i, c in enumerate(bare) if len(c) >= 4 and c in said), default=-1)
    return "".join(clauses[last + 1:]).strip("，,、；; ") if last >= 0 else ""


def compound_parts(words) -> dict[str, list[str]]:
    """The question words that are compounds of other question words (友好城市: 友好, 城市), with those parts."""
    out = {}
    for word in words:
        parts = sorted((u for u in words if u != word and u in word), key=word.index)
        if len(parts) > 1 and "".join(parts) == word:
            out[word] = parts
    return out


def says(word: str, text: str, compounds: dict[str, list[str]]) -> bool:
    """Whether the text says a question word: as written, or a compound by all of its parts (友好城市 in
    国际友好（合作）城市: 友好 and 城市). `compounds`: compound_parts of the question's words."""
    return word in text or (word in compounds and all(u in text for u in compounds[word]))


def lead_with(cites: list[Citation], used: list[int]) -> list[Citation]:
    """The citations renumbered with the passages the answer quotes first, as [1] (and [2]), the rest in the
    retriever's order: the reader has ranked the passage it answers from above those it passed over."""
    cites = [cites[j] for j in used] + [c for j, c in enumerate(cites) if j not in used]
    for n, c in enumerate(cites, 1):
        c.n = n
    return cites


def nth_item(sentence: str, n: int, topic: dict[str, float] | None = None) -> str:
    """The n-th of the run of items a sentence names together (电动载人汽车、锂电池、太阳能电池: 3 -> 太阳能电池; -1 the
    last): of several runs, the one whose clause says most of the question (`topic`, its words and weights), then
    the longest. A sentence with no such run may name its items as short clauses (农业全面升级，农村全面进步，…)."""
    runs = ENUMERATION_RUN_RE.findall(sentence)
    clauses = [c for c in split_clauses(sentence) if len(YEAR_RE.sub("", c).strip("，,。；; ")) > 1]

    def fit(run: str) -> tuple[float, int]:
        around = re.search(r"[^，,。；;]*" + re.escape(run) + r"[^，,。；;]*", sentence)
        clause = around.group(0) if around else run
        return sum(w for t, w in (topic or {}).items() if t in clause.lower()), run.count("、")

    if runs:
        items = [i.strip() for i in re.split(r"、|以及|和|及", max(runs, key=fit)) if i.strip()]
    elif len(clauses) >= 3 and all(len(c.strip("，,。；; ")) <= SHORT_ITEM_CHARS for c in clauses):
        items = [c.strip("，,。；; ") for c in clauses]
    else:
        items = []
    if n == -1 and items:  # the last, without what the run says of them all (京东超级体验店等项目建设)
        return re.split(r"等", items[-1])[0].strip()
    return items[n - 1] if 0 < n <= len(items) else ""


def quote(cite: Citation, chunk: Chunk, sentence: str) -> None:
    """Mark the sentence a citation supports the answer with, and the page it is on."""
    cite.quote = sentence
    at = chunk.text.find(sentence)
    cite.page = chunk.page_at(max(at, 0))


def question_text(question: Question | str) -> str:
    """The question as asked, whether read already or not."""
    return question.text if isinstance(question, Question) else question


class ExtractiveAnswerer(Answerer):
    """Finds the clauses in the passages that answer the question, or declines (with the reason) when none do."""

    name = "extractive"

    def __init__(self, analyzer: Analyzer, settings: Settings | None = None,
                 answerability: Answerability | None = None, document: Callable[[str], str] | None = None) -> None:
        self.analyzer = analyzer  # the corpus's reading of questions (its IDF and places)
        self.settings = settings or Settings()
        self.answerability = answerability or Answerability(model_for(self.settings.embed_model),
                                                            self.settings.decline_threshold,
                                                            lexical=load_weights()["lexical"])
        self.document = document or (lambda source: "")  # a source's whole (normalized) text

    def _read(self, question: Question | str) -> Question:
        return question if isinstance(question, Question) else self.analyzer(question)

    def _type_bonus(self, q: Question, text: str, novelty: int) -> float:
        """How well the span looks like the kind of answer asked for. `novelty`: characters of the span
        that are not question words: an answer says something the question does not."""
        fresh = NOVELTY_BONUS * min(novelty, NOVELTY_CHARS) / NOVELTY_CHARS
        if q.qtype == "number":
            text = without_figures(text, q.figures)  # a figure the question states is its premise
            counted = q.parts.counted if q.parts else ""
            if counted and counts(normalize(counted).lower(), q.unit, text):
                return 0.35 + self.settings.counted_bonus
            if q.unit and has_amount(q.unit, text):
                return 0.35
            return 0.15 if NUMBER_RE.search(text) else -0.3
        if q.qtype == "list":
            return fresh + 0.05 * min(text.count("、") + text.count("，") + text.count(","), 4)
        if q.qtype == "why":
            return fresh + (0.2 if REASON_RE.search(text) else 0.0)
        return fresh

    def candidates(self, question: Question | str, hits: list[ScoredChunk]) -> list[_Candidate]:
        """Each top passage's best run of clauses (within one sentence, at most answer_max_chars),
        best first."""
        q = self._read(question)
        weights = q.evidence
        if not weights:
            return []
        limit = self.settings.answer_max_chars
        number = q.qtype == "number"
        qchars = {ch for ch in normalize(q.text) if is_cjk(ch) and ch not in QUESTION_CHARS}
        total = sum(weights.values()) or 1.0
        compounds = compound_parts(weights)
        found: list[_Candidate] = []
        passages = hits[: self.settings.answer_passages]
        split = [passage_sentences(h.chunk.text) for h in passages]
        # 表里第二个项目是什么？: the row numbered 2 of a numbered table answers, when a passage has one
        rows = [numbered_row(sentences, q) for sentences in split]
        table_asked = any(r is not None for r in rows)
        for rank, h in enumerate(passages):
            if table_asked and rows[rank] is None:
                continue
            best: _Candidate | None = None
            head = normalize(h.chunk.title + " " + h.chunk.section).lower()
            # What the document is about (纽西兰鸡毛松, 起步区) is said of every sentence in it, named or not:
            # a sentence is told apart by the question's other words.
            title = normalize(h.chunk.title).lower()
            implied = {t for t in weights if t in title and not t.isdigit()}
            after_said = False
            previous = ""
            sentences = split[rank]
            for k, sent in enumerate(sentences):
                if table_asked and k != rows[rank]:
                    continue
                before, previous = previous, sent.strip()
                after = sentences[k + 1].strip() if k + 1 < len(sentences) else ""
                if sent.strip() in q.said:
                    # Already quoted: a list continued says what comes next, first the rest of this sentence.
                    rest = left_after(sent.strip(), q.said[sent.strip()])
                    if given_whole(sent, q.said[sent.strip()]):
                        # shown whole, its first run read as the answer: 还有呢？ asks for the items after it
                        rest = after_first_run(sent.strip()) or rest
                    sent, follows, after_said = rest, True, True
                    if not sent:
                        continue
                else:
                    follows, after_said = after_said, False
                quoted = self.settings.quoted_bonus * (sent.strip() in q.quoted)
                norm_sent = normalize(sent).lower()
                if len(squash(norm_sent)) < 4:
                    continue
                clauses = sentence_clauses(sent) or [sent]
                # Per clause, once: its question words and its characters that are not question words.
                # A window's are the sums (words never cross the punctuation that splits clauses).
                norm_clauses = [normalize(c).lower() for c in clauses]
                words_in = [{t for t in weights if says(t, c, compounds)} for c in norm_clauses]
                fresh = [len(squash(reduce(lambda t, w: t.replace(w, ""), weights, c))) for c in norm_clauses]
                in_context = {t for t in weights if says(t, head, compounds) or says(t, norm_sent, compounds)}
                # Shared characters catch what word overlap misses (树叶 ~ 其叶, 体重 ~ 公斤重).
                chars = len(qchars & set(norm_sent)) / len(qchars) if qchars else 0.0
                # In a table row the answer is one cell; the row's name (its first cell) is context.
                row = bool(TABLE_ROW_RE.match(sent)) and len(clauses) > 1
                # a row asked by its number: from the cell after the number (the name), not the best-covered cell
                for i in range(1 if row else 0, 2 if row and table_asked else len(clauses)):
                    span, norm, got, novelty = "", "", set(implied), 0
                    for j in range(i, i + 1 if row else len(clauses)):
                        if len(span) + len(clauses[j]) > limit and span:
                            break
                        span += clauses[j]
                        norm += norm_clauses[j]
                        got |= words_in[j]
                        novelty += fresh[j]
                        cov = (sum(weights[t] for t in got)
                               + CONTEXT_CREDIT * sum(weights[t] for t in in_context - got)) / total
                        if row:  # a title word a cell's column names (计划 of 2024年计划) tells that cell apart
                            cov += CONTEXT_CREDIT * sum(weights[t] for t in implied & words_in[j]) / total
                        if number and j > i and not NUMBER_RE.search(clauses[j]):
                            continue  # a figure's subject comes before it: a clause after it names the next figure's
                        said = re.split("[：:]", norm, maxsplit=1)[-1] if row else norm  # a cell: its value
                        score = (cov + CHAR_WEIGHT * chars + self._type_bonus(q, said, novelty)
                                 - RANK_PENALTY * rank - LENGTH_PENALTY * len(span)
                                 + self.settings.next_sentence_bonus * follows + quoted)
                        if best is None or score > best.score:
                            best = _Candidate(rank, sent.strip(), span, score, cov, i, j, follows, before, after,
                                              tuple(t.strip() for t in sentences[k + 1:k + 1 + LIST_SENTENCES]))
            if best is not None:
                found.append(best)
        # A passage that ends inside a list (…目标是：地区生产总值增长5.5%左右；) goes on in the next one, which
        # overlaps it: the same sentence there has the items after it.
        after = {c.sentence: c.following for c in found if c.following}
        found = [replace(c, following=after.get(c.sentence, ())) if not c.following else c for c in found]
        return sorted(found, key=lambda c: -c.score)

    def span(self, question: Question | str, cand: _Candidate) -> str:
        """The answer text: the chosen clauses, with the clause before a bare figure, trimmed to the limit.
        A question that is not after a figure (why, what, which) gets the whole sentence when it is short
        enough: its answer rarely fits one clause."""
        sentence = cand.sentence.strip()
        q = self._read(question)
        number = q.qtype == "number"
        limit = self.settings.answer_max_chars if number else self.settings.answer_sentence_chars
        if (q.qtype == "why" and cand.before and CONSEQUENCE_RE.match(sentence)
                and len(cand.before) + len(sentence) <= limit):
            return (cand.before + sentence).rstrip("。；;，,、：:")  # 因此它被称为…: the reason is the sentence before
        if (q.qtype == "why" and cand.after and not REASON_RE.search(sentence)
                and len(sentence) + len(cand.after) <= limit):
            return (sentence + cand.after).rstrip("。；;，,、：:")  # no reason in it: the sentence after gives it
        if q.qtype == "list" and len(sentence) <= limit and (items := list_items(sentence, cand.following, limit)):
            return items  # 主要预期目标是：地区生产总值增长5.5%左右；一般公共预算收入增长3%左右；…
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
        last = cand.last
        while not NUMBER_RE.search(YEAR_RE.sub("", text)) and last + 1 < len(clauses):
            last += 1  # never cut a sentence before its figure ("…总体要求是：" is not an answer)
            text += clauses[last].strip()
        # 分别 pairs a list of things with a list of figures (存贷款余额分别达到3.1万亿元、3.3万亿元): keep them all.
        while ("分别" in text and text.endswith("、") and last + 1 < len(clauses)
               and NUMBER_RE.search(clauses[last + 1]) and len(text) + len(clauses[last + 1]) <= limit):
            last += 1
            text += clauses[last].strip()
        # An enumeration comma after the figure inside one noun phrase (18个市、区级试点村): its tail, unless the next
        # clause is an item of its own (216个产业类项目、…151个建设类项目).
        while (text.endswith("、") and last + 1 < len(clauses) and not NUMBER_RE.search(clauses[last + 1])
               and len(text) + len(clauses[last + 1]) <= self.settings.answer_max_chars):
            last += 1
            text += clauses[last].strip()
        if TABLE_ROW_RE.match(cand.sentence) and cand.first > 0:
            text = clauses[0].split("：", 1)[-1] + text  # the row's name: 床位数；2024年计划：2.82
        elif len(squash(text)) < 8 and cand.first > 0:  # a bare figure needs the clause naming what it is
            text = (clauses[cand.first - 1] + text).strip()
        return text[: self.settings.answer_max_chars].rstrip("。；;，,、：:")

    def features(self, q: Question, hits: list[ScoredChunk], cand: _Candidate) -> dict[str, float]:
        """The answerability signals of one candidate (see rag.answerability)."""
        h = hits[cand.rank]
        c = h.chunk
        title, section = normalize(c.title), normalize(c.section)
        where = (title + section).lower() + c.norm_text
        sentence, shown = normalize(cand.sentence), normalize(self.span(q, cand))  # shown: the answer as displayed
        near = (title + section + sentence).lower()
        context = normalize(c.title + " " + c.section + " " + cand.sentence).lower()
        topic = q.topic
        total = sum(topic.values())
        span = normalize(cand.span).lower()
        compounds = compound_parts(topic)
        got = sum(w if says(t, span, compounds) else CONTEXT_CREDIT * w if says(t, context, compounds) else 0.0
                  for t, w in topic.items())
        coverage = got / total if total else cand.coverage
        # The same share with the words the corpus never uses counted as missing, each at the mean weight:
        # a question about 电影 or 门票 is not answered by a sentence that matches its other words.
        mean = total / len(topic) if topic else 1.0

        coverage_all = got / (total + mean * len(q.unseen)) if total else 0.0
        words = len(q.unseen) + sum(1 for w in q.evidence.values() if w > 0)
        qchars = {ch for ch in normalize(q.text) if is_cjk(ch) and ch not in QUESTION_CHARS}
        doc_place = main_place(title, self.analyzer.places)
        wants = ("result" if q.wants_result and not q.wants_target and q.qtype == "number"  # a figure reported
                 else "target" if q.wants_target and not q.wants_result else "")
        return {
            "coverage": coverage,
            "coverage_all": coverage_all,
            "bound": bound_coverage(q, shown, sentence),
            "chars": len(qchars & set(near)) / len(qchars) if qchars else 0.0,
            "dense": h.dense,
            "year": min((year_agreement(y, c.title, c.section, cand.sentence, c.norm_text, wants)
                         for y in q.years_in(c.title)),
                        default=1.0),
            "place": place_agreement(q, where, near),
            "place_loose": (loose_place_agreement(q, where, self.document(c.source), doc_place)
                            if q.loose_places else 1.0),
            "scope": scope_agreement(q, doc_place, sentence),
            "qualifier": qualifier_agreement(q, section + sentence),
            "plan": plan_agreement(q, c.section, cand.sentence, shown),
            "atype": answer_type(q, shown, sentence),
            "level": level_agreement(q, shown, sentence),
            "joint": joint_agreement(q, context, self.analyzer.tokenizer.words(context), self.analyzer.knows),
            "ask": ask_agreement(q, context),
            "unseen": len(q.unseen) / words if words else 1.0,
            # How much the question says: a long question's sentence covers a smaller share of it.
            "words": math.log1p(len(topic)),
            "rank": float(cand.rank),
            # The kind of question (entity is the base): each kind is answered with its own confidence.
            **{kind: float(q.qtype == kind) for kind in ("number", "list", "why", "yesno")},
        }

    def assess(self, question: Question | str, hits: list[ScoredChunk]) -> tuple[Question, list[tuple[_Candidate, dict]]]:
        """The question's reading and each candidate with its answerability signals, best candidate first."""
        q = self._read(question)
        found = [(c, self.features(q, hits, c)) for c in self.candidates(q, hits)]
        rivals([f for _, f in found])
        return q, found

    def choose(self, q: Question, hits: list[ScoredChunk]) -> tuple[_Candidate | None, Verdict | None]:
        """The best candidate that the answerability model accepts (None if none does), and the verdict on the
        first candidate: a passage about another year or place (or a district's, when the city is asked about)
        gives way to the next passage's candidate rather than to a decline, and a decline gives the first
        candidate's reason."""
        first: Verdict | None = None
        found = self.assess(q, hits)[1]
        for cand, f in found:
            verdict = self.answerability.judge(q, f)
            if verdict.ok:
                if self.planned_for(q, hits, cand) or self.said_past(q, hits, cand):
                    # A year past asked plainly (2024年产量有多少) is what it came to, not the year's plan: a later
                    # passage that looks back at that year answers it.
                    for other, g in found:
                        if other.rank != cand.rank and self.looked_back(q, hits, other):
                            v = self.answerability.judge(q, g)
                            if v.ok:
                                return other, v
                return cand, verdict
            if cand.follows and self.settings.continue_lists:
                # A list continued: the sentence after the item already given answers what the last question asked,
                # whose answer was judged then; its own words need not match the question again.
                return cand, Verdict(verdict.p, True)
            first = first or verdict
        return None, first

    def planned_for(self, q: Question, hits: list[ScoredChunk], cand: _Candidate) -> bool:
        """Whether a plain question about a year (neither a target nor a result asked) is answered from that year's
        own report, whose figures for it are plans."""
        if (q.wants_target or q.wants_result or q.qtype != "number" or len(q.asked_years) != 1
                or q.context):  # a follow-up on the passage the last answer gave
            return False
        c = hits[cand.rank].chunk
        year, section = q.asked_years[0], normalize(c.section)
        if year in section and any(w in section for w in PLAN_SECTION):
            return True  # 2024 年主要预期目标
        return (set(YEAR_RE.findall(normalize(c.title))) == {year}
                and not DATED_RE.search(section + normalize(cand.sentence)))

    def said_past(self, q: Question, hits: list[ScoredChunk], cand: _Candidate) -> bool:
        """Whether a question about 去年 (a year said from now, before the report's own) is answered from outside
        the report's look back at that year: its plans. Not when the sentence names that year itself (去年的产量…)."""
        if q.said_offset is None or q.said_offset >= 0 or self.looked_back(q, hits, cand):
            return False
        sentence = normalize(cand.sentence)
        years = q.years_in(hits[cand.rank].chunk.title)
        return not LAST_YEAR_RE.search(sentence) and not any(y in sentence for y in years)

    def looked_back(self, q: Question, hits: list[ScoredChunk], cand: _Candidate) -> bool:
        """Whether the candidate's heading reports on the year asked (一、2024年工作回顾)."""
        c = hits[cand.rank].chunk
        section, years = normalize(c.section), q.years_in(c.title)
        return bool(years) and years[0] in section and any(w in section for w in RESULT_SECTION)

    def confidence(self, question: Question | str, hits: list[ScoredChunk]) -> float:
        """The answerability of the answer it would give (0 when it would decline)."""
        q = self._read(question)
        if question_reason(q):
            return 0.0
        chosen, verdict = self.choose(q, hits)
        return verdict.p if chosen is not None else 0.0

    def answer(self, question: Question | str, hits: list[ScoredChunk]) -> Answer:
        q = self._read(question)
        cites = citations_for(hits)
        reason = question_reason(q)
        if reason:
            return Answer(q.text, reason, False, cites)
        if q.ordinal and q.said:  # 第三个是什么？: the item the last answer named third
            for rank, h in enumerate(hits):
                for sentence in (s for s in q.said if s in h.chunk.text):
                    if item := nth_item(sentence, q.ordinal, q.topic):
                        quote(cites[rank], h.chunk, sentence)
                        return Answer(q.text, f"{item}[1]", True, lead_with(cites, [rank]))
        chosen, first = self.choose(q, hits)
        if chosen is None:
            return Answer(q.text, first.reason if first else NOT_FOUND, False, cites)
        return self._answer_with(q, chosen, cites, hits)

    def _answer_with(self, q: Question, cand: _Candidate, cites: list[Citation], hits: list[ScoredChunk]) -> Answer:
        span = self.span(q, cand)
        used = [cand.rank]
        quote(cites[cand.rank], hits[cand.rank].chunk, cand.sentence)
        key = squash(span)
        for j, c in enumerate(cites):  # a second passage saying the same thing is cited too
            if j != cand.rank and len(key) >= 6 and key in squash(c.text):
                sent = next((s.strip() for s in split_sentences(c.text) if key in squash(s)), "")
                # not the same sentence of the same document again (passages overlap)
                if sent and not (c.source == cites[cand.rank].source and squash(sent) == squash(cand.sentence)):
                    quote(c, hits[j].chunk, sent)
                    used.append(j)
                    break
        markers = "".join(f"[{n}]" for n in range(1, len(used) + 1))
        return Answer(q.text, f"{span}{markers}", True, lead_with(cites, used))
