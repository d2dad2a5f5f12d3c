"""The persisted index: build (incremental, atomic) and load.

Layout of an index directory:
    CURRENT                 name of the live build folder (replaced atomically)
    <build>/manifest.json   model, dimension, chunker version, settings, each document's hash, counts
    <build>/chunks.jsonl    the chunks, UTF-8 JSON lines, row i = vector i
    <build>/documents.jsonl each document's text as loaded (and its page starts), for the reader
    <build>/vectors.faiss   the FAISS index
    <build>/bm25/           the bm25s index (JSON + .npy, no pickle) and the discovered user words
A build writes a new folder and only then points CURRENT at it, so a crash never breaks the old index.

An index location ending in `.db`, or an http(s):// URI, is in Milvus instead (rag/milvus.py): the same
builds, loaded into the same Index.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from . import checkpoint
from .bm25 import BM25Arrays, BM25Index, ChineseTokenizer, discover_names
from .chunking import chunk_document
from .config import CHUNKER_VERSION, Settings
from .embeddings import BaseEmbeddings, get_embeddings
from .errors import DocumentNotFound, IndexCorrupt, IndexMissing, IndexMismatch, RagError
from .loaders import Progress, load_paths
from .milvus import is_milvus, store_at
from .models import Chunk, Document, IndexStats
from .vectorstore import VectorStore

FORMAT = 1
DOCUMENTS = "documents.jsonl"  # each document's text as loaded, for the reader and for re-indexing
MISSING = "missing.npy"  # in a partial build: the rows whose vectors are still being computed
OCR_CACHE = "ocr-cache"  # in the index folder: what OCR read, by the file's content hash (kept across builds)


@dataclass
class Index:
    """A loaded index: chunks, vectors, BM25 and the manifest."""

    path: Path
    manifest: dict
    chunks: list[Chunk]
    vectors: VectorStore
    bm25: BM25Index
    cache: dict = field(default_factory=dict, repr=False)  # what is derived once per loaded index (places …)
    missing: frozenset[int] = frozenset()  # rows without a vector yet (a partial build)
    texts: Callable[[], dict[str, Document]] | None = field(default=None, repr=False)  # the documents' text

    @property
    def model(self) -> str:
        return self.manifest["embed_model"]

    def document(self, source: str) -> Document:
        """A document's text as loaded (with its page starts), read from the build on first use.
        Raises DocumentNotFound when the index holds no such document."""
        docs = self.cache.get("texts")
        if docs is None:
            docs = self.cache["texts"] = self.texts() if self.texts else read_documents(self.path)
        if source not in docs:
            raise DocumentNotFound(f"the index holds no document '{source}'; index the file first (rag index)")
        return docs[source]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def current_build(index_dir: str | os.PathLike) -> Path | None:
    """The live build folder, or None when there is no index."""
    root = Path(index_dir)
    pointer = root / "CURRENT"
    if not pointer.is_file():
        return None
    name = pointer.read_text("utf-8").strip()
    if not name or "/" in name or name.startswith("."):
        raise IndexCorrupt(f"{pointer} is not a valid pointer; run `rag index` to rebuild")
    return root / name


def live_version(index: str | os.PathLike) -> str | None:
    """What identifies the live build (its folder, or its Milvus generation): it changes at every re-index."""
    if is_milvus(index):
        return store_at(index).live()
    build = current_build(index)
    return str(build) if build else None


def read_manifest(index_dir: str | os.PathLike) -> dict | None:
    """The live build's manifest (model, settings, documents), or None when there is no index."""
    if is_milvus(index_dir):
        return store_at(index_dir).manifest()
    build = current_build(index_dir)
    if build is None:
        return None
    try:
        return json.loads((build / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"the manifest in {build} is unreadable ({exc}); run `rag index` to rebuild") from exc


def load_index(index_dir: str | os.PathLike, settings: Settings | None = None) -> Index:
    """Load the live index. Raises IndexMissing, IndexCorrupt, or IndexMismatch (other model)."""
    s = settings or Settings()
    if is_milvus(index_dir):
        return store_at(index_dir, s).load(s)
    build = current_build(index_dir)
    if build is None:
        raise IndexMissing(f"no index in '{index_dir}'; build one with `rag index [PATH...] --index {index_dir}`")
    manifest = read_manifest(index_dir)
    check_version(manifest, index_dir)
    chunks = _read_chunks(build / "chunks.jsonl")
    vectors = VectorStore.load(build, ef_search=s.hnsw_ef_search)
    bm25 = BM25Index.load(build)
    if not (len(chunks) == len(vectors) == int(bm25.retriever.scores["num_docs"]) == manifest.get("chunks")):
        raise IndexCorrupt(f"the index files in {build} disagree on the number of chunks; run `rag index` to rebuild")
    missing = frozenset()
    if (build / MISSING).exists():
        try:
            missing = frozenset(np.load(build / MISSING, allow_pickle=False).tolist())
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"{build / MISSING} is unreadable ({exc}); run `rag index` to rebuild") from exc
    return Index(build, manifest, chunks, vectors, bm25, missing=missing)


def check_version(manifest: dict, location) -> None:
    """Raises IndexMismatch when another version of this package (format or chunker) built the index."""
    if manifest.get("format") != FORMAT or manifest.get("chunker_version") != CHUNKER_VERSION:
        raise IndexMismatch(f"the index in '{location}' was built by another version; run `rag index` to rebuild")


def _read_chunks(path: Path) -> list[Chunk]:
    try:
        with path.open(encoding="utf-8") as fh:
            return [Chunk(**json.loads(line)) for line in fh if line.strip()]
    except (OSError, ValueError, TypeError) as exc:
        raise IndexCorrupt(f"{path} is unreadable ({exc}); run `rag index` to rebuild") from exc


def corpus_signature(paths: Iterable[str], index: str | os.PathLike | None = None) -> dict[str, str]:
    """source -> content hash of every usable file under paths (what the manifest records). With the index,
    files it read before and that did not change are not read again (no PDF parsing, no OCR)."""
    docs, _ = _load(paths, index, Settings())
    return {d.source: sha256(d.text) for d in docs}


def state_folder(index: str | os.PathLike) -> Path:
    """Where a build keeps what is local to this machine (its lock, embedding checkpoint and OCR cache): the
    index folder itself, or for Milvus a folder beside the .db file or in the user's cache."""
    return store_at(index).state if is_milvus(index) else Path(index)


def _load(paths: Iterable[str], index: str | os.PathLike | None, s: Settings, progress: Progress | None = None
          ) -> tuple[list[Document], list]:
    """The documents under paths; unchanged files come from the index's own copy, OCR from its cache."""
    return load_paths(paths, max_mb=s.max_file_mb, ocr_cache=state_folder(index) / OCR_CACHE if index else None,
                      reuse=_reuser(index) if index else None, progress=progress)


def file_stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _reuser(index: str | os.PathLike):
    """(file, source) -> the Document the live build read from that file, when its size and mtime are the
    ones recorded; else None."""
    try:
        recorded = (read_manifest(index) or {}).get("documents", {})
        build = None if is_milvus(index) else current_build(index)
    except IndexCorrupt:
        return None
    if not recorded or (not is_milvus(index) and (build is None or not (build / DOCUMENTS).exists())):
        return None
    texts: dict[str, Document] = {}

    def reuse(path: Path, source: str) -> Document | None:
        stamp = recorded.get(source, {}).get("file")
        if not stamp or stamp != file_stamp(path):
            return None
        if not texts:
            texts.update(store_at(index).documents() if is_milvus(index) else read_documents(build))
        d = texts.get(source)
        return Document(source, d.text, str(path), d.pages, d.stats) if d else None

    return reuse


@contextmanager
def _build_lock(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # one build at a time; readers never take it
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_index(
    paths: Iterable[str | os.PathLike] = ("seeds",),
    *,
    index: str | os.PathLike = "index",
    settings: Settings | None = None,
    embeddings: BaseEmbeddings | None = None,
    progress: Progress | None = None,
) -> IndexStats:
    """Index files and folders (recursively) into `index`. Unchanged chunks reuse their vectors.

    Files that cannot be read are skipped and listed in the returned stats."""
    s = settings or Settings()
    t0 = time.perf_counter()
    paths = [str(p) for p in paths]
    mv = store_at(index, s) if is_milvus(index) else None
    root = mv.state if mv else Path(index)  # for Milvus: the local lock, checkpoint and OCR cache
    if mv:
        mv.live()  # an unreachable Milvus fails the build now, not after the embedding
    emb = embeddings or get_embeddings(s.embed_model, s.embed_url, s.embed_api_key)
    docs, skipped = _load(paths, index, s, progress)
    if progress:
        progress(len(docs), len(docs), "documents")

    with _build_lock(root):
        same = _unchanged(index, paths, docs, emb, s)
        if same is not None:  # nothing to do: no chunking, tokenizing, index building or writing
            return IndexStats(
                documents=len(docs), chunks=same["chunks"], embedded=0, reused=same["chunks"],
                seconds=round(time.perf_counter() - t0, 3), skipped=skipped,
                per_document={k: {"title": v["title"], "chunks": v["chunks"], **v["chunk_chars"]}
                              for k, v in same["documents"].items()},
            )
        old = mv.old_vectors(s.embed_model, emb.dim) if mv else _reusable_vectors(root, emb, s)
        before = (read_manifest(index) or {}).get("documents", {})
        chunks: list[Chunk] = []
        per_doc: dict[str, dict] = {}
        for d in docs:
            cs = chunk_document(d, s)
            chunks.extend(cs)
            sizes = [len(c.text) for c in cs] or [0]
            digest = sha256(d.text)
            same = before.get(d.source, {}).get("hash") == digest  # unchanged: it keeps its indexing time
            per_doc[d.source] = {
                "title": cs[0].title if cs else d.source,
                "hash": digest,
                "pages": len(d.pages) or None,
                "file": file_stamp(Path(d.path)) if d.path and Path(d.path).exists() else None,
                **d.stats,
                "chunks": len(cs),
                "chars": len(d.text),
                "chunk_chars": {"min": min(sizes), "median": int(np.median(sizes)), "max": max(sizes)},
                "indexed_at": before[d.source].get("indexed_at") if same else time.strftime("%Y-%m-%d %H:%M:%S"),
            }
        if progress:
            progress(len(chunks), len(chunks), "chunks")
        old.update({k: v for k, v in checkpoint.load(root, emb.model_id, emb.dim).items() if k not in old})
        todo = [i for i, c in enumerate(chunks) if c.id not in old]
        vectors = np.zeros((len(chunks), emb.dim), dtype=np.float32)
        for i, c in enumerate(chunks):
            if c.id in old:
                vectors[i] = old[c.id]

        texts = [c.embed_text() for c in chunks]
        tokenizer = ChineseTokenizer(discover_names(texts))
        bm25 = BM25Index.build(texts, tokenizer)
        manifest = {
            "format": FORMAT,
            "embed_model": s.embed_model,
            "model_id": emb.model_id,
            "dim": emb.dim,
            "chunker_version": CHUNKER_VERSION,
            "paths": paths,
            "documents": per_doc,
            "chunks": len(chunks),
            "built_at": time.strftime("%Y-%m-%d %H:%M:%S"),
            "settings": s.to_dict(),
        }
        # Lexical first: the build goes live with its BM25 index and the vectors it already has; the rest are
        # embedded behind it, kept in the checkpoint batch by batch and published every partial_seconds.
        # (A Milvus build goes live once, complete: rewriting a generation is its whole cost.)
        missing = set(todo)
        written = None
        wait = s.partial_seconds
        if todo and not mv:
            t = time.monotonic()
            written = _publish(root, chunks, docs, vectors, missing, bm25, manifest, s, None)
            # A publish rewrites the vector index: on a big corpus it takes long, so publishing never takes
            # more than a tenth of the build's time.
            wait = max(s.partial_seconds, 10 * (time.monotonic() - t))
            if progress:
                progress(0, len(todo), "embedding")
        published = time.monotonic()
        for start in range(0, len(todo), s.embed_batch):
            batch = todo[start:start + s.embed_batch]
            vectors[batch] = emb.embed_passages_array([chunks[i].embed_text() for i in batch])
            checkpoint.append(root, emb.model_id, emb.dim, [chunks[i].id for i in batch], vectors[batch])
            missing.difference_update(batch)
            if progress:
                progress(min(start + s.embed_batch, len(todo)), len(todo), "embedding")
            if missing and not mv and time.monotonic() - published >= wait:
                t = time.monotonic()
                written = _publish(root, chunks, docs, vectors, missing, bm25, manifest, s, written)
                published = time.monotonic()
                wait = max(s.partial_seconds, 10 * (published - t))
        if mv:
            mv.publish(chunks, docs, vectors, bm25, manifest, s)
        else:
            _publish(root, chunks, docs, vectors, set(), bm25, manifest, s, written)
        checkpoint.clear(root, emb.model_id, emb.dim)

    return IndexStats(
        documents=len(docs), chunks=len(chunks), embedded=len(todo), reused=len(chunks) - len(todo),
        seconds=round(time.perf_counter() - t0, 3), skipped=skipped,
        per_document={k: {"title": v["title"], "chunks": v["chunks"], **v["chunk_chars"]} for k, v in per_doc.items()},
    )


# Settings that shape the chunks, the vectors or the indexes: when one differs, the index is rebuilt.
INDEX_SETTINGS = ("embed_model", "chunk_target", "chunk_max", "chunk_min", "chunk_overlap", "tiny_section",
                  "table_rows_per_chunk", "ann_threshold", "hnsw_m", "hnsw_ef_search", "hnsw_ef_construction")


def _unchanged(index, paths: list[str], docs: list, emb: BaseEmbeddings, s: Settings) -> dict | None:
    """The live manifest when the live build already is what this build would write (same paths, file
    contents, model, chunker and index settings) and its files load; else None. Re-indexing an unchanged
    corpus then only reads the files (a rebuild re-tokenizes everything and rewrites the index)."""
    try:
        m = read_manifest(index)
        if (not m or m.get("partial") or m.get("format") != FORMAT or m.get("chunker_version") != CHUNKER_VERSION
                or m.get("paths") != paths
                or m.get("model_id") != emb.model_id or m.get("dim") != emb.dim
                or any(m.get("settings", {}).get(k) != getattr(s, k) for k in INDEX_SETTINGS)
                or {k: v.get("hash") for k, v in m.get("documents", {}).items()} != {d.source: sha256(d.text) for d in docs}):
            return None
        if is_milvus(index):
            mv = store_at(index, s)
            counts = {mv.count(mv.live()), m.get("chunks")}
        else:
            build = current_build(index)
            counts = {len(_read_chunks(build / "chunks.jsonl")), len(VectorStore.load(build)),
                      int(BM25Arrays.load(build / "bm25").scores["num_docs"]), m.get("chunks")}
            json.loads((build / "bm25" / "userdict.json").read_text("utf-8"))
    except (IndexCorrupt, OSError, ValueError, KeyError, AttributeError, RagError):
        return None  # whatever is wrong with the old index, a full build replaces it
    return m if len(counts) == 1 else None


def _reusable_vectors(root: Path, emb: BaseEmbeddings, s: Settings) -> dict[str, np.ndarray]:
    """Vectors of the live index by chunk id, when it was built with the same model; else nothing."""
    try:
        manifest = read_manifest(root)
        if not manifest or manifest.get("embed_model") != s.embed_model or manifest.get("dim") != emb.dim:
            return {}
        build = current_build(root)
        chunks = _read_chunks(build / "chunks.jsonl")
        vecs = VectorStore.load(build).vectors()
        missing = set(np.load(build / MISSING, allow_pickle=False).tolist()) if (build / MISSING).exists() else set()
    except (IndexCorrupt, OSError, ValueError):
        return {}  # a broken old index is simply rebuilt from scratch
    if len(chunks) != len(vecs):
        return {}
    return {c.id: vecs[i] for i, c in enumerate(chunks) if i not in missing}  # a partial build's gaps are not vectors


def _publish(root: Path, chunks: list[Chunk], docs: list[Document], vectors: np.ndarray, missing: set[int],
             bm25: BM25Index, manifest: dict, s: Settings, previous: Path | None) -> Path:
    """Write a build with the vectors there are and switch to it. A partial one (some rows without a vector)
    says so in its manifest and lists those rows in missing.npy; it is searched exactly (an approximate index
    is built once, for the complete build). Its text files come from `previous`, the last partial publish."""
    partial = bool(missing)
    store = VectorStore.build(vectors, ann_threshold=len(vectors) if partial else s.ann_threshold, hnsw_m=s.hnsw_m,
                              ef_search=s.hnsw_ef_search, ef_construction=s.hnsw_ef_construction)
    manifest = {**manifest, "vector_index": "exact" if store.exact else "hnsw", "built_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    if partial:
        manifest["partial"] = {"embedded": len(chunks) - len(missing), "total": len(chunks)}
    return _write_build(root, chunks, docs, store, bm25, manifest, sorted(missing), previous)


def read_documents(build: Path) -> dict[str, Document]:
    """The documents a build keeps (text as loaded, page starts, reading stats), by source."""
    docs: dict[str, Document] = {}
    if (build / DOCUMENTS).exists():
        with (build / DOCUMENTS).open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    d = json.loads(line)
                    docs[d["source"]] = Document(d["source"], d["text"], pages=d.get("pages", []), stats=d.get("stats", {}))
    return docs


def _write_build(root: Path, chunks: list[Chunk], docs: list[Document], store: VectorStore, bm25: BM25Index,
                 manifest: dict, missing: list[int] = (), previous: Path | None = None) -> Path:
    """Write a complete build folder, fsync it, then switch CURRENT to it in one atomic rename. The chunks,
    documents and BM25 files are hard-linked from `previous` (an earlier publish of the same build) if given."""
    name = f"build-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    tmp = root / f".tmp-{name}"
    if previous is not None and previous.is_dir():
        shutil.copytree(previous, tmp, copy_function=os.link,
                        ignore=shutil.ignore_patterns("manifest.json", MISSING, "vectors.faiss"))
    else:
        tmp.mkdir(parents=True)
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as fh:
            for c in chunks:
                fh.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
        with (tmp / DOCUMENTS).open("w", encoding="utf-8") as fh:
            for d in docs:
                fh.write(json.dumps({"source": d.source, "text": d.text, "pages": d.pages, "stats": d.stats},
                                    ensure_ascii=False) + "\n")
        bm25.save(tmp)
    store.save(tmp)
    if missing:
        np.save(tmp / MISSING, np.asarray(missing, dtype=np.int64))
    (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    _fsync_tree(tmp)
    os.rename(tmp, root / name)
    pointer_tmp = root / ".CURRENT.tmp"
    pointer_tmp.write_text(name, "utf-8")
    _fsync_file(pointer_tmp)
    live = current_build(root) if (root / "CURRENT").exists() else None
    os.replace(pointer_tmp, root / "CURRENT")
    _cleanup(root, keep={name, live.name if live else ""})
    return root / name


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for p in path.rglob("*"):
        if p.is_file():
            _fsync_file(p)


def _cleanup(root: Path, keep: set[str]) -> None:
    """Remove old builds and leftovers of interrupted ones. The previous build stays for readers mid-load."""
    for p in root.iterdir():
        if p.is_dir() and p.name not in keep and (p.name.startswith("build-") or p.name.startswith(".tmp-")):
            shutil.rmtree(p, ignore_errors=True)
