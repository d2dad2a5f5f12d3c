"""Follow-up questions completed from the conversation, without an LLM."""
import pytest

from rag.bm25 import ChineseTokenizer
from rag.conversation import check_rewrite, resolve
from rag.models import Answer
from rag.question import Analyzer

FIRST = "历城区2024年地区生产总值增长目标是多少？"


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer(ChineseTokenizer(), places=["历城区", "市中区", "起步区", "济南市"])


@pytest.mark.parametrize("follow_up, standalone", [
    ("那市中区呢？", "市中区2024年地区生产总值增长目标是多少？"),  # place swapped, indicator and year kept
    ("2025年的目标呢？", "历城区2025年地区生产总值增长目标是多少？"),  # year swapped
    ("服务业增加值呢？", "历城区2024年服务业增加值增长目标是多少？"),  # indicator swapped
    ("同比增长多少？", "历城区2024年地区生产总值同比增长多少？"),  # the same indicator, another figure of it
    ("还有呢？", FIRST),  # a list continued
])
def test_a_follow_up_takes_what_it_lacks_from_the_last_turn(analyzer, follow_up, standalone):
    assert resolve(follow_up, [FIRST], analyzer) == standalone


@pytest.mark.parametrize("question", [
    "起步区为什么要开展GEP核算？",  # a new topic with its own place
    "市中区2023年一般公共预算收入是多少？",  # place, year and indicator all given
])
def test_a_question_that_stands_on_its_own_is_not_rewritten(analyzer, question):
    assert resolve(question, [FIRST], analyzer) == question


def test_no_history_changes_nothing_and_answers_count_as_turns(analyzer):
    assert resolve("那市中区呢？", [], analyzer) == "那市中区呢？"
    earlier = Answer("那历城区呢？", "6%[1]", True, standalone=FIRST)
    assert resolve("那市中区呢？", [earlier], analyzer).startswith("市中区2024年地区生产总值")


def test_the_place_and_year_carry_over_several_turns(analyzer):
    turns = [FIRST, resolve("那市中区呢？", [FIRST], analyzer)]
    assert resolve("服务业增加值呢？", turns, analyzer) == "市中区2024年服务业增加值增长目标是多少？"


def test_an_llm_rewrite_that_loses_the_place_or_year_gives_way_to_the_rules(analyzer):
    rules = "市中区2024年地区生产总值增长目标是多少？"
    assert check_rewrite("市中区2024年GDP增长目标是多少？", rules, analyzer) == "市中区2024年GDP增长目标是多少？"
    assert check_rewrite("2024年GDP增长目标是多少？", rules, analyzer) == rules
    assert check_rewrite("", rules, analyzer) == rules


@pytest.mark.parametrize("question, continued", [
    ("还有呢？", True), ("第二份呢？", True), ("其他的呢？", True), ("还有哪一类？", True),
    ("那市中区呢？", False), ("还有哪些新能源汽车企业在济南投产？", False),
])
def test_a_list_continued(analyzer, question, continued):
    from rag.conversation import continues_list

    assert continues_list(question, analyzer) == continued
