"""Match weaknesses to support: product types (from data) and knowledge-base passages
(policies, guides) with citations.

Product types come from `data/solutions.yaml`, keyed by indicator, so every weakness gets
concrete options even when search finds nothing or fails; the knowledge base adds evidence
and policy instruments, each hit cited once (document, page, snippet) and numbered in the
order it first appears, so the report and the narrative can say "[3]".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import Field

from maas.toolbox.diagnosis.assessment import Assessment, Weakness
from maas.toolbox.diagnosis.common import ID_PATTERN, Num, Strict, Text

log = logging.getLogger(__name__)

Search = Callable[[str, int], Awaitable[list[dict[str, Any]]]]
SNIPPET_CHARS = 280
QUERY_CHARS = 300
POLICY_TERMS = Text(zh="中小企业数字化转型 政策 补助 服务券 免费诊断 技术改造 贷款贴息",
                    en="SME digital transformation policy subsidy voucher free diagnosis")


class ProductCategory(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: Text
    description: Text
    terms: Text
    indicators: list[str]


class Citation(Strict):
    number: int  # [n] in the report, unique across all matches
    document: str
    document_id: str | None = None
    page: int | None = None
    section: str | None = None
    snippet: str
    knowledge_base: str | None = None
    score: float | None = None


class Match(Strict):
    kind: Literal["weakness", "policy"]
    target: str  # the weak indicator's id, or "policy"
    title: Text
    score: Num | None = None  # the weakness's score, for the report
    products: list[ProductCategory] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def load_categories() -> list[ProductCategory]:
    path = resources.files("maas.toolbox.diagnosis").joinpath("data", "solutions.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [ProductCategory.model_validate(c) for c in data["categories"]]


def products_for(indicator_id: str, categories: list[ProductCategory]) -> list[ProductCategory]:
    return [c for c in categories if indicator_id in c.indicators]


def _query(*parts: str) -> str:
    return re.sub(r"\s+", " ", " ".join(p for p in parts if p)).strip()[:QUERY_CHARS]


def _snippet(hit: dict[str, Any]) -> str:
    text = re.sub(r"\s+", " ", str(hit.get("snippet") or hit.get("text") or "")).strip()
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS - 1].rstrip() + "…"


def _hit_key(hit: dict[str, Any]) -> tuple[Any, ...]:
    where = hit.get("chunk") if hit.get("chunk") is not None else hit.get("start")
    if where is None:
        where = (hit.get("page"), _snippet(hit)[:80])
    return (hit.get("knowledge_base"), hit.get("document_id") or hit.get("document"), where)


class _Citations:
    """Numbers each distinct hit once, in first-seen order."""

    def __init__(self) -> None:
        self.seen: set[tuple[Any, ...]] = set()
        self.count = 0

    def take(self, hits: list[dict[str, Any]]) -> list[Citation]:
        fresh = []
        for hit in hits:
            key = _hit_key(hit)
            snippet = _snippet(hit)
            if key in self.seen or not snippet:
                continue
            self.seen.add(key)
            self.count += 1
            page = hit.get("page")
            fresh.append(Citation(
                number=self.count, document=str(hit.get("document") or "?"),
                document_id=_opt_str(hit.get("document_id")),
                page=page if isinstance(page, int) and not isinstance(page, bool) else None,
                section=_opt_str(hit.get("section")), snippet=snippet,
                knowledge_base=_opt_str(hit.get("knowledge_base") or hit.get("kb")),
                score=float(hit["score"]) if isinstance(hit.get("score"), int | float) else None))
        return fresh


def _opt_str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


async def _search(search: Search, query: str, top_k: int) -> list[dict[str, Any]]:
    try:
        hits = await search(query, top_k)
    except Exception as exc:  # support is optional: the product types still stand
        log.warning("diagnosis: knowledge search failed for %r: %s", query, exc)
        return []
    return [h for h in hits or [] if isinstance(h, dict)]


async def match_support(assessment: Assessment, *, search: Search, top_k: int = 3,
                        max_weaknesses: int = 5,
                        categories: list[ProductCategory] | None = None) -> list[Match]:
    """One match per weak indicator (worst first, up to `max_weaknesses`) with its product
    types and knowledge-base citations, then one match of policy instruments."""
    categories = load_categories() if categories is None else categories
    cites = _Citations()
    weak: list[Weakness] = [w for w in assessment.weaknesses
                            if w.kind == "indicator"][:max_weaknesses]
    matches: list[Match] = []
    for w in weak:
        products = products_for(w.id, categories)
        terms = " ".join(f"{p.terms.zh} {p.terms.en}" for p in products[:2])
        hits = await _search(search, _query(w.name.zh, w.name.en, terms), top_k)
        matches.append(Match(kind="weakness", target=w.id, title=w.name, score=w.score,
                             products=products, citations=cites.take(hits)))
    names = " ".join(w.name.zh for w in weak[:3])
    hits = await _search(search, _query(POLICY_TERMS.zh, names, POLICY_TERMS.en), top_k)
    matches.append(Match(kind="policy", target="policy",
                         title=Text(zh="政策与支持工具", en="Policy instruments and support"),
                         citations=cites.take(hits)))
    return matches


def all_citations(matches: list[Match]) -> list[Citation]:
    """Every citation once, by number (for a report's source list)."""
    return sorted((c for m in matches for c in m.citations), key=lambda c: c.number)
