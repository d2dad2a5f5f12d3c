"""Split the original Q&A set (qa.jsonl, written with the code in view) into dev and test halves, once; and
the CMRC 2018 trial's articles into a dev half (calibration) and a test half (reported).

Stratified by document and type with a fixed seed, so the split is reproducible. Kept for provenance: the
split files are what `rag eval` reads; dev.jsonl also holds a blind writer's fresh dev questions (ids f…).

    python -m eval.split eval/qa.jsonl   # prints the two halves' ids
"""
from __future__ import annotations

import json
import random
import sys
from collections import defaultdict

SEED = 14


def split(items: list[dict], seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """Half of each (document, type) group to dev, half to test; odd groups alternate which side gets more."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for it in items:
        groups[(it.get("doc") or "", it["type"])].append(it)
    rng = random.Random(seed)
    dev, test = [], []
    extra_to_dev = True
    for key in sorted(groups):
        g = groups[key][:]
        rng.shuffle(g)
        half = len(g) // 2 + (len(g) % 2 if extra_to_dev else 0)
        if len(g) % 2:
            extra_to_dev = not extra_to_dev
        dev += g[:half]
        test += g[half:]
    order = {it["id"]: i for i, it in enumerate(items)}
    return sorted(dev, key=lambda it: order[it["id"]]), sorted(test, key=lambda it: order[it["id"]])


def cmrc_halves(docs: list[str], seed: int = SEED) -> tuple[set[str], set[str]]:
    """CMRC trial articles (documents) shuffled with the seed: the first half for dev, the rest for test."""
    order = sorted(set(docs))
    random.Random(seed).shuffle(order)
    half = len(order) // 2
    return set(order[:half]), set(order[half:])


if __name__ == "__main__":
    rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
    d, t = split(rows)
    print("dev", len(d), [r["id"] for r in d])
    print("test", len(t), [r["id"] for r in t])
