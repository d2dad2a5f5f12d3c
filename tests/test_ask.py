"""ask(), stream_ask(), the CLI and bad input, on a tiny corpus with the fake embedder."""
import json

import pytest

from rag import Answer, BadQuestion, ask, build_index, stream_ask
from rag.cli import main as cli


@pytest.fixture
def tiny_index(tiny_corpus, fake_settings, tmp_path):
    index = tmp_path / "index"
    build_index([tiny_corpus], index=index, settings=fake_settings)
    return str(index)


def test_ask_answers_with_a_cited_clause(tiny_index, fake_settings):
    a = ask("甲市2024年地区生产总值增长多少", index=tiny_index, settings=fake_settings)
    assert a.found and "6%" in a.answer and "[1]" in a.answer
    top = a.citations[0]
    assert top.n == 1 and top.source == "a.txt" and top.title == "甲市2024年工作报告"
    assert top.quote and top.quote in top.text
    assert [c.n for c in a.citations] == list(range(1, len(a.citations) + 1))
    json.dumps(a.to_dict(), ensure_ascii=False)


def test_top_k_limits_citations(tiny_index, fake_settings):
    assert len(ask("乙区固定资产投资", index=tiny_index, top_k=1, settings=fake_settings).citations) == 1


def test_unanswerable_question_is_declined(tiny_index, fake_settings):
    a = ask("丙县2022年旅游收入是多少", index=tiny_index, settings=fake_settings)
    assert not a.found and "没有2022年的数据" in a.answer  # the reason: no document speaks of 2022
    assert a.citations  # the closest passages are still listed


@pytest.mark.parametrize("bad", ["", "   \n\t", "x" * 2001, "？？！！。。", "\x00\x01"])
def test_bad_questions_raise_a_typed_error(bad, tiny_index, fake_settings):
    with pytest.raises(BadQuestion):
        ask(bad, index=tiny_index, settings=fake_settings)


def test_stream_yields_text_then_the_answer(tiny_index, fake_settings):
    parts = list(stream_ask("乙区2023年完成固定资产投资多少", index=tiny_index, settings=fake_settings))
    assert isinstance(parts[-1], Answer) and all(isinstance(p, str) for p in parts[:-1])
    assert "".join(parts[:-1]) == parts[-1].answer and "120亿元" in parts[-1].answer


def test_cli_exit_codes_and_json(tiny_index, fake_settings, capsys):
    assert cli(["ask", "甲市2024年地区生产总值增长多少", "--index", tiny_index, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["found"] and out["citations"][0]["source"] == "a.txt"
    assert cli(["ask", "丙县2022年旅游收入是多少", "--index", tiny_index]) == 1
    assert cli(["ask", "   ", "--index", tiny_index]) == 2
    assert "empty" in capsys.readouterr().err


def test_cli_index_reports_chunks_and_skips(tiny_corpus, fake_settings, tmp_path, capsys):
    (tiny_corpus / "junk.txt").write_bytes(b"\x00\x01\x02" * 100)
    code = cli(["index", str(tiny_corpus), "--index", str(tmp_path / "ix")])
    captured = capsys.readouterr()
    assert code == 1 and "junk.txt" in captured.err and "binary" in captured.err
    assert "找到 2 个文档" in captured.err and "个段落" in captured.err and "计算向量" in captured.err  # progress
    assert "a.txt:" in captured.out and "chunks" in captured.out


def test_a_follow_up_is_searched_with_what_the_history_gives(districts_index, fake_settings):
    kw = dict(index=districts_index, settings=fake_settings)
    first = ask("青禾县2024年地区生产总值增长多少", **kw)
    assert first.found and "6%" in first.answer and first.standalone == ""
    a = ask("那石川区呢？", history=[first], **kw)
    assert a.question == "那石川区呢？" and a.standalone.startswith("石川区2024年地区生产总值")
    assert a.found and "7.5%" in a.answer and a.to_dict()["standalone"] == a.standalone
    b = ask("一般公共预算收入呢？", history=[first, a], **kw)
    assert b.standalone.startswith("石川区2024年一般公共预算收入") and "3%" in b.answer
    streamed = list(stream_ask("那石川区呢？", history=["青禾县2024年地区生产总值增长多少"], **kw))[-1]
    assert streamed.standalone == a.standalone and "7.5%" in streamed.answer


def one_document_index(tmp_path, name: str, filename: str, text: str, settings) -> str:
    """A corpus of one document, indexed; the index folder's path."""
    corpus = tmp_path / name
    corpus.mkdir()
    (corpus / filename).write_text(text, "utf-8")
    index = str(tmp_path / f"{name}-index")
    build_index([str(corpus)], index=index, settings=settings)
    return index


def test_a_list_continued_gets_the_next_item_though_its_words_differ(tmp_path, fake_settings):
    index = one_document_index(tmp_path, "problems", "r.txt",
                               "# 青禾县2024年工作报告\n\n## 三、几点不足\n\n青禾县发展中存在的主要问题是稳增长压力仍然较大。"
                               "产业升级仍需提速，新兴产业规模还不够大。\n\n## 四、保障措施\n\n加强组织领导。\n", fake_settings)
    kw = dict(index=index, settings=fake_settings)
    first = ask("青禾县发展中存在的主要问题是什么？", **kw)
    assert first.found and "稳增长压力" in first.answer
    more = ask("还有呢？", history=[first], **kw)
    assert more.found and "产业升级仍需提速" in more.answer
    kept = ask("还有呢？", history=[first], **{**kw, "settings": fake_settings.replace(continue_lists=False)})
    assert not kept.found  # without continuing the list, 产业升级 matches none of the question's words


def plan_index(tmp_path, settings) -> str:
    """A report whose tasks have three numbered parts, indexed."""
    return one_document_index(tmp_path, "plan", "p.md",
                              "# 青禾县2024年工作报告\n\n## 三、2024年重点任务\n\n### （一）持续扩大内需\n\n加快建设轨道交通。\n\n"
                              "### （二）推进绿色低碳发展\n\n新建公园12处。\n\n### （三）守住安全底线\n\n加强安全生产监管。\n",
                              settings)


def type_lines(monkeypatch, lines: list[str]) -> None:
    """`rag chat` reads these lines as typed, then Ctrl-D."""
    typed = iter(lines)

    def fake_input(prompt=""):
        try:
            return next(typed)
        except StopIteration:
            raise EOFError

    monkeypatch.setattr("builtins.input", fake_input)


def test_rag_chat_keeps_the_turns_and_clears_them(districts_index, fake_settings, monkeypatch, capsys):
    type_lines(monkeypatch, ["青禾县2024年地区生产总值增长多少", "那石川区呢？", "/clear", "   "])
    assert cli(["chat", "--index", districts_index]) == 0
    out = capsys.readouterr().out
    assert "6%" in out and "7.5%" in out and "按「石川区2024年地区生产总值" in out and "对话已清空" in out
    assert "青禾县2024年地区生产总值增长多少" in out  # not typed at a terminal: each question echoed before its answer


def test_cli_says_when_a_first_question_builds_the_index(tmp_path, fake_settings, monkeypatch, capsys):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.txt").write_text("# 青禾县2024年工作报告\n\n青禾县2024年地区生产总值增长6%左右。\n", "utf-8")
    monkeypatch.setenv("RAG_CORPUS", str(corpus))
    assert cli(["ask", "青禾县2024年地区生产总值增长多少？", "--index", str(tmp_path / "new-index")]) == 0
    captured = capsys.readouterr()
    assert "正在从" in captured.err and "6%" in captured.out
    cli(["ask", "青禾县2024年地区生产总值增长多少？", "--index", str(tmp_path / "new-index")])
    assert "正在从" not in capsys.readouterr().err  # built once


def test_rag_chat_shows_the_passage_of_a_heading_it_answers_with(tmp_path, fake_settings, monkeypatch, capsys):
    index = plan_index(tmp_path, fake_settings)
    type_lines(monkeypatch, ["青禾县2024年重点任务第二部分讲的什么？"])
    assert cli(["chat", "--index", index]) == 0
    out = capsys.readouterr().out
    assert "（二）推进绿色低碳发展[1]" in out and "[1] 青禾县2024年工作报告 ›" in out


def test_a_part_of_a_report_is_answered_with_its_heading(tmp_path, fake_settings):
    kw = dict(index=plan_index(tmp_path, fake_settings), settings=fake_settings)
    first = ask("青禾县2024年重点任务第一部分讲的什么？", **kw)
    assert first.found and first.answer.startswith("（一）持续扩大内需") and "持续扩大内需" in first.citations[0].section
    second = ask("第二部分呢？", history=[first], **kw)
    assert second.answer.startswith("（二）推进绿色低碳发展") and "第2部分" in second.standalone
    after = ask("再往后呢", history=[first, second], **kw)
    assert after.answer.startswith("（三）守住安全底线")
    streamed = list(stream_ask("最后一部分是啥", history=[first], **kw))
    assert streamed[-1].answer.startswith("（三）守住安全底线") and isinstance(streamed[0], str)
    assert ask("第五部分讲的什么？", history=[first], **kw).answer != "（五）"  # no such part: answered as usual


def test_a_two_digit_year_is_the_year_it_stands_for(districts_index, fake_settings):
    kw = dict(index=districts_index, settings=fake_settings)
    a = ask("石川区24年地区生产总值增长多少", **kw)
    assert a.found and "7.5%" in a.answer and a.standalone == "石川区2024年地区生产总值增长多少"
    b = ask("青禾县24年呢？", history=[a], **kw)
    assert "6%" in b.answer and "2024年" in b.standalone, b.standalone


@pytest.mark.parametrize("plan", ["二、重点工作", "一、2024年主要预期目标"])
def test_a_past_year_asked_plainly_is_answered_with_what_it_came_to(tmp_path, fake_settings, plan):
    corpus = tmp_path / "years"
    corpus.mkdir()
    (corpus / "a.md").write_text(f"# 青禾县2024年政府工作报告\n\n## {plan}\n\n"
                                 "推动青禾县新能源汽车产能爬坡，新能源汽车产量达到40万辆以上。\n", "utf-8")
    (corpus / "b.md").write_text("# 青禾县2025年政府工作报告\n\n## 一、2024年工作回顾\n\n"
                                 "年产新能源汽车突破36万辆，电池项目建成投产，光伏项目落地建设。\n", "utf-8")
    index = str(tmp_path / "years-index")
    build_index([str(corpus)], index=index, settings=fake_settings)
    kw = dict(index=index, settings=fake_settings)
    assert "36万辆" in ask("青禾县2024年新能源汽车产量有多少？", **kw).answer  # the year is over: its result
    assert "40万辆" in ask("青禾县2024年新能源汽车产量目标是多少？", **kw).answer  # its plan, when asked


def test_last_year_and_this_year_are_counted_from_each_report(tmp_path, fake_settings):
    corpus = tmp_path / "years"
    corpus.mkdir()
    (corpus / "r.md").write_text("# 青禾县2025年政府工作报告\n\n## 一、2024年工作回顾\n\n"
                                 "开工新建改扩建中小学幼儿园60所，新增城镇就业1.2万人。\n\n"
                                 "## 二、重点工作\n\n开工新建改扩建中小学幼儿园20所，建设智慧校园。\n", "utf-8")
    index = str(tmp_path / "years-index")
    build_index([str(corpus)], index=index, settings=fake_settings)
    kw = dict(index=index, settings=fake_settings)
    last = ask("青禾县去年新建改扩建中小学幼儿园多少所？", **kw)
    assert last.found and "60所" in last.answer  # 去年 in a report of 2025: 2024, looked back at
    this = ask("今年呢？", history=[last], **kw)
    assert this.found and "20所" in this.answer and "今年" in this.standalone  # the year it plans


def test_a_place_swapped_in_is_answered_for_its_own_year(tmp_path, fake_settings):
    corpus = tmp_path / "years"
    corpus.mkdir()
    (corpus / "city.txt").write_text("# 青禾市2025年工作报告\n\n## 一、民生\n\n2025年青禾市开发城乡公益性岗位3000个。\n", "utf-8")
    (corpus / "district.txt").write_text("# 石川区2024年计划\n\n## 一、民生\n\n2024年石川区开发城乡公益性岗位2790个。\n", "utf-8")
    index = str(tmp_path / "years-index")
    build_index([str(corpus)], index=index, settings=fake_settings)
    first = ask("青禾市2025年要开发多少个城乡公益性岗位？", index=index, settings=fake_settings)
    assert first.found and "3000" in first.answer
    # 石川区's documents never name 2025: its figure of its own year, searched without the year taken over
    a = ask("那石川区呢？", history=[first], index=index, settings=fake_settings)
    assert a.found and "2790" in a.answer and "2025" not in a.standalone and a.standalone.startswith("石川区")
