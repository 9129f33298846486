"""Fusing a search's rankings into one score per passage.

Reciprocal-rank fusion (each list gives a passage weight / (RRF_K + rank)) needs no score
calibration between BM25 and cosine similarities, which live on unrelated scales. The
lexical lists are weighted by how much of the query their best hit covers (a question in
the other language than the documents covers little, and the vectors should decide).
"""

from __future__ import annotations

import numpy as np

RRF_K = 60


def fuse(lists: list[tuple[dict[int, int], float]], neutral_rank: dict[int, int],
         lex_weight: float, other_language: np.ndarray | None = None) -> dict[int, float]:
    """Weighted reciprocal-rank fusion of the hybrid lists, then the neutral list on the
    hybrid's scale (a hybrid hit ranked r in both of its lists scores about
    (1 + weight) / (k + r)): the better of the two counts. The neutral list is there to
    cross languages, so it only speaks for passages in the other language than the
    question (`other_language`, a mask over chunks); a passage in the question's own
    language is ranked by the raw vectors and BM25, which compare like with like."""
    scores: dict[int, float] = {}
    for ranked, weight in lists:
        for doc, rank in ranked.items():
            scores[doc] = scores.get(doc, 0.0) + weight / (RRF_K + rank)
    for doc, rank in neutral_rank.items():
        if other_language is None or other_language[doc]:
            scores[doc] = max(scores.get(doc, 0.0), (1.0 + lex_weight) / (RRF_K + rank))
    return scores
