"""The extractive answerer on hand-made passages: which span it picks and when it declines."""
import pytest

from rag.answerability import Answerability, load_weights
from rag.answerer import ExtractiveAnswerer
from rag.bm25 import ChineseTokenizer
from rag.models import Chunk, ScoredChunk
from rag.question import Analyzer
from rag.rerank import sentence_coverage


def hit(text, title="某区2024年工作报告", section="", source="a.txt"):
    return ScoredChunk(Chunk(id=text[:8], source=source, title=title, section=section, text=text), 1.0)


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer(ChineseTokenizer(), places=["某区"])


@pytest.fixture(scope="module")
def answerer(analyzer):
    # Threshold 0: only the gates (place, year, qualifier, plan/result) decline, so these tests check the
    # spans and the gates, not the fitted weights (which need corpus IDF and real similarities).
    return ExtractiveAnswerer(analyzer, answerability=Answerability(load_weights()["lexical"], threshold=0.0))


def test_answers_a_figure_with_its_marker(answerer):
    a = answerer.answer("某区2024年新增城镇就业多少人？", [hit("2024年，某区新增城镇就业1.2万人，城镇调查失业率5%。")])
    assert a.found and "1.2万人" in a.answer and a.answer.endswith("[1]")


def test_a_per_head_question_is_not_answered_with_a_total(answerer):
    total = hit("2024年某区地区生产总值达到500亿元，增长6%。")
    assert not answerer.answer("某区2024年人均地区生产总值是多少元？", [total]).found
    per_head = hit("2024年某区人均地区生产总值达到8万元。")
    assert answerer.answer("某区2024年人均地区生产总值是多少元？", [per_head]).found


def test_last_year_in_a_report_of_the_year_asked_gives_way_to_the_next_passage(answerer):
    looking_back = hit("去年，某区开通公交线路67条。", title="聚焦某区2024年两会")
    this_year = hit("2024年，某区开通公交线路54条。", title="某区2025年政府工作报告")
    a = answerer.answer("某区2024年开通了多少条公交线路？", [looking_back, this_year])
    assert a.found and "54" in a.answer
    # the passage it answers from is cited first, the one passed over after it
    assert a.answer.endswith("[1]") and "54条" in a.citations[0].text and a.citations[0].quote
    assert [c.n for c in a.citations] == [1, 2] and "67条" in a.citations[1].text and not a.citations[1].quote


def test_a_plan_question_is_not_answered_from_another_years_results(answerer):
    done = hit("为15个项目发行专项债券29.75亿元。", section="一、2023年计划执行情况 > 3. 项目建设")
    assert not answerer.answer("某区2024年计划发行多少专项债券？", [done]).found


def test_which_county_names_no_place(answerer):
    a = answerer.answer("2024年哪个县获评全国县域商业“领跑县”？", [hit("2024年，商河县获评全国县域商业“领跑县”。")])
    assert a.found and "商河县" in a.answer


def test_sentence_coverage_rewards_words_said_together():
    weights = {"公交": 1.0, "线路": 1.0, "开通": 1.0}
    together = "今年开通公交线路54条。其他工作。"
    scattered = "开通地铁。公交优先。线路规划。"
    assert sentence_coverage(weights, together) == 1.0
    assert sentence_coverage(weights, scattered) == pytest.approx(1 / 3)


def test_a_table_row_answers_with_its_name_and_the_cell_asked_for(answerer):
    row = hit("指标名称：床位数；计算单位：张；2023年实际：1.34；2023年增长（%）：-；2024年计划：2.82\n"
              "指标名称：医师数；计算单位：人；2023年实际：2.03；2023年增长（%）：-；2024年计划：2.15\n")
    a = answerer.answer("某区2024年计划床位数是多少？", [row])
    assert a.found and "床位数" in a.answer and "2024年计划：2.82" in a.answer and "2.15" not in a.answer
    assert "2023年实际：1.34" in answerer.answer("某区2023年实际床位数是多少", [row]).answer
    # The plan's title says 计划 of every row; the column named 计划 is the one asked, not the growth beside it.
    plan = hit("指标名称：参保人数；计算单位：万人；2023年实际：16.19；2024年计划：16.5；2024年增长（%）：2\n",
               title="某区2024年国民经济和社会发展计划")
    assert "16.5" in answerer.answer("某区2024年参保人数计划多少？", [plan]).answer


@pytest.mark.parametrize("question, places", [
    ("章丘区2024年粮食总产量是多少？", ["章丘"]),  # unknown to the corpus, split from its suffix
    ("青岛市2024年GDP增长目标", ["青岛市"]),
    ("某区2024年计划让多少人在城镇新就业？", ["某区"]),  # 在城镇 ends in 镇 but names no place
    ("2024年哪个县获评“领跑县”？", []),
])
def test_places_a_question_names(analyzer, question, places):
    assert analyzer.question_places(question)[0] == places


def test_a_figure_question_is_not_cut_before_its_figure(answerer):
    lead_in = hit("2025年全区经济社会发展的主要预期目标是：\n地区生产总值增长6%左右，一般公共预算收入增长5%。")
    a = answerer.answer("某区2025年的主要预期目标是多少？", [lead_in])
    assert a.found and "6%" in a.answer


def test_the_decline_says_which_place_is_missing(answerer):
    a = answerer.answer("章丘区2024年粮食总产量是多少？", [hit("2024年全市粮食总产量306万吨。", title="某市2024年工作报告")])
    assert not a.found and "章丘" in a.answer


def test_a_list_continued_says_what_comes_next(answerer, analyzer):
    passage = hit("他带来了两份提案，第一份是关于无障碍设施的建议。第二份是关于居家养老服务的建议。此外还有其他工作。")
    q = analyzer("他带来的第一份提案是什么？")
    first = answerer.answer(q, [passage])
    assert first.found and "无障碍" in first.answer
    again = analyzer("他带来的第一份提案是什么？")
    again.said = {c.quote: first.answer for c in first.citations if c.quote}
    assert "居家养老" in answerer.answer(again, [passage]).answer


def test_a_list_continued_goes_on_in_the_sentence_it_stopped_in(answerer, analyzer):
    passage = hit("2024年，加快推进空天产业基地等216个产业类项目、洪楼广场片区等151个建设类项目、"
                  "历城职专北校区等64个民生类项目。着力优化投资结构，实施技改项目70个以上。")
    sentence = passage.chunk.text.split("。")[0] + "。"
    again = analyzer("某区2024年要加快推进多少个建设类项目？")
    again.said = {sentence: "加快推进空天产业基地等216个产业类项目、洪楼广场片区等151个建设类项目[1]"}
    more = answerer.answer(again, [passage]).answer
    assert "民生类项目" in more and "151" not in more and "技改" not in more
    again.said = {sentence: sentence}  # the whole sentence given: the next one
    assert "技改" in answerer.answer(again, [passage]).answer


def test_a_figure_the_question_states_is_not_its_answer(answerer):
    goals = hit("2025年某区经济社会发展主要预期目标是：地区生产总值增长5.5%左右；一般公共预算收入增长3%左右；"
                "规模以上工业增加值增长6.5%左右；城镇新增就业1万人以上。")
    a = answerer.answer("地区生产总值增长5.5%左右的那份报告里，一般公共预算收入打算增长多少？", [goals])
    assert a.found and "3%左右" in a.answer


def test_fenbie_keeps_every_figure_it_pairs(answerer):
    text = ("2025年某区金融业增加值增长5%左右，社会融资规模保持合理增长，本外币存贷款余额分别达到3.1万亿元、3.3万亿元，"
            "直接融资规模进一步扩大，金融服务实体经济能力持续增强。")
    a = answerer.answer("某区2025年贷款余额目标是多少？", [hit(text)])
    assert a.found and "3.1万亿元、3.3万亿元" in a.answer


def test_a_figures_noun_phrase_is_not_cut_at_an_enumeration_comma(answerer):
    text = ("2023年某区深化农村改革，启动农村“三变”改革试点工作，确定甲家村、乙家村、丙家村等18个市、区级试点村，"
            "盘活闲置农房和集体建设用地，发展壮大村级集体经济，带动农民增收致富，乡村振兴取得新成效。")
    a = answerer.answer("某区确定了多少个三变改革试点村？", [hit(text)])
    assert a.found and "18个市、区级试点村" in a.answer, a.answer


def test_a_list_question_gets_the_items_its_sentence_opens(answerer):
    head = "某区2025年经济社会发展主要预期目标是：地区生产总值增长5.5%左右；"
    rest = "一般公共预算收入增长3%左右；城镇新增就业1万人以上。"
    a = answerer.answer("某区2025年的主要预期目标有哪些？", [hit(head + rest)])
    assert a.found and "5.5%左右" in a.answer and "3%左右" in a.answer and "1万人以上" in a.answer, a.answer
    # the passage found first ends inside the list; the next one, which overlaps it, goes on with it
    a = answerer.answer("某区2025年的主要预期目标有哪些？", [hit("前言。" + head), hit(head + rest)])
    assert "1万人以上" in a.answer, a.answer
    lead = hit("某区的发展还存在一些挑战和不足，需要加力解决。主要是稳增长压力仍然较大，部分行业增长不快。")
    assert "稳增长压力" in answerer.answer("某区发展存在哪些挑战和不足？", [lead]).answer


def test_a_list_given_whole_goes_on_after_its_first_run_of_items(answerer, analyzer):
    passage = hit("2024年，某区推动甲路穿黄隧道、乙路穿黄隧道、丙大桥建设，推进丁路穿黄隧道、戊桥启动建设。另有己桥建成。")
    q = analyzer("某区2024年要推动建设哪些穿黄隧道？")
    first = answerer.answer(q, [passage])
    assert "甲路穿黄隧道" in first.answer and "戊桥" in first.answer, first.answer  # the sentence, whole
    again = analyzer("某区2024年要推动建设哪些穿黄隧道？")
    again.said = {c.quote: first.answer for c in first.citations if c.quote}
    more = answerer.answer(again, [passage]).answer  # 还有呢？: the run people read as the answer is 甲 … 丙
    assert "丁路穿黄隧道" in more and "甲路" not in more, more
    again.said = {c.quote: first.answer + more for c in first.citations if c.quote}
    assert "丁路" not in answerer.answer(again, [passage]).answer  # and once only


def test_a_figure_is_answered_with_its_subject_before_it(answerer):
    # 同比增长11.2%，工业投资 covers the words as well, but 11.2% is the figure of the subject before it
    passage = hit("高标准完成工业企业“亩产效益”评价改革，实现规上工业增加值 110.8 亿元，同比增长 11.2%，"
                  "工业投资、高技术产业投资分别同比增长 21.3%、56.7%。")
    a = answerer.answer("某区2023年工业投资增长多少？", [passage])
    assert "21.3%" in a.answer and "11.2%" not in a.answer, a.answer


def test_any_answer_given_whole_goes_on_after_its_first_run(answerer, analyzer):
    # not a list question (啥新花样？), but 还有呢？ after it still asks for what follows the run read as the answer
    passage = hit("某区创新招商模式，创新建筑、民生等领域的场景开放，开展飞地招商，开展投行化招商、资本招商。另有其他工作。")
    q = analyzer("某区招商模式上有啥新花样？")
    first = answerer.answer(q, [passage])
    assert "投行化招商" in first.answer, first.answer
    again = analyzer("某区招商模式上有啥新花样？")
    again.said = {c.quote: first.answer for c in first.citations if c.quote}
    more = answerer.answer(again, [passage]).answer
    assert "投行化招商" in more and "创新建筑" not in more, more


def test_a_sentence_is_cited_once_per_document_but_again_from_another(answerer):
    said = "某区2024年地区生产总值增长6%左右，一般公共预算收入增长4%。"
    overlap = [hit("前言。" + said, source="a.txt"), hit(said + "后记。", source="a.txt")]
    assert answerer.answer("某区2024年地区生产总值增长多少？", overlap).answer.count("[") == 1
    elsewhere = [hit(said, source="a.txt"), hit(said, source="b.txt")]
    assert "[1][2]" in answerer.answer("某区2024年地区生产总值增长多少？", elsewhere).answer


def test_what_the_document_is_about_does_not_pick_the_sentence(answerer):
    # Every sentence of an article about 黄鳍紫鱼 is about it, named or not: 为食 tells the answer apart.
    article = hit("黄鳍紫鱼，又称黄鳍姬鲷，为鲈形目笛鲷科的其中一个种，体长可达五十公分。"
                  "栖息在珊瑚礁区外缘的斜坡水域，以其他鱼类、甲壳类为食。", title="黄鳍紫鱼", section="")
    a = answerer.answer("黄鳍紫鱼主要以什么为食？", [article])
    assert a.found and "甲壳类为食" in a.answer


def test_a_city_question_is_not_answered_from_a_districts_report():
    analyzer = Analyzer(ChineseTokenizer(), places=["某区", "某市"])
    answerer = ExtractiveAnswerer(analyzer, answerability=Answerability(load_weights()["lexical"], threshold=0.0))
    district = hit("2024年实际使用外资3亿美元，增长10%。", title="某市某区2024年工作报告")
    city = hit("2024年某市外资工作会议召开，200家外资企业参加。", title="某市2024年工作报告")
    a = answerer.answer("某市2024年实际使用外资多少亿美元？", [district, city])
    assert not a.found and "某市全市" in a.answer
    assert answerer.answer("某区2024年实际使用外资多少亿美元？", [district]).found


def test_a_why_answer_that_opens_with_therefore_takes_the_reason_before_it(answerer):
    article = hit("猴面包树的果实营养丰富，钙含量比菠菜高，维生素C含量是橙子的三倍。因此它有时也被称为笨蛋水果。"
                  "猴面包树分布于非洲热带草原。", title="猴面包树")
    a = answerer.answer("为什么称猴面包树为笨蛋水果？", [article])
    assert a.found and "钙含量比菠菜高" in a.answer and "笨蛋水果" in a.answer


def test_a_why_answer_whose_sentence_gives_no_reason_takes_the_sentence_after_it(answerer):
    article = hit("这份提案我结合某市实际情况提出建议，无障碍不仅仅针对残疾人、老年人。现在是全龄无障碍时代，"
                  "某市要打造全国无障碍样板城市。进入老龄化社会，养老服务是重要的社会保障。", title="某市两会")
    a = answerer.answer("她为什么说无障碍不仅仅针对残疾人和老年人？", [article])
    assert a.found and "全龄无障碍时代" in a.answer and "养老服务" not in a.answer
    with_reason = hit("某区举办家居焕新消费季，为了提振消费信心。全年新增限上企业20家。", title="某区计划")
    b = answerer.answer("某区为什么举办家居焕新消费季？", [with_reason])
    assert b.found and "提振消费信心" in b.answer and "限上企业" not in b.answer  # its reason is its own


def test_the_nth_item_of_the_last_answers_list(answerer, analyzer):
    from rag.answerer import nth_item
    sentence = "扩大外贸“新三样”（电动载人汽车、锂电池、太阳能电池）出口，扩大重要设备进口规模。"
    assert nth_item(sentence, 3) == "太阳能电池" and nth_item(sentence, 1) == "电动载人汽车" and nth_item(sentence, 4) == ""
    assert nth_item("加快山姆会员店、银泰百货、京东超级体验店等项目建设", -1) == "京东超级体验店"  # the last
    assert nth_item("加快推进A项目、B项目和C项目建设", 3) == "C项目建设"
    # Of two runs, the one the question is about; items named as short clauses are items too.
    two = "甲工厂、乙载板、丙产业园等项目建成投产，丁公司、戊医药、己空间、庚信号等一批新项目签约落地"
    assert nth_item(two, 1, {"建成": 3.0, "投产": 3.0}) == "甲工厂"
    assert nth_item("2024年，某区要推动农业全面升级，农村全面进步，农民全面发展。", -1) == "农民全面发展"
    assert nth_item("加快建设轨道交通，持续推进城市更新，着力提升城市品质和居民生活水平。", 2) == ""  # no list
    q = analyzer("某市外贸新三样指的是哪三样？")
    q.said, q.ordinal = {sentence: "电动载人汽车、锂电池、太阳能电池[1]"}, 2
    a = answerer.answer(q, [hit("其他段落。"), hit(sentence)])
    assert a.found and a.answer == "锂电池[1]" and a.citations[0].quote == sentence


def test_a_compound_is_said_by_all_of_its_parts(answerer, analyzer):
    from rag.answerer import compound_parts, says
    topic = compound_parts({"国际": 1.5, "友好": 3.2, "城市": 1.0, "友好城市": 4.3})
    assert topic == {"友好城市": ["友好", "城市"]}
    assert says("友好城市", "国际友好（合作）城市增至92个", topic)  # 友好 and 城市, a word between them
    assert not says("友好城市", "国际友好交流不断深化", topic)  # one part is not the compound
    friends = hit("深化国家儿童友好城市建设，建成普惠托育机构300家。国际友好（合作）城市增至92个。")
    assert "92" in answerer.answer(analyzer("某市的国际友好城市增加到多少个了？"), [friends]).answer


def test_a_follow_up_in_the_last_answers_passage_asks_of_the_sentence_it_quoted(answerer, analyzer):
    passage = hit("去年，某区开通优化公交线路67条，填补线网空白92公里。为解决背街小巷出行问题，某区还开通了11条小巷公交线路。")
    q = analyzer("某区开了几条？")
    assert "67条" in answerer.answer(q, [passage]).answer
    q.quoted = {"为解决背街小巷出行问题，某区还开通了11条小巷公交线路。"}  # what the last answer quoted
    assert "11条" in answerer.answer(q, [passage]).answer


def test_a_year_the_premise_states_is_not_asked(answerer):
    passage = hit("去年，某区填补公交线网空白92公里。", title="某区2024年工作报告")
    a = answerer.answer("某区2024年填补线网空白80.7公里，2023年填补线网空白多少公里？", [passage])
    assert a.found and "92公里" in a.answer


def test_a_district_passage_gives_way_to_the_citys_own_when_the_city_is_asked():
    # 某市 is the city, 某区 a district in it: the district's figure is not the city's, the city's report after it is.
    city = Analyzer(ChineseTokenizer(), places=["某市", "某区"])
    answerer = ExtractiveAnswerer(city, answerability=Answerability(load_weights()["lexical"], threshold=0.0))
    district = hit("2024年农村居民人均可支配收入增长6.5%。", title="某区2024年计划")
    own = hit("2024年城乡居民人均可支配收入分别增长5.5%左右和6.5%以上。", title="某市2024年工作报告", source="b.txt")
    a = answerer.answer("某市2024年农村居民人均可支配收入预期增长多少？", [district, own])
    assert a.found and "6.5%以上" in a.answer and a.citations[0].source == "b.txt"
    assert not answerer.answer("某市2024年农村居民人均可支配收入预期增长多少？", [district]).found


def test_a_position_asked_of_a_numbered_table_is_its_row(answerer):
    table = hit("项目序号 | 项目名称 | 规划用地性质\n"
                "项目序号：1；项目名称：东片区改造项目；规划用地性质：居住\n"
                "项目序号：2；项目名称：西片区改造项目；规划用地性质：商业\n", section="房屋征收项目计划表")
    note = hit("备注：上述项目均为旧城区改建类房屋征收项目，市政项目另行确定房屋征收计划。", section="房屋征收项目计划表")
    a = answerer.answer("某区2024年房屋征收计划表里第二个项目是什么？", [note, table])
    assert a.found and "西片区改造项目" in a.answer and "东片区" not in a.answer
    # a position of something else (第一个是哪个片区？) is no row of a table numbering 项目
    assert "西片区" not in answerer.answer("某区2024年第二个是哪个片区？", [note, table]).answer
