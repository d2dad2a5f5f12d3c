"""`rag bench --quick`: a smoke run that every measurement works and the report is printed. Timings are never
asserted: they belong to the machine, not to the code."""
import json

import pytest

from eval.bench import Row, pct, synthetic_corpus, table
from rag.cli import main

pytestmark = pytest.mark.integration


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
