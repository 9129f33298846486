"""API keys: generated with `secrets`, shown once, stored only as a SHA-256 hash.

Keys carry 256 bits of randomness, so an unsalted fast hash is the right tool (as for
OpenAI-style keys): it is not reversible and lets us look a key up by its hash alone.

Every change goes through `check_grant`: the caller can only hand out a role, a model or
app scope and limits it holds itself, so a member cannot mint or edit a key into an
admin key or a key that escapes its own limits.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from maas.db.tables import ApiKey, Plan, Tenant, utcnow
from maas.errors import InvalidRequest, NotFound, PermissionDenied
from maas.limits.policy import Limits
from maas.tenancy import audit
from maas.tenancy.principal import (
    MEMBER,
    PLATFORM_ADMIN,
    RANK,
    ROLES,
    TENANT_ADMIN,
    Principal,
)

KEY_PREFIX = "sk-maas-"
DISPLAY_PREFIX_LEN = 16
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_ROTATION_GRACE = timedelta(days=30)
DEFAULT_ROTATION_GRACE = timedelta(hours=24)
_UNSET: Any = object()


def generate_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CreatedKey:
    """A new key: `secret` is only available here, at creation time."""

    record: ApiKey
    secret: str


def _subset(asked: list[str] | None, held: tuple[str, ...] | None, what: str) -> None:
    if held is None:
        return
    if asked is None or not set(asked) <= set(held):
        raise PermissionDenied(
            f"a key's {what} must stay within your own ({', '.join(held) or 'none'})",
            param=f"allowed_{what}")


def check_grant(by: Principal, role: str, allowed_models: list[str] | None,
                allowed_apps: list[str] | None, limits: Limits) -> None:
    """Refuse anything wider than what `by` holds (role, model/app scope, limits)."""
    if role not in ROLES:
        raise InvalidRequest(f"unknown role {role!r}; one of {', '.join(ROLES)}", param="role")
    if RANK[role] > RANK[by.role]:
        raise PermissionDenied(f"you cannot grant the {role} role (yours is {by.role})",
                               param="role")
    _subset(allowed_models, by.allowed_models, "models")
    _subset(allowed_apps, by.allowed_apps, "apps")
    if not limits.narrows(by.key_limits):
        raise PermissionDenied("a key's limits must be at least as strict as your own key's",
                               param="limits")


def _future(expires_at: datetime | None) -> datetime | None:
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        raise InvalidRequest("expires_at needs a time zone (e.g. 2027-01-01T00:00:00Z)",
                             param="expires_at")
    if expires_at <= utcnow():
        raise InvalidRequest("expires_at must be in the future", param="expires_at")
    return expires_at


def create_key(
    session: Session, tenant_id: str, name: str, role: str = MEMBER, *,
    by: Principal | None = None, key_id: str | None = None, secret: str | None = None,
    user_id: str | None = None, allowed_models: list[str] | None = None,
    allowed_apps: list[str] | None = None, limits: Limits | None = None,
    expires_at: datetime | None = None,
) -> CreatedKey:
    """Create a key. `by=None` is the system itself (bootstrap, the operator's CLI)."""
    limits = limits or Limits()
    if role not in ROLES:
        raise InvalidRequest(f"unknown role {role!r}; one of {', '.join(ROLES)}", param="role")
    if not name.strip():
        raise InvalidRequest("a key needs a name", param="name")
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id!r} not found")
    if role == PLATFORM_ADMIN and not tenant.is_platform:
        raise InvalidRequest("platform_admin keys belong to the platform tenant", param="role")
    if by is not None:
        check_grant(by, role, allowed_models, allowed_apps, limits)
        user_id = user_id or by.user_id
    secret = secret or generate_secret()
    record = ApiKey(
        id=key_id or "key_" + secrets.token_hex(8), tenant_id=tenant_id, name=name.strip(),
        prefix=secret[:DISPLAY_PREFIX_LEN], key_hash=hash_secret(secret), role=role,
        user_id=user_id, created_by=by.actor if by else None,
        allowed_models=allowed_models, allowed_apps=allowed_apps,
        limits=limits.model_dump(exclude_none=True), expires_at=_future(expires_at),
    )
    session.add(record)
    session.flush()
    audit.record(session, by, "key.create", "api_key", record.id, tenant_id, name=record.name,
                 role=role, allowed_models=allowed_models, allowed_apps=allowed_apps,
                 limits=record.limits)
    return CreatedKey(record=record, secret=secret)


def principal_for(record: ApiKey, tenant: Tenant, plan: Plan) -> Principal:
    return Principal(
        tenant_id=record.tenant_id, key_id=record.id, role=record.role, user_id=record.user_id,
        allowed_models=tuple(record.allowed_models) if record.allowed_models is not None
        else None,
        allowed_apps=tuple(record.allowed_apps) if record.allowed_apps is not None else None,
        key_limits=Limits.model_validate(record.limits or {}), plan_id=plan.id,
        plan_limits=Limits.model_validate(plan.limits or {}), billing=plan.billing,
        expires_at=record.expires_at,
    )


def authenticate(session: Session, secret: str, now: datetime | None = None) -> Principal | None:
    """The principal for a presented secret, or None if unknown, revoked or expired."""
    now = now or utcnow()
    row = session.exec(
        select(ApiKey, Tenant, Plan).join(Tenant, col(Tenant.id) == ApiKey.tenant_id)
        .join(Plan, col(Plan.id) == Tenant.plan_id)
        .where(ApiKey.key_hash == hash_secret(secret))
    ).first()
    if row is None:
        return None
    record, tenant, plan = row
    if record.revoked_at is not None or tenant.disabled_at is not None:
        return None
    if record.expires_at is not None and record.expires_at <= now:
        return None
    if record.last_used_at is None or now - record.last_used_at >= LAST_USED_RESOLUTION:
        record.last_used_at = now  # coarse, so a busy key does not write on every request
        session.add(record)
    return principal_for(record, tenant, plan)


def _visible(record: ApiKey, by: Principal | None) -> bool:
    """Admins see every key of their tenant; members only their own."""
    if by is None or by.outranks_or_equals(TENANT_ADMIN):
        return True
    return (by.user_id is not None and record.user_id == by.user_id) or (
        record.created_by == by.actor) or record.id == by.key_id


def list_keys(session: Session, tenant_id: str, by: Principal | None = None,
              include_revoked: bool = True) -> list[ApiKey]:
    statement = select(ApiKey).where(ApiKey.tenant_id == tenant_id)
    if not include_revoked:
        statement = statement.where(col(ApiKey.revoked_at).is_(None))
    records = session.exec(statement.order_by(col(ApiKey.created_at)))
    return [r for r in records if _visible(r, by)]


def get_key(session: Session, tenant_id: str, key_id: str, by: Principal | None = None
            ) -> ApiKey:
    record = session.get(ApiKey, key_id)
    if record is None or record.tenant_id != tenant_id or not _visible(record, by):
        raise NotFound(f"key {key_id!r} not found")
    return record


def _editable(record: ApiKey, by: Principal | None) -> None:
    if by is not None and RANK[record.role] > RANK[by.role]:
        raise PermissionDenied("you cannot change a key with a higher role than yours")


def update_key(
    session: Session, tenant_id: str, key_id: str, *, by: Principal | None = None,
    name: str | None = None, role: str | None = None,
    allowed_models: list[str] | None = _UNSET, allowed_apps: list[str] | None = _UNSET,
    limits: Limits | None = None, expires_at: datetime | None = _UNSET,
) -> ApiKey:
    """Change a key's name or scope; the result is checked as if the key were new."""
    record = get_key(session, tenant_id, key_id, by)
    _editable(record, by)
    if record.revoked_at is not None:
        raise InvalidRequest(f"key {key_id!r} is revoked")
    new_role = role or record.role
    new_models = record.allowed_models if allowed_models is _UNSET else allowed_models
    new_apps = record.allowed_apps if allowed_apps is _UNSET else allowed_apps
    new_limits = limits if limits is not None else Limits.model_validate(record.limits or {})
    if by is not None:
        check_grant(by, new_role, new_models, new_apps, new_limits)
    elif new_role not in ROLES:
        raise InvalidRequest(f"unknown role {new_role!r}", param="role")
    if name is not None:
        if not name.strip():
            raise InvalidRequest("a key needs a name", param="name")
        record.name = name.strip()
    record.role, record.allowed_models, record.allowed_apps = new_role, new_models, new_apps
    record.limits = new_limits.model_dump(exclude_none=True)
    if expires_at is not _UNSET:
        record.expires_at = _future(expires_at)
    session.add(record)
    session.flush()
    audit.record(session, by, "key.update", "api_key", record.id, tenant_id, role=new_role,
                 allowed_models=new_models, allowed_apps=new_apps, limits=record.limits)
    return record


def rotate_key(session: Session, tenant_id: str, key_id: str, *, by: Principal | None = None,
               grace: timedelta = DEFAULT_ROTATION_GRACE) -> CreatedKey:
    """A new secret with the same scope; the old one keeps working for `grace`."""
    if grace < timedelta(0) or grace > MAX_ROTATION_GRACE:
        raise InvalidRequest("grace_seconds must be between 0 and 30 days",
                             param="grace_seconds")
    old = get_key(session, tenant_id, key_id, by)
    _editable(old, by)
    if old.revoked_at is not None:
        raise InvalidRequest(f"key {key_id!r} is revoked; create a new key instead")
    if old.expires_at is not None and old.expires_at <= utcnow():
        raise InvalidRequest(f"key {key_id!r} has expired; create a new key instead")
    secret = generate_secret()
    new = ApiKey(
        id="key_" + secrets.token_hex(8), tenant_id=tenant_id, name=old.name,
        prefix=secret[:DISPLAY_PREFIX_LEN], key_hash=hash_secret(secret), role=old.role,
        user_id=old.user_id, created_by=by.actor if by else old.created_by,
        allowed_models=old.allowed_models, allowed_apps=old.allowed_apps, limits=old.limits,
        expires_at=old.expires_at,
    )
    session.add(new)
    until = utcnow() + grace
    old.expires_at = min(old.expires_at, until) if old.expires_at else until
    old.replaced_by = new.id
    session.add(old)
    session.flush()
    audit.record(session, by, "key.rotate", "api_key", old.id, tenant_id, new_key_id=new.id,
                 old_valid_until=old.expires_at.isoformat())
    return CreatedKey(record=new, secret=secret)


def revoke_key(session: Session, tenant_id: str, key_id: str, by: Principal | None = None
               ) -> ApiKey:
    record = get_key(session, tenant_id, key_id, by)
    _editable(record, by)
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.add(record)
        audit.record(session, by, "key.revoke", "api_key", record.id, tenant_id)
    return record


def key_view(record: ApiKey) -> dict[str, Any]:
    return {"id": record.id, "object": "api_key", "tenant_id": record.tenant_id,
            "name": record.name, "prefix": record.prefix, "role": record.role,
            "user_id": record.user_id, "allowed_models": record.allowed_models,
            "allowed_apps": record.allowed_apps, "limits": record.limits,
            "created_at": record.created_at, "last_used_at": record.last_used_at,
            "expires_at": record.expires_at, "revoked_at": record.revoked_at,
            "replaced_by": record.replaced_by}
