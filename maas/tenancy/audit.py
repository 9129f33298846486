"""The append-only audit log: written in the same transaction as the change it records,
so a change and its audit entry land together or not at all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from maas.db.tables import AuditEvent
from maas.errors import NotFound
from maas.tenancy.principal import Principal


def record(session: Session, who: Principal | None, action: str, target_type: str,
           target_id: str | None, tenant_id: str | None, **details: Any) -> AuditEvent:
    """Append one event. `details` must never contain secrets (keys, codes, passwords)."""
    event = AuditEvent(
        tenant_id=tenant_id, actor_key_id=who.key_id if who else None,
        actor_user_id=who.user_id if who else None, action=action, target_type=target_type,
        target_id=target_id, details=details,
    )
    session.add(event)
    session.flush()
    return event


def list_events(session: Session, tenant_id: str | None, *, action: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                limit: int = 100, before_id: int | None = None) -> list[AuditEvent]:
    """Newest first; `tenant_id=None` means platform-level events only."""
    statement = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    if action:
        statement = statement.where(col(AuditEvent.action).startswith(action))
    if since:
        statement = statement.where(AuditEvent.created_at >= since)
    if until:
        statement = statement.where(AuditEvent.created_at < until)
    if before_id:
        statement = statement.where(col(AuditEvent.id) < before_id)
    statement = statement.order_by(col(AuditEvent.id).desc()).limit(limit)
    return list(session.exec(statement))


def get_event(session: Session, tenant_id: str, event_id: int) -> AuditEvent:
    event = session.get(AuditEvent, event_id)
    if event is None or event.tenant_id != tenant_id:
        raise NotFound(f"audit event {event_id} not found")
    return event


def event_view(event: AuditEvent) -> dict[str, Any]:
    return {"id": event.id, "tenant_id": event.tenant_id, "action": event.action,
            "target_type": event.target_type, "target_id": event.target_id,
            "actor_key_id": event.actor_key_id, "actor_user_id": event.actor_user_id,
            "details": event.details, "created_at": event.created_at}
