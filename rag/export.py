"""A conversation written out for the record: each question, its answer and its sources (title › section,
page, the quoted sentence), as Markdown or as a Word document."""
from __future__ import annotations

import os
from typing import Iterable

from .models import Answer, Citation


def source_line(c: Citation) -> str:
    """[n] title › section · 第N页: where a cited passage is."""
    where = f"{c.title} › {c.section}" if c.section else c.title
    return f"[{c.n}] {where}" + (f" · 第{c.page}页" if c.page else "") + f"（{c.source}）"


def cited(answer: Answer) -> list[Citation]:
    """The citations an answer quotes, or all of them when it quotes none (a decline shows what was found)."""
    quoted = [c for c in answer.citations if c.quote]
    return quoted or list(answer.citations)


def to_markdown(answers: Iterable[Answer], title: str = "问答记录") -> str:
    """The conversation as Markdown: a section per question with the answer and its sources."""
    out = [f"# {title}", ""]
    for k, a in enumerate(answers, 1):
        out += [f"## {k}. {a.question}", ""]
        if a.standalone:
            out += [f"（按「{a.standalone}」检索）", ""]
        out += [a.answer if a.found else f"未找到答案：{a.answer}", "", "**出处**", ""]
        for c in cited(a):
            out.append(f"- {source_line(c)}")
            if c.quote:
                out.append(f"  > {c.quote}")
        out.append("")
    return "\n".join(out)


def to_docx(answers: Iterable[Answer], path: str | os.PathLike, title: str = "问答记录") -> str:
    """The conversation as a Word document at `path` (python-docx); returns the path."""
    import docx

    d = docx.Document()
    d.add_heading(title, level=0)
    for k, a in enumerate(answers, 1):
        d.add_heading(f"{k}. {a.question}", level=1)
        if a.standalone:
            d.add_paragraph(f"（按「{a.standalone}」检索）")
        d.add_paragraph(a.answer if a.found else f"未找到答案：{a.answer}")
        d.add_heading("出处", level=2)
        for c in cited(a):
            d.add_paragraph(source_line(c), style="List Bullet")
            if c.quote:
                d.add_paragraph(c.quote, style="Quote")
    d.save(str(path))
    return str(path)
