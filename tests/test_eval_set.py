"""The eval set is well-formed: evidence is verbatim in its document and holds the answers."""
import json
from collections import Counter
from pathlib import Path

import pytest

from rag.textutil import squash

ROOT = Path(__file__).resolve().parent.parent
ITEMS = [json.loads(l) for l in (ROOT / "eval" / "qa.jsonl").read_text("utf-8").splitlines() if l.strip()]


def test_size_and_spread():
    assert len(ITEMS) >= 120
    types = Counter(i["type"] for i in ITEMS)
    assert types["unanswerable"] >= 12
    assert set(types) <= {"number", "entity", "list", "yesno", "why", "unanswerable"}
    docs = Counter(i["doc"] for i in ITEMS if i["doc"])
    assert set(docs) == {p.name for p in (ROOT / "seeds").glob("*.txt")}
    assert len({i["id"] for i in ITEMS}) == len(ITEMS)
    assert not any("起步区2024年固定资产投资目标是多少" in i["question"] for i in ITEMS)


@pytest.mark.parametrize("item", [i for i in ITEMS if i["type"] != "unanswerable"], ids=lambda i: i["id"])
def test_evidence_is_verbatim_and_holds_the_answers(item):
    doc = squash((ROOT / "seeds" / item["doc"]).read_text("utf-8"))
    ev = squash(item["evidence"])
    assert 10 <= len(item["evidence"]) <= 120
    assert ev in doc
    assert item["answers"] and all(squash(a) in ev for a in item["answers"])


def test_unanswerable_items_have_no_answers():
    for i in ITEMS:
        if i["type"] == "unanswerable":
            assert i["answers"] == [] and i["doc"] is None and i["evidence"] is None
