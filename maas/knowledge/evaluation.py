"""Retrieval evaluation: does hybrid search put the gold passage near the top?

An evaluation set is `eval.jsonl` next to a platform knowledge base's `kb.yaml`: one
question per line with the document that answers it and a gold passage copied verbatim
from that document. A result counts as relevant when it comes from that document and
contains the gold passage (compared without whitespace and markup, so a PDF's line
breaks or a table's cell separators do not matter). Reported: hit@1, hit@k and MRR@k,
overall and by question language and cross-lingual questions.
"""

from __future__ import annotations

import asyncio
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from maas.catalog.models import ManifestError
from maas.knowledge.embedder import Embedder
from maas.knowledge.store import Hit, Snapshot

_NOISE = re.compile(r"[\s|*#`>_~]+")


class EvalQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    lang: str = Field(pattern=r"^(zh|en)$")
    doc: str = Field(min_length=1)
    gold: str = Field(min_length=4)
    cross_lingual: bool = False


def normalise(text: str) -> str:
    return _NOISE.sub("", unicodedata.normalize("NFKC", text)).lower()


def load_eval_set(path: Path) -> list[EvalQuestion]:
    questions = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ManifestError(f"{path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            questions.append(EvalQuestion.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise ManifestError(f"{path}:{number}: {exc}") from exc
    return questions


def relevant_rank(hits: Sequence[Hit], question: EvalQuestion) -> int | None:
    """1-based rank of the first hit holding the gold passage, or None."""
    gold = normalise(question.gold)
    for rank, hit in enumerate(hits, start=1):
        if hit.chunk.doc_name == question.doc and gold in normalise(hit.chunk.text):
            return rank
    return None


@dataclass
class Scores:
    questions: int = 0
    hit1: float = 0.0
    hitk: float = 0.0
    mrr: float = 0.0

    @classmethod
    def of(cls, ranks: Sequence[int | None], k: int) -> Scores:
        n = len(ranks)
        if not n:
            return cls()
        return cls(n, sum(r == 1 for r in ranks) / n,
                   sum(r is not None and r <= k for r in ranks) / n,
                   sum(1 / r for r in ranks if r is not None and r <= k) / n)


@dataclass
class EvalReport:
    kb_id: str
    k: int
    overall: Scores
    groups: dict[str, Scores] = field(default_factory=dict)
    misses: list[dict[str, str]] = field(default_factory=list)
    ranks: list[int | None] = field(default_factory=list)


def report(kb_id: str, results: Sequence[tuple[EvalQuestion, int | None]], k: int
           ) -> EvalReport:
    groups: dict[str, list[int | None]] = {}
    for question, rank in results:
        groups.setdefault(question.lang, []).append(rank)
        if question.cross_lingual:
            groups.setdefault("cross-lingual", []).append(rank)
    misses = [{"id": q.id, "question": q.question, "doc": q.doc}
              for q, rank in results if rank is None or rank > k]
    return EvalReport(kb_id, k, Scores.of([r for _, r in results], k),
                      {name: Scores.of(ranks, k) for name, ranks in sorted(groups.items())},
                      misses, [r for _, r in results])


async def evaluate(snapshot: Snapshot, embedder: Embedder, kb_id: str,
                   questions: Sequence[EvalQuestion], k: int = 5) -> EvalReport:
    """Search every question (queries and their term-base translations embedded in
    batches, as a search embeds them) and score the ranks."""
    vectors, _ = await embedder.embed([q.question for q in questions], "query")
    translations = [snapshot.translation(q.question) for q in questions]
    texts = [t for t in translations if t]
    translated, _ = await embedder.embed(texts, "query") if texts else (None, 0)
    by_text = dict(zip(texts, translated if translated is not None else [], strict=True))
    results = []
    for question, vector, translation in zip(questions, vectors, translations, strict=True):
        hits = await asyncio.to_thread(snapshot.search, question.question, vector, k,
                                       translation_vector=by_text.get(translation or ""))
        results.append((question, relevant_rank(hits, question)))
    return report(kb_id, results, k)
