"""App runs and their traces: every step an agent took, readable by the tenant that ran it.

A run row is written when the run starts (status `running`) and completed once when it
ends, whatever the ending, so a crash mid-run leaves a visible `running` row rather than
nothing. Traces are scoped like everything else: another tenant's run answers 404.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select

from maas.db.database import Database
from maas.db.tables import AppRun, utcnow
from maas.errors import NotFound
from maas.tenancy.principal import Principal

#: Characters of any one text kept in a trace step (prompts, tool results, answers).
TRACE_TEXT = 4000
MAX_LIST = 200


def clip(text: str, limit: int = TRACE_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more]"


@dataclass
class Trace:
    """The steps of one run, collected in memory and stored when the run ends."""

    run_id: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, kind: str, **data: Any) -> dict[str, Any]:
        step = {"index": len(self.steps), "type": kind,
                "at_ms": int((time.perf_counter() - self.started) * 1000), **data}
        self.steps.append(step)
        return step

    def count(self, usage: dict[str, Any] | None) -> None:
        if usage:
            self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.completion_tokens += int(usage.get("completion_tokens") or 0)


def run_view(run: AppRun, steps: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": run.id, "object": "app.run", "app": run.app_slug, "version": run.app_version,
        "kind": run.kind, "status": run.status, "input": run.input, "output": run.output,
        "citations": run.citations, "usage": {
            "prompt_tokens": run.prompt_tokens, "completion_tokens": run.completion_tokens,
            "total_tokens": run.prompt_tokens + run.completion_tokens},
        "error": run.error, "key_id": run.key_id, "user_id": run.user_id,
        "request_id": run.request_id, "created_at": run.created_at,
        "finished_at": run.finished_at,
    }
    if steps:
        view["steps"] = run.steps
    return view


class RunStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self, who: Principal, slug: str, version: str, kind: str,
              run_input: dict[str, Any], request_id: str | None) -> Trace:
        run = AppRun(id="run_" + secrets.token_hex(10), tenant_id=who.tenant_id,
                     app_slug=slug, app_version=version, kind=kind, key_id=who.key_id,
                     user_id=who.user_id, request_id=request_id, input=run_input)
        with self.db.session(write=True) as s:
            s.add(run)
        return Trace(run.id)

    def finish(self, trace: Trace, status: str, output: dict[str, Any] | None,
               citations: list[dict[str, Any]], error: str | None = None, cost: int = 0
               ) -> None:
        with self.db.session(write=True) as s:
            run = s.get(AppRun, trace.run_id)
            if run is None:
                return
            run.status, run.output, run.citations = status, output, citations
            run.steps = trace.steps
            run.prompt_tokens, run.completion_tokens = (trace.prompt_tokens,
                                                        trace.completion_tokens)
            run.error = clip(error, 2000) if error else None
            run.cost, run.finished_at = cost, utcnow()

    def get(self, who: Principal, run_id: str, slug: str | None = None) -> AppRun:
        with self.db.session() as s:
            run = s.get(AppRun, run_id)
        if run is None or run.tenant_id != who.tenant_id or (slug and run.app_slug != slug):
            raise NotFound(f"app run {run_id!r} not found", param="run_id")
        return run

    def list(self, who: Principal, slug: str | None = None, limit: int = 50
             ) -> list[AppRun]:
        with self.db.session() as s:
            statement = select(AppRun).where(AppRun.tenant_id == who.tenant_id)
            if slug:
                statement = statement.where(AppRun.app_slug == slug)
            statement = statement.order_by(col(AppRun.created_at).desc())
            return list(s.exec(statement.limit(min(max(limit, 1), MAX_LIST))))
