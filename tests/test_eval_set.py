"""The eval splits are well-formed: evidence verbatim in its document and holding the answers, no test
question in dev, the qa.jsonl halves reproducible from their seed, the fresh test set's shape, and the
conversations held to the same rules."""
import json
from collections import Counter
from pathlib import Path

import pytest

from eval.split import split
from rag.textutil import squash

ROOT = Path(__file__).resolve().parent.parent


def load(name):
    return [json.loads(l) for l in (ROOT / "eval" / name).read_text("utf-8").splitlines() if l.strip()]


FILES = {name: load(name) for name in ("dev.jsonl", "test.jsonl", "fresh_test.jsonl")}
CONVERSATIONS = load("conversations.jsonl")
TURNS = [(f"conversations.jsonl:{c['split']}", dict(t, id=f"{c['id']}.{k}"))
         for c in CONVERSATIONS for k, t in enumerate(c["turns"])]
ALL = [(name, i) for name, items in FILES.items() for i in items] + TURNS


def test_no_test_question_is_in_dev():
    dev = {squash(i["question"]) for i in FILES["dev.jsonl"]}
    test = {squash(i["question"]) for i in FILES["test.jsonl"] + FILES["fresh_test.jsonl"]}
    assert not dev & test
    ids = [i["id"] for _, i in ALL]
    assert len(ids) == len(set(ids))


def test_conversations_are_split_and_no_test_opening_is_in_dev():
    assert {c["split"] for c in CONVERSATIONS} == {"dev", "test"}
    opening = {s: {squash(c["turns"][0]["question"]) for c in CONVERSATIONS if c["split"] == s} for s in ("dev", "test")}
    assert not opening["dev"] & opening["test"]
    assert all(c["turns"][0]["follow"] == "first" and 2 <= len(c["turns"]) <= 4 for c in CONVERSATIONS)


def test_the_qa_halves_are_the_seeded_split():
    dev, test = split(load("qa.jsonl"))
    assert [i["id"] for i in test] == [i["id"] for i in FILES["test.jsonl"]]
    assert {i["id"] for i in dev} >= {i["id"] for i in FILES["dev.jsonl"] if i["id"].startswith("q")}


def test_fresh_test_set_shape():
    items = FILES["fresh_test.jsonl"]
    assert len(items) >= 150
    kinds = Counter(i["kind"] for i in items)
    assert (kinds["near_miss"] + kinds["out_of_corpus"]) / len(items) >= 0.25
    assert kinds["near_miss"] >= 20 and kinds["out_of_corpus"] >= 15
    docs = Counter(i["doc"] for i in items if i["doc"])
    assert set(docs) == {p.name for p in (ROOT / "seeds").glob("*.txt")}


@pytest.mark.parametrize("name, item", [(n, i) for n, i in ALL if i["type"] != "unanswerable"],
                         ids=lambda v: v["id"] if isinstance(v, dict) else v)
def test_evidence_is_verbatim_and_holds_the_answers(name, item):
    doc = squash((ROOT / "seeds" / item["doc"]).read_text("utf-8"))
    ev = squash(item["evidence"])
    assert 10 <= len(ev) <= 120
    assert ev in doc or all(squash(c) in doc for c in item["evidence"].split("\t"))
    assert item["answers"] and all(squash(a) in ev for a in item["answers"])


def test_unanswerable_items_have_no_answers_and_a_kind():
    for _, i in ALL:
        if i["type"] == "unanswerable":
            assert i["answers"] == [] and i["doc"] is None and i["evidence"] is None
            assert i.get("kind", i.get("follow")) in ("near_miss", "out_of_corpus", "decline", "first")
        elif "kind" in i:  # a conversation's turn has its follow-up kind instead
            assert i["kind"] == "answerable"
