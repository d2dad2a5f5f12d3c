"""BM25 over jieba tokens (bm25s), with the corpus's own place names added to jieba's dictionary."""
from __future__ import annotations

import json
import logging
import re
import itertools
import threading
from functools import lru_cache
from array import array
from collections import Counter
from pathlib import Path
from typing import Iterable

import numpy as np

from .errors import IndexCorrupt
from .textutil import normalize

DIR = "bm25"
# Function words and question words carry no evidence for matching a passage.
STOPWORDS = set(
    "的 了 是 在 和 与 及 等 对 为 把 被 将 从 向 也 都 而 或 并 其 之 于 以 有 中 上 下 年 月 日 "
    "多少 什么 哪些 哪个 哪里 哪 是否 是不是 怎么 怎样 如何 为何 为什么 几 几个 吗 呢 请问 请 "
    "一下 有没有 有无 没有 啥 咋 情况 方面 具体".split()
)
PLACE_SUFFIXES = ("区", "县", "市", "镇", "街道", "新区", "片区")
TOKEN_RE = re.compile(r"[\w.%]+")
YEAR_GLUE_RE = re.compile(r"(?<=\d)\s*年([\u4e00-\u9fff])")
_LOCK = threading.Lock()


@lru_cache(maxsize=16)
def _segmenter(user_words: tuple[str, ...]):
    """A jieba segmenter with these words added: jieba's own dictionary loaded once per process (most of a
    second), copied for each set of corpus words (tens of ms), so one index's words never change how another
    index, or its questions, are cut."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    if not user_words:
        return jieba.dt
    with _LOCK:
        jieba.dt.check_initialized()
        tk = jieba.Tokenizer(jieba.dt.dictionary)
        tk.FREQ, tk.total, tk.initialized = dict(jieba.dt.FREQ), jieba.dt.total, True
        for w in user_words:
            tk.add_word(w, freq=200_000)
    return tk


class ChineseTokenizer:
    """jieba search-mode tokens, lower-cased and normalized, without stopwords and punctuation.

    A callable (text -> tokens), so it drops into bm25s and anything else that takes a tokenizer."""

    def __init__(self, user_words: Iterable[str] = ()) -> None:
        self.user_words = sorted(set(user_words))
        self._jieba = _segmenter(tuple(self.user_words))

    def __call__(self, text: str) -> list[str]:
        text = self._unglue(normalize(text).lower())
        return [t for t in self._jieba.lcut_for_search(text) if TOKEN_RE.fullmatch(t) and t not in STOPWORDS]

    def _unglue(self, text: str) -> str:
        """A year's 年 set apart from the word after it, unless the two make a word (年度, 年底): jieba's guess
        glues it to an unknown one (2025年算力规模 -> 年算力, 2024年社零 -> 年社 + 零增长)."""
        freq = self._jieba.FREQ
        return YEAR_GLUE_RE.sub(lambda m: m.group(0) if freq.get("年" + m.group(1)) else f"年 {m.group(1)}", text)

    def freq(self, word: str) -> int:
        """How often jieba's dictionary counts this word in general Chinese (0 when it does not know it)."""
        return self._jieba.FREQ.get(word, 0)

    def words(self, text: str) -> list[str]:
        """Plain (not search-mode) segmentation, for finding names."""
        return self._jieba.lcut(normalize(text))


def discover_names(texts: Iterable[str], tokenizer: ChineseTokenizer | None = None, min_count: int = 3) -> list[str]:
    """Place names of the corpus itself: a noun jieba splits off a place suffix (陡沟+片区, 港沟+街道)."""
    from jieba import posseg

    tok = tokenizer or ChineseTokenizer()
    tags = posseg.dt.word_tag_tab
    counts: Counter[str] = Counter()
    for text in texts:
        words = tok.words(text)
        for a, b in zip(words, words[1:]):
            if (b in PLACE_SUFFIXES and 2 <= len(a) <= 4 and re.fullmatch(r"[\u4e00-\u9fff]+", a)
                    and a not in STOPWORDS and tags.get(a, "n")[:1] in ("n", "j")):
                counts[a + b] += 1
    return sorted(w for w, c in counts.items() if c >= min_count)


class BM25Arrays:
    """The BM25 matrix in bm25s's layout and files: CSC with one column per token (`indptr`), the chunk rows
    of that column (`indices`) and their precomputed lucene BM25 scores (`data`).

    Built and scored with numpy alone: bm25s keeps every token list of the corpus in Python objects while it
    indexes (about 30 GB at 1M chunks), and importing it pulls in scipy (half a second of every `rag ask`).
    The files stay the ones bm25s writes, so either side can read the other's."""

    def __init__(self, scores: dict, vocab_dict: dict[str, int], params: dict) -> None:
        self.scores = scores  # data, indices, indptr, num_docs (bm25s's names)
        self.vocab_dict = vocab_dict
        self.params = params

    @classmethod
    def build(cls, texts: Iterable[str], tokenizer, k1: float = 1.5, b: float = 0.75) -> "BM25Arrays":
        # One pass; per chunk only its distinct token ids and counts are kept (int64/int32), never its token list.
        # New tokens take the next number of a running counter: map() then stays in C, and the ids, which
        # leave gaps, become 0..V-1 afterwards in the order the tokens first appeared.
        vocab: dict[str, int] = {}
        numbers = itertools.count()
        raw, tfs, lengths, distinct = array("q"), array("i"), array("i"), array("i")
        for text in texts:
            tokens = tokenizer(text) or [""]
            counts = Counter(tokens)
            raw.extend(map(vocab.setdefault, counts, numbers))
            tfs.extend(counts.values())
            lengths.append(len(tokens))
            distinct.append(len(counts))
        n, n_vocab = len(lengths), len(vocab)
        first = np.fromiter(vocab.values(), dtype=np.int64, count=n_vocab)  # ascending: insertion order
        term = np.searchsorted(first, np.frombuffer(raw, dtype=np.int64) if raw else np.zeros(0, np.int64))
        term = term.astype(np.int32)
        del raw
        vocab = dict(zip(vocab, range(n_vocab)))
        doc_len = np.frombuffer(lengths, dtype=np.int32) if lengths else np.zeros(0, np.int32)
        doc = np.repeat(np.arange(n, dtype=np.int32), np.frombuffer(distinct, dtype=np.int32) if distinct else 0)
        df = np.bincount(term, minlength=n_vocab)
        # The formulas and float widths of bm25s's "lucene" method, so the scores are the same bits.
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        avg_len = doc_len.mean() if n else 1.0
        norm = k1 * ((1 - b) + b * doc_len.astype(np.float64) / avg_len)
        data = np.empty(len(term), dtype=np.float32)
        step = 1 << 22  # blocks keep the float64 temporaries small at millions of chunks
        for s in range(0, len(term), step):
            tf = np.frombuffer(tfs, dtype=np.int32, count=min(step, len(term) - s), offset=4 * s).astype(np.float32)
            data[s:s + step] = idf[term[s:s + step]] * (tf / (norm[doc[s:s + step]] + tf))
        # Column-major order by a stable sort on the token id: rows stay ascending inside each column.
        order = np.argsort(term, kind="stable")
        indptr = np.zeros(n_vocab + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        scores = {"data": data[order], "indices": doc[order], "indptr": indptr, "num_docs": n}
        vocab.setdefault("", n_vocab)  # bm25s adds the empty token last in the same way
        params = {"k1": k1, "b": b, "delta": 0.5, "method": "lucene", "idf_method": "lucene", "dtype": "float32",
                  "int_dtype": "int32", "num_docs": n, "version": "0.3.16", "backend": "numpy"}
        return cls(scores, vocab, params)

    def get_scores(self, token_ids: list[int]) -> np.ndarray:
        """Sum of the token columns over all chunks (a repeated token counts again, as in bm25s)."""
        data, indices, indptr = self.scores["data"], self.scores["indices"], self.scores["indptr"]
        out = np.zeros(int(self.scores["num_docs"]), dtype=np.float32)
        for i in token_ids:
            s, e = indptr[i], indptr[i + 1]
            np.add.at(out, indices[s:e], data[s:e])  # 2-3x faster than out[idx] += v in numpy 2 (measured)
        return out

    def save(self, target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        for name in ("data", "indices", "indptr"):
            np.save(target / f"{name}.csc.index.npy", self.scores[name], allow_pickle=False)
        (target / "vocab.index.json").write_text(json.dumps(self.vocab_dict, ensure_ascii=False), "utf-8")
        (target / "params.index.json").write_text(json.dumps(self.params, indent=4), "utf-8")

    @classmethod
    def load(cls, target: Path) -> "BM25Arrays":
        params = json.loads((target / "params.index.json").read_text("utf-8"))
        if params.get("method", "lucene") != "lucene" or params.get("idf_method", "lucene") != "lucene":
            raise ValueError(f"BM25 method {params.get('method')} is not the lucene one this index uses")
        vocab = json.loads((target / "vocab.index.json").read_text("utf-8"))
        scores = {name: np.load(target / f"{name}.csc.index.npy", allow_pickle=False)
                  for name in ("data", "indices", "indptr")}
        scores["num_docs"] = int(params["num_docs"])
        return cls(scores, vocab, params)


class BM25Index:
    """BM25 arrays plus the tokenizer they were built with."""

    def __init__(self, retriever: BM25Arrays, tokenizer: ChineseTokenizer) -> None:
        self.retriever = retriever
        self.tokenizer = tokenizer
        self._vocab = retriever.vocab_dict

    @classmethod
    def build(cls, texts: list[str], tokenizer: ChineseTokenizer) -> "BM25Index":
        return cls(BM25Arrays.build(texts, tokenizer), tokenizer)

    def scores(self, query: str, also=()) -> np.ndarray:
        """BM25 score of every document for the query (zeros when no query word is known). `also` (rows the
        caller will look at) is for backends that score only candidates; every row is scored here."""
        n = int(self.retriever.scores["num_docs"])
        tokens = [t for t in self.tokenizer(query) if t in self._vocab]
        if not tokens or n == 0:
            return np.zeros(n, dtype=np.float32)
        return self.retriever.get_scores([self._vocab[t] for t in tokens])

    def idf(self, token: str) -> float:
        """Inverse document frequency of a token; a token the corpus never uses gets the highest value."""
        n = int(self.retriever.scores["num_docs"])
        i = self._vocab.get(token)
        indptr = self.retriever.scores["indptr"]  # per-token column pointers: df = column length
        df = 0 if i is None else int(indptr[i + 1] - indptr[i])
        return float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))

    def save(self, directory: Path) -> None:
        target = directory / DIR
        self.retriever.save(target)
        (target / "userdict.json").write_text(json.dumps(self.tokenizer.user_words, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, directory: Path) -> "BM25Index":
        target = directory / DIR
        try:
            words = json.loads((target / "userdict.json").read_text("utf-8"))
            retriever = BM25Arrays.load(target)
        except Exception as exc:  # missing or malformed files
            raise IndexCorrupt(f"the BM25 index in {target} is unreadable ({exc}); run `rag index` to rebuild") from exc
        return cls(retriever, ChineseTokenizer(words))
