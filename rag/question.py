"""The one reading of a question: what it names (years, places), what it asks about (its words, weighted by how
rare they are in the corpus), what kind of answer it wants and with which qualifiers. A question is read once
(`Analyzer.__call__`); the retriever and the answerer both take the resulting `Question`."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Callable, Iterable

from .textutil import CJK_RE, expand_abbreviations, normalize, ordinal_number, translated_words

YEAR_RE = re.compile(r"(20\d{2}|19\d{2})\s*年?")
# A year written with two digits (24年开了多少列？ 那22年呢？), not a span of years (连续21年, 近10年来, 第3年).
YEAR_LEADS = "那在是从到与及至或的、年比较"  # words after which a two-digit number with 年 is a year of ours
# The IDF below which a year is one the corpus is about: the seeds' 2023-2025 have 0.3-1.0, the years they or
# CMRC's articles mention in passing (2022, 2016) 3 and over.
OWN_YEAR_IDF = 2.0
SHORT_YEAR_RE = re.compile(r"(?<![\d.％%第续近去满了几多每])([0-3]\d)(?=\s*年(?![来间内代以前后多半左了]))")
DATED_RE = re.compile(r"(20\d{2}|19\d{2})\s*年")  # a year as a heading names it (统筹抓好2000个重大项目 names none)
SERIAL_RE = re.compile(r"(?P<label>[^：；\n]{0,6}?)(?:序号|编号)：\s*(?P<n>\d+)\s*；")  # a numbered table's row: 项目序号：2；…
POSITION_RE = re.compile(r"第([一二三四五六七八九十\d]+)(?:个|项|条|家|所|座|处)")
QUOTED_RE = re.compile(r"“[^”]{1,30}”|《[^》]{1,60}》|\"[^\"]{1,30}\"")
SAID_AND_YEAR_RE = re.compile(r"(?:去年|今年|明年|前年)\s*[（(]\s*((?:19|20)\d{2})\s*年?\s*[)）]\s*年?")
SAID_YEAR_RE = re.compile(r"(?<![比较])(?:去年|今年|明年|前年|上年|当年)")  # a year named from now (比上年 compares)
# One place-suffix rule for the package: 历城区, 商河县, 济南市, 港沟街道 …
PLACE_SUFFIX_RE = re.compile(r"(区|县|市|镇|街道)$")
SPLIT_SUFFIXES = ("区", "县", "市", "镇")  # a suffix jieba may split off a name it does not know (石川 + 区)
HAN_WORD_RE = re.compile(r"[\u4e00-\u9fff]+")
TARGET_WORDS = ("目标", "计划", "预期", "力争", "预计")
RESULT_WORDS = ("完成", "实现了", "达到了", "实际", "取得", "成效", "回顾", "执行情况")
# An auxiliary of intention as a word of its own (要增长多少, 打算建多少): what is planned. jieba keeps 主要, 需要,
# 重要 whole, so they do not count.
INTENT = {"要", "打算", "争取", "将要"}
PLAN_VERBS = {"计划", "准备", "将", "预计", "力争", "争取"}  # what may come before a verb of what is planned
# Words of intention only (打算, 计划准备), which name no indicator
INTENT_ONLY_RE = re.compile("(?:%s)+" % "|".join(sorted(w for w in INTENT | PLAN_VERBS if len(w) > 1)))
SET_RE = re.compile(r"定[的了]?是?(多少|几)")  # 市中区定的多少？ asks what was set: a target (not 定为什么年)
# A verb with 了 (开了多少列, 造了多少辆) asks what was done: a result, as RESULT_WORDS do (not 为了, 除了, 了解).
PERFECTIVE_RE = re.compile(r"(?<![为除])(?<=[\u4e00-\u9fff])了(?!解)")
RESULT_SECTION = ("执行情况", "回顾", "成效", "成绩", "情况")  # headings of a report's look back at a year
PLAN_SECTION = ("目标", "计划安排")  # headings of its plan (主要预期目标, 2024年计划安排)
# Words that make a figure another indicator: 人均地区生产总值 is not 地区生产总值, 农村居民收入 not 居民收入. A
# passage on 城乡居民 covers both of its halves (城乡居民人均可支配收入分别增长5.5%和6.5%).
PER_UNIT = ("人均", "平均", "户均", "亩均")
SUB_POPULATION_RE = re.compile(r"(城镇|农村)(?=居民)")  # 城镇老旧小区 is no sub-population: only 居民's
QUALIFIER_COVERS = {"城镇": "城乡", "农村": "城乡"}
# The year before: 去年 in a report of the year asked. 比上年增长 only compares (this year's figure against last).
LAST_YEAR_RE = re.compile(r"(?<![比较])(去年|上年|过去一年)(?!同期)")
# This year in a report is the year it plans (今年要建多少？), as 去年 is the year it looks back at.
SAID_OFFSETS = {"今年": 0, "去年": -1, "前年": -2, "明年": 1}
ANCHOR_RE = re.compile(r"(?<![比较])(" + "|".join(SAID_OFFSETS) + r")(?!以来|同期)")  # not 比去年, 今年以来
QTYPES = {
    "number": re.compile(r"多少|几|多大|多高|多长|多快|比重|占比|比例|增速|增幅|规模|金额|总量|数量|产量|排名|第几|百分之|%|目标"),
    "list": re.compile(r"哪些|有哪|包括|包含|列举|几大|几个方面|哪[一二两三四五六七八九十几]"),
    "why": re.compile(r"为什么|为何|为啥|目的|原因|旨在|意义|为了什么|用意|何在"),
    "yesno": re.compile(r"是否|是不是|有没有|能否|会不会|可否|吗[？?]?$"),
}
WHAT_RE = re.compile(r"什么|啥")
# A question after a date or a time (哪天开幕的？ 什么时候完工？): answered by one, not by a figure of something else.
WHEN_RE = re.compile(r"哪天|哪一天|什么时候|啥时候|何时|几月|几号|哪年|哪一年|什么时间|哪个月|什么年代|哪个朝代|什么朝代|哪个时期|什么时期")
HOW_MANY_RE = re.compile(r"多少|几|多大|多高|多长|多快|百分之")
HOW_BIG_RE = re.compile(r"多[大高长快远宽深久]")
# The unit a "how many" question counts in: 多少家 -> 家, 多少万辆 -> 辆, 多少钱 -> 元, 第几 -> 位/名.
# The units a how-many question may name after 多少/几 (多少公里, 几所).
COUNT_UNITS = r"(个百分点|百分点|平方米|平方公里|公里|千瓦|方面|[个条家亩人天辆所座项台套件名位次吨户间处场批列倍元岁种张])"
UNIT_RE = re.compile(r"(?:多少|几)(?:万|亿|千|百)?" + COUNT_UNITS)
MAGNITUDE_RE = re.compile(r"(?:多少|几)个(万|亿)")  # 多少个亿: 个 counts the 亿, it is not the unit
MEASURES = ((r"多长时间|多久", "年|个月|月|天|日|小时|分钟"), (r"多长|多远|多宽|多深|多高", "公里|千米|米|厘米"))
UNIT_ALIASES = {"钱": "元", "资金": "元", "投资": "元", "第几": "位|名"}
# The unit an indicator is counted in, implied by its head noun when the question names none: the measures of
# statistical reporting (人口 in 人, 总额 and 收入 in 元), not of one document.
IMPLIED_UNITS = (("人口|人数", "人"), ("额|收入|总值|产值|投资|支出", "元"))
ASK_VERBS = r"总量|规模|总共|一共|大约|大概|约|是|有|达到|为|达"
# Question words: a corpus need not use them (哪位, 哪里) for a question to be about it.
INTERROGATIVES = {"哪位", "哪里", "哪儿", "哪个", "哪些", "哪家", "哪年", "哪天", "什么", "怎么", "怎样", "怎么样", "如何",
                  "为何", "为啥", "啥", "咋", "多少", "多大", "多久", "多长", "多高", "谁", "是否", "是不是"}
# A count asked (几条, 多少个): jieba keeps it one word, but it is the question's, not the corpus's.
COUNT_WORD_RE = re.compile(r"(?:几|多少)[个条家项所座件名位次种类批张辆户间处场列天年块]?")
SHORT_TOKEN = 0.3  # weight factor of one-character words (多, 大, 新): weak evidence
# A district's name is a word rare in general Chinese before its suffix (钢城区: jieba counts 钢城 9 times, 历下 0,
# 莱芜 53), unlike a common noun made a zone (示范区 981, 高新区 563, 集聚区 131, 老城区 114). Set between the two
# groups in jieba's own dictionary, not on questions.
RARE_NAME_FREQ = 100
# A figure the question states (GDP 1327.8亿元的那个区, 增长5.5%左右的那份报告): not glued to letters (5G, PM2.5).
FIGURE_RE = re.compile(r"(?<![A-Za-z0-9.])\d+(?:\.\d+)?(?![A-Za-z0-9.])")


def expected_unit(question: str) -> str:
    """The unit the answer should carry, as a regex alternative ("" when the question names none)."""
    m = MAGNITUDE_RE.search(question) or UNIT_RE.search(question)
    if m:
        return m.group(1)
    m = re.search(r"(?:多少|几)(万|亿)", question)  # 多少亿: an amount in 亿, whatever it counts
    if m:
        return m.group(1)
    for word, unit in UNIT_ALIASES.items():
        if re.search(r"(多少|几)" + word if word != "第几" else word, question):
            return unit
    # 占总支出多少; 涨了多少 asks a rise as 增长 does
    if re.search(r"比重|占比|比例|增速|增幅|增长|涨幅|涨了?(?:多少|几)|百分之|占[^，,。？?]{0,8}(?:多少|几)", question):
        return "%|百分点"
    for asked, unit in MEASURES:  # 有多长？ is answered in a length, 多久？ in a time
        if re.search(asked, question):
            return unit
    for head, unit in IMPLIED_UNITS:  # 人口是多少 counts people, 出口额是多少 an amount of money
        if re.search(rf"(?:{head})(?:{ASK_VERBS})?(?:多少|几)", question):
            return unit
    return ""


def has_amount(unit: str, text: str) -> bool:
    """A figure in the unit asked for: 40万辆 for 辆, 十二个方面 for 方面."""
    if re.search(r"\d[\d.,]*\s*(?:余|多)?(?:万|亿|千|百)?(?:余|多)?个?(?:" + unit + ")", text):  # 1100余万元, 500余家
        return True
    if "名" in unit.split("|") and re.search(r"第\s*[\d一二三四五六七八九十]+|首位|榜首", text):
        return True  # a rank: 排名全市第3, 居全省首位
    return bool(re.search(r"[一二两三四五六七八九十百]+(?:个)?(?:" + unit + ")", text))


def counts(noun: str, unit: str, text: str) -> bool:
    """A figure that counts the noun asked about, next to it: 151个建设类项目, 幼儿园32所 (for 多少个建设类项目)."""
    number = r"(?:\d[\d.,]*\s*(?:万|亿|千|百)?|[一二两三四五六七八九十百千]+)"
    noun, unit = re.escape(noun), f"(?:{unit or '个'})"
    return bool(re.search(rf"{number}\s*{unit}?\s*{noun}|{noun}\s*{number}\s*{unit}", text))


def stated_figures(question: str) -> list[str]:
    """The figures a question states, years aside: they name what it already knows (the premise), so a span
    that says only them is not the answer."""
    return FIGURE_RE.findall(YEAR_RE.sub(" ", question))


def premise_and_ask(question: str, figures: Iterable[str]) -> tuple[str, str]:
    """A question that states a figure, cut into its premise and the clause that asks (济南2024年进出口超过2300亿元，
    | 其中出口有多少？); one that states none is all ask."""
    figures = list(figures)
    clauses = [c for c in re.split(r"(?<=[，,；;])", question) if c.strip()]
    if not figures or len(clauses) < 2 or not any(f in "".join(clauses[:-1]) for f in figures):
        return "", question
    return "".join(clauses[:-1]), clauses[-1]


def without_figures(text: str, figures: Iterable[str]) -> str:
    """The text with the given figures taken out (5.5%左右 -> %左右 for a question that states 5.5)."""
    for f in figures:
        text = re.sub(rf"(?<![\d.]){re.escape(f)}(?![\d.])", "", text)
    return text


def question_type(question: str) -> str:
    """number, list, why, yesno or entity: what kind of clause answers the question."""
    for name in ("why", "list", "yesno", "number"):
        if QTYPES[name].search(question):
            if name == "number" and WHAT_RE.search(question) and not HOW_MANY_RE.search(question):
                return "entity"  # 增幅要求达到啥水平？ asks what, not how much
            return name
    return "entity"


def place_level(place: str) -> int:
    """2 for a district-level place (区 县 镇 街道), 1 for a city, 0 otherwise."""
    if place.endswith(("区", "县", "镇", "街道")):
        return 2
    return 1 if place.endswith("市") else 0


def place_stem(place: str) -> str:
    """A place without its suffix (历城区 -> 历城): people often drop it."""
    return PLACE_SUFFIX_RE.sub("", place) if len(place) > 2 else place


def same_place(a: str, b: str) -> bool:
    return bool(a and b) and (a in b or b in a or (len(a) > 2 and len(b) > 2 and a[:-1] == b[:-1]))


def main_place(text: str, known: Iterable[str]) -> str:
    """The most specific known place a text names; people often drop the suffix (历城, 济南)."""
    t = normalize(text)
    found = [p for p in known if p in t or (len(p) >= 3 and p[:-1] in t)]
    return max(found, key=lambda p: (place_level(p), len(p)), default="")


def title_places(titles: Iterable[str], words: Callable[[str], list[str]]) -> list[str]:
    """Place names in document titles (历城区, 市中区, 起步区, 济南市 …): words with a place suffix, or a name
    jieba split from its suffix (石川 + 区)."""
    found: list[str] = []
    for title in titles:
        ws = words(title)
        for w, nxt in zip(ws, ws[1:] + [""]):
            if len(w) >= 2 and HAN_WORD_RE.fullmatch(w) and not place_level(w) and nxt in SPLIT_SUFFIXES:
                w += nxt
            if len(w) >= 3 and place_level(w) and w not in found and HAN_WORD_RE.fullmatch(w):
                found.append(w)
    return found


@lru_cache(maxsize=1)
def word_tags() -> dict:
    """jieba's dictionary tags (ns = place name, v = verb); loading them costs a quarter second, so only on demand."""
    from jieba import posseg

    return posseg.dt.word_tag_tab


def quoted_chars(text: str) -> set[int]:
    """The positions of the characters inside quotes or a title's brackets (“工赋泉城”, 《…》)."""
    return {i for m in QUOTED_RE.finditer(text) for i in range(m.start(), m.end())}


def position_asked(question: str) -> int:
    """The position a question asks for (第二个项目, 第3项), 0 when none: a numbered table's row."""
    m = POSITION_RE.search(question)
    return ordinal_number(m.group(1)) if m else 0


def is_verb(word: str) -> bool:
    """jieba's dictionary calls it a verb (建, 培育), or it is 新 and a verb (新建, 新开工: tagged a place or a name)."""
    tags = word_tags()
    return tags.get(word, "")[:1] == "v" or (word[:1] == "新" and tags.get(word[1:], "")[:1] == "v")


@dataclass
class Question:
    """What a question says and asks, read once."""

    text: str  # as asked (tidied)
    search: str  # what retrieval searches: abbreviations spelled out beside themselves (GDP 地区生产总值)
    years: list[str] = field(default_factory=list)
    place: str = ""  # the most specific place of the corpus's titles that it names
    places: list[str] = field(default_factory=list)  # every place it names, known to the corpus or not
    local_places: list[str] = field(default_factory=list)  # districts an answer must name in its sentence
    loose_places: list[str] = field(default_factory=list)  # places known only by jieba's tag (北京, 非洲)
    unknown_places: list[str] = field(default_factory=list)  # places the corpus never mentions
    unknown_years: list[str] = field(default_factory=list)  # years the corpus never mentions
    said_offset: int | None = None  # its year said from now (去年: -1), when it names none by number
    qtype: str = "entity"  # number, list, why, yesno or entity
    asks_when: bool = False  # after a date or a time (哪天, 什么时候)
    unit: str = ""  # the unit a how-many question counts in, as a regex alternative
    qualifiers: list[str] = field(default_factory=list)  # 人均, 平均 …: another indicator than the bare one
    wants_target: bool = False
    wants_result: bool = False
    weights: dict[str, float] = field(default_factory=dict)  # words the corpus uses, by IDF (retrieval)
    evidence: dict[str, float] = field(default_factory=dict)  # the same words as evidence for an answer span
    unseen: list[str] = field(default_factory=list)  # content words the corpus never uses (the asker's phrasing)
    figures: list[str] = field(default_factory=list)  # figures it states (the premise, not the answer)
    vector: object = field(default=None, repr=False)  # the query embedding, once retrieval has computed it
    said: dict[str, str] = field(default_factory=dict)  # sentence already quoted -> the answer given from it (还有呢？)
    ordinal: int = 0  # the item of the last answer's list a follow-up asks for (第三个是什么？: 3)
    position: int = 0  # the place in a numbered table it asks for (表里第二个项目是什么？: 2)
    context: set[str] = field(default_factory=set)  # chunk ids the conversation was on (同比增长多少？ asks there)
    quoted: set[str] = field(default_factory=set)  # the sentences the last answer quoted, when it asks there
    keywords_only: bool = False  # searched without its vector (the embedding server was unreachable)
    parts: Parts | None = None  # cut into place, year, indicator and ask (历城区 · 2024年 · 地区生产总值 · 增长目标是多少)

    @property
    def firm_places(self) -> list[str]:
        """The places it surely names: jieba tags some words the corpus uses otherwise as places (惠及, 城镇),
        so a tagged-only place counts when the corpus never uses it (北京)."""
        return [p for p in self.places if p not in self.loose_places or p in self.unknown_places]

    @cached_property
    def premise(self) -> tuple[str, str]:
        """Its premise and the clause that asks (…80.7公里， | 那2023年填补了多少公里？); ("", all) when it states none."""
        return premise_and_ask(normalize(self.text).lower(), self.figures)

    @property
    def asked_years(self) -> list[str]:
        """The years it asks about: a year its premise states is the premise's (2024年…80.7公里，那2023年呢？: 2023)."""
        premise, ask = self.premise
        return (YEAR_RE.findall(ask) or self.years) if premise else self.years

    def years_in(self, title: str) -> list[str]:
        """The years it asks about in a document: those it names, or the year its 去年, 今年 means there, counted
        from the year the title names last (a report's 今年 is the year it plans: 去年 in a report of 2025 is
        2024, in a feature on the 2024 sessions 2023). None when neither names a year."""
        if self.asked_years or self.said_offset is None:
            return self.asked_years
        named = YEAR_RE.findall(normalize(title))
        return [str(int(max(named)) + self.said_offset)] if named else []

    @property
    def topic(self) -> dict[str, float]:
        """The evidence words that say what is asked: without the place, years (去年 too) and figures."""
        return {t: w for t, w in self.evidence.items()
                if w > 0 and not t.isdigit() and t not in SAID_OFFSETS
                and not (self.place and (t in self.place or self.place.startswith(t)))
                and not any(t in p or p.startswith(t) for p in self.places)}


def full_years(text: str, places: Iterable[str] = (), own_year: Callable[[str], bool] = lambda year: False) -> str:
    """The question with its two-digit years written out (24年 -> 2024年), as the documents write them: at its
    start, after a place (历城区24年, 济南24年) or a word such as 那/在/到, or anywhere when it is a year the corpus is
    about (商业街24年拿了…, in a corpus of 2024 reports). After any other word the number is a year of an era
    (民国29年, 明治29年) and stays."""
    stems = tuple(place_stem(p) for p in places if place_stem(p))

    def written_out(m: re.Match) -> str:
        before = text[:m.start()].rstrip()
        if (not before or not CJK_RE.match(before[-1]) or before[-1] in YEAR_LEADS or PLACE_SUFFIX_RE.search(before[-1])
                or before.endswith(stems) or own_year("20" + m.group(1))):
            return "20" + m.group(1)
        return m.group(0)

    text = SAID_AND_YEAR_RE.sub(lambda m: m.group(1) + "年", text)  # 今年（2025年）: the year it names
    return SHORT_YEAR_RE.sub(written_out, text)


class Analyzer:
    """Reads questions against one corpus: its tokenizer, its IDF and its place names."""

    def __init__(self, tokenizer, idf: Callable[[str], float] | None = None, places: Iterable[str] = ()) -> None:
        self.tokenizer = tokenizer
        self.idf = idf
        self.places = list(places)  # places of the corpus's titles (历城区, 起步区 …)
        self._never = idf("\u0000") if idf else 0.0  # the IDF of a word no passage contains

    def is_own_year(self, year: str) -> bool:
        """Whether the corpus is about this year: many of its passages name it (2024 in a corpus of 2024 reports),
        not only some (2016 in an encyclopedia). False without corpus statistics."""
        return self.idf is not None and self.idf(year) < OWN_YEAR_IDF

    def knows(self, word: str) -> bool:
        """Whether some passage of the corpus uses this word (always True without corpus statistics)."""
        return self.idf is None or self.idf(word) < self._never

    def __call__(self, text: str) -> Question:
        text = OPENER_RE.sub("", text.strip()) or text  # 对了，…: how the asker turns to a question, not its words
        search = expand_abbreviations(text)
        q = normalize(search)
        place = main_place(q, self.places) or self.whole_city(q)
        places, local, loose = self.question_places(text)
        if place_level(place) == 2 and place not in q and (stem := place_stem(place)) in places:
            search = search.replace(stem, place, 1)  # 市中 -> 市中区: the name the passages use, one word to search
            q = normalize(search)
        years = YEAR_RE.findall(q)
        said = ANCHOR_RE.search(q)
        weights, evidence, unseen = self._weights(search)
        said_for = translated_words(text)  # 钱袋子 is not the asker's own phrasing once it is 居民人均可支配收入
        unseen = [t for t in unseen if not any(t in w for w in said_for)]
        asked = REFERENCE_RE.sub("这些", q)  # 这几个…总投资多少？ asks no count
        q = Question(
            text=text, search=search, years=years,
            place=place,
            places=places, local_places=local, loose_places=loose,
            unknown_places=[p for p in places if not self._place_known(p)],
            unknown_years=[y for y in years if not self.knows(y)],
            said_offset=SAID_OFFSETS[said.group(1)] if said and not years else None,
            qtype=question_type(asked), asks_when=bool(WHEN_RE.search(q)), unit=expected_unit(asked),
            qualifiers=SUB_POPULATION_RE.findall(q) + [w for w in PER_UNIT if w in q],  # the reason names the first
            wants_target=any(w in q for w in TARGET_WORDS) or bool(INTENT & set(self.tokenizer.words(q)))
            or bool(SET_RE.search(q)) or bool(said and SAID_OFFSETS[said.group(1)] >= 0),
            wants_result=any(w in q for w in RESULT_WORDS) or bool(PERFECTIVE_RE.search(q))
            or bool(said and SAID_OFFSETS[said.group(1)] < 0),
            weights=weights, evidence=evidence, unseen=unseen, figures=stated_figures(q),
            position=position_asked(q),
        )
        q.parts = cut(text, q)
        return q

    def _weights(self, text: str) -> tuple[dict[str, float], dict[str, float], list[str]]:
        weights: dict[str, float] = {}
        evidence: dict[str, float] = {}
        unseen: list[str] = []
        # A space after 多大/多长 keeps jieba from gluing the question word to the noun it asks (多大规模 -> 大规模).
        for t in self.tokenizer(HOW_BIG_RE.sub(r"\g<0> ", text)):
            if self.idf is not None:
                if not self.knows(t):
                    # A word the corpus never uses (块头, 打算, 何在) is the asker's phrasing, not evidence.
                    evidence.setdefault(t, 0.0)
                    if (CJK_RE.search(t) or t.isalpha()) and t not in INTERROGATIVES and not COUNT_WORD_RE.fullmatch(t):
                        unseen.append(t)
                    continue
                w = self.idf(t)
                weights[t] = w
                w *= SHORT_TOKEN if len(t) == 1 else 1.0
            else:  # no corpus statistics: longer tokens are more specific
                w = min(len(t), 4) / 2.0
            if t.isdigit():
                w = max(w, 2.5)  # years and figures pin the answer to one row
            evidence[t] = max(evidence.get(t, 0.0), w)
        return weights, evidence, unseen

    def whole_city(self, question: str) -> str:
        """The city a question means by 全市 when it names no place: the corpus's city, if it has only one. Only 全市
        as the subject (全市2024年…); 在全市排第几, 全市最大的 name a scope."""
        cities = [p for p in self.places if place_level(p) == 1]
        return cities[0] if WHOLE_CITY_RE.match(question) and len(cities) == 1 else ""

    def _place_known(self, place: str) -> bool:
        stem = place_stem(place)
        return any(stem in k for k in self.places) or self.knows(place) or self.knows(stem)

    def question_places(self, question: str) -> tuple[list[str], list[str], list[str]]:
        """Places the question names (青岛市, 北京, 天桥区, 章丘 …), known to the corpus or not; those of them that
        are districts outside the corpus's titles, which an answer must name in its own sentence; and those named
        only by jieba's dictionary tag (北京, 非洲), weaker evidence since it tags some common words as places."""
        words = self.tokenizer.words(normalize(question))
        tags = word_tags()
        out, local, loose = [], [], []
        # The subject a question opens with (after 那, 请问), when a year follows it: a place, even when jieba's
        # dictionary tags the name a person's (章丘去年社零总额多少亿？ 章丘2024年GDP).
        subject = next(iter(self.tokenizer.words(LEAD_RE.sub("", OPENER_RE.sub("", normalize(question).strip())))), "")
        quoted = quoted_chars(normalize(question))
        at = 0
        for k, w in enumerate(words):
            nxt = words[k + 1] if k + 1 < len(words) else ""
            at, start = at + len(w), at
            if len(w) < 2 or not HAN_WORD_RE.fullmatch(w):
                continue
            tag = tags.get(w, "")
            if any(p.startswith(w) for p in self.places):
                out.append(w)
            elif start in quoted:
                continue  # a word of a name in quotes (“工赋泉城”, 《…》) is no place of its own
            elif len(w) >= 3 and PLACE_SUFFIX_RE.search(w) and (tags.get(w[:-1]) == "ns" or
                                                                 (not self.knows(w) and tag in ("n", "ns", ""))):
                out.append(w)  # 天桥区, or 槐荫区: a district name the corpus never uses
                local.append(w)
            elif len(w) == 3 and w[-1] in "区县" and self.tokenizer.freq(w[:-1]) < RARE_NAME_FREQ:
                out.append(w)  # 钢城区: a district the corpus names only in passing (与钢城区结对)
                local.append(w)
            elif nxt in SPLIT_SUFFIXES and tag[:1] in ("n", ""):
                out.append(w)  # jieba split an unknown district from its suffix (章丘 + 区); 哪个县 names none
                local.append(w)
            elif tag == "ns" and (k == 0 or words[k - 1] not in INTENT | PLAN_VERBS) and not is_verb(w):
                out.append(w)  # 北京, 青岛: a place without its suffix; not a verb (打算新建改造, 计划新建)
                loose.append(w)
            elif (w == subject and tag == "nr" and not PLACE_SUFFIX_RE.search(w)  # 高新区's suffix is ruled above
                  and (YEAR_RE.match(nxt) or SAID_YEAR_RE.fullmatch(nxt))):
                out.append(w)
                local.append(w)
        return out, local, loose


# 全市 as a question's subject, the whole city: at its start, after 那/还有 (那全市呢？ 全市2024年…).
WHOLE_CITY_RE = re.compile(r"^(?:那么|那|还有|换成|如果是)?\s*全市(?!排|第|居|位|名列|列)")  # 全市排第几: a scope
# A follow-up leans on what came before: 那市中区呢？ 还有呢？ 2025年的呢？ 同比增长多少？
LEAD_RE = re.compile(r"^((那么|那个|那些|那|还有|另外|再|and)\s*(换成|换到|改成|如果是|要是)?|换成|换到|改成|如果是|要是)\s*")
# How people turn to a new question in a chat (对了，历城区…); it is no part of what they ask.
OPENER_RE = re.compile(r"^(对了|顺便问一下|顺便问下|顺便问问|另外问一下|另外问下|另外(?=[，,])|再问一下|我想问一下|我想问|想问一下|"
                       r"请问一下|请问|问一下|问下|你好|您好)[，,：:！!\s]*")
# A word that stands for the last turn's indicator (它的目标是多少？ 这个在全省排第几？): it names nothing new.
PRONOUN_RE = re.compile(r"^(这个|这项|这一项|该项|它|具体|分别)(的|在|是|有)*")  # 具体是哪些？ names no indicator
# Words that point back at the conversation's subject wherever they stand (24年这个指标打算增长多少？ 养老这块拿了啥荣誉？
# 历城那边24年计划修多长？): the question leans on the last turn, and they name nothing themselves.
POINTER_RE = re.compile(r"(这|该)(个|项|一项)?指标|这一?块|这方面|这一?领域|那边|这边")
# The things the conversation named, pointed at (这几个输变电工程, 这150个项目, 那俩平台, 这些项目): a reference, not a
# how-many ask (这几个…总投资多少？ asks an amount in 元, not a count in 个).
REFERENCE_RE = re.compile(r"[这那](?P<n>几|[\d一二两三四五六七八九十百]+)[个只家项所条座位名批份处件类种]|[这那][些俩](?=[\u4e00-\u9fff])")
TAIL_RE = re.compile(r"(的)?(情况|数据|目标|要求|呢|吗)*[呢？?。!！\s]*$")
# Where the ask of a question starts: the figure's kind (增长, 目标 …) or the question word.
# 比 compares when something follows that it is compared with and how (比全市高多少, 比上年): not 比亚迪, 比重.
COMPARE_WORD = r"(?<!占)比(?![重例率])(?=上年|去年|前年|全|\d|[^，,。？?]{0,8}(?:高|低|多|少|快|慢|增|降|提))"
ASK_RE = re.compile(r"(同比|比上年|" + COMPARE_WORD + r"|增长|增速|增幅|目标|要求|计划|预期|预计|力争|实际|完成|达到|"
                    r"是多少|有多少|多少|排第|排名|几|是什么|有哪些|"
                    r"哪些|哪[一二两三四五六七八九十几]?[类个项种家份条所座位名]|为什么|为何|为啥|是啥|啥|咋|是否|怎么|如何|是?(?:" + WHEN_RE.pattern + "))")
FILLER = "的"
SCOPE_RE = re.compile(r"全市|全区|全县|全省|全国|整体|总体|全体")  # 济南全市呢: the place's whole, not an indicator
# What a how-many question counts is its indicator: 多少所中小学 -> 中小学, so "幼儿园呢？" asks 多少所幼儿园.
COUNTED_RE = re.compile(r"(?:多少|几)(?:万|亿|千|百)?[个所家项户辆名座条处件台套亩场批只部](?P<noun>[^？?，,。]{2,})$")


@dataclass
class Parts:
    """A question cut into its place, year, indicator and ask."""

    place: str
    year: str
    indicator: str
    ask: str
    content: str  # what it asks about besides place, year and ask words (为什么要开展GEP核算 -> 要开展GEP核算)
    counted: str = ""  # what a how-many ask counts (多少个产业类项目 -> 产业类项目)
    points_back: bool = False  # it says 这个指标, 这块, 那边 …: about the conversation's subject


# A year with the words that place a time in it (到2024年底): all of it says when, none of it what.
YEAR_SPAN_RE = re.compile(r"(?:到|截至|截止|至)?" + YEAR_RE.pattern + r"(?:底|末|初)?")


def cut(text: str, q: "Question") -> Parts:
    """The four parts of a question, from its reading (places and years) and where its ask starts."""
    t = normalize(text).strip()
    t = LEAD_RE.sub("", t)
    place = next((p for p in q.firm_places if p in t), "")
    if not place and TAIL_RE.sub("", t) in q.loose_places:
        place = TAIL_RE.sub("", t)  # 那北京呢？: a place known only by its tag, said on its own, is the place asked
    at = t.index(place) + len(place) if place else 0
    if place and t[at:at + 1] in SPLIT_SUFFIXES:
        place += t[at]  # jieba split 石川 + 区: keep the suffix
    years = YEAR_RE.findall(t)
    year = f"{years[0]}年" if years else ""
    rest = t
    for piece in (place, *[m.group(0) for m in YEAR_SPAN_RE.finditer(t)]):
        if piece:
            rest = rest.replace(piece, " ", 1)
    rest, pointers = POINTER_RE.subn("", re.sub(r"\s+", "", rest))
    # kept, with the figure it states (这150个项目), but its 几 asks nothing: 这几个工程 -> 这些工程
    rest, referred = REFERENCE_RE.subn(lambda m: m.group(0)[0] + "些" if m.group("n") == "几" else m.group(0), rest)
    rest = rest.strip(FILLER)
    m = ASK_RE.search(rest)
    indicator, ask = (rest[: m.start()], rest[m.start():]) if m else (rest, "")
    indicator = PRONOUN_RE.sub("", SCOPE_RE.sub("", TAIL_RE.sub("", indicator)).strip(FILLER)).strip(FILLER)
    indicator = indicator if len(indicator) > 1 else ""  # 那2024年定的目标是多少？: 定 names no indicator
    if INTENT_ONLY_RE.fullmatch(indicator):  # 那24年打算增长多少: 打算 asks for a plan, it names no indicator
        indicator, ask = "", indicator + ask
    ask = "" if TAIL_RE.fullmatch(ask) else re.sub(r"呢(?=[？?]*$)", "", ask)  # 增速呢？ asks 增速？
    content = PRONOUN_RE.sub("", SCOPE_RE.sub("", TAIL_RE.sub("", ASK_RE.sub("", rest))).strip(FILLER + "要"))
    counted = COUNTED_RE.search(TAIL_RE.sub("", ask))
    if not year and SAID_YEAR_RE.fullmatch(indicator):
        year, indicator, content = indicator, "", ""  # 去年呢？ names a year, no indicator
    return Parts(place, year, indicator, ask, content, counted.group("noun") if counted else "",
                 pointers + referred > 0)
