"""Fit the answerability model (rag/answerability.json) on the dev split only.

Each dev question gives candidate answers with their signals (ExtractiveAnswerer.assess). A candidate is a
positive when its answer text holds a gold answer; every candidate of an unanswerable question is a negative,
and so is every candidate of an answerable one asked again with its gold document left out of retrieval (the
"same question, document missing" negatives). A small L2-regularised logistic regression is fitted on them;
the threshold is the highest one whose false declines on dev stay within the target.

    python -m eval.calibrate [--dev eval/dev.jsonl] [--index index] [--max-false-decline 0.03]
                             [--cmrc ../shared/data/cmrc2018_trial.json --cmrc-dir DIR]

With --cmrc, the dev half of the CMRC 2018 trial's articles (eval/split.py) joins the seeds' dev questions, so
the model also sees encyclopedic questions; the threshold must keep false declines within the target on each.
"""
from __future__ import annotations

import argparse
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag import Settings
from rag.answerability import EMBEDDING_FEATURES, FEATURES, WEIGHTS_FILE, question_reason
from rag.chain import get_engine

from .runner import Item, bare, cmrc_items, load_items
from .split import cmrc_halves

L2 = 0.01  # ridge on the weights (not the bias): keeps them small where dev says little
# Agreements that may veto an answer.
GATE_CANDIDATES = ("year", "place", "place_loose", "scope", "qualifier", "plan", "atype", "level", "joint", "ask")
GATE_MISS = 0.01  # a gate when at most this share of right candidates on dev fail it
CEILING_CANDIDATES = ("unseen",)  # shares that veto an answer above the highest a right dev answer had
FLOOR_CANDIDATES = ("coverage", "chars")  # shares that veto an answer below the lowest a right dev answer had


@dataclass
class Case:
    """One asked question: its candidates' signals and labels, and whether it should be answered."""

    group: str  # which dev set it comes from (seeds, cmrc)
    answerable: bool
    synthetic: bool
    x: np.ndarray  # candidates x features
    y: np.ndarray  # 1 where the candidate's answer is right
    hard: bool  # declined from the question alone


def cases(items: list[Item], index: str, settings: Settings, group: str) -> list[Case]:
    engine = get_engine(index, settings)
    ans = engine.answerer
    out = []
    for item in items:
        q = engine.read(item.question)
        variants = [(frozenset(), item.type != "unanswerable")]
        if item.doc:
            variants.append((frozenset({item.doc}), False))
        for exclude, answerable in variants:
            hard = bool(question_reason(q))
            rows, labels = [], []
            if not hard:
                hits = engine.retriever.search(q, settings.top_k, exclude=exclude)
                for cand, f in ans.assess(q, hits)[1]:
                    rows.append([f[k] for k in FEATURES])
                    span = bare(ans.span(q, cand))
                    labels.append(float(answerable and any(bare(a) and bare(a) in span for a in item.answers)))
            out.append(Case(group, answerable, bool(exclude), np.array(rows, float).reshape(-1, len(FEATURES)),
                            np.array(labels, float), hard))
    return out


def fit(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = 50) -> tuple[np.ndarray, float]:
    """Logistic regression by Newton's method; features standardised inside, weights returned raw."""
    mu, sd = x.mean(0), x.std(0)
    sd[sd == 0] = 1.0
    z = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2 * len(x))
    reg[-1] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ w))
        grad = z.T @ (p - y) + reg * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg + 1e-9)
        w -= np.linalg.solve(hess, grad)
    raw = w[:-1] / sd
    return raw, float(w[-1] - (raw * mu).sum())


def passes(x: np.ndarray, gates: list[str], ceilings: dict[str, float], floors: dict[str, float]) -> np.ndarray:
    ok = np.ones(len(x), bool)
    for g in gates:
        ok &= x[:, FEATURES.index(g)] > 0
    for f, top in ceilings.items():
        ok &= x[:, FEATURES.index(f)] <= top
    for f, low in floors.items():
        ok &= x[:, FEATURES.index(f)] >= low
    return ok


def right_values(cs: list[Case], feature: str) -> list[np.ndarray]:
    """The feature's values on each dev group's right candidates."""
    i = FEATURES.index(feature)
    return [np.concatenate([c.x[c.y == 1, i] for c in cs if c.group == g and len(c.x)]) for g in {c.group for c in cs}]


def ceiling(cs: list[Case], feature: str) -> float:
    """The lowest value (in steps of 0.05) above which at most GATE_MISS of each dev group's right candidates lie."""
    groups = right_values(cs, feature)
    for top in np.arange(0.05, 1.0001, 0.05):
        if all((r > top).mean() <= GATE_MISS for r in groups if len(r)):
            return round(float(top), 2)
    return 1.0


def floor(cs: list[Case], feature: str) -> float:
    """The highest value (in steps of 0.05) below which at most GATE_MISS of each dev group's right candidates lie."""
    groups = right_values(cs, feature)
    for low in np.arange(1.0, -0.0001, -0.05):
        if all((r < low).mean() <= GATE_MISS for r in groups if len(r)):
            return round(float(low), 2)
    return 0.0


def decide(cs: list[Case], w: np.ndarray, b: float, t: float, gates: list[str], ceilings: dict[str, float],
           floors: dict[str, float]) -> dict:
    """The answerer's rule on cached candidates: answer with the first candidate whose probability >= t. Metrics
    per dev group, with the largest false-decline rate over the groups."""
    def outcome(c: Case) -> tuple[bool, bool]:
        if c.hard or not len(c.x):
            return False, False
        p = passes(c.x, gates, ceilings, floors) / (1 + np.exp(-(c.x @ w + b)))
        ok = np.nonzero(p >= t)[0]
        if len(ok):
            return True, bool(c.y[ok[0]])
        return False, False

    out: dict = {}
    for group in sorted({c.group for c in cs}):
        mine = [c for c in cs if c.group == group]
        real_ans = [outcome(c) for c in mine if c.answerable]
        una = [outcome(c) for c in mine if not c.answerable and not c.synthetic]
        syn = [outcome(c) for c in mine if c.synthetic]
        out[f"{group} accuracy"] = sum(r for _, r in real_ans) / len(real_ans)
        out[f"{group} false_decline"] = sum(not f for f, _ in real_ans) / len(real_ans)
        if una:
            out[f"{group} declined"] = sum(not f for f, _ in una) / len(una)
        out[f"{group} declined_synthetic"] = sum(not f for f, _ in syn) / max(1, len(syn))
    out["false_decline"] = max(v for k, v in out.items() if k.endswith(" false_decline"))
    return out


def calibrate(cs: list[Case], x: np.ndarray, y: np.ndarray, names: list[str], max_fd: float) -> dict:
    """Gates, weights and threshold over the named features (the others weigh 0)."""
    mask = np.array([f in names for f in FEATURES])
    gates = [g for g in GATE_CANDIDATES if g in names and (x[y == 1, FEATURES.index(g)] <= 0).mean() <= GATE_MISS]
    ceilings = {f: ceiling(cs, f) for f in CEILING_CANDIDATES if f in names}
    floors = {f: floor(cs, f) for f in FLOOR_CANDIDATES if f in names}
    keep = passes(x, gates, ceilings, floors)
    w_sub, b = fit(x[keep][:, mask], y[keep])
    w = np.zeros(len(FEATURES))
    w[mask] = w_sub
    grid = [round(t, 3) for t in np.arange(0.02, 0.96, 0.01)]
    ok = [t for t in grid if decide(cs, w, b, t, gates, ceilings, floors)["false_decline"] <= max_fd]
    t = max(ok) if ok else grid[0]
    return {
        "weights": {k: round(float(v), 4) for k, v in zip(FEATURES, w) if k in names},
        "bias": round(b, 4), "gates": gates, "ceilings": ceilings, "floors": floors, "threshold": t,
        "dev": {k: round(v, 3) for k, v in decide(cs, w, b, t, gates, ceilings, floors).items()},
    }


def cmrc_dev(path: str, work: Path, settings: Settings) -> tuple[list[Item], str, Settings]:
    """The CMRC trial's dev-half questions, with its corpus indexed (incrementally) in `work`."""
    from rag import build_index

    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    items = cmrc_items(path, corpus)
    dev_docs, _ = cmrc_halves([i.doc for i in items])
    index = str(work / "index")
    s = settings.replace(corpus=str(corpus), index_dir=index)
    build_index([str(corpus)], index=index, settings=s)
    return [i for i in items if i.doc in dev_docs], index, s


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dev", default="eval/dev.jsonl")
    ap.add_argument("--index", default="index")
    ap.add_argument("--max-false-decline", type=float, default=0.03)
    ap.add_argument("--out", default=str(WEIGHTS_FILE))
    ap.add_argument("--cmrc", help="cmrc2018_trial.json: its dev half of articles joins the calibration")
    ap.add_argument("--cmrc-dir", default="/tmp/rag-cmrc", help="where the CMRC corpus and index are kept")
    args = ap.parse_args(argv)
    settings = Settings.from_env(index_dir=args.index)
    cs = cases(load_items(args.dev), args.index, settings, "seeds")
    if args.cmrc:
        cs += cases(*cmrc_dev(args.cmrc, Path(args.cmrc_dir), settings), "cmrc")
    x = np.vstack([c.x for c in cs if len(c.x)])
    y = np.concatenate([c.y for c in cs if len(c.x)])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = {"embed_model": settings.embed_model}
    # "full" is for the embedding model it was fitted with; "lexical" leaves the similarity signals out, for
    # any other model (whose cosines sit on another scale).
    for name, drop in (("full", ()), ("lexical", EMBEDDING_FEATURES)):
        out[name] = calibrate(cs, x, y, [f for f in FEATURES if f not in drop], args.max_false_decline)
    out["fitted_on"] = (f"{args.dev}{' + CMRC trial dev half' if args.cmrc else ''} ({len(cs)} asked, {len(y)} candidates, {int(y.sum())} right), commit {commit}; "
                        f"threshold: the highest with dev false declines <= {args.max_false_decline}")
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(out, fh, ensure_ascii=False, indent=1)
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
