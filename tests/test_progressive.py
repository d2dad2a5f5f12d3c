"""Lexical first: a build goes live with its BM25 index at once and answers while its vectors fill in behind;
a killed build leaves its vectors in the checkpoint, and the next build starts from them; the end result is
the index a one-shot build makes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from conftest import ROOT, FakeEmbeddings, slow_build
from rag import ask, build_index
from rag.embeddings import register_embeddings
from rag.store import load_index, read_manifest

QUESTION = "起步区2024年固定资产投资目标是多少"
SOURCE = "003_400c03503814481d.txt"


class SlowFake(FakeEmbeddings):
    """The fake embedder at a tenth of a second a batch: slow enough to ask while it works."""

    def embed_passages_array(self, texts):
        time.sleep(0.1)
        return super().embed_passages_array(texts)


register_embeddings("slowfake", SlowFake)


def vectors_by_id(index) -> dict[str, np.ndarray]:
    idx = load_index(index)
    vecs = idx.vectors.vectors()
    return {c.id: vecs[i] for i, c in enumerate(idx.chunks)}


def test_the_build_answers_at_once_and_readers_never_fail(seeds_copy, fake_settings, tmp_path):
    index = tmp_path / "index"
    settings = fake_settings.replace(embed_model="slowfake", embed_batch=4, partial_seconds=0.0, corpus=str(seeds_copy))
    readers = fake_settings.replace(corpus=str(tmp_path / "other"))  # only the writer builds
    errors, answers = [], []
    done = threading.Event()

    def build():
        try:
            build_index([seeds_copy], index=index, settings=settings)
        except BaseException as exc:  # noqa: BLE001 - any failure is the test's finding
            errors.append(exc)
        finally:
            done.set()

    def reader():
        while not done.is_set():
            try:
                answers.append(ask(QUESTION, index=index, settings=readers))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return

    writer = threading.Thread(target=build)
    writer.start()
    deadline = time.monotonic() + 60
    while not (index / "CURRENT").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    first = ask(QUESTION, index=index, settings=readers)
    partial = read_manifest(index).get("partial")
    assert partial and partial["embedded"] < partial["total"]  # asked before the vectors were done
    assert first.found and "固定资产投资增长50%" in first.answer and "索引中" in first.warning
    assert next(c for c in first.citations if c.quote).source == SOURCE
    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    writer.join(timeout=300)
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors[:3]
    assert len(answers) >= 8 and all(a.answer and a.question == QUESTION for a in answers)
    last = ask(QUESTION, index=index, settings=readers)
    assert "partial" not in read_manifest(index) and not last.warning and "50%" in last.answer
    one_shot = tmp_path / "one-shot"
    build_index([seeds_copy], index=one_shot, settings=fake_settings.replace(corpus=str(seeds_copy)))
    a, b = vectors_by_id(index), vectors_by_id(one_shot)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


KILLABLE = """
import sys, time
sys.path.insert(0, {tests!r})
from conftest import FakeEmbeddings
from rag.embeddings import register_embeddings
from rag.cli import main
"""


def test_a_killed_build_resumes_from_its_checkpoint(seeds_copy, fake_settings, tmp_path):
    one_shot = tmp_path / "one-shot"
    total = build_index([seeds_copy], index=one_shot, settings=fake_settings.replace(corpus=str(seeds_copy))).chunks
    index = tmp_path / "index"
    script = tmp_path / "killable.py"
    script.write_text(KILLABLE.format(tests=str(ROOT / "tests")) + slow_build(0.1), "utf-8")
    env = {**os.environ, "RAG_EMBED_BATCH": "4", "RAG_EMBED_MODEL": "fake"}
    proc = subprocess.Popen([sys.executable, str(script), "index", str(seeds_copy), "--index", str(index)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if 4 * len(list(Path(index).glob("embed-checkpoint/*/batch-*.npz"))) >= total / 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = 4 * len(list(Path(index).glob("embed-checkpoint/*/batch-*.npz")))
    assert total / 2 <= kept < total, (kept, total)  # killed about half way
    stats = build_index([seeds_copy], index=index, settings=fake_settings.replace(corpus=str(seeds_copy)))
    assert stats.embedded <= 0.55 * total and stats.embedded + min(kept, total) >= total
    a, b = vectors_by_id(index), vectors_by_id(one_shot)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    readers = fake_settings.replace(corpus=str(tmp_path / "other"))
    assert ask(QUESTION, index=index, settings=readers).answer == ask(QUESTION, index=one_shot, settings=readers).answer
