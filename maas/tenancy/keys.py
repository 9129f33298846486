"""API keys: generated with `secrets`, shown once, stored only as a SHA-256 hash.

Keys carry 256 bits of randomness, so an unsalted fast hash is the right tool (as for
OpenAI-style keys): it is not reversible and lets us look a key up by its hash alone.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from maas.db.tables import ApiKey, Tenant, utcnow
from maas.errors import InvalidRequest, NotFound
from maas.tenancy.principal import ROLES, Principal

KEY_PREFIX = "sk-maas-"
DISPLAY_PREFIX_LEN = 16
LAST_USED_RESOLUTION = timedelta(minutes=1)


def generate_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CreatedKey:
    """A new key: `secret` is only available here, at creation time."""

    record: ApiKey
    secret: str


def create_key(
    session: Session, tenant_id: str, name: str, role: str = "member",
    key_id: str | None = None, secret: str | None = None,
) -> CreatedKey:
    if role not in ROLES:
        raise InvalidRequest(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if not name.strip():
        raise InvalidRequest("a key needs a name", param="name")
    if session.get(Tenant, tenant_id) is None:
        raise NotFound(f"tenant {tenant_id!r} does not exist")
    secret = secret or generate_secret()
    record = ApiKey(
        id=key_id or "key_" + secrets.token_hex(8), tenant_id=tenant_id, name=name.strip(),
        prefix=secret[:DISPLAY_PREFIX_LEN], key_hash=hash_secret(secret), role=role,
    )
    session.add(record)
    session.flush()
    return CreatedKey(record=record, secret=secret)


def authenticate(session: Session, secret: str, now: datetime | None = None) -> Principal | None:
    """The principal for a presented secret, or None if unknown, revoked or expired."""
    now = now or utcnow()
    record = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_secret(secret))).first()
    if record is None or record.revoked_at is not None:
        return None
    if record.expires_at is not None and record.expires_at <= now:
        return None
    if record.last_used_at is None or now - record.last_used_at >= LAST_USED_RESOLUTION:
        record.last_used_at = now  # coarse, so a busy key does not write on every request
        session.add(record)
    return Principal(tenant_id=record.tenant_id, key_id=record.id, role=record.role)


def list_keys(session: Session, tenant_id: str) -> list[ApiKey]:
    statement = select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at)
    return list(session.exec(statement))


def revoke_key(session: Session, tenant_id: str, key_id: str) -> ApiKey:
    record = session.get(ApiKey, key_id)
    if record is None or record.tenant_id != tenant_id:
        raise NotFound(f"key {key_id!r} not found in tenant {tenant_id!r}")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.add(record)
    return record
