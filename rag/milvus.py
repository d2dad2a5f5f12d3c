"""The index in Milvus: Milvus Lite (`*.db`, embedded) or a Milvus server (`http(s)://host:port`).

Milvus holds what several servers share: each chunk's vector, its text (jieba analyzer, BM25 function) and its
lexical weights; the manifest, the BM25 statistics and the documents' text sit in a side collection. Milvus
only proposes candidates (top dense and BM25 hits); the scores that are fused are ours (the stored vectors and
our own BM25 weights of each chunk), so answers do not depend on the backend.

A build writes a new generation (a collection `<name>_g…`) and then points the side collection's `current`
row at it, as the folder backend switches CURRENT: a crash or a kill mid-build leaves the old generation live.
pymilvus is imported only here, on first use.
"""
from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
import zlib
from pathlib import Path

import numpy as np

from .bm25 import ChineseTokenizer
from .config import Settings
from .errors import IndexCorrupt, IndexMissing, IndexUnavailable, RagError
from .models import Chunk, Document
from .textutil import normalize

META = "meta"  # the side collection's suffix
PIECE = 60_000  # characters of a stored blob per row (a VARCHAR holds at most 65,535 bytes; base64 is ASCII)
INSERT_ROWS = 500  # rows per insert request (a gRPC message stays well under its 64 MB limit)
PAGE = 5000  # rows per query when reading a whole generation
LIVE_TTL = 1.0  # seconds a read of the live generation is trusted (each question checks it)
KEEP = 2  # generations kept: the live one and the one before it (a reader may still be loading it)


def is_milvus(location) -> bool:
    """True when the index location names Milvus: a `*.db` path (Milvus Lite) or an http(s):// URI."""
    text = str(location)
    return text.startswith(("http://", "https://")) or text.rstrip("/").endswith(".db")


_CLIENTS: dict[tuple[str, str], object] = {}
_STORES: dict[tuple[str, str], "MilvusStore"] = {}
_LOCK = threading.Lock()


def store_at(location, settings: Settings | None = None) -> "MilvusStore":
    """The store for a Milvus location (one per location and collection name in a process)."""
    s = settings or Settings.from_env()
    key = (_uri(location), s.milvus_collection)
    with _LOCK:
        if key not in _STORES:
            _STORES[key] = MilvusStore(location, s)
        return _STORES[key]


def _uri(location) -> str:
    text = str(location)
    return text.rstrip("/") if text.startswith(("http://", "https://")) else str(Path(text).resolve())


def _client(uri: str, token: str):
    with _LOCK:
        if (uri, token) in _CLIENTS:
            return _CLIENTS[(uri, token)]
    # gRPC's C core logs to stderr (keepalive complaints of the embedded server); a library stays quiet.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise IndexUnavailable("the Milvus backend needs pymilvus and milvus-lite: pip install 'rag[milvus]'") from exc
    import logging

    for name in ("pymilvus", "milvus_lite"):  # their failures are raised to us; a library does not log them
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        client = MilvusClient(uri, token=token, timeout=10)
    except Exception as exc:  # connection refused, a Lite file locked by another process …
        if not uri.startswith("http"):  # Milvus Lite: the one way it fails to open is another process holding it
            raise IndexUnavailable(
                f"{uri} is open in another process (Milvus Lite serves one process); stop it, or serve the file "
                f"with `milvus-lite server --data-dir {uri}` and index by its http:// URI") from exc
        raise IndexUnavailable(f"the Milvus server at {uri} is unreachable ({_short(exc)}); start it or check "
                                f"the URI and RAG_MILVUS_TOKEN") from exc
    with _LOCK:
        return _CLIENTS.setdefault((uri, token), client)


def close(location) -> None:
    """Let go of a Milvus location: its connection, and for Milvus Lite the file, which another process can
    then open."""
    uri = _uri(location)
    with _LOCK:
        clients = [k for k in _CLIENTS if k[0] == uri]
        for k in clients:
            _CLIENTS.pop(k).close()
        for k in [k for k in _STORES if k[0] == uri]:
            del _STORES[k]
    if clients and not uri.startswith("http"):
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(uri)


def _short(exc: Exception) -> str:
    return str(getattr(exc, "message", "") or exc).splitlines()[0][:200]


class MilvusStore:
    """One index in Milvus: the side collection and the generations of chunks it points at."""

    def __init__(self, location, s: Settings) -> None:
        self.location = str(location)
        self.uri = _uri(location)
        self.token = s.milvus_token
        self.name = s.milvus_collection
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,200}", self.name):
            raise RagError(f"RAG_MILVUS_COLLECTION '{self.name}' is not a Milvus name: use letters, digits and _")
        self.meta = f"{self.name}_{META}"
        self._cache: dict[str, object] = {}  # blobs of the live generation, which never change once written
        self._live: tuple[float, str | None] = (-LIVE_TTL, None)  # (when read, the live generation)

    @property
    def client(self):
        return _client(self.uri, self.token)

    @property
    def state(self) -> Path:
        """A local folder for what is not shared: the build lock, the embedding checkpoint and the OCR cache."""
        if self.uri.startswith("http"):
            base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rag" / "milvus"
            return base / re.sub(r"[^\w.-]+", "_", f"{self.uri}_{self.name}")
        return Path(f"{self.uri}.rag")

    # -- the side collection ----------------------------------------------------------------------------------
    def _ensure_meta(self) -> None:
        from pymilvus import DataType

        c = self.client
        if c.has_collection(self.meta):
            return
        schema = c.create_schema(auto_id=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("value", DataType.VARCHAR, max_length=65535)
        schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector in every collection
        index = c.prepare_index_params()
        index.add_index("v", index_type="FLAT", metric_type="L2")
        c.create_collection(self.meta, schema=schema, index_params=index, consistency_level="Strong")

    def _get(self, keys: list[str]) -> dict[str, str]:
        if not keys:
            return {}
        try:
            rows = self.client.query(self.meta, ids=keys, output_fields=["value"])
        except Exception as exc:
            if "released" in str(exc) or "not loaded" in str(exc):
                self.client.load_collection(self.meta)  # a collection reopened from disk starts released
                rows = self.client.query(self.meta, ids=keys, output_fields=["value"])
            else:
                raise
        return {r["key"]: r["value"] for r in rows}

    def live(self) -> str | None:
        """The live generation's collection name, or None when there is no index. Read at most every LIVE_TTL
        seconds: every question asks it, and another server's re-index may wait that long to be seen."""
        seen, gen = self._live
        if time.monotonic() - seen < LIVE_TTL:
            return gen
        try:
            gen = self._get(["current"]).get("current") or None if self.client.has_collection(self.meta) else None
            self._live = (time.monotonic(), gen)
            return gen
        except IndexUnavailable:
            raise
        except Exception as exc:
            raise IndexUnavailable(f"the Milvus index at {self.uri} cannot be read ({_short(exc)})") from exc

    def _put_blob(self, gen: str, name: str, value) -> None:
        packed = base64.b64encode(zlib.compress(json.dumps(value, ensure_ascii=False).encode("utf-8"), 6)).decode()
        pieces = [packed[i:i + PIECE] for i in range(0, len(packed), PIECE)] or [""]
        rows = [{"key": f"{gen}/{name}/{i}", "value": p, "v": [0.0, 0.0]} for i, p in enumerate(pieces)]
        rows.append({"key": f"{gen}/{name}", "value": str(len(pieces)), "v": [0.0, 0.0]})
        for start in range(0, len(rows), 50):
            self.client.upsert(self.meta, rows[start:start + 50])

    def blob(self, gen: str, name: str):
        """A value a generation stored (manifest, lexical statistics, documents); cached, as it never changes."""
        key = f"{gen}/{name}"
        if key not in self._cache:
            count = self._get([key]).get(key)
            if count is None:
                raise IndexCorrupt(f"the Milvus index at {self.uri} lacks its {name}; run `rag index` to rebuild")
            keys = [f"{key}/{i}" for i in range(int(count))]
            got: dict[str, str] = {}
            for start in range(0, len(keys), 100):
                got.update(self._get(keys[start:start + 100]))
            if len(got) != len(keys):
                raise IndexCorrupt(f"the Milvus index at {self.uri} has a broken {name}; run `rag index` to rebuild")
            packed = "".join(got[k] for k in keys)
            self._cache = {k: v for k, v in self._cache.items() if k.startswith(gen + "/")}  # older gens: gone
            self._cache[key] = json.loads(zlib.decompress(base64.b64decode(packed)).decode("utf-8"))
        return self._cache[key]

    def manifest(self) -> dict | None:
        gen = self.live()
        return None if gen is None else self.blob(gen, "manifest")

    def documents(self, gen: str | None = None) -> dict[str, Document]:
        gen = gen or self.live()
        if gen is None:
            return {}
        return {d["source"]: Document(d["source"], d["text"], pages=d.get("pages", []), stats=d.get("stats", {}))
                for d in self.blob(gen, "documents")}

    # -- writing a generation ---------------------------------------------------------------------------------
    def publish(self, chunks: list[Chunk], docs: list[Document], vectors: np.ndarray, bm25, manifest: dict,
                s: Settings) -> str:
        """Write a complete generation, then make it the live one; older generations beyond KEEP go."""
        self._ensure_meta()
        gen = f"{self.name}_g{time.strftime('%Y%m%d%H%M%S')}_{os.getpid()}_{time.monotonic_ns() % 10**6}"
        self._create(gen, vectors.shape[1], len(chunks), s)
        weights = row_weights(bm25)
        rows = []
        for i, c in enumerate(chunks):
            rows.append({
                "id": c.id, "row": i, "vector": vectors[i].tolist(), "text": normalize(c.embed_text()).lower(),
                "source": c.source[:1000], "title": c.title[:1000], "section": c.section[:2000],
                "page": c.pages[0][1] if c.pages else 0, "chunk": c.to_dict(), "weights": weights[i],
            })
            if len(rows) == INSERT_ROWS:
                self.client.insert(gen, rows)
                rows = []
        if rows:
            self.client.insert(gen, rows)
        self.client.flush(gen)
        self._put_blob(gen, "manifest", {**manifest, "vector_index": "exact" if len(chunks) <= s.ann_threshold else "hnsw"})
        self._put_blob(gen, "lexical", lexical_stats(bm25))
        self._put_blob(gen, "documents", [{"source": d.source, "text": d.text, "pages": d.pages, "stats": d.stats}
                                          for d in docs])
        previous = self.live()
        self.client.upsert(self.meta, [{"key": "current", "value": gen, "v": [0.0, 0.0]}])  # the switch
        self._live = (time.monotonic(), gen)
        self._cleanup(keep={gen, previous})
        return gen

    def _create(self, gen: str, dim: int, n: int, s: Settings) -> None:
        from pymilvus import DataType, Function, FunctionType

        c = self.client
        schema = c.create_schema(auto_id=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=128)
        schema.add_field("row", DataType.INT64)  # the chunk's place in the build (ties break as in the folder index)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                         analyzer_params={"tokenizer": "jieba"})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("source", DataType.VARCHAR, max_length=4096)
        schema.add_field("title", DataType.VARCHAR, max_length=4096)
        schema.add_field("section", DataType.VARCHAR, max_length=8192)
        schema.add_field("page", DataType.INT64)
        schema.add_field("chunk", DataType.JSON)  # the whole chunk, as the folder index's chunks.jsonl holds it
        schema.add_field("weights", DataType.JSON)  # our BM25 weight of each of its tokens
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                     output_field_names=["sparse"]))
        index = c.prepare_index_params()
        if n > s.ann_threshold:  # as the folder index: exact below the threshold, HNSW above
            index.add_index("vector", index_type="HNSW", metric_type="IP",
                            params={"M": s.hnsw_m, "efConstruction": s.hnsw_ef_construction})
        else:
            index.add_index("vector", index_type="FLAT", metric_type="IP")
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        c.create_collection(gen, schema=schema, index_params=index, consistency_level="Strong")

    def _cleanup(self, keep: set) -> None:
        """Drop every generation but the kept ones, the new one and the one before it (KEEP: a reader may still be
        loading it), and their stored blobs; leftovers of killed builds go the same way."""
        prefix = f"{self.name}_g"
        gens = sorted(n for n in self.client.list_collections() if n.startswith(prefix))
        for gen in gens:
            if gen in keep:
                continue
            self.client.drop_collection(gen)
            self.client.delete(self.meta, filter=f'key like "{gen}/%"')

    # -- reading ----------------------------------------------------------------------------------------------
    def load(self, s: Settings):
        """The live generation as an Index (chunks in memory; vectors and BM25 postings stay in Milvus)."""
        from .store import Index, check_version

        gen = self.live()
        if gen is None:
            raise IndexMissing(f"no index at '{self.location}'; build one with `rag index [PATH...] --index {self.location}`")
        manifest = self.blob(gen, "manifest")
        check_version(manifest, self.location)
        lexical = self.blob(gen, "lexical")
        try:
            self.client.load_collection(gen)
            chunks = self._chunks(gen, manifest.get("chunks", 0))
        except Exception as exc:
            raise IndexCorrupt(f"the Milvus collection {gen} is unreadable ({_short(exc)}); run `rag index` to rebuild") from exc
        if len(chunks) != manifest.get("chunks"):
            raise IndexCorrupt(f"the Milvus collection {gen} holds {len(chunks)} chunks, its manifest "
                               f"{manifest.get('chunks')}; run `rag index` to rebuild")
        ids = [c.id for c in chunks]
        rows = {cid: i for i, cid in enumerate(ids)}
        vectors = MilvusVectors(self, gen, ids, rows, s.hnsw_ef_search, manifest.get("dim", 0))
        bm25 = MilvusLexical(self, gen, ids, rows, lexical, max(s.bm25_candidates, s.engine_candidates))
        return Index(Path(self.state), manifest, chunks, vectors, bm25, texts=lambda: self.documents(gen))

    def _rows(self, gen: str, fields: list[str], n: int | None = None):
        """Every row of a generation, in build order, in pages (a query returns at most 16,384 rows; the query
        iterator would ask the server for timestamps Milvus Lite does not give)."""
        n = self.count(gen) if n is None else n
        for start in range(0, max(n, 0), PAGE):
            page = self.client.query(gen, filter=f"row >= {start} and row < {start + PAGE}",
                                     output_fields=["row", *fields], limit=PAGE)
            yield from sorted(page, key=lambda r: r["row"])

    def _chunks(self, gen: str, n: int) -> list[Chunk]:
        return [Chunk(**r["chunk"]) for r in self._rows(gen, ["chunk"], n)]

    def old_vectors(self, model: str, dim: int) -> dict[str, np.ndarray]:
        """The live generation's vectors by chunk id, when it was embedded by this model; else nothing."""
        try:
            gen = self.live()
            manifest = self.blob(gen, "manifest") if gen else None
            if not manifest or manifest.get("embed_model") != model or manifest.get("dim") != dim:
                return {}
            self.client.load_collection(gen)
            return {r["id"]: np.asarray(r["vector"], dtype=np.float32) for r in self._rows(gen, ["id", "vector"])}
        except (IndexCorrupt, IndexUnavailable):
            return {}  # a broken old index is simply rebuilt from scratch

    def count(self, gen: str) -> int:
        """Rows in a generation (-1 when it cannot be read)."""
        try:
            self.client.load_collection(gen)
            return int(self.client.query(gen, filter="", output_fields=["count(*)"])[0]["count(*)"])
        except Exception:  # a dropped or broken collection: the caller rebuilds
            return -1


def row_weights(bm25) -> list[dict[str, float]]:
    """Each chunk's BM25 weight per token (the columns of the folder index's matrix, turned into rows): summed
    over a question's tokens they give the same score, bit for bit, as the folder index."""
    arrays = bm25.retriever
    data, indices, indptr = arrays.scores["data"], arrays.scores["indices"], arrays.scores["indptr"]
    n = int(arrays.scores["num_docs"])
    tokens = sorted(arrays.vocab_dict, key=arrays.vocab_dict.get)
    term = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    order = np.argsort(indices, kind="stable")
    starts = np.searchsorted(indices[order], np.arange(n + 1))
    out = []
    for r in range(n):
        sel = order[starts[r]:starts[r + 1]]
        out.append({tokens[t]: float(w) for t, w in zip(term[sel].tolist(), data[sel].tolist())})
    return out


def lexical_stats(bm25) -> dict:
    """What question analysis needs of the BM25 index: the corpus's own words for jieba and each token's
    document frequency (for IDF)."""
    arrays = bm25.retriever
    indptr = arrays.scores["indptr"]
    df = np.diff(indptr).tolist()
    return {"user_words": bm25.tokenizer.user_words, "num_docs": int(arrays.scores["num_docs"]),
            "df": {t: df[i] for t, i in arrays.vocab_dict.items() if i < len(df)}}


class _Cache:
    """A small bounded dict (rows' vectors and weights fetched from Milvus); thread races only refetch."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self.data: dict = {}

    def get_many(self, keys, fetch) -> dict:
        need = [k for k in keys if k not in self.data]
        if need:
            if len(self.data) + len(need) > self.size:
                self.data = {}
            self.data.update(fetch(need))
        return {k: self.data[k] for k in keys}


class MilvusVectors:
    """The dense side: search in Milvus, stored vectors fetched (and kept) for the candidates' similarity."""

    def __init__(self, store: MilvusStore, gen: str, ids: list[str], rows: dict[str, int], ef: int, dim: int) -> None:
        self.store, self.gen, self.ids, self.rows, self.ef, self.dim = store, gen, ids, rows, ef, dim
        self._cache = _Cache()

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(self))
        if k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        hits = self.store.client.search(self.gen, data=[np.asarray(query, np.float32).tolist()], anns_field="vector",
                                  limit=k, output_fields=["row"],
                                  search_params={"metric_type": "IP", "params": {"ef": max(self.ef, k)}})[0]
        return (np.array([h["distance"] for h in hits], np.float32),
                np.array([self.rows[h["id"]] for h in hits], np.int64))

    def _fetch(self, rows: list[int]) -> dict[int, np.ndarray]:
        got = self.store.client.query(self.gen, ids=[self.ids[r] for r in rows], output_fields=["vector"])
        return {self.rows[g["id"]]: np.asarray(g["vector"], np.float32) for g in got}

    def similarity(self, query: np.ndarray, ids: list[int]) -> np.ndarray:
        if not ids:
            return np.zeros(0, np.float32)
        got = self._cache.get_many([int(i) for i in ids], self._fetch)
        return np.stack([got[int(i)] for i in ids]) @ np.asarray(query, dtype=np.float32).reshape(-1)

    def vectors(self) -> np.ndarray:
        if not self.ids:
            return np.zeros((0, self.dim), np.float32)
        got = {}
        for start in range(0, len(self.ids), 1000):
            got.update(self._fetch(list(range(start, min(start + 1000, len(self.ids))))))
        return np.stack([got[r] for r in range(len(self.ids))])


class MilvusLexical:
    """The BM25 side: Milvus's own BM25 (jieba analyzer) proposes candidates; each is scored with our weights
    (the folder index's, stored per chunk), so the fused scores are the folder index's own."""

    def __init__(self, store: MilvusStore, gen: str, ids: list[str], rows: dict[str, int], stats: dict, pool: int) -> None:
        self.store, self.gen, self.ids, self.rows, self.pool = store, gen, ids, rows, pool
        self.tokenizer = ChineseTokenizer(stats["user_words"])
        self.num_docs = int(stats["num_docs"])
        self.df = stats["df"]
        self._cache = _Cache()

    def idf(self, token: str) -> float:
        """As the folder index's BM25Index.idf: a token the corpus never uses gets the highest value."""
        df = self.df.get(token, 0)
        return float(np.log(1.0 + (self.num_docs - df + 0.5) / (df + 0.5)))

    def _fetch(self, rows: list[int]) -> dict[int, dict]:
        got = self.store.client.query(self.gen, ids=[self.ids[r] for r in rows], output_fields=["weights"])
        return {self.rows[g["id"]]: g["weights"] for g in got}

    def scores(self, query: str, also=()) -> np.ndarray:
        """Our BM25 score of Milvus's top BM25 candidates and of the rows in `also` (the dense candidates);
        zero elsewhere."""
        out = np.zeros(self.num_docs, dtype=np.float32)
        tokens = [t for t in self.tokenizer(query) if t in self.df]
        if not tokens or self.num_docs == 0:
            return out
        hits = self.store.client.search(self.gen, data=[normalize(query).lower()], anns_field="sparse", limit=self.pool,
                                  output_fields=["row"], search_params={"metric_type": "BM25"})[0]
        rows = sorted({self.rows[h["id"]] for h in hits} | {int(r) for r in also})
        for r, w in self._cache.get_many(rows, self._fetch).items():
            total = np.float32(0)
            for t in tokens:  # float32, token by token, as the folder index adds its columns
                total += np.float32(w.get(t, 0.0))
            out[r] = total
        return out
