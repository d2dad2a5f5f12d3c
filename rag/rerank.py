"""Domain signals on fused candidates: the same place, year and kind of figure as the question, and the
question's words said together in one sentence."""
from __future__ import annotations

from .models import Chunk
from .question import RESULT_SECTION, YEAR_RE, Question, has_amount, place_level, same_place
from .textutil import normalize, split_sentences

TARGET_SECTION = ("目标", "计划", "任务", "重点工作", "举措", "安排", "要求")


def rerank_bonus(chunk: Chunk, doc_place: str, q: Question, unit_bonus: float) -> float:
    """Cheap evidence that the chunk is about the same place, year and kind of figure as the question."""
    head = normalize(chunk.title + " " + chunk.section)
    body = chunk.norm_text
    bonus = 0.0
    if q.place:
        if same_place(q.place, doc_place):
            bonus += 2.0
        elif place_level(doc_place) == 2:
            bonus -= 2.0  # the document is about another district
        elif q.place in body or q.place[:-1] in body:
            bonus += 0.5
    if q.unit and not q.unit.startswith("%") and has_amount(q.unit, body):
        bonus += unit_bonus  # it holds a figure counted the way the question asks (多少列 -> 1000列)
    # The nearest heading that names a year says which year the passage is about: a report titled 2024 looks
    # back at 2023 under "2023年…执行情况".
    section_years = YEAR_RE.findall(normalize(chunk.section))
    for year in q.years_in(chunk.title):
        if year in section_years or (not section_years and year in head):
            bonus += 1.0
        elif year in body:
            bonus += 0.5
    if q.wants_target and not q.wants_result:
        if any(w in chunk.section for w in TARGET_SECTION):
            bonus += 1.0
        if any(w in chunk.section for w in RESULT_SECTION):
            bonus -= 0.5
    elif q.wants_result and not q.wants_target:
        if any(w in chunk.section for w in RESULT_SECTION):
            bonus += 1.0
    return bonus


def sentence_coverage(weights: dict[str, float], text: str) -> float:
    """The largest share of the question's (IDF-weighted) words found together in one sentence of the
    (normalized) text: a passage that answers usually says it in one sentence, while BM25 over the whole passage
    also rewards words scattered across it."""
    total = sum(weights.values())
    present = {t: w for t, w in weights.items() if t in text}
    if not total or not present:
        return 0.0
    if len(present) == 1:
        return next(iter(present.values())) / total
    best = 0.0
    for sent in split_sentences(text):
        best = max(best, sum(w for t, w in present.items() if t in sent))
    return best / total
