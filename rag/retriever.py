"""Hybrid retrieval: dense (FAISS) and BM25 candidates, fused (rag.fusion), then domain reranking (rag.rerank)."""
from __future__ import annotations

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .config import Settings
from .embeddings import BaseEmbeddings
from .errors import EmbeddingError
from .fusion import reciprocal_rank, scale_by_max, scale_min_max
from .models import ScoredChunk
from .question import DATED_RE, Analyzer, Question, main_place, same_place, title_places
from .rerank import rerank_bonus, sentence_coverage
from .store import Index


class HybridRetriever(BaseRetriever):
    """LangChain retriever over a loaded Index. `search` is the typed fast path the chain uses."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Index
    embeddings: BaseEmbeddings
    settings: Settings
    top_k: int = 5
    mode: str = "hybrid"  # "hybrid", "dense" or "bm25" (the latter two are baselines for eval)

    def search(self, question: Question | str, k: int | None = None, query_vector: np.ndarray | None = None,
               exclude: frozenset[str] = frozenset()) -> list[ScoredChunk]:
        """Top-k chunks for the question, best first. `exclude`: sources to leave out (eval's negatives)."""
        k = k or self.top_k
        q = question if isinstance(question, Question) else analyzer(self.index)(question)
        if not self.index.chunks:
            return []
        qv = query_vector if query_vector is not None else q.vector
        if qv is None and not q.keywords_only:
            try:
                qv = q.vector = self.embeddings.embed_query_array(q.search)
            except EmbeddingError:
                if not getattr(self.embeddings, "remote", False):
                    raise
                q.keywords_only = True  # the embedding server is down: BM25 alone, every passage without a vector
        if self.mode == "hybrid" and self.settings.fusion == "weighted":
            fused = self._weighted(q, qv, exclude)
        else:
            fused = self._ranked(q, qv, k, exclude)
        best = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
        if qv is None:
            return [ScoredChunk(self.index.chunks[i], float(score), float("nan")) for i, score in best]
        cosine = self.index.vectors.similarity(qv, [i for i, _ in best]) if best else []
        # A chunk of a partial build without its vector yet has no similarity (NaN), not a low one.
        return [ScoredChunk(self.index.chunks[i], float(score), float("nan") if i in self.index.missing else float(c))
                for (i, score), c in zip(best, cosine)]

    def _candidates(self, q: Question, qv: np.ndarray, exclude: frozenset[str]) -> tuple[list[int], np.ndarray]:
        s = self.settings
        n = len(self.index.chunks)
        extra = 3 * s.dense_candidates if exclude else 0  # room for the excluded sources' chunks
        dense_ids = [] if qv is None else self.index.vectors.search(qv, s.dense_candidates + extra)[1]
        bm25 = self.index.bm25.scores(q.search, also=dense_ids)  # (Milvus scores the dense candidates too)
        m = min(s.bm25_candidates + extra, n)
        top = np.argpartition(-bm25, m - 1)[:m] if m < n else np.arange(n)
        cands = sorted({int(i) for i in dense_ids} | {int(i) for i in top if bm25[i] > 0})
        if exclude:
            cands = [i for i in cands if self.index.chunks[i].source not in exclude]
        return cands, bm25

    def _weighted(self, q: Question, qv: np.ndarray, exclude: frozenset[str]) -> dict[int, float]:
        """A weighted sum of the 0..1-scaled scores, the domain bonus and the best sentence's coverage."""
        s = self.settings
        cands, bm25 = self._candidates(q, qv, exclude)
        if not cands:
            return {}
        if qv is None:  # no question vector: dense neither helps nor hurts any passage
            sims = np.zeros(len(cands), np.float32)
        else:
            sims = self.index.vectors.similarity(qv, cands)
        if self.index.missing and qv is not None:  # no vector yet: the lowest similarity, so dense neither helps nor hurts it
            have = [sim for i, sim in zip(cands, sims) if i not in self.index.missing]
            floor = min(have) if have else 0.0
            sims = np.array([floor if i in self.index.missing else sim for i, sim in zip(cands, sims)])
        dense = scale_min_max(sims)
        lex = scale_by_max(bm25[cands].astype(np.float64))
        fused = {}
        for j, i in enumerate(cands):
            fused[i] = (s.bm25_weight * lex[j] + s.dense_weight * dense[j] + s.weighted_rerank * self._bonus(i, q)
                        + s.proximity_weight * sentence_coverage(q.weights, self.index.chunks[i].norm_text)
                        + s.context_bonus * (self.index.chunks[i].id in q.context))
        return fused

    def _ranked(self, q: Question, qv: np.ndarray, k: int, exclude: frozenset[str]) -> dict[int, float]:
        """RRF over dense and BM25 ranks (or one side alone, for the baselines)."""
        s = self.settings
        n = len(self.index.chunks)
        rankings = []
        if self.mode in ("hybrid", "dense") and qv is not None:
            _, ids = self.index.vectors.search(qv, (s.dense_candidates if self.mode == "hybrid" else k) + 3 * k * bool(exclude))
            rankings.append(([int(i) for i in ids if self.index.chunks[int(i)].source not in exclude], s.dense_weight))
        if self.mode in ("hybrid", "bm25"):
            scores = self.index.bm25.scores(q.search, also=rankings[0][0] if rankings else ())
            top = np.argsort(-scores, kind="stable")[: min(n, (s.bm25_candidates if self.mode == "hybrid" else k) + 3 * k * bool(exclude))]
            rankings.append(([int(i) for i in top if scores[i] > 0 and self.index.chunks[int(i)].source not in exclude],
                             s.bm25_weight))
        fused = reciprocal_rank(rankings, s.rrf_k)
        if self.mode == "hybrid":
            for i in fused:
                fused[i] += s.rerank_weight * self._bonus(i, q)
        return fused

    def _bonus(self, i: int, q: Question) -> float:
        chunk = self.index.chunks[i]
        return rerank_bonus(chunk, doc_place(self.index, chunk.source), q, self.settings.unit_bonus)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        return [
            LCDocument(page_content=h.chunk.text, metadata={**h.chunk.to_dict(), "score": h.score})
            for h in self.search(query)
        ]


def known_places(index: Index) -> list[str]:
    """Place names in the document titles (历城区, 市中区, 起步区, 济南市 …), cached with the index."""
    cached = index.cache.get("places")
    if cached is None:
        titles = [d.get("title", "") for d in index.manifest.get("documents", {}).values()]
        index.cache["places"] = cached = title_places(titles, index.bm25.tokenizer.words)
    return cached


def analyzer(index: Index) -> Analyzer:
    """The question analyzer for this index's corpus (its tokenizer, IDF and places), made once."""
    cached = index.cache.get("analyzer")
    if cached is None:
        index.cache["analyzer"] = cached = Analyzer(index.bm25.tokenizer, index.bm25.idf, known_places(index))
    return cached


def doc_place(index: Index, source: str) -> str:
    """The most specific place a document's title names ("" if none), cached per document."""
    cache = index.cache.setdefault("doc_place", {})
    if source not in cache:
        title = index.manifest.get("documents", {}).get(source, {}).get("title", "")
        cache[source] = main_place(title, known_places(index))
    return cache[source]


def document_text(index: Index, source: str) -> str:
    """A document's whole normalized text (its chunks joined), cached per document."""
    cache = index.cache.setdefault("documents", {})
    if source not in cache:
        cache[source] = "\n".join(c.norm_text for c in index.chunks if c.source == source)
    return cache[source]


def place_years(index: Index, place: str) -> set[str] | None:
    """The years the documents about a place name (历城区: its report of 2023 and plan of 2024), cached; None when
    no document's title names the place."""
    cache = index.cache.setdefault("place_years", {})
    if place not in cache:
        sources = {c.source: c.title for c in index.chunks}
        own = [s for s, title in sources.items() if same_place(main_place(title, known_places(index)), place)]
        text = " ".join(document_text(index, s) for s in own)
        cache[place] = set(DATED_RE.findall(text)) if own else None  # a year with its 年, not 2072个
    return cache[place]
