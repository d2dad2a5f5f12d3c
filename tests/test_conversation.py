"""Follow-up questions completed from the conversation, without an LLM."""
import pytest

from rag.bm25 import ChineseTokenizer
from rag.conversation import check_rewrite, resolve
from rag.models import Answer
from rag.question import Analyzer, full_years

FIRST = "历城区2024年地区生产总值增长目标是多少？"


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer(ChineseTokenizer(), places=["历城区", "市中区", "起步区", "济南市"])


@pytest.mark.parametrize("follow_up, standalone", [
    ("那市中区呢？", "市中区2024年地区生产总值增长目标是多少？"),  # place swapped, indicator and year kept
    ("2025年的目标呢？", "历城区2025年地区生产总值增长目标是多少？"),  # year swapped
    ("服务业增加值呢？", "历城区2024年服务业增加值增长目标是多少？"),  # indicator swapped
    ("同比增长多少？", "历城区2024年地区生产总值同比增长多少？"),  # the same indicator, another figure of it
    ("增速呢？", "历城区2024年地区生产总值增速？"),  # and without the 呢 that made it a follow-up
    ("还有呢？", FIRST),  # a list continued
    ("那北京呢？", "北京2024年地区生产总值增长目标是多少？"),  # a place known only by its tag, on its own
])
def test_a_follow_up_takes_what_it_lacks_from_the_last_turn(analyzer, follow_up, standalone):
    assert resolve(follow_up, [FIRST], analyzer) == standalone


@pytest.mark.parametrize("question", [
    "起步区为什么要开展GEP核算？",  # a new topic with its own place
    "市中区2023年一般公共预算收入是多少？",  # place, year and indicator all given
    "济南2025年计划人工造林多少亩？",  # what it counts named in its ask (人工造林): no verb of its own
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
    ("还有其他类别吗？", True), ("还有别的措施吗？", True), ("再说一个", True), ("其他类别还有吗", True),
    ("再往下呢？", True), ("接着说", True),
    ("其他城市的GDP还有吗", False),
    ("那市中区呢？", False), ("还有哪些新能源汽车企业在济南投产？", False), ("还有其他新能源汽车企业在济南投产吗？", False),
])
def test_a_list_continued(analyzer, question, continued):
    from rag.conversation import continues_list

    assert continues_list(question, analyzer) == continued


@pytest.mark.parametrize("earlier, follow_up, standalone", [
    # what a how-many question counts is its indicator: the same ask, counting the new thing
    ("济南市2024年计划开工新建改扩建多少所中小学？", "幼儿园呢？", "济南市2024年计划开工新建改扩建多少所幼儿园？"),
    # a plan asked after a result: the counted indicator's target
    ("济南市截至2024年累计建成了多少个5G基站？", "2025年的目标呢？", "济南市2025年5G基站目标是多少？"),
    # only a year: the last question as it was worded, with the year swapped
    ("比亚迪在起步区的工厂2023年生产了多少辆整车？", "2024年呢？", "比亚迪在起步区的工厂2024年生产了多少辆整车？"),
    # a year counted from the conversation's, a swap said with 换成, a verb that names no indicator, a pronoun
    ("济南2024年税收占比是多少？", "那前一年的呢？", "济南2023年税收占比是多少？"),
    ("济南2024年一般公共预算收入目标是多少？", "换成市中区呢？", "市中区2024年一般公共预算收入目标是多少？"),
    ("济南2025年一般公共预算收入预期增长多少？", "那2024年定的目标是多少？", "济南2024年一般公共预算收入目标是多少？"),
    ("济南2023年技术合同成交额是多少？", "这个在全省排第几？", "济南2023年技术合同成交额排第几？"),
    # a part of the last indicator, asked more of: the whole of it again
    ("历城2023年规上服务业企业营收是多少？", "2024年营收增速目标呢？", "历城2024年规上服务业企业营收增速目标？"),
    # a count of its own thing, as a result: not the last question's plan verb again
    ("济南2024年要新建多少家智能工厂？", "那2023年实际建成了多少家智能工厂？", "济南2023年实际建成了多少家智能工厂？"),
    # an ask of its own, after a date: not the last question's way of asking
    ("2024年济南市政协全会是哪天开幕的？", "人代会呢？", "济南市2024年人代会是哪天开幕的？"),
    # a new indicator asked the last way, but not in the last one's unit
    ("济南2025年5G基站要达到多少个？", "智能算力规模呢", "济南2025年智能算力规模达到多少？"),
])
def test_follow_ups_keep_the_shape_of_the_last_question(analyzer, earlier, follow_up, standalone):
    assert resolve(follow_up, [earlier], analyzer) == standalone


def test_a_question_of_its_own_may_also_be_about_the_last_indicator(analyzer):
    from rag.conversation import about_last

    earlier = ["济南市2023年财政民生支出是多少？"]
    first = resolve("占比多少？", earlier, analyzer)
    assert first == "济南市2023年占比多少？"
    assert about_last("占比多少？", first, earlier, analyzer) == "济南市2023年财政民生支出占比多少？"
    # a follow-up with its own place, or with no history, has only one reading
    assert about_last("市中区呢？", resolve("市中区呢？", earlier, analyzer), earlier, analyzer) == ""
    assert about_last("占比多少？", "占比多少？", [], analyzer) == ""
    # one that names a subject of its own is not glued to the last indicator
    own = "全国首个主粮作物基因编辑安全证书是谁拿的？"
    assert about_last(own, resolve(own, earlier, analyzer), earlier, analyzer) == ""


def test_a_follow_up_without_place_or_year_stays_in_the_quoted_passage(analyzer):
    from rag.conversation import context_of
    from rag.models import Citation

    cites = [Citation(1, "a.txt", "A", "", "…", quote="财政民生支出1093.6亿元，占比达到80.1%", chunk="a-3"),
             Citation(2, "b.txt", "B", "", "…", chunk="b-1")]
    last = Answer("济南市2023年财政民生支出是多少？", "1093.6亿元[1]", True, cites)
    assert context_of("占比多少？", [last], analyzer) == {"a-3"}
    assert context_of("那市中区呢？", [last], analyzer) == set()  # a place of its own: elsewhere
    assert context_of("2024年呢？", [last], analyzer) == set()
    assert context_of("占比多少？", [Answer("x", "没有", False, cites)], analyzer) == set()  # a decline holds nothing


def test_a_word_jieba_tags_as_a_place_is_not_one_when_the_corpus_uses_it():
    from rag.question import Question

    q = Question("", "", places=["惠及", "北京", "历城区"], loose_places=["惠及", "北京"], unknown_places=["北京"])
    assert q.firm_places == ["北京", "历城区"]


def test_a_list_continued_at_a_new_ordinal(analyzer):
    assert resolve("第二份呢？", ["政协委员带来的第一份提案是什么？"], analyzer) == "政协委员带来的第二份提案是什么？"


def test_a_position_asked_after_a_list_is_an_item_of_it(analyzer):
    from rag.conversation import item_asked
    assert item_asked("第三个是什么？", ["济南外贸新三样指的是哪三样？"], analyzer) == 3
    assert item_asked("第12个呢？", ["济南有哪些重点项目？"], analyzer) == 12
    assert item_asked("第二份呢？", ["钟倩带来的第一份提案是什么？"], analyzer) == 0  # it asked for one item itself
    assert item_asked("还有呢？", ["济南外贸新三样指的是哪三样？"], analyzer) == 0
    assert item_asked("最后一个呢？", ["济南2025年要加快建设哪些商业项目？"], analyzer) == -1  # the last


@pytest.fixture(scope="module")
def corpus_analyzer():
    """An analyzer that knows which words a (tiny) corpus uses: verbs like 定了 or 产了 are the asker's own."""
    known = {"起步区", "固定资产", "投资", "增长", "目标", "粮食", "总产量", "历城区", "2023", "2024", "多少", "实际",
             "全市", "总量", "一般公共预算收入", "占", "比", "财政", "民生", "支出", "是", "的", "年", "惠及", "群众",
             "基础设施", "项目"}
    return Analyzer(ChineseTokenizer(), lambda w: 1.0 if w in known else 9.0,
                    places=["历城区", "市中区", "起步区", "济南市"])


@pytest.mark.parametrize("earlier, follow_up, standalone", [
    # no word of its own that the corpus uses: a follow-up, though it has a year and no 那/呢
    ("起步区2023年固定资产投资增长多少？", "2024年目标定了多少", "起步区2024年固定资产投资目标定了多少？"),
    ("历城区2024年粮食总产量目标是多少？", "去年实际产了多少", "历城区2023年粮食总产量实际产了多少？"),
    # 全市 as the subject is the city; as a scope (在全市排第几) it is not
    ("历城区2023年一般公共预算收入是多少？", "那全市呢？", "济南2023年一般公共预算收入是多少？"),
    ("起步区2024年固定资产投资目标增长多少？", "跟全市比呢？", "济南2024年固定资产投资目标增长多少？"),
    ("全市2024年固定资产投资目标增长多少？", "那起步区呢？", "起步区2024年固定资产投资目标增长多少？"),
    ("历城区2023年一般公共预算收入是多少？", "总量在全市排第几？", "历城区2023年总量在全市排第几？"),
    ("起步区2023年固定资产投资增长多少？", "全市排第几", "起步区2023年固定资产投资排第几？"),
    # 今年 is the year of the report the conversation is in: after a result, the year whose target it gives
    ("起步区2023年固定资产投资实际增长多少？", "今年目标呢", "起步区2024年固定资产投资目标是多少？"),
    ("起步区2024年固定资产投资目标是多少？", "今年一般公共预算收入目标呢", "起步区2024年一般公共预算收入目标是多少？"),
    ("起步区固定资产投资实际增长多少？", "今年目标呢", "起步区今年固定资产投资目标是多少？"),  # no year so far: kept
    # a target asked after a result: not the result's ask again; 定的多少 asks what was set, a target
    ("历城区2023年一般公共预算收入实际增长多少？", "市中区定的多少", "市中区2023年一般公共预算收入目标是多少？"),
    ("历城区2023年一般公共预算收入实际增长多少？", "固定资产投资目标呢", "历城区2023年固定资产投资目标是多少？"),
    # 要求, like 目标, is the kind of figure asked, not an indicator
    ("进出口增幅要求达到啥水平？", "2025年的要求呢", "2025年进出口增幅要求达到啥水平？"),
    # its own verb, counting nothing: the last question's thing, without that question's ask and unit
    ("2025年济南要更新改造多少公里老化燃气管道？", "2024年改了多少？", "济南2024年更新改造老化燃气管道改了多少？"),
    ("济南2025年计划人工造林多少亩？", "2024年实际造了多少？", "济南2024年人工造林实际造了多少？"),
    ("历城区2023年完成了多少平方米老旧小区改造？", "市中区那年改造了多少？", "市中区2023年完成老旧小区改造改造了多少？"),
    ("济南2024年完成多少个村卫生室改造提升？", "那2025年要改造多少个？", "济南2025年完成村卫生室改造提升要改造多少个？"),
    ("起步区2023年新增城镇就业多少人？", "历城区同一年呢？", "历城区2023年新增城镇就业多少人？"),
    # a new indicator asked of new ones, as the last one was
    ("济南2024年医疗保险参保人数新增了多少？", "企业养老保险呢？", "济南2024年企业养老保险新增了多少？"),
    # a first clause that brings the place or year (换成起步区呢，…), and 另外， that turns to a new question
    ("历城区2024年打算新建几处公园游园？", "换成起步区呢，今年计划建几个公园？", "起步区2024年计划建几个公园?"),
    ("起步区2023年固定资产投资增长多少？", "另外，历城区2024年粮食总产量目标是多少？", "历城区2024年粮食总产量目标是多少？"),
    # 打算 (like 计划) asks for a plan; it is no indicator of its own
    ("历城区2023年规上工业增加值增长多少？", "那2024年打算增长多少", "历城区2024年规上工业增加值打算增长多少？"),
    # a year of its own replaces one the last question named from now (去年), not joins it
    ("济南去年新增城镇就业多少人？", "2025年呢？", "济南2025年新增城镇就业多少人？"),
    # a rise or fall asked is asked of the new indicator too (通行速度 is no level: 通行速度提升5%)
    ("济南交通拥堵指数降了多少？", "通行速度呢？", "济南通行速度降了多少？"),
])
def test_follow_ups_in_everyday_words(corpus_analyzer, earlier, follow_up, standalone):
    assert resolve(follow_up, [earlier], corpus_analyzer) == standalone


def test_a_colloquial_position_continues_the_list(analyzer):
    from rag.conversation import continues_list

    assert continues_list("第三个是啥", analyzer)
    assert resolve("第三个是啥", ["历城区2024年房屋征收计划表里第二个项目是什么？"], analyzer) == \
        "历城区2024年房屋征收计划表里第三个项目是什么？"


def test_a_follow_up_asks_of_the_quoted_sentence_only_when_it_holds_its_words(corpus_analyzer):
    from rag.conversation import quoted_for
    from rag.models import Citation

    said = "开工老旧小区改造项目69个，惠及群众11.8万户"
    last = Answer("济南2024年开工老旧小区改造项目多少个？", "69个[1]", True,
                  citations=[Citation(1, "a.txt", "A", "", "…", quote=said, chunk="a-3")])
    assert quoted_for("最后惠及了多少户群众？", [last], corpus_analyzer) == {said}
    assert quoted_for("基础设施项目呢？", [last], corpus_analyzer) == set()  # names what the sentence does not
    assert quoted_for("历城区呢？", [last], corpus_analyzer) == set()  # a place of its own: not the same passage
    # its words as the sentence's words: 税收 is not said by 财税收入
    taxes = Answer("历城区2023年一般公共预算收入完成了多少？", "140.12亿元[1]", True, citations=[
        Citation(1, "a.txt", "A", "", "…", quote="财税收入超出预期，完成一般公共预算收入140.12亿元", chunk="a-1")])
    knows_taxes = Analyzer(ChineseTokenizer(), lambda w: 1.0 if w in {"税收", "收入", "财税"} else 9.0)
    assert quoted_for("税收占比呢？", [taxes], knows_taxes) == set()


def test_a_turn_that_stood_on_its_own_starts_the_topic(analyzer):
    first = Answer("2025年济南农村三变改革覆盖目标是多少？", "80%左右[1]", True)
    own = Answer("历城区确定了几个试点村？", "18个[1]", True)  # searched as asked: a new topic
    assert resolve("具体有哪些村？", [first, own], analyzer) == "历城区确定了哪些试点村？"  # not 2025 from before it
    # as plain strings the turns cannot tell: the older year still fills in
    assert "2025年" in resolve("具体有哪些村？", [first.question, own.question], analyzer)


def test_a_list_continued_again_knows_everything_said_of_it():
    from rag.conversation import said_before
    from rag.models import Answer, Citation

    sentence = "加快甲医药、乙制药等项目建设，推进丙平台建设，支持丁药谷等创新发展。"
    asked = "某区要加快哪些项目建设？"
    first = Answer(asked, "加快甲医药、乙制药等项目建设[1]", True, [Citation(1, "a.txt", "", "", "", quote=sentence)])
    rest = sentence[sentence.index("推进"):]
    more = Answer("还有呢？", "推进丙平台建设[1]", True, [Citation(1, "a.txt", "", "", "", quote=rest)], standalone=asked)
    said = said_before([first, more])  # 再往下呢？: neither the first answer nor the second again
    assert "甲医药" in said[sentence] and "丙平台" in said[sentence]
    other = Answer("某区有哪些公园？", "公园甲[1]", True, [Citation(1, "a.txt", "", "", "", quote="公园甲。")])
    assert set(said_before([other, first])) == {sentence}  # only the answers to the same question


def test_which_ones_of_a_count_and_a_length_counted(analyzer):
    # 具体是哪些？ after a count asks which of the things counted
    assert resolve("具体是哪些？", ["历城区2024年要加快推进几个输变电工程？"], analyzer) == "历城区2024年要加快推进哪些输变电工程？"
    # 建了多少公里？ names a unit, no thing: the last question's thing
    assert "四好农村路" in resolve("历城区2023年建了多少公里？", ["济南2025年新改建“四好农村路”多少？"], analyzer)


def test_a_lead_clause_may_end_with_a_question_mark():
    from rag.conversation import lead_clause

    assert lead_clause("历城区呢？2023年总量有多少？") == ("历城区2023年总量有多少?", True)  # normalized
    assert lead_clause("换成起步区呢，今年计划建几个公园？") == ("起步区今年计划建几个公园?", True)


def test_a_year_said_from_now_is_a_year_to_swap(analyzer):
    # 去年呢？ names a year, not an indicator: the last question again, of that year.
    assert resolve("去年呢？", ["济南保障性租赁住房要筹多少？"], analyzer) == "去年济南保障性租赁住房要筹多少？"
    # 今年 replaces the 去年 the last question said, rather than standing beside it.
    assert resolve("今年呢？", ["济南去年支路街巷整治了多少条？"], analyzer) == "济南今年支路街巷整治了多少条？"
    assert "去年" not in resolve("今年目标呢", ["历城区去年老百姓收入涨了多少？"], analyzer)


def test_a_place_swapped_in_may_drop_a_year_its_documents_never_name(analyzer):
    from rag.conversation import without_inherited_year

    earlier = ["2025年济南要开发多少个城乡公益性岗位？"]
    standalone = resolve("那历城区呢？", earlier, analyzer)
    assert "2025年" in standalone
    years = {"历城区": {"2023", "2024"}, "市中区": {"2024", "2025"}}
    assert (without_inherited_year("那历城区呢？", analyzer(standalone), analyzer, years.get)
            == "历城区要开发多少个城乡公益性岗位？")
    # the place's documents name the year, or the follow-up names its own: the year stays
    for follow_up in ("市中区呢？", "历城区2024年呢？"):
        assert without_inherited_year(follow_up, analyzer(resolve(follow_up, earlier, analyzer)), analyzer,
                                      years.get) == ""


def test_na_ge_points_back_and_is_no_part_of_the_indicator(analyzer):
    # 那个基因编辑安全证书… is a follow-up about 基因编辑安全证书, not about 个基因编辑安全证书
    standalone = resolve("那个基因编辑安全证书是谁拿的？", ["济南2024年有几个种业品种进了国家农业主导品种？"], analyzer)
    assert "个个" not in standalone and "基因编辑安全证书" in standalone


def test_pointer_words_lean_on_the_conversation_and_name_nothing(analyzer):
    # 这个指标 stands for the last indicator, though the question names its own year
    assert (resolve("2024年这个指标打算增长多少", ["历城区2023年服务业增加值是多少？"], analyzer)
            == "历城区2024年服务业增加值打算增长多少？")
    # 那边 after a place is the place: no indicator of its own
    assert "那边" not in resolve("起步区那边呢？", [FIRST], analyzer)
    assert resolve("起步区那边呢？", [FIRST], analyzer).startswith("起步区2024年地区生产总值")


def test_a_bare_verb_with_its_own_year_asks_of_the_last_things(analyzer):
    # 要建的是哪两个？ names what it does, not what: which of the same things, in its own year
    assert (resolve("2024年要建的是哪两个", ["历城区2023年建成了哪两个省级和美乡村示范村？"], analyzer)
            == "历城区2024年要建的是哪两个省级和美乡村示范村？")
    # 新建 is a verb (jieba's dictionary calls it a place name): the last question's farmland, new
    assert "高标准农田" in resolve("起步区2024年新建多少？", ["历城区2024年要抓好多少万亩高标准农田建设运行管护？"], analyzer)
    # a noun is a thing of its own
    assert resolve("起步区2024年人口多少？", ["历城区2024年要抓好多少万亩高标准农田建设运行管护？"], analyzer) == "起步区2024年人口多少？"


def test_the_next_row_of_a_numbered_table_the_last_answer_quoted():
    from rag.conversation import position_after
    from rag.models import Citation

    row = "项目序号：3；项目名称：宋刘城市更新项目；规划用地性质：居住"
    last = Answer("表里宋刘城市更新项目的规划用地性质是什么？", "居住[1]", True,
                  [Citation(1, "a.txt", "t", "计划表", row + "\n", quote=row)])
    assert position_after("表里下一个项目是哪个？", [last]) == 4
    assert position_after("上一个呢？", [last]) == 2
    assert position_after("还有呢？", [last]) == 0  # no row asked
    assert position_after("下一个呢？", [Answer("q", "a[1]", True, [Citation(1, "a.txt", "t", "s", "正文。", quote="正文。")])]) == 0


@pytest.mark.parametrize("history, follow_up, standalone", [
    # the year said from now stays a said year: each document counts it from its own year
    (["济南今年新建改扩建中小学幼儿园多少所？"], "去年呢？", "济南去年新建改扩建中小学幼儿园多少所？"),
    (["历城去年实际利用外资多少？"], "今年外资目标呢", "历城今年外资目标是多少？"),  # its own year, not both
    (["济南支路街巷整治了多少条？"], "今年呢？", "今年济南支路街巷整治了多少条？"),  # kept with no year so far
    (["历城去年给多少户困难老人家做了适老化改造？"], "24年打算再改多少户？", "历城2024年给困难老人家做适老化改造打算再改多少户？"),
])
def test_a_year_said_from_now_is_kept_and_never_said_twice(analyzer, history, follow_up, standalone):
    q = full_years(follow_up, analyzer.places, lambda y: True)
    assert resolve(q, history, analyzer) == standalone


def test_a_thing_is_named_whole_when_its_ask_is_swapped(analyzer):
    # 是/有/了 are ask words only where they ask: 拥有量 and 有效 keep their 有
    last = "济南2024年全市万人有效发明专利拥有量是多少？"
    assert resolve("增长了多少？", [last], analyzer) == "济南2024年全市万人有效发明专利拥有量增长了多少？"
