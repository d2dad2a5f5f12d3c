"""The one reading of a question: years, places, answer type, qualifiers and the corpus's view of its words."""
import pytest

from rag.bm25 import ChineseTokenizer
from rag.question import Analyzer, counts, expected_unit, full_years, has_amount, question_type, without_figures

CORPUS = {"历城区", "地区", "生产", "总值", "生产总值", "2024", "2023", "增长", "目标", "人均", "收入", "济南"}


@pytest.fixture(scope="module")
def analyzer():
    # A corpus that knows only CORPUS's words: every other word has the IDF of a word no passage holds.
    idf = lambda t: 1.0 if t in CORPUS else 9.0  # noqa: E731
    return Analyzer(ChineseTokenizer(), idf=idf, places=["历城区", "济南市"])


def test_years_places_and_type(analyzer):
    q = analyzer("历城2024年GDP增长目标是多少？")
    assert q.years == ["2024"] and q.place == "历城区" and q.qtype == "number"
    assert q.wants_target and not q.wants_result and "地区生产总值" in q.search
    assert not q.unknown_places and not q.unknown_years


def test_a_place_and_a_year_the_corpus_never_mentions(analyzer):
    q = analyzer("深圳2019年地区生产总值是多少？")
    assert q.unknown_places == ["深圳"] and q.unknown_years == ["2019"] and q.loose_places == ["深圳"]


def test_a_district_outside_the_titles_must_be_named_by_the_answer_itself(analyzer):
    q = analyzer("章丘区2024年地区生产总值增长多少？")
    assert q.places == ["章丘"] and q.local_places == ["章丘"] and not q.loose_places
    # Named without its suffix, jieba's dictionary calls it a person's name; a year after the subject makes it a place.
    for question in ("章丘去年社零总额多少亿？", "那章丘2024年呢？"):
        assert analyzer(question).local_places == ["章丘"], question
    assert analyzer("钟倩带来了什么提案？").places == []  # a person's name, no year after it
    # jieba tags 新建 a place (a county's name); after 打算 it is the verb of what is planned
    assert analyzer("济南2025年打算新建改造多少个便民生活圈？").places == ["济南"]


def test_a_district_named_without_its_suffix_is_searched_by_its_full_name(analyzer):
    q = analyzer("历城2024年地区生产总值增长目标是多少？")
    assert q.place == "历城区" and q.search.startswith("历城区2024年") and q.text.startswith("历城2024年")
    assert analyzer("济南2024年地区生产总值增长多少？").search.startswith("济南2024年")  # a city's name is its own
    # only a stem the question names as a place: 行政权 is no 行政(区)
    titled = Analyzer(ChineseTokenizer(), places=["行政区", "历城区"])
    assert titled("行政权名义上属于谁？").search == "行政权名义上属于谁？"


def test_a_district_the_corpus_names_in_passing_is_still_a_place():
    # 钢城区 in a passage (与钢城区结对) makes the word known; its rare stem still marks it a district's name,
    # while a zone named with a common word (示范区, 高新区) is no place.
    words = CORPUS | {"钢城区", "示范区", "高新区"}
    known = Analyzer(ChineseTokenizer(), idf=lambda t: 1.0 if t in words else 9.0, places=["历城区", "济南市"])
    q = known("钢城区2023年地区生产总值是多少？")
    assert q.places == ["钢城区"] and q.local_places == ["钢城区"]
    assert known("示范区2023年地区生产总值是多少？").places == []
    assert known("高新区2023年地区生产总值是多少？").places == []


def test_qualifiers_and_words_the_corpus_never_uses(analyzer):
    q = analyzer("济南2024年人均收入打算增长多少？")
    assert q.qualifiers == ["人均"] and "打算" in q.unseen and "人均" in q.topic
    assert analyzer("起步区农村居民人均可支配收入是多少？").qualifiers == ["农村", "人均"]
    assert analyzer("济南2024年开工多少个城镇老旧小区改造项目？").qualifiers == []  # 城镇 qualifies 居民 only
    # A question word the corpus does not use is not the asker's own wording of the topic.
    unseen = analyzer("哪位领导提出历城区2024年地区生产总值增长目标？").unseen
    assert "领导" in unseen and "哪位" not in unseen
    assert "几条" not in analyzer("2025年计划开几条？").unseen  # it asks how many; jieba keeps it one word
    # An everyday word the reports spell otherwise is translated, not unseen (钱袋子 is 居民人均可支配收入).
    assert not {"钱袋", "钱袋子", "袋子"} & set(analyzer("历城区老百姓的钱袋子涨了多少？").unseen)
    assert analyzer("历城区生产总值是啥？").parts.indicator == "生产总值"  # 啥 asks, like 什么


def test_a_figure_with_yu_counts_in_its_unit():
    assert has_amount("元", "争取资金1100余万元") and has_amount("家", "吸引500余家企业参展")
    assert not has_amount("家", "增长500%")


def test_quan_shi_as_the_subject_is_the_corpus_city(analyzer):
    assert analyzer("全市2024年地区生产总值增长目标是多少？").place == "济南市"
    assert analyzer("历城区地区生产总值在全市排第几？").place == "历城区"
    assert analyzer("完成征迁的那个全市最大的城中村是哪个？").place == ""  # a scope, not the subject


@pytest.mark.parametrize("question, qtype", [
    ("起步区为什么要建设大桥？", "why"), ("有哪些重点项目？", "list"), ("是否完成了目标？", "yesno"),
    ("新增就业多少人？", "number"), ("2024年是什么年？", "entity"), ("为啥要把经费压减20%？", "why"),
    ("进出口增幅要求达到啥水平？", "entity"), ("进出口增幅是多少？", "number"),  # what, not how much
])
def test_question_types(question, qtype):
    assert question_type(question) == qtype


def test_which_two_starts_the_ask(analyzer):
    assert analyzer("2023年建成了哪两个省级和美乡村示范村？").parts.ask.startswith("哪两个")


def test_a_standard_abbreviation_is_spelled_out(analyzer):
    assert "人民代表大会" in analyzer("2025年的人代会是哪天开的？").search


def test_a_question_after_a_date_or_a_time(analyzer):
    assert analyzer("2024年政协全会是哪天开幕的？").asks_when and analyzer("什么时候完工？").asks_when
    assert not analyzer("2024年新增就业多少人？").asks_when


@pytest.mark.parametrize("question, unit", [
    ("开行多少列？", "列"), ("花了多少钱？", "元"), ("增速是多少", "%|百分点"), ("叫什么", ""),
    ("济南的人口是多少？", "人"), ("出口额是多少？", "元"), ("民生支出占总支出多少？", "%|百分点"),
    ("千人口托位数是多少？", ""),  # its head is 托位数, not 人口
    ("固定资产投资完成了多少亿？", "亿"), ("总投资多少个亿？", "亿"),  # an amount in 亿, whatever it counts
    ("黄河大道二期有多长？", "公里|千米|米|厘米"), ("多久能建成？", "年|个月|月|天|日|小时|分钟"),  # a length, a time
    ("税收占比有多高？", "%|百分点"),  # a share, however it is asked
    ("进出口总额涨了多少？", "%|百分点"), ("物价涨幅多少？", "%|百分点"),  # a rise, as 增长 asks it
])
def test_expected_unit(question, unit):
    assert expected_unit(question) == unit


def test_a_question_is_cut_into_place_year_indicator_and_ask(analyzer):
    p = analyzer("历城区2024年地区生产总值增长目标是多少？").parts
    assert (p.place, p.year, p.indicator) == ("历城区", "2024年", "地区生产总值") and p.ask.startswith("增长目标是多少")
    p = analyzer("济南市2024年计划开工新建改扩建多少所中小学？").parts
    assert p.indicator == "" and p.counted == "中小学"  # what a how-many question counts is its indicator
    p = analyzer("历城区2023年一般公共预算收入比全市平均水平高多少？").parts
    assert p.indicator == "一般公共预算收入" and p.ask.startswith("比")  # a comparison is part of the ask
    assert analyzer("财政民生支出占比多少？").parts.indicator == "财政民生支出占比"  # 占比 is not a comparison
    assert analyzer("济南比亚迪2024年新能源整车产量有多少？").parts.indicator == "比亚迪新能源整车产量"  # nor a name
    p = analyzer("那到2024年底实际建成多少家了？").parts  # 到…年底 says when: no 到底 left to name a thing
    assert (p.year, p.indicator) == ("2024年", "") and p.ask.startswith("实际建成")


def test_a_rank_is_the_answer_to_which_place():
    assert has_amount(expected_unit("总量在全市排第几？"), "总量排名全市第 3，同比增长11.1%")
    assert not has_amount(expected_unit("总量在全市排第几？"), "总量140亿元")
    assert has_amount(expected_unit("在全省排第几？"), "技术合同成交额达到806.53亿元，居全省首位")


def test_counts_finds_the_figure_next_to_the_noun_asked_about():
    assert counts("建设类项目", "个", "洪楼广场片区等 151 个建设类项目、")
    assert not counts("建设类项目", "个", "历城职专北校区等 64 个民生类项目、")
    assert counts("幼儿园", "所", "开工新建改扩建幼儿园32所、中小学28所")
    assert not counts("幼儿园", "所", "幼儿园保教质量持续提升，新建中小学28所")


@pytest.mark.parametrize("question, result", [
    ("2024年济南中欧班列全年开了多少列？", True),    # a verb with 了: what was done
    ("济南市2024年实际开通优化了多少条公交线路？", True),
    ("起步区为什么要建设黄河大桥？为了什么？", False),  # 为了 is a purpose, not a result
    ("济南2024年地区生产总值预期增长目标是多少？", False),
])
def test_a_verb_with_le_asks_for_a_result(question, result, analyzer):
    assert analyzer(question).wants_result is result


@pytest.mark.parametrize("question, target", [
    ("济南市2024年规模以上工业增加值要增长多少？", True),  # 要 on its own: what is planned
    ("历城区2024年打算让多少人在城镇实现新就业？", True),
    ("历城区2024年的主要任务有哪些？", False),  # 主要 is one word: no intention
    ("历城区2023年需要多少资金？", False),
])
def test_an_auxiliary_of_intention_asks_for_a_target(question, target, analyzer):
    assert analyzer(question).wants_target is target


def test_the_nearest_heading_with_a_year_says_which_year_a_passage_is_about(analyzer):
    from rag.models import Chunk
    from rag.rerank import rerank_bonus

    q = analyzer("2024年生产了多少辆整车？")
    looking_back = Chunk("a", "a.txt", "起步区2024年国民经济和社会发展计划", "一、2023年计划执行情况", "年生产整车超24万辆。")
    # The title's 2024 does not count for a passage under a 2023 heading; the heading's 2023 does.
    assert rerank_bonus(looking_back, "", analyzer("2023年生产了多少辆整车？"), 0.0) > rerank_bonus(looking_back, "", q, 0.0)


def test_figures_a_question_states_are_its_premise(analyzer):
    q = analyzer("2023年地区生产总值1327.8亿元的那个区，社零总额是多少？")
    assert q.figures == ["1327.8"]  # not the year
    assert analyzer("济南2025年5G基站和PM2.5浓度目标是多少？").figures == []  # names, not figures
    assert without_figures("地区生产总值增长5.5%左右，收入增长15.5%", ["5.5"]) == "地区生产总值增长%左右，收入增长15.5%"
    # a year the premise states is the premise's: the question asks about the other one
    q = analyzer("2024年济南公交填补线网空白80.7公里，那2023年填补了多少公里？")
    assert q.years == ["2024", "2023"] and q.asked_years == ["2023"]
    assert analyzer("济南2024年地区生产总值增长目标是多少？").asked_years == ["2024"]  # no premise: every year


def test_everyday_words_are_read_as_the_reports_terms(analyzer):
    q = analyzer("济南2024年经济总量是多少？")
    assert "地区生产总值" in q.search and "经济总量" in q.search
    assert "使用外资" in analyzer("实际利用外资多少？").search and "利用外资" in analyzer("实际使用外资多少？").search
    assert "高新技术企业" in analyzer("历城区2024年高企目标是多少？").search
    assert "研发经费投入" in analyzer("济南研发投入占GDP多少？").search


def test_a_years_nian_is_not_glued_to_the_word_after_it():
    tokens = ChineseTokenizer()
    assert "算力" in tokens("济南2025年算力规模要达到多少？") and "年算力" not in tokens("济南2025年算力规模要达到多少？")
    assert "年度计划" in tokens("2024年度计划投资多少")  # 年度 is a word: left to jieba
    assert "年底" in tokens("截至2023年底")


def test_how_the_asker_turns_to_a_question_is_not_part_of_it(analyzer):
    q = analyzer("对了，历城区2023年新增了多少市场主体？")
    assert q.parts.place == "历城区" and q.parts.indicator.startswith("新增") and not any("对了" in t for t in q.topic)
    assert analyzer("你好").text == "你好"  # nothing else to ask: kept, and declined as chit-chat


def test_a_pronoun_stands_for_the_last_indicator_but_其中_is_no_pronoun(analyzer):
    assert analyzer("它的目标是多少？").parts.indicator == "" and analyzer("这个在全省排第几？").parts.content == ""
    assert analyzer("其中小麦产量是多少？").parts.indicator == "其中小麦产量"


def test_two_digit_years_are_written_out_but_spans_of_years_are_not():
    assert full_years("那22年历城GDP是多少亿") == "那2022年历城GDP是多少亿"
    assert full_years("24年开了多少列，24年底呢") == "2024年开了多少列，2024年底呢"
    assert full_years("历城区24年GDP多少") == "历城区2024年GDP多少"
    assert full_years("今年（2025年）的报告呢？") == "2025年的报告呢？"  # a year said both ways: the one it names
    assert full_years("济南24年GDP多少", ["济南市"]) == "济南2024年GDP多少"
    for span in ("泉水连续喷涌21年了吗", "近10年来", "第3年", "过去10年", "1.5年", "10年后", "2024年",
                 "民国29年，三门县是怎么成立的？", "明治29年台湾总督府补助哪儿的商船？"):  # eras' years stay
        assert full_years(span) == span
    # after a noun, a year the corpus is about (a corpus of 2024 reports), not another: an era's stays
    own = {"2024"}.__contains__
    assert full_years("环联夜市商业街24年拿了什么称号？", [], own) == "环联夜市商业街2024年拿了什么称号？"
    assert full_years("天正16年松平康重做了什么？", [], own) == "天正16年松平康重做了什么？"


def test_a_year_the_corpus_is_about():
    idf = {"2024": 0.3, "2016": 3.6}.get
    a = Analyzer(ChineseTokenizer(), idf=lambda t: idf(t, 9.0))
    assert a.is_own_year("2024") and not a.is_own_year("2016") and not a.is_own_year("2030")
    assert not Analyzer(ChineseTokenizer()).is_own_year("2024")  # without corpus statistics: none


def test_what_was_set_is_a_target_but_what_a_year_was_named_is_not(analyzer):
    assert analyzer("市中区定的多少？").wants_target and analyzer("增长目标定了几个百分点").wants_target
    assert not analyzer("市中区把2024年定为什么年？").wants_target


def test_how_big_is_not_glued_to_the_noun_it_asks():
    # jieba cuts 多大规模 as 多 + 大规模; 规模 is what is asked, 大规模 (a rarer word) would outweigh the rest.
    known = Analyzer(ChineseTokenizer(), idf=lambda t: 1.0 if t in {"投资", "规模", "大规模", "项目"} else 9.0)
    topic = known("产业项目计划投资多大规模？").topic
    assert "规模" in topic and "大规模" not in topic


def test_things_pointed_at_are_no_count_asked(analyzer):
    # 这几个…总投资多少？ asks an amount of the things the conversation named, not how many of them
    q = analyzer("这几个输变电工程总投资多少？")
    assert q.unit == "元" and q.parts.points_back and q.parts.counted == ""
    assert analyzer("这150个项目总投资多少？").figures == ["150"]  # the figure it states stays its premise
    assert analyzer("历城区有几个输变电工程？").unit == "个"


def test_no_place_inside_a_quoted_name_and_no_verb_for_a_place(analyzer):
    # “工赋泉城” is an action's name and 新建 a verb jieba's dictionary tags as a place
    assert analyzer("2025年济南“工赋泉城”行动计划新建几家工业互联网园区？").places == ["济南"]
    assert analyzer("北京“泉城购”办了几场？").places == ["北京"]  # outside the quotes a place stays one


def test_a_year_said_from_now_means_a_year_of_each_document(analyzer):
    last = analyzer("济南去年新建了多少所幼儿园？")
    assert last.said_offset == -1 and last.wants_result and not last.wants_target and not last.years
    # a report's 今年 is the year it plans: 去年 in the 2025 report is 2024, in a feature on the 2024 sessions 2023
    assert last.years_in("政府工作报告（2025年1月13日）") == ["2024"]
    assert last.years_in("聚焦2024济南两会") == ["2023"]
    assert last.years_in("市中区：活力品质强区") == []  # a title that names no year
    assert "去年" not in last.topic  # a year, not a word the answer must say
    this = analyzer("济南今年要建多少所幼儿园？")
    assert this.said_offset == 0 and this.wants_target
    named = analyzer("济南2024年建了多少所幼儿园？")
    assert named.said_offset is None and named.years_in("聚焦2024济南两会") == ["2024"]
    assert analyzer("比去年增长多少？").said_offset is None  # 比去年 compares, it does not ask of that year
