"""Whether a candidate answer really answers the question: one calibrated score, and the reason when it does not.

Two kinds of decline:
- certain ones, from the question alone: it names a place or a year the corpus never mentions, or none of its
  words occur in the corpus ("知识库中没有关于北京的内容");
- the calibrated one: a logistic score over signals that carry over to new questions (IDF-weighted coverage of
  the question's topic words, dense similarity, agreement of year, place, qualifier and plan/result, the
  expected answer type, a joint total for one of its parts, a premise repeated for the part asked, a rival
  candidate that covers more but fails an agreement, the share of the question's words the corpus never uses).
  Its weights and threshold were fitted on dev only (the seeds' dev split and the CMRC trial's dev half:
  `python -m eval.calibrate`, written to answerability.json). An agreement that no more than 1% of right answers
  on dev lacked (place, loose place, scope, year, qualifier, plan/result, answer type, level, joint total,
  premise) is a gate: failing it declines.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .question import (COMPARE_WORD, DATED_RE, LAST_YEAR_RE, PER_UNIT, PLAN_SECTION, QUALIFIER_COVERS, RESULT_SECTION,
                       YEAR_RE, Question, has_amount, place_level, place_stem, without_figures)
from .textutil import CJK_RE, normalize, split_clauses

NOT_FOUND = "知识库中没有找到与该问题相关的内容。"
WEIGHTS_FILE = Path(__file__).with_name("answerability.json")
FEATURES = ("coverage", "coverage_all", "bound", "chars", "dense", "year", "place", "place_loose", "scope",
            "qualifier", "plan", "atype", "level", "joint", "ask", "rival", "unseen", "words", "rank", "number", "list", "why",
            "yesno")
EMBEDDING_FEATURES = ("dense",)  # a cosine: its scale belongs to the embedding model
# The agreements that make a well-matched candidate the wrong place's, year's or kind's figure.
AGREEMENTS = ("year", "place", "place_loose", "scope", "qualifier", "plan", "level", "joint", "ask")
UNIT_CELL_RE = re.compile(r"单位[：:]\s*([^；;\n]{1,6})")  # a table row's 计算单位：亿元
UNIT_COLUMN_RE = re.compile(r"[（(]([^（）()]{1,4})[）)][：:]")  # a column named 2023年增长（%）：
UNIT_ROW_RE = re.compile(r"^[^；;]*?[（(]([^（）()]{1,4})[）)][；;]")  # a row named 地区生产总值（亿元）；
NUMBER_CHARS = "0123456789一二两三四五六七八九十百千万亿"
# A figure: digits, or a Chinese numeral that counts something (十二个方面, 两岁), not one inside a word (百姓, 一般),
# an ordinal (第二届) or a name (二期, 一场两馆). A class in Roman numerals (Ⅲ类水, III类 once normalized) counts.
FIGURE_RE = re.compile(r"\d|(?<![A-Za-z])[IVXivx]{1,4}(?=类)|(?<![第一二两三四五六七八九十百千万亿])[一二两三四五六七八九十百千万亿]+\s*(?:多|余|几)?"
                       r"(?:[个项家条所座张名位次人元倍成年岁天月日周号类种级层米吨亩户部台套辆支只份篇本首头万亿]|公里|小时|分钟)")
# A number that marks an item of a list, not a figure: 7.推动黄河大道二期, （三）, 二是
ITEM_MARK_RE = re.compile(r"^\s*(?:\d{1,2}\s*[.．、](?!\d)|[（(][一二三四五六七八九十\d]{1,3}[)）]|[一二三四五六七八九十]{1,3}\s*[、是])")
ENUMERATION_RE = re.compile(r"、|和|及|与|；|;|等|一是|/")  # items named together
ROW_BREAK_RE = re.compile(r"[；;]")  # a table row's cells (normalized text has the half-width one)
GENERIC_COUNT = "个|处|所|家|项|座|条|件|台|套|批|只|部|张|间|类|种|支"  # what 个 may stand for
LOOSE_COUNTERS = ("个", "项", "件")  # counters of anything: 几项民生实事 is answered by 20件
# A year in a span: 2023年, or 2024 before a name (入围 2024 中国制造业民营企业500强), not 2000 张 (a count).
SPAN_YEAR_RE = re.compile(r"(?:20|19)\d{2}(?:\s*年|(?![\d.]|\s*(?:余|多)?(?:万|亿|千|百)?(?:%|[个所家项户辆名座条处件台套亩场批只部张间元吨人米])))")
# A date or a time: a figure in a time unit (1月9日, 18岁, 20世纪), an era (唐末, 上白垩纪早期, 四国征伐后), a season or a
# part of a day. CMRC's dev half: every gold answer of a when-question but one has one (高二的时候 has too).
DATE_RE = re.compile(r"[\d〇零一二两三四五六七八九十百千]\s*(?:年|月|日|号|世纪|时|点|岁)|世纪|年代|朝|时期|时代|时候|[早中晚初末]期|期间|"
                     r"年间|[之以][前后初末来]|[年月][初底末中]|[春夏秋冬季旬宵晨夜纪末后]|星期|周[一二三四五六日末]|今天|昨天|明天|"
                     r"当[天日时年]|同[年时]|元年|早上|上午|下午|晚上")
STATED_COUNT_RE = re.compile(r"\d+\s*[件个项家条类种所座批名位]")  # how many there are (20件民生实事)


@dataclass
class Verdict:
    """The decision on one candidate: its probability of answering, and why not when it does not."""

    p: float
    ok: bool
    reason: str = ""


NOT_CHINESE = "知识库里的文件是中文的，没有找到答案：请用中文提问。"


def question_reason(q: Question) -> str:
    """A decline that follows from the question alone ("" when the corpus may answer it)."""
    if q.parts is not None and not (q.parts.content or q.parts.indicator or q.parts.ask or q.wants_target
                                    or q.wants_result):  # 2025年的目标呢？ asks the year's targets
        if q.parts.place or q.parts.year:  # 那市中区呢？ with no conversation before it
            return "问题里只有地点或年份，没有说要查什么：请补上要查的指标或事项。"
        return "没有可以接着问的上文：请先完整地提一个问题。"  # 还有呢？ on its own
    if q.unknown_places:
        return f"知识库中没有关于{q.unknown_places[0]}的内容。"
    if q.unknown_years:
        return f"文件中没有{q.unknown_years[0]}年的数据。"
    if not any(w > 0 for w in q.evidence.values()):
        return NOT_FOUND if CJK_RE.search(q.text) else NOT_CHINESE  # none of its words occurs in the documents
    return ""


# A figure a report gives as done (预计完成, 全年实现, 完成) and not as planned (目标, 力争, 确保 …).
LOOKED_BACK_RE = re.compile(r"预计(?:全年)?(?:完成|实现|达到)|预计全年|全年(?:完成|实现)|完成|实现")
PLANNED_RE = re.compile(r"目标|力争|计划|确保|争取|将|要|预期")


# The year a sentence gives its figure for: not a year it compares with (较2020年) or counts from (2020年以来).
OWN_DATE_RE = re.compile(r"(?<![较比与从自至到—-])(20\d{2})\s*年(?!以来|起|至|到|—|-|前|底前)")


def year_agreement(year: str, title: str, section: str, sentence: str, passage: str, wants: str = "") -> float:
    """1 when the sentence, its heading or the document's title names the year; 0.5 when only the passage does,
    or the title is the next year's (a report that looks back); 0 for a report of the year asked whose sentence
    says 去年, or when nothing names the year. `wants` "result": a heading that names another year says which
    year the passage reports, not the title (a 2024 report's "2023年…执行情况"); "target": the next year's
    report plans the next year, not the year asked."""
    if OWN_DATE_RE.search(normalize(sentence)) and year not in normalize(sentence):
        return 0.0  # the sentence dates its figure, to another year (2022年万元GDP用水量较2020年下降38.9%)
    if year in normalize(section + sentence):
        return 1.0
    if wants == "result" and DATED_RE.search(normalize(section)):
        return 0.5 if year in passage else 0.0
    title_years = set(YEAR_RE.findall(normalize(title)))
    if year in title_years:
        if str(int(year) - 1) not in title_years and LAST_YEAR_RE.search(sentence):
            return 0.0  # 去年 in a report of the year asked means the year before it
        if (wants != "target" and title_years == {year} and LOOKED_BACK_RE.search(sentence)
                and not PLANNED_RE.search(sentence)):
            return 0.0  # 预计完成进出口总额2189亿元 in a report of 2024 is 2023's figure: a year is reported after it ends
        return 1.0
    # A report of one year looks back at the year before; one titled with two (2023年执行情况与2024年计划)
    # names the year it looks back at.
    if year in passage or (title_years == {str(int(year) + 1)} and wants != "target"):
        return 0.5
    return 0.0


def place_agreement(q: Question, where: str, near: str) -> float:
    """0 when the question names a place the answer does not speak of: a district outside the corpus's titles
    must appear in the answer's own sentence or heading (a passage may mention it in passing); any other place
    in the passage, its title or section. Places known only by jieba's tag are weighed apart (loose_place)."""
    for p in q.places:
        if p in q.loose_places:
            continue
        stem = place_stem(p)
        if stem not in (near if p in q.local_places else where):
            return 0.0
    return 1.0


def scope_agreement(q: Question, doc_place: str, sentence: str) -> float:
    """0 when the question asks about a city (济南) and the answer comes from a district's document (历城区) whose
    sentence does not name the city: a district's figure is not the city's."""
    if place_level(q.place) == 1 and place_level(doc_place) == 2 and place_stem(q.place) not in sentence:
        return 0.0
    return 1.0


def loose_place_agreement(q: Question, where: str, document: str, doc_place: str = "") -> float:
    """For places known only by jieba's tag (北京, 非洲; it tags some common words so): 1 when the passage names
    them, 0.5 when only its document does, 0 when the document never does, or is about a place of its own
    (历城区's report that mentions 北京 once does not answer for 北京)."""
    score = 1.0
    for p in q.loose_places:
        score = min(score, 1.0 if p in where else 0.5 if p in document and not doc_place else 0.0)
    return score


def answer_type(q: Question, span: str, sentence: str = "") -> float:
    """Whether the span holds the kind of answer asked for: a how-many question wants a figure in the unit it
    names (亿元, 家), or any figure when it names none. A table cell's unit is its row's (计算单位：亿元, or the
    row's name 地区生产总值（亿元）) or its column's (2023年增长（%）). A which-ones question that states how many
    there are (20件民生实事是哪些) wants them named together (、 和 及 等 …): 20件民生实事全部兑现 names none.
    A when-question (哪天, 什么时候) wants a date or a time besides the year it names."""
    if q.qtype == "list" and STATED_COUNT_RE.search(q.text):
        return float(names_items(span, q.figures))
    if q.asks_when and not DATE_RE.search(without_figures(span, [f"{y}年" for y in q.years] + q.years)):
        return 0.0  # 首展是哪天办的？ is not answered by 吸引500余家企业参展 (nor by the year it names itself)
    if q.qtype != "number":
        return 1.0
    span = without_figures(SPAN_YEAR_RE.sub("", span), q.figures)  # nor a year, nor a figure the question states
    if q.unit:
        # 个 is the classifier of anything: 几个公园 is answered by 2处
        unit = GENERIC_COUNT if q.unit in LOOSE_COUNTERS else q.unit
        units = UNIT_CELL_RE.findall(sentence) + UNIT_COLUMN_RE.findall(span) + UNIT_ROW_RE.findall(sentence)
        return float(has_amount(unit, span) or any(has_amount(unit, span.rstrip("；;，, \n") + u) for u in units))
    return float(bool(FIGURE_RE.search(ITEM_MARK_RE.sub("", span))))


def names_items(span: str, figures: list[str]) -> bool:
    """Whether a span names the items of a count the question states (20件民生实事是哪些？): where it gives that
    count, items named together before it in its clause (新建幼儿园3所、改造老旧小区12个等20件民生实事); elsewhere, any
    items named together. 投资过百亿元项目12个、过十亿元项目183个 only counts them."""
    for clause in re.split(r"[，,。；;]", span):
        at = [m.start() for f in figures for m in re.finditer(rf"(?<![\d.]){re.escape(f)}(?![\d.])", clause)]
        if at:
            return bool(ENUMERATION_RE.search(clause[:min(at)]))
    return bool(ENUMERATION_RE.search(span))


def joint_agreement(q: Question, text: str, words: list[str], knows) -> float:
    """For a how-many question, 0 when the passage gives the indicator asked only inside a joint total: within one
    word (`words`: jieba's cut of `text`) the character before it makes a sibling word with its second (进出口:
    进口 beside 出口; 存贷款: 存款 beside 贷款), and the passage does not give the two 分别. The total of both is
    not the figure of one. `knows`: whether the corpus uses a word."""
    if q.qtype != "number" or "分别" in text or "".join(words) != text:
        return 1.0
    ask = q.premise[1]  # 进出口 in a premise does not ask it
    starts, at = set(), 0
    for w in words:
        starts.add(at)
        at += len(w)
    # The question's words, not the parts of a longer one the passage has (总值 of 生产总值); a unit's magnitude
    # (亿美元) makes no sibling.
    asked = [t for t in q.topic if len(t) >= 2 and not any(t != u and t in u and u in text for u in q.topic)]
    for t in asked:
        hits = [m.start() for m in re.finditer(re.escape(t), text)]
        # 总 makes a total of one thing (总产量), no sibling of it (总量)
        if hits and all(i - 1 in starts and i not in starts and text[i - 1] not in NUMBER_CHARS + "总"
                        and knows(text[i - 1] + t[1]) and text[i - 1:i + len(t)] not in ask for i in hits):
            return 0.0
    return 1.0


def ask_agreement(q: Question, context: str) -> float:
    """For a question that states a figure (…粮食总产量306万吨左右，其中小麦产量是多少？): 0 when the passage has none
    of the words only its asking clause says (小麦): it repeats the premise."""
    premise, ask = q.premise
    if not premise:
        return 1.0
    asked = [t for t in q.topic if t in ask and t not in premise and not any(ch.isdigit() for ch in t)]
    return float(not asked or any(t in context for t in asked))


def bound_coverage(q: Question, span: str, sentence: str) -> float:
    """For a how-many question: the (IDF-weighted) share of the question's topic words in the clause that holds
    the figure and the one before it, which name what the figure counts (新开工项目109个，完成一般公共预算收入10亿元
    counts no 地区生产总值); a table row's name counts as its cells' clause. Other questions: 1. (The clause before
    is read always: dev declined 0.837 with it, 0.816 when only a bare figure's.)"""
    topic = q.topic
    total = sum(topic.values())
    if q.qtype != "number" or not total:
        return 1.0
    clauses, at = figure_clauses(q, span, sentence)
    window = "".join(clauses[max(0, at - 1):at + 1])
    if UNIT_ROW_RE.match(sentence) or ROW_BREAK_RE.search(sentence[:40]):
        window += ROW_BREAK_RE.split(sentence, 1)[0]  # a table row's name
    return topic_weight(q, window) / total


# A change verb that reaches a level (提高到50年一遇, 增加至7家) gives the level, not the change.
CHANGE_RE = re.compile(r"(?:新增|净增|增加|增长|增幅|增速|提高|提升|减少|下降|降低|新开|新建|新引进|新签约|同比|比上年)(?![到至])")
# A question that asks a change in any words: 新就业, 涨了多少, 提到多少, 多了几个, 比全市高多少.
ASKS_CHANGE_RE = re.compile(r"新|增|涨|降|减|提高|提升|提到|多了|少了|同比|变化|幅度|" + COMPARE_WORD)


# A verb done (开发了多少个, 建了几所) asks what the year added, as a change verb does; not one that reaches a level.
DONE_RE = re.compile(r"(?<!达到)(?<!完成)(?<!累计)(?<=[\u4e00-\u9fff]{2})了(?:多少|几)")
VALUE_ADDED_RE = re.compile(r"增加值|增值税")  # names of levels that hold a change verb's character
GROWTH_RATE_RE = re.compile(r"(?:增长|增幅|增速|下降|提高|提升)(?:了)?\s*[\d.]+\s*%")


def level_agreement(q: Question, span: str, sentence: str) -> float:
    """0 when a how-many question asks a level (人口是多少) and the clause that gives the figure for the question's
    words gives a change (新增覆盖人口35万人, 增长6%); 1 otherwise: when the question asks a change, a target
    (targets are mostly growth: 地区生产总值增长6%), names the change's verb (建了多少 of 新建5G基站1134个), or asks
    what was done with a verb of its own (开发了多少个 of 新增开发…2790个)."""
    text = VALUE_ADDED_RE.sub("", normalize(q.text))
    if q.qtype != "number" or q.wants_target or ASKS_CHANGE_RE.search(text) or DONE_RE.search(text):
        return 1.0
    clauses, at = figure_clauses(q, span, sentence)
    change = CHANGE_RE.search(VALUE_ADDED_RE.sub("", clauses[at]))
    if change and change.group().lstrip("新") not in text:
        return 0.0
    # The clause that names the indicator asked, when it gives its rate of growth: 金融业增加值增长7.9% answers no
    # 金融业增加值有多少亿元, whatever other clause of the span has 亿元.
    named = max(range(len(clauses)), key=lambda i: (topic_weight(q, clauses[i]), -i))
    return 0.0 if GROWTH_RATE_RE.search(VALUE_ADDED_RE.sub("", clauses[named])) else 1.0


def topic_weight(q: Question, clause: str) -> float:
    """How much of the question's topic (IDF-weighted) a clause says."""
    return sum(w for t, w in q.topic.items() if t in clause.lower())


def figure_clauses(q: Question, span: str, sentence: str) -> tuple[list[str], int]:
    """The span's clauses and which of them holds the figure asked for: of those with a figure of the kind asked,
    the one with the most of the question's words (the first, when none has a figure)."""
    clauses = split_clauses(span) or [span]
    fits = [i for i, c in enumerate(clauses) if answer_type(q, c, sentence)]
    if not fits:
        return clauses, 0
    return clauses, max(fits, key=lambda i: (topic_weight(q, clauses[i]), -i))


def rivals(features: list[dict[str, float]]) -> None:
    """Set each candidate's `rival`: how much more of the question a candidate that fails an agreement covers.
    When the figure asked is reported, but for another place, year or kind, a sentence that matches less of the
    question is not its answer either (历城区's 居民消费价格 asked, only the city's given: not 居民收入)."""
    best = max((f["coverage"] for f in features if any(f.get(k, 1.0) <= 0 for k in AGREEMENTS)), default=0.0)
    for f in features:
        f["rival"] = max(0.0, best - f["coverage"])


@lru_cache(maxsize=4)
def load_weights(path: str = str(WEIGHTS_FILE)) -> dict:
    """The fitted models: {"embed_model": m, "full": {...}, "lexical": {...}, "fitted_on": …}, each model with
    its weights, bias, gates and threshold."""
    return json.loads(Path(path).read_text("utf-8"))


def model_for(embed_model: str) -> dict:
    """The full model for the embedding model it was fitted with; the lexical one for any other."""
    fitted = load_weights()
    return fitted["full"] if embed_model == fitted["embed_model"] else fitted["lexical"]


class Answerability:
    """Scores candidate answers with a fitted logistic model."""

    def __init__(self, model: dict | None = None, threshold: float | None = None, lexical: dict | None = None) -> None:
        self.model = model or load_weights()["full"]
        self.threshold = self.model["threshold"] if threshold is None else threshold
        # A passage without a vector yet (a partial build) has no similarity: the model fitted without one judges it.
        self.lexical = Answerability(lexical) if lexical is not None else None

    def probability(self, f: dict[str, float]) -> float:
        """0 when a gate fails (an agreement that no right answer on dev lacked) or a share is outside what right
        answers on dev had (ceilings, floors), else the logistic score."""
        if any(f.get(g, 1.0) <= 0 for g in self.model.get("gates", ())):
            return 0.0
        if any(f.get(k, 0.0) > top for k, top in self.model.get("ceilings", {}).items()):
            return 0.0
        if any(f.get(k, 1.0) < low for k, low in self.model.get("floors", {}).items()):
            return 0.0
        z = self.model["bias"] + sum(self.model["weights"].get(k, 0.0) * v for k, v in f.items())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def judge(self, q: Question, f: dict[str, float]) -> Verdict:
        if self.lexical is not None and math.isnan(f.get("dense", 0.0)):
            return self.lexical.judge(q, f)
        p = self.probability(f)
        if p > 0 and p >= self.threshold:
            return Verdict(p, True)
        return Verdict(p, False, reason_for(q, f, self.model.get("ceilings", {})))


def reason_for(q: Question, f: dict[str, float], ceilings: dict[str, float] | None = None) -> str:
    """Why the best candidate does not answer, in the user's terms."""
    what = "".join(q.places[:1]) + "".join(y + "年" for y in q.asked_years[:1])
    if f.get("place", 1.0) == 0.0:
        missing = [p for p in q.places if p not in q.loose_places]
    else:  # a place the best passage does not name (its document may, in passing)
        missing = q.loose_places if f.get("place_loose", 1.0) < 1.0 else []
    if missing:
        return f"文件中没有找到{missing[0]}的相关数据。"
    if f.get("scope", 1.0) == 0.0:
        return f"文件中没有找到{q.place}全市的相关数据（只有下辖区县的）。"
    if f.get("year", 1.0) == 0.0 and q.asked_years:
        return f"文件中没有找到{what}的相关数据。"
    if f.get("ask", 1.0) == 0.0:
        return "文件中只有问题里给出的总数，没有找到其中所问这一项的数据。"
    if f.get("joint", 1.0) == 0.0:
        return "文件中没有单独给出这一项的数据（只有合计）。"
    if f.get("qualifier", 1.0) == 0.0 and q.qualifiers:
        what = q.qualifiers[0]
        return f"文件中没有找到{what}数据（只有总量）。" if what in PER_UNIT else f"文件中没有找到{what}的相关数据。"
    if f.get("level", 1.0) == 0.0:
        return "文件中只给出了新增量或增速，没有找到所问的总量。"
    if not CJK_RE.search(q.text):
        return NOT_CHINESE  # What is Jinan's GDP growth target?: not "growth" missing from the documents
    if q.unseen and f.get("unseen", 0.0) > (ceilings or {}).get("unseen", 1.0):  # words the documents never use
        return f"文件中没有出现“{max(q.unseen, key=len)}”，知识库里没有相关内容。"
    return NOT_FOUND


def qualifier_agreement(q: Question, text: str) -> float:
    """0 unless the passage names every qualifier of the question (人均, 农村), or a word that covers it (城乡)."""
    return float(all(w in text or QUALIFIER_COVERS.get(w, w) in text for w in q.qualifiers))


TARGET_SAID_RE = re.compile(r"目标|预期|力争")  # a figure its clause gives as a target


def plan_agreement(q: Question, section: str, sentence: str, span: str = "") -> float:
    """0 when a plan for a year is asked and the passage reports another year's results, or a result is asked and
    the passage is a list of targets (…主要预期目标: 固定资产投资增长5%左右 is no growth achieved)."""
    if q.wants_target and not q.wants_result and q.years and any(w in section for w in RESULT_SECTION):
        if not set(q.asked_years) & set(YEAR_RE.findall(normalize(section + sentence))):
            return 0.0
        if not re.search(r"计划|目标|预期|预计|力争", sentence):
            return 0.0  # 2024年计划开工多少所 is not answered by what 2024 did (一、2024年工作回顾: 开工60所)
    if q.wants_result and not q.wants_target and any(w in section for w in PLAN_SECTION):
        return 0.0 if not any(w in section for w in RESULT_SECTION) else 1.0
    if q.wants_result and not q.wants_target and q.qtype == "number" and span:
        clauses, at = figure_clauses(q, span, sentence)
        if TARGET_SAID_RE.search(clauses[at]):
            return 0.0  # 实际完成多少 is not answered by 确保完成1.72万人城镇新增就业目标
    return 1.0
