"""Switching the tenant a signed-in user acts in, without asking for the password again.

`users.sign_in` needs the password; a user who belongs to several tenants should not type
it again to change tenant. The switch checks the current session the way
`authenticate_session` does, checks the membership, revokes the old session and opens a new
one in the other tenant (a session is bound to one tenant, so every principal stays
single-tenant). It is audited like a sign-in.
"""

from __future__ import annotations

import secrets

from sqlmodel import Session, select

from maas.db.tables import User, UserSession, utcnow
from maas.errors import NotFound
from maas.tenancy import audit, users
from maas.tenancy.principal import Principal


def switch_tenant(session: Session, who: Principal, token: str, tenant_id: str) -> str:
    """A new session token for `who`'s user in `tenant_id`; the old one stops working."""
    current = session.exec(select(UserSession).where(
        UserSession.token_hash == users._hash(token))).first()
    user = session.get(User, who.user_id) if who.user_id else None
    if current is None or user is None or current.user_id != user.id:
        raise NotFound("session not found")
    member_of = {m.tenant_id for m in users.tenants_of(session, user)}
    if tenant_id not in member_of and not (user.is_platform_admin and tenant_id == "platform"):
        raise NotFound(f"tenant {tenant_id!r} not found")
    now = utcnow()
    current.revoked_at = now
    session.add(current)
    fresh = users.SESSION_PREFIX + secrets.token_urlsafe(32)
    session.add(UserSession(id="ses_" + secrets.token_hex(8), token_hash=users._hash(fresh),
                            user_id=user.id, tenant_id=tenant_id, created_at=now,
                            expires_at=current.expires_at))
    session.flush()
    audit.record(session, who, "user.switch_tenant", "user", user.id, tenant_id,
                 from_tenant=who.tenant_id)
    return fresh
