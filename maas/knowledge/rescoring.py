"""Re-scoring a search's candidate chunks by their sentence windows (see `windows`).

The vector lists of a search first come from the chunk vectors (FAISS, whole index); the
candidates of every list are then re-scored on the CPU as

    similarity = CHUNK_WEIGHT * chunk similarity + (1 - CHUNK_WEIGHT) * best window's

for the raw vectors and for the language-neutral ones alike, and the lists are re-ranked
by it. The best window says whether the chunk states what the question asks; the chunk's
own similarity keeps the context (a window alone can match a stray sentence). The windows
were embedded at ingestion, so a search costs a gather and a small matrix product over
the candidates' windows (a few hundred rows), not an embedding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from maas.knowledge.windows import Windows

#: The chunk's own share of a candidate's similarity (the rest: its best window's).
CHUNK_WEIGHT = 0.3


def unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return np.ascontiguousarray(matrix / np.where(norms == 0, 1, norms), dtype=np.float32)


class WindowRescorer:
    """The windows of one index version, grouped by chunk for gathering."""

    def __init__(self, windows: Windows, chunk_languages: np.ndarray, centroids: np.ndarray,
                 chunks: int) -> None:
        self.vectors = windows.vectors
        self.owners = windows.owners
        # Window w of chunk c: rows offsets[c]:offsets[c + 1] (owners are ascending).
        self.offsets = np.searchsorted(windows.owners, np.arange(chunks + 1))
        self.languages = chunk_languages[windows.owners] if len(windows) else \
            np.zeros(0, dtype=np.int8)
        self.centroids = centroids

    def similarities(self, index: Any, candidates: Sequence[int], query: np.ndarray,
                     neutral: bool) -> np.ndarray:
        """The mixed similarity of each candidate to `query` (`index`: the chunk vectors,
        raw or language-neutral; `neutral`: compare with the windows' neutral form)."""
        ids = np.asarray(candidates, dtype=np.int64)
        chunk = index.reconstruct_batch(ids) @ query
        starts, ends = self.offsets[ids], self.offsets[ids + 1]
        counts = ends - starts
        if not counts.sum():
            return chunk
        rows = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends, strict=True)])
        local = np.repeat(np.arange(len(ids)), counts)
        vectors = self.vectors[rows]
        if neutral:
            vectors = unit(vectors - self.centroids[self.languages[rows]])
        best = chunk.copy()  # a chunk without windows is its own window
        has = counts > 0
        best[has] = -np.inf
        np.maximum.at(best, local, vectors @ query)
        return CHUNK_WEIGHT * chunk + (1 - CHUNK_WEIGHT) * best


def ranks(candidates: Sequence[int], scores: np.ndarray, keep: int) -> dict[int, int]:
    """1-based ranks of the best `keep` candidates by score."""
    order = np.argsort(-scores, kind="stable")[:keep]
    return {int(candidates[i]): rank for rank, i in enumerate(order, start=1)}
