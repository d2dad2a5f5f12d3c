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
from .textutil import normalize

YEAR_RE = re.compile(r"(20\d{2})\s*年?")
PLACE_RE = re.compile(r"([\u4e00-\u9fff]{2,4}?(?:区|县|市|镇|街道))")
TARGET_WORDS = ("目标", "计划", "预期", "力争", "将要", "打算", "今年要", "要达到", "预计")
RESULT_WORDS = ("完成", "实现了", "达到了", "去年", "实际", "取得", "成效", "回顾", "执行情况")
TARGET_SECTION = ("目标", "计划", "任务", "重点工作", "举措", "安排", "要求")
RESULT_SECTION = ("执行情况", "回顾", "成效", "成绩", "情况")


@dataclass
class QuerySignals:
    """What the question names and asks for, extracted once per query."""

    places: list[str]
    years: list[str]
    wants_target: bool
    wants_result: bool


def query_signals(question: str, known_places: list[str]) -> QuerySignals:
    q = normalize(question)
    places = [p for p in known_places if p in q]
    places += [m for m in PLACE_RE.findall(q) if m not in places and not any(m in p for p in places)]
    return QuerySignals(
        places=places,
        years=YEAR_RE.findall(q),
        wants_target=any(w in q for w in TARGET_WORDS),
        wants_result=any(w in q for w in RESULT_WORDS),
    )


def rerank_bonus(chunk: Chunk, sig: QuerySignals) -> float:
    """Cheap evidence that the chunk is about the same place, year and kind of figure as the question."""
    head = normalize(chunk.title + " " + chunk.section)
    body = normalize(chunk.text)
    bonus = 0.0
    for place in sig.places:
        short = place[:-1] if len(place) > 2 else place  # 历城区 is often just 历城, 起步区 always 起步区
        if place in head or short in head:
            bonus += 2.0
        elif place in body or short in body:
            bonus += 1.0
        else:
            bonus -= 1.0
    for year in sig.years:
        if year in head:
            bonus += 1.0
        elif year in body:
            bonus += 0.5
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
            sig = query_signals(question, self.index.bm25.tokenizer.user_words + _doc_places(self.index))
            for i in ranks:
                ranks[i] += s.rerank_weight * rerank_bonus(self.index.chunks[i], sig)
        best = sorted(ranks.items(), key=lambda kv: -kv[1])[:k]
        return [ScoredChunk(self.index.chunks[i], float(score)) for i, score in best]

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        return [
            LCDocument(page_content=h.chunk.text, metadata={**h.chunk.to_dict(), "score": h.score})
            for h in self.search(query)
        ]


def _doc_places(index: Index) -> list[str]:
    """Place names that appear in document titles (起步区, 历城区, 市中区 …), cached on the index."""
    cached = index.manifest.get("_title_places")
    if cached is None:
        found: list[str] = []
        for doc in index.manifest.get("documents", {}).values():
            for m in PLACE_RE.findall(normalize(doc.get("title", ""))):
                for cand in (m, m[-3:], m[-4:]):  # "济南新旧动能转换起步区" -> also "起步区"
                    if cand not in found and len(cand) >= 3:
                        found.append(cand)
        index.manifest["_title_places"] = cached = found
    return cached
