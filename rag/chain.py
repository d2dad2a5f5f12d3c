"""The retrieval chain (LCEL): question -> hybrid retriever -> answerer -> Answer, and the public ask()."""
from __future__ import annotations

import os
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from langchain_core.runnables import Runnable, RunnableLambda

from .answerer import Answerer, ExtractiveAnswerer, citations_for
from .chunking import SECTION_SEP
from .config import CHUNKER_VERSION, Settings
from .embeddings import BaseEmbeddings, Reconnecting, get_embeddings
from .conversation import (about_last, check_rewrite, context_of, continues_list, item_asked, position_after, quoted_for,
                           resolve, said_before, turn_question, without_inherited_year)
from .errors import BadQuestion, EmbeddingError, IndexMismatch, IndexMissing, LLMError, RagError
from .milvus import is_milvus
from .models import Answer, Citation, ScoredChunk
from .outline import Outline, asks_next, part_asked, without_part
from .question import Question, full_years
from .retriever import HybridRetriever, analyzer, document_text, place_years
from .store import FORMAT, Index, Progress, build_index, corpus_signature, live_version, load_index, read_manifest


def clean_question(question, max_chars: int = 2000) -> str:
    """Validate and tidy a question. Raises BadQuestion with a message a user can act on."""
    if not isinstance(question, str):
        raise BadQuestion("问题必须是文字 (the question must be text)")
    # Control characters (other than spaces) are noise from copy-paste; drop them.
    q = "".join(ch for ch in question if unicodedata.category(ch)[0] != "C" or ch in " \t")
    q = re.sub(r"\s+", " ", q).strip()
    if not q:
        raise BadQuestion("问题为空：请输入要查找的内容，例如：起步区2024年固定资产投资目标是多少 (the question is empty)")
    if len(q) > max_chars:
        raise BadQuestion(f"问题有 {len(q)} 个字，请控制在 {max_chars} 字以内 (the question is {len(q)} characters long; "
                          f"keep it under {max_chars})")
    if not any(ch.isalnum() for ch in q):
        raise BadQuestion("问题里只有标点或符号，没有文字 (the question has no words, only punctuation or symbols)")
    return q


@dataclass
class Engine:
    """A loaded index with its retriever and answerer; shared by every ask() on the same index."""

    index: Index
    retriever: HybridRetriever
    answerer: Answerer
    settings: Settings
    judge: ExtractiveAnswerer  # weighs two readings of a follow-up (the extractive answerer, or the LLM's fallback)
    _chains: dict = field(default_factory=dict, repr=False)
    _outline: Outline | None = field(default=None, repr=False)

    @property
    def outline(self) -> Outline:
        """The documents' headings, gathered on first use."""
        if self._outline is None:
            self._outline = Outline(self.index.chunks)
        return self._outline

    def chain(self, top_k: int, answerer: Answerer | None = None) -> Runnable:
        """question -> {question, hits} -> Answer, as an LCEL runnable (the engine's own built once per
        top_k: building one inspects every step's signature, a millisecond a question)."""
        if answerer is not None:  # a caller's own answerer: not kept
            return self._build_chain(top_k, answerer)
        if top_k not in self._chains:
            self._chains[top_k] = self._build_chain(top_k, None)
        return self._chains[top_k]

    def _build_chain(self, top_k: int, answerer: Answerer | None) -> Runnable:
        ans = answerer or self.answerer
        read = RunnableLambda(lambda x: self.turn(x["question"], x.get("history", ())))
        retrieve = RunnableLambda(lambda t: self.retrieve(t, top_k))
        return read | retrieve | RunnableLambda(lambda t: finish(t, self.part(t) or ans.answer(t["read"], t["hits"])))

    def read(self, question: str) -> Question:
        """The one reading of a (clean) question, shared by the retriever and the answerer."""
        return analyzer(self.index)(question)

    def turn(self, question, history: Iterable[Answer | str] = ()) -> dict:
        """A question of a conversation: cleaned, completed from the history (the standalone question that is
        searched) and read once."""
        typed = clean_question(question, self.settings.max_question_chars)
        a = analyzer(self.index)
        q = full_years(typed, a.places, a.is_own_year)  # 24年 -> 2024年, for every reading below
        history = list(history)
        standalone = self.resolve(q, history)
        read = self.read(standalone)
        # A list continued (还有呢？), or the same question asked again: what the last answer did not say yet.
        if history and (continues_list(q, a) or standalone == turn_question(history[-1])):
            read.said = said_before(history)
            read.ordinal = item_asked(q, history, a)
        read.position = position_after(q, history) or read.position  # 下一个项目呢？ after a numbered row
        read.context = context_of(q, history, a)
        read.quoted = quoted_for(q, history, a)
        other = about_last(q, standalone, history, a) if history else ""
        yearless = (without_inherited_year(q, read, a, lambda place: place_years(self.index, place))
                    if history else "")
        return {"question": typed, "standalone": standalone, "read": read, "other": other, "yearless": yearless,
                "history": history,
                "partial": self.index.manifest.get("partial")}

    def part(self, turn: dict) -> Answer | None:
        """A part of a report asked for (第二部分讲的什么？ 第一条是啥？ after 重点工作要抓几个方面？ 再往后呢？), answered
        with its heading; None when the question asks for no part, or no heading above the passages found has it."""
        q, history = turn["question"], turn.get("history") or []
        n, after = part_asked(q), asks_next(q)
        if not n and not after:
            return None
        last = history[-1] if history and isinstance(history[-1], Answer) and history[-1].citations else None
        given = None
        if last is not None and last.found:
            top = last.citations[0]
            given = self.outline.given(top.source, top.section, last.answer)
        if given is not None:  # the last answer was a part: the next one, or another of the same heading
            part = self.outline.part(given.chunk.source, given.parent, given.n + 1 if after else n)
        elif n:
            topic = self.read(without_part(turn["standalone"])).topic
            found = self.outline.parent_for(topic, turn["hits"], n, self.settings.part_coverage)
            part = self.outline.part(*found, n) if found else None
        else:
            return None
        if part is None:
            return None
        c = part.chunk
        cite = Citation(n=1, source=c.source, title=c.title, section=c.section, text=c.text, chunk=c.id,
                        page=c.page_at(0))
        if history:  # what was searched: the heading's part, named
            turn["standalone"] = f"{part.parent.split(SECTION_SEP)[-1] or c.title}：第{part.n}部分是什么？"
        return Answer(turn["question"], f"{part.title}[1]", True, [cite])

    def retrieve(self, turn: dict, top_k: int) -> dict:
        """The turn with its hits. A follow-up read two ways (占比多少？ on its own, or about the last indicator)
        keeps the reading whose passages answer it with more confidence; the first on a tie."""
        hits = self.retriever.search(turn["read"], top_k)
        if turn.get("yearless") and not self.judge.confidence(turn["read"], hits):
            # a place swapped in, with the conversation's year, has nothing: the district's figure of its own year
            read, other = self.search_as(turn, turn["yearless"], top_k)
            if self.judge.confidence(read, other):
                return {**turn, "standalone": turn["yearless"], "read": read, "hits": other}
        if not turn.get("other"):
            return {**turn, "hits": hits}
        read, other = self.search_as(turn, turn["other"], top_k)
        if self.judge.confidence(read, other) > self.judge.confidence(turn["read"], hits) - self.settings.last_topic_margin:
            return {**turn, "standalone": turn["other"], "read": read, "hits": other}
        return {**turn, "hits": hits}

    def search_as(self, turn: dict, question: str, top_k: int) -> tuple[Question, list[ScoredChunk]]:
        """Another reading of a turn (`question`), with the turn's conversation context, and its hits."""
        read = self.read(question)
        read.context, read.quoted, read.position = turn["read"].context, turn["read"].quoted, turn["read"].position
        return read, self.retriever.search(read, top_k)

    def resolve(self, question: str, history: list) -> str:
        """The follow-up completed by the rules; with an LLM answerer, the LLM's rewrite where the rules agree."""
        by_rules = resolve(question, history, analyzer(self.index))
        if history and self.settings.answerer == "llm" and self.settings.llm_configured:
            from .llm import condense

            try:
                rewritten = condense(self.settings, [turn_question(t) for t in history], question)
            except LLMError:
                return by_rules
            return check_rewrite(rewritten, by_rules, analyzer(self.index))
        return by_rules


def finish(turn: dict, answer: Answer) -> Answer:
    """The answer to the question as typed, with the standalone question it searched when that differs, and a
    warning while the index is still being built (its vectors filling in behind its BM25 index)."""
    answer.question = turn["question"]
    answer.standalone = turn["standalone"] if turn["standalone"] != turn["question"] else ""
    partial = turn.get("partial")
    if turn["read"].keywords_only:
        note = "嵌入服务暂时连不上，本次只按关键词检索 (the embedding server is unreachable: keyword search only)"
        answer.warning = f"{answer.warning}；{note}" if answer.warning else note
    if partial:
        share = round(100 * partial["embedded"] / max(1, partial["total"]))
        note = f"索引中 {share}%：部分段落的向量还在计算，结果可能不全 (index {share}% embedded)"
        answer.warning = f"{answer.warning}；{note}" if answer.warning else note
    return answer


_ENGINES: dict[str, tuple[str, Engine]] = {}
_LOCK = threading.Lock()


def get_engine(index: str | os.PathLike = "index", settings: Settings | None = None,
               progress: Progress | None = None) -> Engine:
    """The engine for an index directory, built first if missing or stale for the default corpus (`progress`
    hears how that build goes), and reloaded when a re-index has replaced the live build."""
    s = settings or Settings.from_env()
    key = f"{index if is_milvus(index) else Path(index).resolve()}|{s!r}"  # other settings get their own engine
    with _LOCK:
        _ensure_fresh(index, s, progress)
        build = live_version(index)
        cached = _ENGINES.get(key)
        if cached and cached[0] == build:
            return cached[1]
        idx = load_index(index, s)
        model = idx.model
        emb = _embeddings(idx, s)
        s = s.replace(embed_model=model)
        retriever = HybridRetriever(index=idx, embeddings=emb, settings=s, top_k=s.top_k)
        answerer = make_answerer(idx, s)
        engine = Engine(idx, retriever, answerer, s, getattr(answerer, "fallback", answerer))
        _ENGINES[key] = (build, engine)
        return engine


def _embeddings(idx: Index, s: Settings) -> BaseEmbeddings:
    """The index's own embedding model: in this process, or from the server at s.embed_url. A server that is
    down now is tried again at each question (keywords answer meanwhile); one that serves another model than
    the index's is refused."""
    if not s.embed_url:
        return get_embeddings(idx.model)
    try:
        emb = get_embeddings(idx.model, s.embed_url, s.embed_api_key)
    except EmbeddingError:
        return Reconnecting(s.embed_url, idx.model, s.embed_api_key, idx.manifest.get("model_id", ""),
                            idx.manifest.get("dim", 0))
    if idx.manifest.get("model_id") and emb.model_id != idx.manifest["model_id"]:
        raise IndexMismatch(f"the index was embedded with {idx.manifest['model_id']}, the embedding server at "
                            f"{s.embed_url} serves {emb.model_id}; re-index with it, or point RAG_EMBED_URL at "
                            f"a server of the index's model")
    return emb


def make_answerer(idx: Index, s: Settings) -> Answerer:
    """The answerer the settings name: "extractive" (default) or "llm" (extractive as its fallback)."""
    extractive = ExtractiveAnswerer(analyzer(idx), s, document=lambda source: document_text(idx, source))
    if s.answerer == "extractive":
        return extractive
    if s.answerer == "llm":
        from .llm import LLMAnswerer

        return LLMAnswerer(s, fallback=extractive)
    raise RagError(f"unknown answerer '{s.answerer}': choose extractive or llm")


def _ensure_fresh(index: str | os.PathLike, s: Settings, progress: Progress | None = None) -> None:
    """Build the index from the default corpus when it is missing, or stale for that corpus."""
    manifest = read_manifest(index)
    corpus = s.corpus
    if manifest is None:
        if not Path(corpus).exists():
            raise IndexMissing(f"'{index}' 里没有索引，默认的文档文件夹 '{corpus}' 也不存在：请先运行 "
                               f"`rag index 文档路径 --index {index}` (no index and no corpus folder)")
        build_index([corpus], index=index, settings=s, progress=progress)
        return
    if manifest.get("paths") != [corpus]:
        return  # an index of the user's own files: they re-index it themselves
    if not Path(corpus).exists():
        return
    recorded = {k: v["hash"] for k, v in manifest.get("documents", {}).items()}
    outdated = manifest.get("format") != FORMAT or manifest.get("chunker_version") != CHUNKER_VERSION
    if outdated or _signature(corpus, index) != recorded:  # the corpus changed, or an older version built it
        build_index([corpus], index=index, settings=s.replace(embed_model=manifest.get("embed_model")), progress=progress)


_SIG_CACHE: dict[str, tuple[tuple, dict]] = {}


def _signature(corpus: str, index: str | os.PathLike) -> dict:
    """Content hashes of the corpus, recomputed only when a file's size or mtime changed."""
    stat_key = tuple(sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in Path(corpus).rglob("*") if p.is_file()))
    cached = _SIG_CACHE.get(corpus)
    if cached and cached[0] == stat_key:
        return cached[1]
    sig = corpus_signature([corpus], index)
    _SIG_CACHE[corpus] = (stat_key, sig)
    return sig


def ask(question: str, *, history: Iterable[Answer | str] = (), index: str | os.PathLike = "index", top_k: int = 5,
        answerer: Answerer | None = None, settings: Settings | None = None) -> Answer:
    """Answer a question from the indexed documents, with cited passages (at most top_k). `history`: the
    earlier turns of the conversation, newest last (Answers from earlier calls, or question strings); a
    follow-up such as "那市中区呢？" is completed from them (`Answer.standalone`)."""
    s = settings or Settings.from_env()
    clean_question(question, s.max_question_chars)  # bad input fails before any index work
    engine = get_engine(index, s)
    return engine.chain(top_k, answerer).invoke({"question": question, "history": list(history)})


def search(query: str, *, index: str | os.PathLike = "index", k: int = 5, settings: Settings | None = None
           ) -> list[Citation]:
    """The k passages that best match a query, best first, as citations (no answer is formed)."""
    s = settings or Settings.from_env()
    q = clean_question(query, s.max_question_chars)
    engine = get_engine(index, s)
    a = analyzer(engine.index)
    return citations_for(engine.retriever.search(engine.read(full_years(q, a.places, a.is_own_year)), k))


def stream_ask(question: str, *, history: Iterable[Answer | str] = (), index: str | os.PathLike = "index",
               top_k: int = 5, answerer: Answerer | None = None, settings: Settings | None = None
               ) -> Iterator[str | Answer]:
    """Yield the answer text in pieces as it forms, then the final Answer (with its citations)."""
    s = settings or Settings.from_env()
    clean_question(question, s.max_question_chars)
    engine = get_engine(index, s)
    turn = engine.retrieve(engine.turn(question, history), top_k)
    if part := engine.part(turn):
        yield part.answer
        yield finish(turn, part)
        return
    for piece in (answerer or engine.answerer).stream(turn["read"], turn["hits"]):
        yield finish(turn, piece) if isinstance(piece, Answer) else piece
