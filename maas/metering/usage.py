"""Usage records: listing, aggregated reports (by day, model, key, app) and CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case
from sqlmodel import Session, col, func, select

from maas.db.tables import UsageRecord
from maas.errors import InvalidRequest, NotFound
from maas.metering.pricing import micro_to_credits

GROUPS = ("day", "model", "key", "app", "endpoint")
MAX_ROWS = 10_000


def _filters(statement: Any, tenant_id: str, since: datetime | None, until: datetime | None,
             model: str | None, key_id: str | None, app_id: str | None,
             user_id: str | None = None) -> Any:
    statement = statement.where(UsageRecord.tenant_id == tenant_id)
    if user_id:
        statement = statement.where(UsageRecord.user_id == user_id)
    if since:
        statement = statement.where(col(UsageRecord.created_at) >= since)
    if until:
        statement = statement.where(col(UsageRecord.created_at) < until)
    if model:
        statement = statement.where(UsageRecord.model_id == model)
    if key_id:
        statement = statement.where(UsageRecord.key_id == key_id)
    if app_id:
        statement = statement.where(UsageRecord.app_id == app_id)
    return statement


def list_usage(session: Session, tenant_id: str, *, since: datetime | None = None,
               until: datetime | None = None, model: str | None = None,
               key_id: str | None = None, app_id: str | None = None,
               user_id: str | None = None, limit: int = 100, offset: int = 0
               ) -> list[UsageRecord]:
    statement = _filters(select(UsageRecord), tenant_id, since, until, model, key_id, app_id,
                         user_id)
    statement = statement.order_by(col(UsageRecord.created_at).desc(), col(UsageRecord.id))
    return list(session.exec(statement.offset(offset).limit(min(limit, MAX_ROWS))))


def get_usage(session: Session, tenant_id: str, usage_id: str, *, key_id: str | None = None,
              user_id: str | None = None) -> UsageRecord:
    """One record, within the same scope filters as `list_usage` (else 404)."""
    statement = _filters(select(UsageRecord), tenant_id, None, None, None, key_id, None,
                         user_id).where(UsageRecord.id == usage_id)
    record = session.exec(statement).first()
    if record is None:
        raise NotFound(f"usage record {usage_id!r} not found")
    return record


def _day(session: Session) -> Any:
    """The UTC calendar day of a record, in this database's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", col(UsageRecord.created_at)), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", col(UsageRecord.created_at))


def report(session: Session, tenant_id: str, group_by: Sequence[str], *,
           since: datetime | None = None, until: datetime | None = None,
           model: str | None = None, key_id: str | None = None,
           app_id: str | None = None, user_id: str | None = None) -> list[dict[str, Any]]:
    """Totals per group, in the database (one query, whatever the number of records)."""
    unknown = [g for g in group_by if g not in GROUPS]
    if unknown or not group_by:
        raise InvalidRequest(f"group_by takes one or more of: {', '.join(GROUPS)}",
                             param="group_by")
    columns = {"day": _day(session), "model": col(UsageRecord.model_id),
               "key": col(UsageRecord.key_id), "app": col(UsageRecord.app_id),
               "endpoint": col(UsageRecord.endpoint)}
    keys = [columns[g].label(g) for g in group_by]
    errors = func.sum(case((col(UsageRecord.outcome) == "ok", 0), else_=1))
    statement = select(
        *keys, func.count().label("requests"),
        func.sum(UsageRecord.prompt_tokens).label("prompt_tokens"),
        func.sum(UsageRecord.completion_tokens).label("completion_tokens"),
        func.sum(UsageRecord.total_tokens).label("total_tokens"),
        func.sum(UsageRecord.cost).label("cost"), errors.label("errors"),
        func.avg(UsageRecord.latency_ms).label("avg_latency_ms"),
    )
    statement = _filters(statement, tenant_id, since, until, model, key_id, app_id, user_id)
    statement = statement.group_by(*keys).order_by(*keys)
    rows = []
    for row in session.exec(statement):  # type: ignore[call-overload]
        data = row._asdict()
        data["cost_micro"] = int(data["cost"] or 0)
        data["cost"] = micro_to_credits(data["cost_micro"])
        data["avg_latency_ms"] = round(float(data["avg_latency_ms"] or 0), 1)
        for name in ("requests", "prompt_tokens", "completion_tokens", "total_tokens",
                     "errors"):
            data[name] = int(data[name] or 0)
        rows.append(data)
    return rows


def usage_view(record: UsageRecord) -> dict[str, Any]:
    return {"id": record.id, "object": "usage_record", "request_id": record.request_id,
            "tenant_id": record.tenant_id, "key_id": record.key_id, "user_id": record.user_id,
            "model": record.model_id, "app": record.app_id, "endpoint": record.endpoint,
            "prompt_tokens": record.prompt_tokens,
            "completion_tokens": record.completion_tokens,
            "total_tokens": record.total_tokens, "cost": micro_to_credits(record.cost),
            "cost_micro": record.cost, "latency_ms": record.latency_ms,
            "status": record.status, "outcome": record.outcome,
            "estimated": record.estimated, "created_at": record.created_at}


def to_csv(rows: Iterable[dict[str, Any]], fields: Sequence[str]) -> str:
    """CSV text with a header; values are written as they are (no formulas evaluated)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in fields})
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # keep spreadsheet apps from running a cell as a formula
    return value


USAGE_FIELDS = ("id", "created_at", "model", "app", "endpoint", "key_id", "user_id",
                "prompt_tokens", "completion_tokens", "total_tokens", "cost", "latency_ms",
                "status", "outcome", "estimated", "request_id")
