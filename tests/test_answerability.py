"""The decline decision: reasons from the question alone, the gates, and the fitted model's file."""
from rag.answerability import (FEATURES, Answerability, bound_coverage, joint_agreement, level_agreement,
                               load_weights, loose_place_agreement, model_for, qualifier_agreement, question_reason,
                               reason_for, rivals, scope_agreement, year_agreement)
from rag.bm25 import ChineseTokenizer
from rag.question import Question


def test_reasons_from_the_question_alone():
    assert "北京" in question_reason(Question("北京GDP", "北京GDP", unknown_places=["北京"], evidence={"gdp": 1.0}))
    assert "2019年" in question_reason(Question("2019年GDP", "2019年GDP", unknown_years=["2019"], evidence={"gdp": 1.0}))
    assert question_reason(Question("你好", "你好", evidence={"你好": 0.0}))  # no word the corpus uses
    assert question_reason(Question("GDP", "GDP", evidence={"gdp": 1.0})) == ""


def test_a_failed_gate_declines_whatever_the_score():
    model = {"weights": {"coverage": 100.0}, "bias": 0.0, "gates": ["place"], "threshold": 0.0}
    judge = Answerability(model).judge
    q = Question("章丘区GDP", "章丘区GDP", places=["章丘区"])
    assert judge(q, {"coverage": 1.0, "place": 1.0}).ok
    verdict = judge(q, {"coverage": 1.0, "place": 0.0})
    assert not verdict.ok and "章丘区" in verdict.reason


def test_year_agreement():
    assert year_agreement("2024", "某区2024年计划", "", "地区生产总值增长6%", "") == 1.0
    assert year_agreement("2024", "某区2024年两会", "", "去年完成投资100亿元", "") == 0.0
    assert year_agreement("2024", "某区2025年政府工作报告", "", "完成投资100亿元", "") == 0.5
    assert year_agreement("2022", "某区2024年计划", "", "完成投资100亿元", "") == 0.0
    # a report of 2024 gives 2023's figures as done (预计完成…) and 2024's as planned
    assert year_agreement("2024", "聚焦2024某市两会", "", "预计完成进出口总额2189亿元", "") == 0.0
    assert year_agreement("2024", "聚焦2024某市两会", "", "进出口总额力争完成2300亿元", "") == 1.0
    assert year_agreement("2024", "聚焦2024某市两会", "", "引进首店102家，预计全年社零增长6.5%左右", "") == 0.0
    assert year_agreement("2024", "聚焦2024某市两会", "", "预计完成进出口总额2189亿元", "", wants="target") == 1.0
    # a report titled with two years (2023年执行情况与2024年计划) looks back at the first, not the year before it
    assert year_agreement("2022", "某区2023年执行情况与2024年计划", "", "完成投资100亿元", "") == 0.0
    assert year_agreement("2023", "某区2023年执行情况与2024年计划", "", "完成投资100亿元", "") == 1.0
    # A figure reported: a 2024 plan's look back at 2023 does not report 2024 (2000个项目 names no year).
    look_back = ("某区2024年计划", "一、2023年计划执行情况", "全年生产整车24万辆", "")
    assert year_agreement("2024", *look_back) == 1.0 and year_agreement("2024", *look_back, wants="result") == 0.0
    assert year_agreement("2024", "某区2024年计划", "抓好2000个项目", "生产整车24万辆", "", wants="result") == 1.0
    # A sentence that dates its figure to another year is not about the year asked, whatever its heading says;
    # a year it compares with (较2020年) or counts from (2020年以来) dates nothing.
    water = ("某区2024年计划", "一、2023年计划执行情况")
    assert year_agreement("2023", *water, "2022年万元GDP用水量较2020年下降38.9%", "") == 0.0
    assert year_agreement("2023", *water, "万元GDP用水量较2020年下降38.9%", "") == 1.0
    assert year_agreement("2023", *water, "2020年以来万元GDP用水量下降38.9%", "") == 1.0


def test_a_sub_population_asked_is_a_qualifier_that_城乡_covers():
    q = Question("起步区农村居民人均可支配收入是多少", "x", qualifiers=["农村", "人均"])
    assert qualifier_agreement(q, "居民人均可支配收入；2023年实际：27093") == 0.0  # all residents: not 农村
    assert qualifier_agreement(q, "农村居民人均可支配收入增长7.3%") == 1.0
    assert qualifier_agreement(q, "城乡居民人均可支配收入分别增长5.5%左右和6.5%以上") == 1.0
    assert "农村" in reason_for(q, {"qualifier": 0.0})


def test_a_joint_total_does_not_give_one_of_its_two_figures():
    cut = ChineseTokenizer().words
    knows = {"进口", "出口", "存款", "贷款", "亿元"}.__contains__
    q = Question("历城区2023年出口额是多少亿元", "x", qtype="number", evidence={"出口": 2.9, "出口额": 3.0})
    joint = "全区全年实现外贸进出口总额170.5亿元"
    assert joint_agreement(q, joint, cut(joint), knows) == 0.0
    own = "全年出口额80亿元，进出口总额170.5亿元"  # said on its own too
    assert joint_agreement(q, own, cut(own), knows) == 1.0
    both = "存贷款余额分别达到3.1万亿元、3.3万亿元"
    loans = Question("贷款余额是多少", "x", qtype="number", evidence={"贷款": 2.0})
    assert joint_agreement(loans, both, cut(both), knows) == 1.0  # 分别: each given
    assert joint_agreement(loans, "存贷款余额6.4万亿元", cut("存贷款余额6.4万亿元"), knows) == 0.0
    asked_joint = Question("进出口额是多少", "进出口额是多少", qtype="number", evidence={"出口": 2.9})
    assert joint_agreement(asked_joint, joint, cut(joint), knows) == 1.0
    grain = Question("历城区2024年粮食产量目标是多少？", "x", qtype="number", evidence={"粮食": 2.8, "产量": 2.9})
    total = "粮食总产量5.7万吨"  # 总 makes a total of one thing, though 总量 is a word
    assert joint_agreement(grain, total, cut(total), {"总量", "产量"}.__contains__) == 1.0


def test_a_rival_is_a_better_matched_candidate_that_fails_an_agreement():
    # the city's 居民消费价格 (place fails) covers the question; the district's 居民收入 covers a fifth of it
    found = [{"coverage": 0.96, "place": 0.0}, {"coverage": 0.2, "place": 1.0}, {"coverage": 0.5, "year": 1.0}]
    rivals(found)
    assert [round(f["rival"], 2) for f in found] == [0.0, 0.76, 0.46]
    alone = [{"coverage": 0.2, "place": 1.0}, {"coverage": 0.5}]
    rivals(alone)
    assert [f["rival"] for f in alone] == [0.0, 0.0]  # nothing failed: no rival
    assert load_weights()["full"]["weights"]["rival"] < 0  # the fit counts a rival against a candidate


def test_a_result_asked_is_not_answered_from_a_list_of_targets_nor_a_target_from_results():
    from rag.answerability import plan_agreement
    result = Question("济南2024年固投增长了多少", "x", years=["2024"], wants_result=True)
    assert plan_agreement(result, "2024 年主要预期目标", "固定资产投资增长 5%左右") == 0.0
    assert plan_agreement(result, "一、2024年工作回顾", "固定资产投资增长 3.3%") == 1.0
    target = Question("济南2024年固投目标是多少", "x", years=["2024"], wants_target=True)
    assert plan_agreement(target, "2024 年主要预期目标", "固定资产投资增长 5%左右") == 1.0
    # nor by what that year did (a look back at 2024), unless the sentence gives a plan
    assert plan_agreement(target, "一、2024年工作回顾", "开工新建改扩建中小学幼儿园 60 所") == 0.0
    assert plan_agreement(target, "一、2024年工作回顾", "年初计划实施项目1000个，实际实施1075个") == 1.0
    # nor by a figure its clause gives as a target, in any section
    done = Question("某区2024年新增城镇就业实际完成多少", "x", qtype="number", years=["2024"], wants_result=True)
    said = "深入落实促进就业政策，确保完成1.72万人城镇新增就业目标"
    assert plan_agreement(done, "3. 民生保障", said, said) == 0.0
    assert plan_agreement(done, "3. 民生保障", "全年城镇新增就业2.1万人", "全年城镇新增就业2.1万人") == 1.0


def test_a_count_that_looks_like_a_year_is_still_a_count():
    from rag.answerability import answer_type
    parks = Question("起步区2024年计划建几个公园？", "x", qtype="number", unit="个", years=["2024"])
    assert answer_type(parks, "新建公园2处，") == 1.0  # 个 counts anything: 2处 answers 几个
    assert answer_type(parks, "新建绿道15公里，") == 0.0
    deeds = Question("市中区2023年完成了几项民生实事？", "x", qtype="number", unit="项", years=["2023"])
    assert answer_type(deeds, "20件民生实事全部兑现。") == 1.0  # 项, like 个, counts anything
    q = Question("济南2025年计划建多少张家庭养老床位？", "x", qtype="number", unit="张", years=["2025"])
    assert answer_type(q, "建成家庭养老床位 2000 张，") == 1.0  # 2000 张 counts beds; no year
    assert answer_type(q, "2024年建设家庭养老床位，") == 0.0  # a year, not a count
    assert answer_type(Question("入围多少家？", "x", qtype="number", unit="家"), "入围 2024 中国500强") == 0.0


def test_a_which_ones_question_that_states_how_many_wants_them_named():
    from rag.answerability import answer_type
    q = Question("市中区2023年兑现的20件民生实事具体是哪些？", "x", qtype="list", figures=["20"])
    assert answer_type(q, "20件民生实事全部兑现") == 0.0
    assert answer_type(q, "新建幼儿园3所、改造老旧小区12个等20件民生实事全部兑现") == 1.0
    # counts listed together name no item: 这12个百亿项目分别是哪些？
    twelve = Question("这12个百亿项目分别是哪些？", "x", qtype="list", figures=["12"])
    assert answer_type(twelve, "全年实施投资过百亿元项目 12 个、过十亿元项目 183 个") == 0.0
    plain = Question("AGG01的实际功效有哪些？", "x", qtype="list", figures=["01"])  # no count stated
    assert answer_type(plain, "它能改善睡眠，缓解疲劳") == 1.0


def test_a_class_in_roman_numerals_is_a_figure():
    from rag.answerability import answer_type
    from rag.textutil import normalize
    q = Question("大寺河水质到几类了？", "x", qtype="number")
    assert answer_type(q, normalize("大寺河达到Ⅲ类水标准")) == 1.0 and answer_type(q, "大寺河达到III类水标准") == 1.0
    assert answer_type(q, "大寺河水质持续改善") == 0.0


def test_a_when_question_wants_a_date_or_a_time():
    from rag.answerability import answer_type
    q = Question("济南黄河国际会展中心首展是哪天办的？", "x", asks_when=True)
    assert answer_type(q, "首展成功举办，吸引500余家企业参展，近4万人次到场参观") == 0.0  # figures, no date
    assert answer_type(q, "首展于2023年9月20日成功举办") == 1.0
    assert answer_type(q, "乡里组织在唐末开始瓦解") == 1.0  # an era is a time too
    opened = Question("2024年济南市政协全会是哪天开幕的？", "x", asks_when=True, years=["2024"])
    assert answer_type(opened, "2024年市政协全会隆重开幕") == 0.0  # the year it names itself is no answer
    assert answer_type(opened, "1月9日，2024年市政协全会开幕") == 1.0


def test_a_question_that_states_a_total_asks_for_a_part_the_passage_must_name():
    from rag.answerability import ask_agreement
    from rag.question import premise_and_ask
    text = "济南2024年粮食总产量306万吨左右，其中小麦产量是多少？"
    assert premise_and_ask(text, ["306"]) == ("济南2024年粮食总产量306万吨左右，", "其中小麦产量是多少？")
    assert premise_and_ask("济南2024年粮食总产量是多少？", []) == ("", "济南2024年粮食总产量是多少？")
    q = Question(text, "x", qtype="number", figures=["306"], evidence={"粮食": 2.0, "总产量": 2.5, "小麦": 3.0, "产量": 1.5})
    assert ask_agreement(q, "全市粮食总产量预计306万吨左右") == 0.0  # the premise again
    assert ask_agreement(q, "小麦产量达到150万吨") == 1.0
    plain = Question("济南2024年小麦产量是多少？", "x", qtype="number", evidence={"小麦": 3.0, "产量": 1.5})
    assert ask_agreement(plain, "全市粮食总产量预计306万吨左右") == 1.0  # no premise: other signals judge it


def test_the_fitted_file_names_its_features_and_its_provenance():
    fitted = load_weights()
    assert "dev.jsonl" in fitted["fitted_on"]
    for name in ("full", "lexical"):
        m = fitted[name]
        assert set(m["weights"]) <= set(FEATURES) and 0 < m["threshold"] < 1
    assert "dense" not in fitted["lexical"]["weights"]  # another model's cosines are on another scale
    assert model_for("some/other-model") is fitted["lexical"] and model_for(fitted["embed_model"]) is fitted["full"]


def test_a_generic_reason_when_no_agreement_fails():
    assert reason_for(Question("某区投资", "x"), {"place": 1.0, "year": 1.0}).startswith("知识库中没有找到")


def test_a_question_without_chinese_is_asked_to_be_put_in_chinese():
    q = Question("What is the GDP growth target?", "x", unseen=["growth"], evidence={"gdp": 1.0})
    assert "中文" in reason_for(q, {"unseen": 1.0}, {"unseen": 0.4})
    assert "中文" in question_reason(Question("hello there", "x", evidence={"hello": 0.0}))


def test_a_question_that_names_only_a_place_or_a_year_asks_for_what_to_look_up():
    from rag.question import Analyzer

    analyzer = Analyzer(ChineseTokenizer(), places=["历城区", "市中区"])
    assert "要查" in question_reason(analyzer("那市中区呢？"))  # no conversation before it
    assert "上文" in question_reason(analyzer("还有呢？"))
    assert question_reason(analyzer("市中区有哪些项目？")) == ""
    assert question_reason(analyzer("那2025年的目标呢？")) == ""  # the year's targets


def test_a_question_mostly_of_words_the_documents_never_use_is_declined_with_them():
    model = {"weights": {"coverage": 100.0}, "bias": 0.0, "gates": [], "ceilings": {"unseen": 0.5}, "threshold": 0.0}
    judge = Answerability(model).judge
    q = Question("今天天气怎么样", "今天天气怎么样", unseen=["今天", "今天天气", "怎么样"])
    assert judge(q, {"coverage": 1.0, "unseen": 0.5}).ok
    verdict = judge(q, {"coverage": 1.0, "unseen": 0.75})
    assert not verdict.ok and "今天天气" in verdict.reason


def calibration_case(feature: str, values: list[float]):
    """A dev case of four candidates whose `feature` takes `values`; the last one is wrong."""
    import numpy as np

    from eval.calibrate import Case

    rows = np.zeros((4, len(FEATURES)))
    rows[:, FEATURES.index(feature)] = values
    return Case("seeds", True, False, rows, np.array([1.0, 1.0, 1.0, 0.0]), False)


def test_calibration_sets_a_ceiling_above_every_right_dev_answer():
    from eval.calibrate import ceiling

    assert ceiling([calibration_case("unseen", [0.0, 0.2, 0.4, 0.9])], "unseen") == 0.4  # the wrong 0.9 does not count


def test_calibration_sets_a_floor_below_every_right_dev_answer():
    from eval.calibrate import floor

    assert floor([calibration_case("coverage", [0.9, 0.6, 0.3, 0.05])], "coverage") == 0.3  # nor the wrong 0.05
    model = {"weights": {"coverage": 100.0}, "bias": 0.0, "gates": [], "floors": {"coverage": 0.3}, "threshold": 0.0}
    assert not Answerability(model).judge(Question("x", "x"), {"coverage": 0.2}).ok


def test_a_districts_figure_does_not_answer_for_the_city():
    q = Question("济南市2024年外资多少", "济南市2024年外资多少", place="济南市", places=["济南市"])
    assert scope_agreement(q, "历城区", "历城区实际使用外资3亿美元") == 0.0
    assert scope_agreement(q, "历城区", "济南先进动力研究所落户历城区") == 1.0  # the sentence names the city
    assert scope_agreement(q, "济南市", "实际使用外资3亿美元") == 1.0
    district = Question("历城区外资多少", "历城区外资多少", place="历城区", places=["历城区"])
    assert scope_agreement(district, "历城区", "实际使用外资3亿美元") == 1.0
    assert "济南市全市" in reason_for(q, {"scope": 0.0})


def test_a_figure_is_bound_to_the_words_of_its_own_clause():
    q = Question("济南经济总量是多少亿元", "x", qtype="number", unit="元", evidence={"地区生产总值": 2.0, "总量": 1.0})
    other = "新开工项目109个，完成一般公共预算收入1060.8亿元，地区生产总值增长6%"
    assert bound_coverage(q, other, other) == 0.0  # the 亿元 figure counts 一般公共预算收入
    bare = "全市地区生产总值总量，达到1.3万亿元"
    assert bound_coverage(q, bare, bare) == 1.0  # a bare figure: the clause before names it
    own = "全市地区生产总值总量达到1.3万亿元，增长6%左右"
    assert bound_coverage(q, own, own) == 1.0
    assert bound_coverage(Question("为什么", "x", qtype="why", evidence={"原因": 1.0}), other, other) == 1.0


def test_a_place_mentioned_in_passing_in_a_districts_report_is_not_its_subject():
    q = Question("北京服务业增加值增长目标", "x", places=["北京"], loose_places=["北京"])
    report = "历城区2024年主要目标：服务业增加值增长6.3%。……学习北京经验。"
    assert loose_place_agreement(q, "服务业增加值增长6.3%", report, doc_place="历城区") == 0.0
    assert loose_place_agreement(q, "服务业增加值增长6.3%", report) == 0.5  # an article about no place
    assert loose_place_agreement(q, "北京服务业增加值增长6.3%", report, doc_place="历城区") == 1.0


def test_a_level_asked_is_not_answered_by_a_change():
    q = Question("济南的人口是多少？", "x", qtype="number", unit="人")
    assert level_agreement(q, "泉水直饮工程新增覆盖人口35万人", "泉水直饮工程新增覆盖人口35万人") == 0.0
    assert level_agreement(q, "全市常住人口950万人", "全市常住人口950万人") == 1.0
    firms = Question("规上工业企业一共有多少家？", "x", qtype="number", unit="家")
    assert level_agreement(firms, "净增规模以上工业企业6家", "净增规模以上工业企业6家") == 0.0  # a net increase
    assert "总量" in reason_for(Question("济南的人口是多少？", "x", evidence={"人口": 3.0}), {"level": 0.0})
    growth = Question("新增城镇就业多少人？", "x", qtype="number", unit="人")
    assert level_agreement(growth, "新增城镇就业15万人", "新增城镇就业15万人") == 1.0  # a change asked
    target = Question("济南2024年GDP目标是多少？", "x", qtype="number", wants_target=True)
    assert level_agreement(target, "地区生产总值增长6%", "地区生产总值增长6%") == 1.0  # targets are mostly growth
    built = Question("历城区5G基站建了多少？", "x", qtype="number", evidence={"5g": 2.0, "基站": 3.0})
    assert level_agreement(built, "新建5G基站1134个", "新建5G基站1134个") == 1.0  # the change's verb asked
    done = Question("历城区2023年开发了多少个城乡公益性岗位？", "x", qtype="number", evidence={"岗位": 3.0})
    assert level_agreement(done, "新增开发城乡公益性岗位2790个", "新增开发城乡公益性岗位2790个") == 1.0  # what the year did
    reached = Question("高技术产业投资完成了多少亿元？", "x", qtype="number", evidence={"投资": 3.0})
    assert level_agreement(reached, "高技术产业投资增长12%", "高技术产业投资增长12%") == 0.0  # 完成 reaches a level
    flood = Question("排涝多少年一遇？", "x", qtype="number")
    assert level_agreement(flood, "排涝标准提高到50年一遇", "排涝标准提高到50年一遇") == 1.0  # the level reached
    share = Question("2023年占比是多少？", "x", qtype="number", unit="%|百分点", evidence={"占比": 1.0})
    assert level_agreement(share, "起步区生产总值113.2亿元，同比增长37.8%", "x") == 0.0  # 占比 is no comparison
    # the clause that gives the figure for the question's words, not the first with a figure
    tax = Question("历城区税收占比多少？", "x", qtype="number", unit="%|百分点", evidence={"税收": 3.0, "占比": 1.0})
    assert level_agreement(tax, "同比增长9.33%，税收占比达82.29%", "x") == 1.0
    # 增加值 names a level; the clause that names the indicator gives its growth rate, whatever has 亿元 beside it
    value = Question("历城区2023年金融业增加值有多少亿元？", "x", qtype="number", unit="元",
                     evidence={"金融业": 3.0, "增加值": 2.0, "亿元": 1.0})
    span = "金融业增加值增长7.9%，发放纾困贷款6.57亿元"
    assert level_agreement(value, span, span) == 0.0
    assert level_agreement(value, "实现金融业增加值110.8亿元，同比增长6%", "x") == 1.0
    share = Question("数字经济核心产业增加值占比要达到多少？", "x", qtype="number", unit="%|百分点",
                     evidence={"增加值": 2.0, "占比": 1.0})
    assert level_agreement(share, "数字经济核心产业增加值占比达到20%", "x") == 1.0


def test_a_how_much_question_without_a_unit_wants_a_figure_not_an_item_number_or_a_name():
    from rag.answerability import answer_type
    q = Question("黄河大道二期有多长？", "x", qtype="number")
    assert answer_type(q, "7.推动黄河大道二期") == 0.0  # an item's number and a phase's name
    assert answer_type(q, "加快黄河体育中心一场两馆建设，惠及百姓") == 0.0
    assert answer_type(q, "黄河大道二期全长12公里") == 1.0
    assert answer_type(q, "被拥立时年仅两岁") == 1.0 and answer_type(q, "主要分为三类") == 1.0
    assert answer_type(q, "第二届文化节举办") == 0.0  # an ordinal counts nothing
