"""OCR end to end: 000 (a newspaper page's text) rendered back into A4 page images with Noto Sans CJK, made
into a scanned PDF, read by OCR and indexed, answers the test questions about 000 nearly as well as the text."""
from __future__ import annotations

import textwrap

import pytest

from rag import Settings, ask, build_index

from conftest import ROOT, SEEDS, make_pdf, render_lines

pytestmark = pytest.mark.integration

SOURCE = "000_b0255db324f54625.txt"
LINES_PER_PAGE = 34  # what fits on an A4 page (1754 px) at 26 px and 1.8 line spacing
WRAP = 38  # characters per printed line


def scanned_pages() -> list:
    lines = []
    for line in (SEEDS / SOURCE).read_text("utf-8").splitlines():
        indent = line[: len(line) - len(line.lstrip(" "))]
        pieces = textwrap.wrap(line.strip(), WRAP) or [""]
        lines += [indent + pieces[0]] + pieces[1:]
    pages = [lines[i:i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)]
    return [render_lines(page, width=1240, height=1754, size=26) for page in pages]


@pytest.fixture(scope="module")
def scanned_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("scanned")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "000_scan.pdf").write_bytes(make_pdf(scanned_pages()))
    index = str(root / "index")
    stats = build_index([str(corpus)], index=index, settings=Settings(corpus=str(corpus)))
    assert not stats.skipped
    return index


def test_a_scanned_000_answers_at_least_90_percent_of_what_the_text_answers(scanned_index, seeds_index):
    from eval.runner import judge, load_items

    items = [i for i in load_items(str(ROOT / "eval" / "test.jsonl")) if i.doc == SOURCE and i.type != "unanswerable"]
    text_right = [i for i in items if judge(i, ask(i.question, index=seeds_index), 0).correct]
    scan_right = [i for i in text_right if judge(i, ask(i.question, index=scanned_index), 0).correct]
    assert len(items) >= 10 and len(scan_right) >= 0.9 * len(text_right), (len(scan_right), len(text_right))
