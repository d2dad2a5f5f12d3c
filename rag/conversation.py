"""Follow-up questions: fill what a new question lacks (place, year, indicator) from the conversation so far, and
search with the standalone question. Rules first; an LLM, when configured, may rewrite instead, checked by them.

A question is cut into four parts: [place][year][indicator][ask], e.g. 历城区 · 2024年 · 地区生产总值 · 增长目标是多少？
"那市中区呢？" brings only a place, so the others come from the latest turn that has them."""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Callable, Iterable

from .models import Answer
from .question import (COUNT_UNITS, LEAD_RE, OPENER_RE, SAID_YEAR_RE, TAIL_RE, UNIT_RE, WHOLE_CITY_RE, YEAR_RE, Analyzer,
                       Parts, Question, SERIAL_RE, is_verb, place_level, place_stem)
from .textutil import normalize, ordinal_number

# A list continued: 还有呢？ 其他的呢？ 第二份呢？ 还有哪一类？ 再往下呢？
MORE_RE = re.compile(r"^(还有|其他|其余|另外|再(说|来|举|讲|列)?一?[个份项条类种点家]|第[一二三四五六七八九十\d]+[个份项条类种点家]?|"
                     r"最后一[个份项条类种点家样]|再?往下|接着|下一[个份项条类种点家])")
# How an indicator asks a change: new ones (新增了), or a rise or fall (降了, 提升了)
CHANGE_END_RE = re.compile(r"(新增|净增|增加|减少|新建|新开工|新培育|新引进|下降|降|提升|提高|增长|上涨|涨)了?$")
LAST_ITEM_RE = re.compile(r"最后一[个份项条类种点家样]")  # 最后一个呢？ after a list: its last item
OTHERS_RE = re.compile(r"^(其他|其余|别的)的?")
STILL_RE = re.compile(r"还有(吗|呢|哪些|什么|没有)?[？?]*$")
# A year named from the conversation's: 前一年 after a question on 2024 is 2023.
RELATIVE_YEARS = {"那一年": 0, "那年": 0, "当年": 0, "同一年": 0, "同年": 0, "再往前一年": -1, "前一年": -1, "上一年": -1,
                  "去年": -1, "前年": -2, "后一年": 1, "下一年": 1, "次年": 1, "第二年": 1}
RELATIVE_YEAR_RE = re.compile("|".join(sorted(RELATIVE_YEARS, key=len, reverse=True)))
THIS_YEAR = "今年"
# A count that names nothing after it (改了多少？ 办了多少场？ 建了多少公里？): what it counts is the conversation's.
COUNTS_NOTHING_RE = re.compile(r"(?:多少|几)(?:万|亿|千|百)?(?:[只部]|" + COUNT_UNITS + r")?$")
# A which-ask or a measure that names nothing after it (要建的是哪两个？ 又通了哪些？ 计划修多长？)
NAMES_NOTHING_RE = re.compile(r"(?:" + COUNTS_NOTHING_RE.pattern[:-1] + r"|哪些|哪[一二两三四五六七八九十几]?[个项家所座条类种处]|"
                              r"多[长远高大])$")
# What a which-question names after its which (哪两个省级和美乡村示范村 -> 省级和美乡村示范村)
WHICH_NOUN_RE = re.compile(r"(?P<which>哪些|哪[一二两三四五六七八九十几]?[个项家所座条类种处])(?P<noun>[^？?，,。]{2,})$")
# A verb asked, no indicator: done (改了, 改造了) or meant (要改造, 要新建, 计划建).
DONE_VERB_RE = re.compile(r"[\u4e00-\u9fff]{1,3}了|(?:要|将|计划|打算|准备)[\u4e00-\u9fff]{1,2}")
# Around a bare verb: what is meant or how (要, 打算, 又, 各) and 的是 (要建的是哪两个)
VERB_LEAD_RE = re.compile(r"^(?:要|将|计划|打算|准备|预计|又|再|还|各|也|都|已经|已)+")
VERB_TAIL_RE = re.compile(r"(?:的是|的|是)+$")
# A follow-up read about the last indicator says little of its own (占比多少？ 总量在全市排第几？): at most this many
# characters besides place, year and ask words. Dev follow-up accuracy: 0.862 at 6-7 and 10, 0.865 at 8-9, 0.861 at 12.
ABOUT_LAST_CHARS = 8
OWN_VERB_CHARS = 3  # 改, 开工, 提高到, 开工了; 人工造林 (4) is a thing. The longest verb of the dev follow-ups.
# What a question counts or measures, once its ask words go: 计划人工造林多少亩 -> 人工造林.
ASK_WORDS_RE = re.compile(r"(?:多少|几)(?:万|亿|千|百)?" + COUNT_UNITS + r"?|计划|目标|预期|预计|力争|实际|打算|要求|"
                          r"同比|比上年|增长|增速|增幅|(?:是|有)(?=多少|几|哪|什么|啥|$)")  # not 有 of 拥有量
LEAD_CLAUSE_RE = re.compile(r"^(?:那么|那|换成|换到|改成|如果是|要是)?\s*(?P<head>[^，,？?]{2,10}?)\s*(?:的)?呢[，,？?]\s*(?P<rest>.+)$")
# A comparison asked as a follow-up (跟全市比呢？ 和历城区相比呢？): the same question for the other place.
COMPARE_RE = re.compile(r"^(?:那)?(?:跟|和|与|同)(.{2,8}?)(?:相比|比较|比)(?:的话)?呢?")
WHICH_RE = re.compile(r"哪些|哪[一二两三四五六七八九十几]?[个项家所座条]")  # which of the things counted
NEXT_RE = re.compile(r"(?:(下|后)|上|前)一[个项行条]")  # the row after (下一个) or before (上一个) the last one
ORDINAL_RE = re.compile(r"第[一二三四五六七八九十\d]+")  # 第二份呢？ after 第一份提案是什么？ asks for 第二份提案


def turn_question(turn: Answer | str) -> str:
    """What an earlier turn searched: an Answer's standalone question, or the question as given."""
    if isinstance(turn, Answer):
        return turn.standalone or turn.question
    return str(turn)


def is_follow_up(text: str, parts: Parts, analyzer: Analyzer) -> bool:
    """Whether a question leans on the conversation: it starts with 那/还有, ends with 呢, continues a list,
    or says nothing of its own besides place, year and ask words (同比增长多少？; 目标定了多少？: no word the corpus
    uses). One that says what it is about without such a marker starts a new topic (起步区为什么要开展GEP核算？)."""
    t = normalize(text).strip()
    if MORE_RE.match(t) or LEAD_RE.match(t) or re.search(r"呢[？?]?$", t) or parts.points_back:
        return True
    if own_verb(parts):
        return True  # 2024年实际造了多少？: it counts, but names nothing to count
    return len(parts.content) < 2 or not any(analyzer.knows(w) for w in analyzer.tokenizer.words(parts.content))


def verb_of(parts: Parts) -> str:
    """The indicator when it is only a verb (改了, 要新建, 打算各培育, 新建): what is asked, not what about."""
    if DONE_VERB_RE.fullmatch(parts.indicator):
        return parts.indicator
    core = VERB_TAIL_RE.sub("", VERB_LEAD_RE.sub("", parts.indicator))
    return parts.indicator if 1 <= len(core) <= OWN_VERB_CHARS and is_verb(core) else ""


def own_verb(parts: Parts) -> bool:
    """A question that asks with a verb of its own and names nothing it counts (去年改了多少？ 2024年计划提高到多少？
    办了多少场？): a follow-up about the last question's thing."""
    verb, ask = verb_of(parts), TAIL_RE.sub("", parts.ask)
    own = ASK_WORDS_RE.sub("", VERB_TAIL_RE.sub("", VERB_LEAD_RE.sub("", verb)) + NAMES_NOTHING_RE.sub("", ask))
    # a verb, not a thing: 计划人工造林多少亩 names what it counts (人工造林)
    return ((not parts.indicator or bool(verb)) and bool(NAMES_NOTHING_RE.search(ask))
            and 1 <= len(own) <= OWN_VERB_CHARS)


def thing_of(question: str, parts: Parts) -> str:
    """What a question counts or measures, without its place, year and ask words (2025年济南要更新改造多少公里老化
    燃气管道？ -> 更新改造老化燃气管道)."""
    text = normalize(question).strip()
    text = text.replace(parts.place, "", 1) if parts.place else text
    text = ASK_WORDS_RE.sub("", YEAR_RE.sub("", TAIL_RE.sub("", text)))
    text = WHICH_NOUN_RE.sub(r"\g<noun>", NAMES_NOTHING_RE.sub("", text))  # 修了多长, 建成了哪两个…: asks, not things
    return re.sub(r"^(要|将|的)+|的+$", "", re.sub(r"了(?!解)", "", text))


def whole_city(question: str, earlier: list[str], analyzer: Analyzer) -> str:
    """The city a follow-up means by 全市 (全市呢？ 跟全市比呢？ after a district's question): the city the
    conversation named last, else the corpus's only city; "" when it names a place of its own or none is known."""
    if not WHOLE_CITY_RE.match(normalize(question).strip()):
        return ""
    cities = [p for p in analyzer.places if place_level(p) == 1]
    named = [c for t in reversed(earlier) for c in cities if place_stem(c) in normalize(t)]
    city = named[0] if named else cities[0] if len(cities) == 1 else ""
    return place_stem(city)


def continues_list(question: str, analyzer: Analyzer) -> bool:
    """还有呢？ 其他的呢？ 第二份呢？: the last question again, for what its answer did not say yet."""
    t = normalize(question).strip()
    m = MORE_RE.match(t)
    if not m:
        return False
    rest = t[m.end():]
    if others := OTHERS_RE.match(rest):  # 还有其他类别吗？ 还有别的措施吗？: the rest names the list's kind, not a topic
        return len(TAIL_RE.sub("", rest[others.end():])) <= 2
    if (kind := STILL_RE.sub("", rest)) != rest:  # 其他类别还有吗？: the same, said the other way round
        return len(TAIL_RE.sub("", kind)) <= 2
    return not rest or len(analyzer(rest).parts.content) < 2


def item_asked(question: str, history: Iterable[Answer | str], analyzer: Analyzer) -> int:
    """Which item of the last answer's list a follow-up asks for: 3 for 第三个是什么？ after 新三样指的是哪三样？, -1 (the
    last) for 最后一个呢？; 0 when it names no position, or the last question asked for one item itself (第一份提案是什么？)."""
    last = [turn_question(t) for t in history][-1:]
    m = ORDINAL_RE.match(normalize(question).strip())
    final = LAST_ITEM_RE.match(normalize(question).strip())
    if not (m or final) or not last or ORDINAL_RE.search(last[0]) or analyzer(last[0]).qtype != "list":
        return 0
    return -1 if final else ordinal_number(m.group(0)[1:])


def position_after(question: str, history: Iterable[Answer | str]) -> int:
    """The row a follow-up asks for next to the numbered table row the last answer quoted (表里下一个项目是哪个？
    after row 3: 4; 上一个呢？: 2); 0 when it asks none or the last answer quoted no numbered row."""
    m = NEXT_RE.search(normalize(question))
    last = list(history)[-1:]
    if not m or not last or not isinstance(last[0], Answer) or not last[0].found:
        return 0
    row = next((r for c in last[0].citations if c.quote and (r := SERIAL_RE.match(c.quote))), None)
    return max(int(row.group("n")) + (1 if m.group(1) else -1), 0) if row else 0


def said_before(history: Iterable[Answer | str]) -> dict[str, str]:
    """The sentences the last answer quoted, each with the answer given from it, so that a list continued says
    something new; and those of the answers before it to the same question (还有呢？ 再往下呢？ goes on)."""
    turns = list(history)
    if not turns or not isinstance(turns[-1], Answer):
        return {}
    asked = turn_question(turns[-1])
    said: dict[str, str] = {}
    for turn in reversed(turns):
        if not isinstance(turn, Answer) or turn_question(turn) != asked:
            break
        for c in turn.citations:
            if c.quote:
                said[c.quote] = said.get(c.quote, "") + turn.answer
    # a list continued quotes what was left of a sentence: what was said of that part was said of the sentence
    return {k: "".join(v for part, v in said.items() if part in k) for k in said}


def quoted_for(question: str, history: Iterable[Answer | str], analyzer: Analyzer) -> set[str]:
    """The sentences of the last answer a follow-up asks more of (开了几条？ 最后惠及了多少户群众？): those that hold all
    of its own words. A follow-up that names what the sentence does not (基础设施项目呢？) asks elsewhere."""
    if not context_of(question, history, analyzer):
        return set()
    own = [t for t in analyzer(question).topic if len(t) > 1]
    # as words of the sentence, not as characters in it: 税收 is not said by 财税收入
    return {s for s in said_before(history) if all(t in analyzer.tokenizer(s) for t in own)}


def context_of(question: str, history: Iterable[Answer | str], analyzer: Analyzer) -> set[str]:
    """The passage a follow-up asks about when it names no place or year of its own (占比多少？ 为什么增长这么快？):
    the chunks the last answer quoted. Empty for a question with a place or year of its own."""
    last = list(history)[-1:]
    if not last or not isinstance(last[0], Answer) or not last[0].found:
        return set()
    q = analyzer(question)
    if q.firm_places or q.years or q.said_offset is not None:  # 去年呢？ names a year too
        return set()
    return {c.chunk for c in last[0].citations if c.quote and c.chunk}


def since_topic(history: Iterable[Answer | str]) -> list[Answer | str]:
    """The turns since the conversation's topic last changed: from the latest turn that stood on its own (an
    answer searched as asked, 历城区确定了几个试点村？), so a later follow-up does not take the year of a turn
    before it. Plain strings cannot tell: all of them."""
    turns = list(history)
    own = [k for k, t in enumerate(turns) if isinstance(t, Answer) and not t.standalone]
    return turns[own[-1]:] if own else turns


def resolve(question: str, history: Iterable[Answer | str], analyzer: Analyzer) -> str:
    """The standalone question to search: `question` with what it lacks (place, year, indicator, ask) taken
    from the latest earlier turn that has it. Unchanged when there is no history or it stands on its own."""
    return said_once(completed(question, history, analyzer))


def said_once(text: str) -> str:
    """A question with a year from now (去年) said once: an inherited indicator may say it again."""
    first = SAID_YEAR_RE.search(text)
    if not first:
        return text
    return text[:first.end()] + text[first.end():].replace(first.group(0), "")


def completed(question: str, history: Iterable[Answer | str], analyzer: Analyzer) -> str:
    earlier = [turn_question(t) for t in since_topic(history) if turn_question(t).strip()]
    if not earlier:
        return question
    question, led = lead_clause(OPENER_RE.sub("", question.strip()) or question)  # 另外，…: a new question
    question = compared(relative_year(question, earlier, analyzer))
    if not analyzer(question).parts.place and (city := whole_city(question, earlier, analyzer)):
        question = question.replace("全市", city, 1)  # 全市呢？ after a district: the city
    q = analyzer(question)
    parts = q.parts
    continued = continues_list(question, analyzer)
    asks_own_verb = own_verb(parts)
    if parts.place and parts.year and (parts.indicator or parts.counted) and not continued and not asks_own_verb:
        return question
    follow = continued or led or is_follow_up(question, parts, analyzer)
    if not follow and (parts.place or parts.year):
        return question  # a new topic, with its own place or year
    previous = earlier[-1]
    if continued:  # 还有呢 / 第二个呢: the same question, its list continued (at the new ordinal, if it has one)
        new, old = ORDINAL_RE.match(normalize(question).strip()), ORDINAL_RE.search(previous)
        return previous.replace(old.group(0), new.group(0), 1) if new and old else previous
    before = [analyzer(t).parts for t in reversed(earlier)]
    if not before[0].place and "全市" in previous:
        before[0] = replace(before[0], place="全市")  # 全市…是多少？ then 那起步区呢？: 起步区 for 全市

    def latest(attr: str) -> str:
        return next((getattr(p, attr) for p in before if getattr(p, attr)), "")

    def latest_year() -> str:
        year = latest("year")
        return "" if said_year(question) and SAID_YEAR_RE.fullmatch(year) else year  # 今年目标呢？ has its own year

    if asks_own_verb:  # 2024年实际造了多少？ after 2025年计划人工造林多少亩？: its ask, of the last question's thing
        thing, ask = thing_of(previous, before[0]), TAIL_RE.sub("", parts.ask)
        thing = SAID_YEAR_RE.sub("", thing) if parts.year else thing  # 24年打算再改多少户？ after 去年…: not both years
        if (named := WHICH_NOUN_RE.search(TAIL_RE.sub("", before[0].ask))) and WHICH_RE.fullmatch(ask):
            # 24年要建的是哪两个？ after 2023年建成了哪两个示范村？: which of the same things
            thing, ask = "", ask + named.group("noun")
        return f"{parts.place or latest('place')}{parts.year or latest_year()}{thing}{verb_of(parts)}{ask}？"
    if not follow:  # its own question, but where and when are the conversation's: 新增了几家规上企业？
        return f"{latest('place')}{latest_year()}{normalize(question).strip().rstrip('?？')}？"
    if not parts.indicator and not parts.ask:
        # 那市中区呢？ 2025年呢？: the last question again, with the new place or year.
        if asks_target(question, analyzer) and not asks_target(previous, analyzer):
            thing = before[0].counted or before[0].indicator or before[0].content
            thing = SAID_YEAR_RE.sub("", thing) if parts.year else thing  # 今年目标呢？ after 去年…: not both years
            if thing:  # 2025年的目标呢？ after a result: the same indicator's plan
                return f"{parts.place or before[0].place}{parts.year or before[0].year}{thing}目标是多少？"
        return swap(swap(previous, before[0].place, parts.place), before[0].year or said_year(previous), parts.year)
    if not parts.indicator and before[0].counted and (which := WHICH_RE.search(parts.ask)):
        # 具体是哪些？ after 要加快推进几个输变电工程？: which of the things it counted
        ask = which.group(0)
        place, year = parts.place or latest("place"), parts.year or latest_year()
        return f"{place}{year}{before[0].indicator}{ask}{before[0].counted}？"
    if not parts.indicator and not before[0].indicator:
        # The last question was about no indicator (为什么…, 有哪些…): ask it again, with a new place or year.
        return swap(swap(previous, before[0].place, parts.place), before[0].year or said_year(previous), parts.year)
    place = parts.place or latest("place")
    year = parts.year or latest_year()
    if parts.indicator and not parts.ask and before[0].counted:
        # 幼儿园呢？ after 计划开工多少所中小学: the same ask, counting the new thing
        ask = before[0].ask.replace(before[0].counted, parts.indicator)
        return f"{place}{year}{before[0].indicator}{ask}".rstrip("?？") + "？"
    # 那24年实际建成了多少家智能工厂？ counts a thing of its own: not the last question's 要新建 again
    indicator = parts.indicator or ("" if parts.counted else latest("indicator"))
    if parts.indicator and parts.indicator in before[0].indicator:
        indicator = before[0].indicator  # 营收增速呢？ after 规上服务业企业营收是多少？: the same 营收
    ask = parts.ask or latest("ask") or "是多少"
    if parts.indicator and not parts.ask and before[0].ask:
        # 服务业增加值呢: the new indicator, asked the way the last question asked, but not in its unit (智能算力规模呢？
        # after 5G基站要达到多少个？ counts no 个)
        ask = UNIT_RE.sub("多少", before[0].ask)
        if (change := CHANGE_END_RE.search(before[0].indicator)) and not CHANGE_END_RE.search(parts.indicator):
            ask = change.group(0) + ask  # 企业养老保险呢？ after 医疗保险参保人数新增了多少？: new ones, again
    if asks_target(question, analyzer) and not asks_target(f"{indicator}{ask}", analyzer):
        ask = "目标是多少"  # 一般公共预算收入今年目标呢？ after 实际涨了多少？: the target, not the result
    if parts.year:
        indicator = SAID_YEAR_RE.sub("", indicator)  # 今年目标呢？ after 去年…涨了多少？: its own year, not both
    standalone = f"{place}{year}{indicator}{ask}"
    return standalone.rstrip("?？") + "？"


def lead_clause(question: str) -> tuple[str, bool]:
    """换成起步区呢，今年计划建几个公园？ (or 历城区呢？23年总量有多少？) asks 起步区今年计划建几个公园？ as a follow-up: the
    place or year its first clause brings goes with the question of its second."""
    m = LEAD_CLAUSE_RE.match(normalize(question).strip())
    return (m.group("head") + m.group("rest"), True) if m else (question, False)


def compared(question: str) -> str:
    """跟全市比呢？ asks 全市呢？; 跟全市比呢，全市定的多少？ asks its second clause."""
    m = COMPARE_RE.match(normalize(question).strip())
    if not m:
        return question
    rest = normalize(question).strip()[m.end():].lstrip("，,；;？? ")
    return rest if rest else f"{m.group(1)}呢？"


def relative_year(question: str, earlier: list[str], analyzer: Analyzer) -> str:
    """A follow-up's year counted from the conversation's (那前一年的呢？ after a 2024 question: 2023年), when it
    names none of its own."""
    if THIS_YEAR in question:
        return this_year(question, earlier, analyzer)
    m = RELATIVE_YEAR_RE.search(question)
    if not m or analyzer(question).years:
        return question
    year = next((y for t in reversed(earlier) for y in analyzer(t).years[:1]), "")
    if not year:
        return question
    return question[:m.start()] + f"{int(year) + RELATIVE_YEARS[m.group(0)]}年" + question[m.end():]


def this_year(question: str, earlier: list[str], analyzer: Analyzer) -> str:
    """今年 in a follow-up: the year of the report the conversation is in. A report gives the last year's results
    and this year's targets, so 今年的目标呢？ after a result of 2023 asks the target of 2024, and after a target
    the same year. Without a year so far it names none (今年外资目标呢？ after 历城实际利用外资多少？)."""
    q = analyzer(question)
    if q.years:
        return question
    year = next((y for t in reversed(earlier) for y in analyzer(t).years[:1]), "")
    if not year:  # 今年呢？ after 去年…多少？ swaps the year said; each document counts it from its own year
        return question
    plan = asks_target(question, analyzer) and not asks_target(earlier[-1], analyzer)
    return question.replace(THIS_YEAR, f"{int(year) + plan}年", 1)


def about_last(question: str, standalone: str, history: Iterable[Answer | str], analyzer: Analyzer) -> str:
    """A second reading of a follow-up that names no place or year and asks something of its own (占比多少？
    总量在全市排第几？): about the last question's indicator. "" when there is none to add. Whether it or the
    first reading is meant shows only in the passages, so the caller keeps the one better answered."""
    earlier = [turn_question(t) for t in history if turn_question(t).strip()]
    if not earlier or standalone == question:
        return ""
    q = analyzer(question)
    parts = q.parts
    if parts.place or parts.year or continues_list(question, analyzer) or is_follow_up(question, parts, analyzer):
        return ""
    if len(parts.content) > ABOUT_LAST_CHARS:
        return ""  # 去年粮食总产多少？ names a subject of its own: not 首个…安全证书是谁拿 + 粮食总产
    last = analyzer(earlier[-1]).parts
    about = last.counted or last.indicator
    if not about or about in question:
        return ""
    body = normalize(question).strip().rstrip("?？")
    return said_once(standalone.replace(body, about + body, 1)) if body in standalone else ""


def without_inherited_year(question: str, standalone: Question, analyzer: Analyzer,
                           place_years: Callable[[str], set[str] | None]) -> str:
    """A place follow-up (那历城区呢？ after a question on 2025) searched without the year it took from the
    conversation, when the documents about that place never name that year: a district's report gives its
    figures for its own years. "" when the follow-up names a year or an indicator, or the place's documents name
    the year (then a figure missing for it is missing). `standalone`: the searched question's reading;
    `place_years`: the years a place's documents name."""
    parts = analyzer(question).parts
    if not parts.place or parts.year or parts.indicator or standalone.text == question:
        return ""
    years = standalone.years
    covered = place_years(parts.place)
    if not years or covered is None or years[0] in covered:
        return ""
    return re.sub(rf"{years[0]}\s*年", "", standalone.text, count=1)


def asks_target(text: str, analyzer: Analyzer) -> bool:
    """Whether a question asks a target in its own words (目标, 计划, 要): 今年 also reads as a target, but in a
    follow-up it is only the year the conversation moves to."""
    return analyzer(SAID_YEAR_RE.sub("", text)).wants_target


def said_year(question: str) -> str:
    """The year a question names from now (去年, 今年), which a follow-up's own year replaces (2025年呢？ after
    济南去年新增城镇就业多少人？ asks of 2025, not of 2025 and 去年)."""
    m = SAID_YEAR_RE.search(question)
    return m.group(0) if m else ""


def swap(text: str, old: str, new: str) -> str:
    """`text` with `old` (a place or year) replaced by `new`, or `new` put in front when it had none."""
    if not new or new == old:
        return text
    return text.replace(old, new, 1) if old and old in text else new + text


def places_and_years(text: str, analyzer: Analyzer) -> tuple[set[str], set[str]]:
    q = analyzer(text)
    return set(q.places), set(q.years)


def check_rewrite(rewritten: str, by_rules: str, analyzer: Analyzer) -> str:
    """An LLM's standalone question, unless it lost a place or year that the rules' question has."""
    places, years = places_and_years(by_rules, analyzer)
    got_places, got_years = places_and_years(rewritten, analyzer)
    if not rewritten.strip() or not places <= got_places or not years <= got_years:
        return by_rules
    return rewritten
