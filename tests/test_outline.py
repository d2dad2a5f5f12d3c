from rag.models import Chunk, ScoredChunk
from rag.outline import LAST, Outline, asks_next, part_asked, without_part


def chunk(i, section, text="正文。"):
    return Chunk(id=f"c{i}", source="r.txt", title="青禾县2024年工作报告", section=section, text=text)


SECTIONS = ["一、工作回顾", "二、重点任务 > （一）扩大内需 > 1.扩大投资", "二、重点任务 > （一）扩大内需 > 2.促进消费",
            "二、重点任务 > （二）绿色发展", "二、重点任务 > （三）守住底线"]


def test_a_part_asked_by_its_position():
    assert part_asked("重点任务第二部分讲的什么？") == 2
    assert part_asked("第一条是啥") == 1 and part_asked("第十一个方面呢？") == 11
    assert part_asked("最后一部分是啥") == LAST
    assert part_asked("第二条产业链条是什么？") == 0  # a thing of its own, named after the ordinal
    assert part_asked("第二个项目是什么？") == 0
    assert asks_next("再往后呢") and asks_next("下一部分呢？") and not asks_next("再往后几年呢，增长多少？")
    assert without_part("重点任务，第一部分讲的什么？") == "重点任务,讲的什么?"  # normalized


def test_an_outline_keeps_each_heading_s_parts_in_order():
    outline = Outline(chunk(i, s) for i, s in enumerate(SECTIONS))
    assert outline.children[("r.txt", "二、重点任务")] == ["（一）扩大内需", "（二）绿色发展", "（三）守住底线"]
    second = outline.part("r.txt", "二、重点任务", 2)
    assert second.title == "（二）绿色发展" and second.n == 2 and second.chunk.id == "c3"
    assert outline.part("r.txt", "二、重点任务", LAST).title == "（三）守住底线"
    assert outline.part("r.txt", "二、重点任务", 4) is None
    first = outline.part("r.txt", "二、重点任务", 1)
    assert first.chunk.id == "c1"  # the first passage under it
    assert outline.given("r.txt", SECTIONS[2], "（一）扩大内需[1]").n == 1


def test_the_heading_a_part_is_of_is_the_one_named():
    chunks = [chunk(i, s) for i, s in enumerate(SECTIONS)]
    outline = Outline(chunks)
    hits = [ScoredChunk(c, 1.0) for c in chunks[1:3]]
    assert outline.parent_for({"重点": 1.0, "任务": 1.0}, hits, 2, 0.5) == ("r.txt", "二、重点任务")
    assert outline.parent_for({"扩大": 1.0, "内需": 1.0}, hits, 2, 0.5) == ("r.txt", "二、重点任务 > （一）扩大内需")
    assert outline.parent_for({"扩大": 1.0, "内需": 1.0}, hits, 3, 0.5) is None  # （一） has two parts
    assert outline.parent_for({"财政": 1.0}, hits, 1, 0.5) is None
