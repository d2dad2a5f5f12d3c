"""BM25 over jieba tokens (bm25s), with the corpus's own place names added to jieba's dictionary."""
from __future__ import annotations

import json
import logging
import re
import threading
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
_LOCK = threading.Lock()
_ADDED: set[str] = set()


class ChineseTokenizer:
    """jieba search-mode tokens, lower-cased and normalized, without stopwords and punctuation.

    A callable (text -> tokens), so it drops into bm25s and anything else that takes a tokenizer."""

    def __init__(self, user_words: Iterable[str] = ()) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        # One jieba dictionary per process: building it costs most of a second.
        self._jieba = jieba.dt
        self.user_words = sorted(set(user_words))
        with _LOCK:
            for w in self.user_words:
                if w not in _ADDED:
                    self._jieba.add_word(w, freq=200_000)
                    _ADDED.add(w)

    def __call__(self, text: str) -> list[str]:
        text = normalize(text).lower()
        return [t for t in self._jieba.lcut_for_search(text) if TOKEN_RE.fullmatch(t) and t not in STOPWORDS]

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


class BM25Index:
    """bm25s index plus the tokenizer it was built with."""

    def __init__(self, retriever, tokenizer: ChineseTokenizer) -> None:
        self.retriever = retriever
        self.tokenizer = tokenizer
        self._vocab = retriever.vocab_dict

    @classmethod
    def build(cls, texts: list[str], tokenizer: ChineseTokenizer) -> "BM25Index":
        import bm25s

        retriever = bm25s.BM25()
        corpus = [tokenizer(t) or [""] for t in texts]
        retriever.index(corpus, show_progress=False)
        return cls(retriever, tokenizer)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for the query (zeros when no query word is known)."""
        n = int(self.retriever.scores["num_docs"])
        tokens = [t for t in self.tokenizer(query) if t in self._vocab]
        if not tokens or n == 0:
            return np.zeros(n, dtype=np.float32)
        return self.retriever.get_scores(tokens)

    def save(self, directory: Path) -> None:
        target = directory / DIR
        self.retriever.save(str(target), show_progress=False)
        (target / "userdict.json").write_text(json.dumps(self.tokenizer.user_words, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, directory: Path) -> "BM25Index":
        import bm25s

        target = directory / DIR
        try:
            words = json.loads((target / "userdict.json").read_text("utf-8"))
            retriever = bm25s.BM25.load(str(target), allow_pickle=False, show_progress=False)
        except Exception as exc:  # missing or malformed files
            raise IndexCorrupt(f"the BM25 index in {target} is unreadable ({exc}); run `rag index` to rebuild") from exc
        return cls(retriever, ChineseTokenizer(words))
