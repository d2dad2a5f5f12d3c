"""`rag eval`: the known Q&A set (or CMRC 2018 trial) through the public ask(), with baselines.

Metrics (whitespace is ignored in every comparison, so hard-wrapped text still matches):
  hit@k     a citation among the first k is from the right document, holds a gold answer and overlaps the evidence
  MRR       mean of 1/rank of the first such citation
  accuracy  a gold answer inside the short answer (at most 160 characters), for answerable questions;
            punctuation is ignored there too (a gold answer ending in 。 matches an answer without it)
  declined  share of unanswerable questions answered with found=False (near_miss: in-domain questions the
            documents do not answer; out_of_corpus: other cities, chit-chat, arithmetic, English)
  false_decline  share of answerable questions answered with found=False
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rag import Answer, RagError, Settings, ask
from rag.repair import MARKUP_RE
from rag.textutil import squash

from .split import cmrc_halves

ANSWER_LIMIT = 160
OVERLAP = 12  # characters of evidence a citation must share to count as the same passage


@dataclass
class Item:
    id: str
    question: str
    answers: list[str]
    doc: str | None
    evidence: str | None
    type: str
    kind: str = ""  # answerable, near_miss or out_of_corpus


@dataclass
class Outcome:
    item: Item
    answer: Answer
    rank: int  # 1-based rank of the first relevant citation, 0 if none
    correct: bool
    seconds: float


@dataclass
class Report:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)

    def metrics(self, subset: list[Outcome] | None = None) -> dict:
        outs = self.outcomes if subset is None else subset
        ans = [o for o in outs if o.item.type != "unanswerable"]
        una = [o for o in outs if o.item.type == "unanswerable"]
        lat = sorted(o.seconds for o in outs) or [0.0]
        m = {"n": len(outs)}
        if ans:
            for k in (1, 3, 5):
                m[f"hit@{k}"] = sum(1 for o in ans if 0 < o.rank <= k) / len(ans)
            m["mrr"] = sum(1 / o.rank for o in ans if o.rank) / len(ans)
            m["accuracy"] = sum(o.correct for o in ans) / len(ans)
            m["false_decline"] = sum(not o.answer.found for o in ans) / len(ans)
        if una:
            m["declined"] = sum(not o.answer.found for o in una) / len(una)
            for kind in ("near_miss", "out_of_corpus"):
                some = [o for o in una if o.item.kind == kind]
                if some:
                    m[f"declined_{kind}"] = sum(not o.answer.found for o in some) / len(some)
        m["p50_ms"] = 1000 * lat[len(lat) // 2]
        m["p95_ms"] = 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.95))]
        return m


def load_items(path: str) -> list[Item]:
    with open(path, encoding="utf-8") as fh:
        return [Item(**{k: v for k, v in json.loads(line).items() if k in Item.__dataclass_fields__})
                for line in fh if line.strip()]


def relevant(item: Item, source: str, text: str) -> bool:
    if item.doc is None or source != item.doc:
        return False
    body = squash(text)
    if not any(squash(a) in body for a in item.answers):
        return False
    raw = MARKUP_RE.sub("", item.evidence or "")  # passages are shown without the documents' markup
    if "\t" in raw:  # a table row: passages show it as 列名：值 pairs, so each cell must be there
        return all(squash(c) in body for c in raw.split("\t"))
    ev = squash(raw)
    if len(ev) <= OVERLAP:
        return ev in body
    return any(ev[i:i + OVERLAP] in body for i in range(0, len(ev) - OVERLAP + 1))


def bare(text: str) -> str:
    """Text without whitespace and punctuation, as CMRC's own evaluation compares answers."""
    return "".join(ch for ch in squash(text) if not unicodedata.category(ch).startswith("P"))


def judge(item: Item, answer: Answer, seconds: float) -> Outcome:
    rank = next((c.n for c in answer.citations if relevant(item, c.source, c.text)), 0)
    short = bare(squash(answer.answer)[:ANSWER_LIMIT])
    correct = answer.found and any(bare(a) and bare(a) in short for a in item.answers)
    return Outcome(item, answer, rank, correct, seconds)


def run(name: str, items: list[Item], answer_fn: Callable[[str], Answer]) -> Report:
    report = Report(name)
    for item in items:
        t0 = time.perf_counter()
        try:
            a = answer_fn(item.question)
        except RagError as exc:  # a malformed benchmark question counts as a miss, not a crash
            a = Answer(item.question, str(exc), False, [])
        report.outcomes.append(judge(item, a, time.perf_counter() - t0))
    return report


# ---------------------------------------------------------------- output

COLS = ["n", "hit@1", "hit@3", "hit@5", "mrr", "accuracy", "declined", "false_decline", "p50_ms", "p95_ms"]
# The splits `rag eval` runs when no file is named: tune on dev only; the test files are read, never tuned on.
SPLITS = {"dev": ["eval/dev.jsonl"], "test": ["eval/test.jsonl"], "fresh test": ["eval/fresh_test.jsonl"]}
SPLIT_ROWS = ["n", "hit@1", "hit@5", "mrr", "accuracy", "declined", "declined_near_miss", "declined_out_of_corpus",
              "false_decline", "p50_ms"]


def table(rows: list[tuple[str, dict]], first: str = "system") -> str:
    lines = ["| " + first + " | " + " | ".join(COLS) + " |", "|" + "---|" * (len(COLS) + 1)]
    for name, m in rows:
        cells = []
        for c in COLS:
            v = m.get(c)
            cells.append("-" if v is None else (f"{v:.0f}" if c in ("n", "p50_ms", "p95_ms") else f"{v:.3f}"))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def split_table(reports: dict[str, Report]) -> str:
    """Metrics as rows, splits as columns, with "test (all)" pooling every test split and the dev - test gap."""
    tests = [o for name, r in reports.items() if name != "dev" for o in r.outcomes]
    cols = {name: r.metrics() for name, r in reports.items()}
    if "dev" in cols and tests:
        cols["test (all)"] = Report("test (all)", tests).metrics()
    names = list(cols)
    gap = "dev" in cols and "test (all)" in cols
    lines = ["| metric | " + " | ".join(names) + (" | gap (dev - test) |" if gap else " |"),
             "|" + "---|" * (len(names) + 1 + gap)]
    for row in SPLIT_ROWS:
        vals = [cols[n].get(row) for n in names]
        if all(v is None for v in vals):
            continue
        fmt = (lambda v: "-" if v is None else f"{v:.0f}") if row in ("n", "p50_ms") else \
              (lambda v: "-" if v is None else f"{v:.3f}")
        cells = [fmt(v) for v in vals]
        if gap:
            a, b = cols["dev"].get(row), cols["test (all)"].get(row)
            cells.append("-" if row in ("n", "p50_ms") or a is None or b is None else f"{a - b:+.3f}")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def breakdown(report: Report, key: Callable[[Outcome], str]) -> list[tuple[str, dict]]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in report.outcomes:
        groups[key(o)].append(o)
    return [(k, report.metrics(v)) for k, v in sorted(groups.items())]


def failures(report: Report, limit: int) -> str:
    out = []
    bad = [o for o in report.outcomes
           if (o.item.type == "unanswerable" and o.answer.found) or (o.item.type != "unanswerable" and (not o.correct or o.rank != 1))]
    for o in bad[:limit]:
        top = "; ".join(f"[{c.n}] {c.source} {c.section[-30:]}" for c in o.answer.citations[:3])
        out.append(f"- {o.item.id} ({o.item.type}) {o.item.question}\n  gold: {o.item.answers} in {o.item.doc} · "
                   f"hit rank {o.rank or '-'}\n  answered: {o.answer.answer[:120]!r} (found={o.answer.found})\n  retrieved: {top}")
    return "\n".join(out) + (f"\n… and {len(bad) - limit} more" if len(bad) > limit else "")


# ---------------------------------------------------------------- baselines

def baseline_answerers(index: str, settings: Settings, paths: list[str]) -> dict[str, Callable[[str], Answer]]:
    """BM25 only, dense only (same extractive answerer), and the naive LangChain pipeline."""
    from rag.chain import get_engine
    from rag.retriever import HybridRetriever

    from .baselines import NaivePipeline

    engine = get_engine(index, settings)
    out = {}
    for mode in ("bm25", "dense"):
        r = HybridRetriever(index=engine.index, embeddings=engine.retriever.embeddings, settings=engine.settings,
                            top_k=5, mode=mode)
        out[f"{mode} only"] = (lambda q, r=r: engine.answerer.answer(q, r.search(q, 5)))
    naive = NaivePipeline.build(paths, engine.retriever.embeddings)
    out["naive LangChain"] = naive.ask
    return out


# ---------------------------------------------------------------- CMRC

def cmrc_items(path: str, corpus_dir: Path) -> list[Item]:
    """Write one markdown document per CMRC article (title as heading); its questions become items."""
    data = json.loads(Path(path).read_text("utf-8"))
    articles = data["data"] if isinstance(data, dict) else data
    items: list[Item] = []
    for a_i, art in enumerate(articles):
        title = art.get("title", f"article {a_i}")
        name = f"cmrc_{a_i:04d}.md"
        contexts = [p["context"] for p in art["paragraphs"]]
        (corpus_dir / name).write_text(f"# {title}\n\n" + "\n\n".join(contexts) + "\n", "utf-8")
        for p in art["paragraphs"]:
            for qa in p["qas"]:
                answers = sorted({x["text"] for x in qa["answers"] if x["text"].strip()})
                items.append(Item(qa["id"], qa["question"], answers, name, p["context"], "cmrc"))
    return items


# ---------------------------------------------------------------- main

def main(args) -> int:
    settings = Settings.from_env(index_dir=args.index)
    tmp = None
    if args.cmrc:
        keep = getattr(args, "cmrc_dir", None)
        if keep is None:
            tmp = tempfile.TemporaryDirectory(prefix="rag-cmrc-")
        work = Path(keep or tmp.name)
        corpus = work / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        items = cmrc_items(args.cmrc, corpus)
        # A kept index is rebuilt incrementally: nothing re-embedded.
        index = str(work / ("index.db" if getattr(args, "backend", "local") == "milvus" else "index"))
        settings = settings.replace(corpus=str(corpus))
        paths = [str(corpus)]
        from rag import build_index

        print(f"indexing {len(list(corpus.iterdir()))} CMRC articles into {index}…", file=sys.stderr)
        build_index(paths, index=index, settings=settings)
        label = "CMRC 2018 trial"
    elif args.file is None:
        return _main_splits(args, settings)
    else:
        items = load_items(args.file)
        index = settings.index_dir
        paths = [settings.corpus]
        label = args.file
    if args.limit:
        items = items[: args.limit]
    try:
        reports = [run("product (hybrid + extractive)", items, lambda q: ask(q, index=index, settings=settings))]
        if args.baselines:
            for name, fn in baseline_answerers(index, settings, paths).items():
                reports.append(run(name, items, fn))
    finally:
        if tmp is not None:
            tmp.cleanup()
    main_report = reports[0]
    if args.json:
        halves = dict(zip(("dev half", "test half"), cmrc_halves([i.doc for i in items]))) if args.cmrc else {}
        print(json.dumps({
            "file": label,
            "systems": {r.name: r.metrics() for r in reports},
            "halves": {h: main_report.metrics([o for o in main_report.outcomes if o.item.doc in d])
                       for h, d in halves.items()},
            "per_document": dict(breakdown(main_report, lambda o: o.item.doc or "(none)")),
            "per_type": dict(breakdown(main_report, lambda o: o.item.type)),
        }, ensure_ascii=False, indent=1))
        return 0
    print(f"## {label}: {len(items)} questions\n")
    print(table([(r.name, r.metrics()) for r in reports]))
    if args.cmrc:  # the dev half of the articles joined the answerability calibration; the test half did not
        dev_docs, test_docs = cmrc_halves([i.doc for i in items])
        print("\n### CMRC trial halves (product)\n")
        print(table([(half, main_report.metrics([o for o in main_report.outcomes if o.item.doc in docs]))
                     for half, docs in (("dev half", dev_docs), ("test half", test_docs))], "half"))
    if not args.cmrc:
        print("\n### per document\n")
        print(table(breakdown(main_report, lambda o: o.item.doc or "(unanswerable)"), "document"))
        print("\n### per question type\n")
        print(table(breakdown(main_report, lambda o: o.item.type), "type"))
    print("\n### failures (product)\n")
    print(failures(main_report, args.failures))
    return 0


CONVERSATIONS = "eval/conversations.jsonl"
CONV_ROWS = ["turns", "first-turn accuracy", "follow-up accuracy", "follow-up hit@1", "follow-up declined",
             "topic change as if alone"]


def run_conversations(path: str, ask_fn: Callable[..., Answer]) -> dict[str, dict]:
    """Each conversation asked turn by turn with its history; metrics per split (dev, test)."""
    out: dict[str, dict] = {}
    groups: dict[str, list] = defaultdict(list)
    for line in Path(path).read_text("utf-8").splitlines():
        if not line.strip():
            continue
        conv = json.loads(line)
        history: list[Answer] = []
        for k, turn in enumerate(conv["turns"]):
            item = Item(f"{conv['id']}.{k}", turn["question"], turn["answers"], turn["doc"], turn["evidence"],
                        turn["type"], turn["follow"])
            t0 = time.perf_counter()
            a = ask_fn(item.question, history=history)
            o = judge(item, a, time.perf_counter() - t0)
            alone = ask_fn(item.question).answer if item.kind == "topic_change" else None
            groups[conv["split"]].append((o, alone))
            history.append(a)
    for split, turns in sorted(groups.items()):
        first = [o for o, _ in turns if o.item.kind == "first" and o.item.type != "unanswerable"]
        follow = [o for o, _ in turns if o.item.kind not in ("first", "decline") and o.item.type != "unanswerable"]
        declines = [o for o, _ in turns if o.item.type == "unanswerable" and o.item.kind != "first"]
        topic = [(o, alone) for o, alone in turns if o.item.kind == "topic_change"]
        share = (lambda xs, f: sum(map(f, xs)) / len(xs) if xs else None)
        out[split] = {
            "turns": len(turns),
            "first-turn accuracy": share(first, lambda o: o.correct),
            "follow-up accuracy": share(follow, lambda o: o.correct),
            "follow-up hit@1": share(follow, lambda o: o.rank == 1),
            "follow-up declined": share(declines, lambda o: not o.answer.found),
            "topic change as if alone": share(topic, lambda t: t[0].answer.answer == t[1]),
        }
    return out


def conversation_table(metrics: dict[str, dict]) -> str:
    names = list(metrics)
    lines = ["| metric | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for row in CONV_ROWS:
        vals = [metrics[n].get(row) for n in names]
        lines.append(f"| {row} | " + " | ".join("-" if v is None else (f"{v:.0f}" if row == "turns" else f"{v:.3f}")
                                                  for v in vals) + " |")
    return "\n".join(lines)


def _main_splits(args, settings: Settings) -> int:
    """dev and the test splits side by side, with the gap: the protocol's one report."""
    index = settings.index_dir
    reports = {}
    for name, files in SPLITS.items():
        items = [it for f in files for it in load_items(f)]
        if args.limit:
            items = items[: args.limit]
        reports[name] = run(name, items, lambda q: ask(q, index=index, settings=settings))
    conversations = run_conversations(CONVERSATIONS, lambda q, history=(): ask(q, history=history, index=index,
                                                                                settings=settings))
    if args.json:
        out = {name: r.metrics() for name, r in reports.items()}
        out["test (all)"] = Report("all", [o for n, r in reports.items() if n != "dev" for o in r.outcomes]).metrics()
        out["conversations"] = conversations
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    print("## dev and test splits (tune on dev only; test is read once per change)\n")
    print(split_table(reports))
    print("\n### conversations (eval/conversations.jsonl): follow-up questions asked with their history\n")
    print(conversation_table(conversations))
    print("\n### failures (dev)\n")
    print(failures(reports["dev"], args.failures))
    return 0
