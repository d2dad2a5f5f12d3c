"""The persisted index with the fake embedder: incremental, deletions, corruption, ANN switch."""
import json

import numpy as np
import pytest

from rag import IndexCorrupt, IndexMissing, build_index
from rag.store import current_build, load_index
from rag.vectorstore import VectorStore


def test_second_build_embeds_nothing(tiny_corpus, fake_settings, fake, tmp_path):
    index = tmp_path / "index"
    first = build_index([tiny_corpus], index=index, settings=fake_settings)
    assert first.embedded == first.chunks > 0 and first.documents == 2
    second = build_index([tiny_corpus], index=index, settings=fake_settings)
    assert second.embedded == 0 and second.reused == first.chunks


def test_editing_one_file_reembeds_only_its_chunks(tiny_corpus, fake_settings, tmp_path):
    index = tmp_path / "index"
    build_index([tiny_corpus], index=index, settings=fake_settings)
    first = load_index(index)
    before = {c.id for c in first.chunks if c.source == "a.txt"}
    for doc in first.manifest["documents"].values():
        doc["indexed_at"] = "2020-01-01 00:00:00"  # as if indexed long ago
    (first.path / "manifest.json").write_text(json.dumps(first.manifest, ensure_ascii=False), "utf-8")
    (tiny_corpus / "b.md").write_text("# 乙区2023年计划执行情况\n\n乙区2023年完成固定资产投资130亿元。\n", "utf-8")
    stats = build_index([tiny_corpus], index=index, settings=fake_settings)
    idx = load_index(index)
    assert stats.embedded == sum(1 for c in idx.chunks if c.source == "b.md")
    assert {c.id for c in idx.chunks if c.source == "a.txt"} == before
    times = {k: v["indexed_at"] for k, v in idx.manifest["documents"].items()}
    assert times["a.txt"] == "2020-01-01 00:00:00" and times["b.md"] != times["a.txt"]  # only the edited one
    assert idx.document("b.md").text.endswith("130亿元。\n")  # the reader's copy follows the edit


def test_deleting_a_file_removes_it_from_both_indexes(tiny_corpus, fake_settings, tmp_path):
    index = tmp_path / "index"
    build_index([tiny_corpus], index=index, settings=fake_settings)
    (tiny_corpus / "b.md").unlink()
    build_index([tiny_corpus], index=index, settings=fake_settings)
    idx = load_index(index)
    assert {c.source for c in idx.chunks} == {"a.txt"}
    assert len(idx.vectors) == len(idx.chunks) == int(idx.bm25.retriever.scores["num_docs"])
    assert idx.bm25.scores("乙区 固定资产投资").max(initial=0) == 0


def test_manifest_records_model_hashes_and_no_pickle(tiny_corpus, fake_settings, tmp_path):
    index = tmp_path / "index"
    build_index([tiny_corpus], index=index, settings=fake_settings)
    build = current_build(index)
    manifest = json.loads((build / "manifest.json").read_text("utf-8"))
    assert manifest["embed_model"] == "fake" and manifest["dim"] == 64
    assert set(manifest["documents"]) == {"a.txt", "b.md"}
    assert all(len(d["hash"]) == 64 for d in manifest["documents"].values())
    for f in build.rglob("*"):
        assert f.suffix not in (".pkl", ".pickle")
        if f.suffix == ".npy":
            np.load(f, allow_pickle=False)  # raises if anything in it needs pickle


def test_missing_and_corrupt_index_give_clear_errors(tiny_corpus, fake_settings, tmp_path):
    with pytest.raises(IndexMissing, match="rag index"):
        load_index(tmp_path / "nothing")
    index = tmp_path / "index"
    build_index([tiny_corpus], index=index, settings=fake_settings)
    (current_build(index) / "chunks.jsonl").write_text("{not json", "utf-8")
    with pytest.raises(IndexCorrupt, match="rebuild"):
        load_index(index)
    # a rebuild over a corrupt index just works
    stats = build_index([tiny_corpus], index=index, settings=fake_settings)
    assert stats.embedded == stats.chunks
    assert len(load_index(index).chunks) == stats.chunks


def test_model_change_rebuilds_everything(tiny_corpus, fake_settings, fake, tmp_path):
    index = tmp_path / "index"
    build_index([tiny_corpus], index=index, settings=fake_settings)
    from rag.embeddings import register_embeddings
    from conftest import FakeEmbeddings

    class Other(FakeEmbeddings):
        model_id = "fake/other"

    register_embeddings("other", Other)
    stats = build_index([tiny_corpus], index=index, settings=fake_settings.replace(embed_model="other"))
    assert stats.embedded == stats.chunks


def test_approximate_index_recall_against_exact():
    """Above ann_threshold the store is HNSW; its recall@10 against exact search stays >= 0.98."""
    rng = np.random.default_rng(0)
    n, dim = 50_000, 384
    centers = rng.normal(size=(200, dim)).astype(np.float32)
    data = centers[rng.integers(0, 200, n)] + 0.6 * rng.normal(size=(n, dim)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    ann = VectorStore.build(data, ann_threshold=10_000)
    exact = VectorStore.build(data, ann_threshold=10**9)
    assert not ann.exact and exact.exact
    queries = data[rng.choice(n, 100, replace=False)] + 0.1 * rng.normal(size=(100, dim)).astype(np.float32)
    recall = np.mean([len(set(ann.search(q, 10)[1]) & set(exact.search(q, 10)[1])) / 10 for q in queries])
    assert recall >= 0.98
