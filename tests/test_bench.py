"""`rag bench --quick`: a smoke run that every measurement works and the report is printed (timings are never
asserted: they belong to the machine, not to the code); and checks that the performance changes keep results."""
import json

import pytest

from eval.bench import Row, WordTokenizer, pct, synthetic_corpus, table
from rag.cli import main

from conftest import SEEDS

@pytest.mark.integration
def test_quick_bench_prints_the_table(seeds_index, tmp_path, capsys):
    plot = tmp_path / "scale.png"
    out = tmp_path / "bench.md"
    assert main(["bench", "--quick", "--index", seeds_index, "--plot", str(plot), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("## rag bench") and "commit " in text and "load average" in text
    for what in ("chunks/s", "re-index unchanged corpus", "ask() p50", "ask() p95", "`rag ask` peak RSS",
                 "chat page", "retrieval p50", "recall@10"):
        assert what in text, what
    assert "| 2,000 | exact |" in text
    assert out.read_text("utf-8").strip() == text.strip()
    assert plot.stat().st_size > 1000


@pytest.mark.integration
def test_quick_bench_json(seeds_index, capsys):
    assert main(["bench", "--quick", "--index", seeds_index, "--json", "--skip-index", "--skip-startup"]) == 0
    report = json.loads(capsys.readouterr().out)
    whats = [r["what"] for r in report["rows"]]
    assert "ask() p50" in whats and report["scale"][0]["n"] == 2000
    assert all(r["product"] is not None for r in report["rows"])


def test_helpers():
    assert pct([3, 1, 2], 0.5) == 2 and pct([1.0] * 10 + [9.0], 0.95) == 9.0
    vectors, texts = synthetic_corpus(300, dim=16, words=20, vocab=500)
    assert vectors.shape == (300, 16) and len(texts) == 300 and len(texts[0].split()) == 20
    md = table([Row("g", "x p50", 10.0, 5.0, "≤ 2× floor", True, "ms")])
    assert "| x p50 | 10 ms | 5.0 ms | 2.00× | ≤ 2× floor | met |" in md


# ---------------------------------------------------------------- performance changes keep results the same

def test_bm25_arrays_score_exactly_like_bm25s(tmp_path):
    """rag.bm25 builds and scores without bm25s (memory, start-up); scores and files stay bm25s's."""
    import bm25s
    import numpy as np

    from eval.bench import load_questions
    from rag.bm25 import BM25Arrays, ChineseTokenizer
    from rag.chunking import chunk_document
    from rag.loaders import load_paths

    docs, _ = load_paths([str(SEEDS)])
    texts = [c.embed_text() for d in docs for c in chunk_document(d)] + ["", "。"]
    tok = ChineseTokenizer()
    ours = BM25Arrays.build(texts, tok)
    ref = bm25s.BM25()
    ref.index([tok(t) or [""] for t in texts], show_progress=False)
    assert ours.scores["num_docs"] == ref.scores["num_docs"] and set(ours.vocab_dict) == set(ref.vocab_dict)
    for q in load_questions()[:60]:
        tokens = [t for t in tok(q) if t in ref.vocab_dict]
        if tokens:
            assert np.array_equal(ours.get_scores([ours.vocab_dict[t] for t in tokens]), ref.get_scores(tokens)), q
    ours.save(tmp_path / "ours")
    ref.save(str(tmp_path / "ref"), show_progress=False)
    theirs = bm25s.BM25.load(str(tmp_path / "ours"), allow_pickle=False, show_progress=False)
    mine = BM25Arrays.load(tmp_path / "ref")
    tokens = [t for t in tok("济南市2024年地区生产总值预期增长目标") if t in ref.vocab_dict]
    expected = ref.get_scores(tokens)
    assert np.array_equal(theirs.get_scores(tokens), expected)
    assert np.array_equal(mine.get_scores([mine.vocab_dict[t] for t in tokens]), expected)


def test_bm25_empty_corpus():
    from rag.bm25 import BM25Index

    idx = BM25Index.build([], WordTokenizer())
    assert idx.scores("任何 问题").shape == (0,)


def test_reindexing_an_unchanged_corpus_writes_nothing(tiny_corpus, fake_settings, fake, tmp_path):
    """The no-op path: same files, model and index settings keep the live build; any change rebuilds."""
    from rag import build_index
    from rag.store import current_build

    index = tmp_path / "index"
    first = build_index([tiny_corpus], index=index, settings=fake_settings)
    live = current_build(index)
    again = build_index([tiny_corpus], index=index, settings=fake_settings)
    assert current_build(index) == live and again.chunks == again.reused == first.chunks and again.embedded == 0
    assert again.per_document == first.per_document
    build_index([tiny_corpus], index=index, settings=fake_settings.replace(chunk_max=300))  # another chunker setting
    assert current_build(index) != live
    live = current_build(index)
    (tiny_corpus / "c.txt").write_text("# 丙县2024年计划\n\n丙县新建学校3所。\n", "utf-8")
    changed = build_index([tiny_corpus], index=index, settings=fake_settings.replace(chunk_max=300))
    assert current_build(index) != live and changed.documents == 3 and changed.embedded > 0
