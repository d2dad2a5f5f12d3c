"""Small text helpers for Chinese: punctuation classes, sentence splitting, normalization."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources

# Characters that may end a sentence or a paragraph; a line that ends otherwise continues.
TERMINAL = "。！？!?；;…"
CLOSERS = "”’」』）)】》\"'"
SENTENCE_END_RE = re.compile(r"[^。！？!?；;…\n]*(?:[。！？!?；;…]+[”’」』）)】》\"']*|\n|$)")
CLAUSE_RE = re.compile(r"[^。！？!?；;…，,、：:\n]+[。！？!?；;…，,、：:]*[”’」』）)】》\"']*")
CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def is_cjk(ch: str) -> bool:
    return bool(ch) and bool(CJK_RE.match(ch))


CN_DIGITS = {d: i for i, d in enumerate("一二三四五六七八九", 1)}


def ordinal_number(digits: str) -> int:
    """The number of an ordinal's digits: 一 -> 1, 十一 -> 11, 二十 -> 20, 12 -> 12 (0 when unreadable)."""
    if digits.isdigit():
        return int(digits)
    tens, _, ones = digits.rpartition("十")
    if "十" not in digits:
        return CN_DIGITS.get(digits, 0)
    return CN_DIGITS.get(tens, 1) * 10 + CN_DIGITS.get(ones, 0)


def ends_sentence(text: str) -> bool:
    """True when text ends with sentence-final punctuation (closing quotes allowed after it)."""
    t = text.rstrip().rstrip(CLOSERS)
    return bool(t) and t[-1] in TERMINAL


def split_sentences(text: str) -> list[str]:
    """Split on 。！？； and line breaks, keeping the punctuation; concatenating gives the text back."""
    out = [m.group(0) for m in SENTENCE_END_RE.finditer(text) if m.group(0)]
    return out


def split_clauses(sentence: str) -> list[str]:
    """Split a sentence on commas, enumeration commas and colons as well."""
    return [m.group(0) for m in CLAUSE_RE.finditer(sentence) if m.group(0).strip()]


def normalize(text: str) -> str:
    """The form text is matched in: full-width to half-width (NFKC), keeping Chinese punctuation that NFKC would
    not touch, and traditional characters as simplified (濟南 -> 济南), one character for one, so a question in
    either script finds a document in either. Displayed text is never normalized."""
    return unicodedata.normalize("NFKC", text).translate(_t2s())


@lru_cache(maxsize=1)
def _t2s() -> dict[int, str]:
    """OpenCC's traditional-to-simplified characters (its TSCharacters table, first choice), except characters
    that simplified text uses too (those in GB2312: 著, 乾): converting them would change simplified text."""
    try:
        table = (resources.files("opencc") / "dictionary" / "TSCharacters.txt").read_text("utf-8")
    except (ModuleNotFoundError, OSError):  # without the table, traditional text is matched as it is
        return {}
    out = {}
    for line in table.splitlines():
        trad, _, simple = line.partition("\t")
        simple = simple.split()[0] if simple.split() else ""
        if len(trad) == 1 and len(simple) == 1 and trad != simple and not _in_gb2312(trad):
            out[ord(trad)] = simple
    return out


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
        return True
    except UnicodeEncodeError:
        return False


def squash(text: str) -> str:
    """Drop all whitespace: for comparing text across line wraps and spacing differences."""
    return re.sub(r"\s+", "", text)


# Abbreviations people type that the reports spell out; the full form is added, not substituted,
# because the documents use both.
ABBREVIATIONS = {"GDP": "地区生产总值", "规上": "规模以上", "CPI": "居民消费价格", "社零": "社会消费品零售总额",
                 "固投": "固定资产投资", "高企": "高新技术企业", "技改": "技术改造", "人代会": "人民代表大会"}
# Everyday words for the terms reports use (经济总量 is 地区生产总值, 老百姓收入 is 居民人均可支配收入): the terms
# of China's statistical reporting, not of one document.
EVERYDAY_TERMS = {"经济总量": "地区生产总值", "老百姓收入": "居民人均可支配收入", "群众收入": "居民人均可支配收入",
                  "钱袋子": "居民人均可支配收入", "贷款规模": "贷款余额", "存款规模": "存款余额", "物价": "居民消费价格",
                  "盘子": "规模", "利用外资": "使用外资", "使用外资": "利用外资",
                  "研发投入": "研发经费投入"}  # not 财政收入 -> 一般公共预算收入: dev lost 税收占财政收入多少 with it


def translated_words(text: str) -> list[str]:
    """The abbreviations and everyday words of `text` that expand_abbreviations spells out (钱袋子, GDP)."""
    return [short for short in {**ABBREVIATIONS, **EVERYDAY_TERMS} if short in text.upper()]


def expand_abbreviations(text: str) -> str:
    """Add the spelled-out form after each known abbreviation or everyday word (GDP -> GDP 地区生产总值)."""
    for short, full in {**ABBREVIATIONS, **EVERYDAY_TERMS}.items():
        if short in text.upper() and full not in text:
            text = re.sub(re.escape(short), lambda m: f"{m.group(0)} {full} ", text, flags=re.IGNORECASE)
    return text
