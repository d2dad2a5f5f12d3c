"""Fusion of dense and BM25 scores: a few small functions, as txtai's hybrid search keeps them."""
from __future__ import annotations

import numpy as np


def scale_by_max(scores: np.ndarray) -> np.ndarray:
    """0..1 by the largest score (BM25: 0 stays "no shared word")."""
    top = scores.max() if len(scores) else 0.0
    return scores / top if top > 0 else scores


def scale_min_max(scores: np.ndarray) -> np.ndarray:
    """0..1 over the candidates (cosine similarities crowd into a narrow band)."""
    if not len(scores):
        return scores
    span = scores.max() - scores.min()
    return (scores - scores.min()) / span if span > 0 else np.zeros_like(scores)


def weighted_sum(dense: np.ndarray, lexical: np.ndarray, dense_weight: float, bm25_weight: float) -> np.ndarray:
    """Each side scaled to 0..1 over the candidates, then added with its weight."""
    return dense_weight * scale_min_max(dense) + bm25_weight * scale_by_max(lexical)


def reciprocal_rank(rankings: list[tuple[list[int], float]], k: int = 60) -> dict[int, float]:
    """RRF: each ranking (ids best first, weight) gives weight / (k + rank) to its ids."""
    out: dict[int, float] = {}
    for ids, weight in rankings:
        for r, i in enumerate(ids):
            out[i] = out.get(i, 0.0) + weight / (k + r + 1)
    return out
