"""Vectors kept as they are computed, so no build embeds a chunk twice: a crashed, killed or interrupted build
leaves its finished batches here and the next build (of any files, with the same model) starts from them.

One folder per embedding model under the index (`embed-checkpoint/<model>/`); each batch is one .npz file of
chunk ids (content hashes) and their vectors, written whole and renamed into place, loaded without pickle."""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import numpy as np

FOLDER = "embed-checkpoint"


def folder(root: Path, model_id: str, dim: int) -> Path:
    return root / FOLDER / re.sub(r"[^\w.-]+", "_", f"{model_id}-{dim}")


def append(root: Path, model_id: str, dim: int, ids: list[str], vectors: np.ndarray) -> None:
    """Keep one batch of vectors (atomically: a batch is all there or not at all)."""
    where = folder(root, model_id, dim)
    where.mkdir(parents=True, exist_ok=True)
    name = f"batch-{time.time_ns()}-{os.getpid()}"
    tmp = where / f".{name}.npz"
    np.savez(tmp, ids=np.array(ids, dtype=str), vectors=np.asarray(vectors, dtype=np.float32))
    os.replace(tmp, where / f"{name}.npz")


def load(root: Path, model_id: str, dim: int) -> dict[str, np.ndarray]:
    """Every vector kept for this model, by chunk id. A damaged batch file is ignored (it is recomputed)."""
    out: dict[str, np.ndarray] = {}
    where = folder(root, model_id, dim)
    if not where.is_dir():
        return out
    for f in sorted(where.glob("batch-*.npz")):
        try:
            with np.load(f, allow_pickle=False) as data:
                ids, vectors = data["ids"], data["vectors"]
        except (OSError, ValueError, KeyError):
            continue
        if vectors.ndim == 2 and vectors.shape[1] == dim and len(ids) == len(vectors):
            out.update(zip(ids.tolist(), vectors))
    return out


def clear(root: Path, model_id: str, dim: int) -> None:
    """Drop the model's kept batches: the live build now holds those vectors."""
    shutil.rmtree(folder(root, model_id, dim), ignore_errors=True)
