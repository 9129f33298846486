"""Users, memberships and console sign-in sessions.

Tenant admins manage their tenant's members; nobody can change their own role or grant
a role above their own, and a tenant always keeps at least one owner.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from maas.db.tables import ApiKey, Membership, Plan, Tenant, User, UserSession, utcnow
from maas.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from maas.limits.policy import Limits
from maas.tenancy import audit
from maas.tenancy.passwords import hash_password, needs_rehash, verify_password
from maas.tenancy.principal import (
    PLATFORM_ADMIN,
    RANK,
    TENANT_OWNER,
    TENANT_ROLES,
    Principal,
)

EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")
SESSION_PREFIX = "sess-"
SESSION_TTL = timedelta(hours=12)
#: Verified against when the email is unknown, so both paths cost one Argon2 check.
_DUMMY_HASH = ("$argon2id$v=19$m=65536,t=3,p=4$VS8XuxXjmIxr+VBCICluNg$"
               "CPW6n33DSDSDaFqAXMCnvH/eLYUXYeZKCuBOlIKOQYg")


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email):
        raise InvalidRequest(f"{email!r} is not an email address", param="email")
    return email


def create_user(session: Session, email: str, name: str, password: str, *,
                is_platform_admin: bool = False, by: Principal | None = None) -> User:
    email = normalise_email(email)
    if session.exec(select(User).where(User.email == email)).first() is not None:
        raise Conflict(f"a user with email {email!r} already exists", param="email")
    if not name.strip():
        raise InvalidRequest("a user needs a name", param="name")
    user = User(id="usr_" + secrets.token_hex(8), email=email, name=name.strip(),
                password_hash=hash_password(password), is_platform_admin=is_platform_admin)
    session.add(user)
    session.flush()
    audit.record(session, by, "user.create", "user", user.id, None, email=email,
                 is_platform_admin=is_platform_admin)
    return user


def find_user(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def set_password(session: Session, user: User, password: str, by: Principal | None = None
                 ) -> None:
    user.password_hash = hash_password(password)
    session.add(user)
    for open_session in session.exec(select(UserSession).where(
            UserSession.user_id == user.id, col(UserSession.revoked_at).is_(None))):
        open_session.revoked_at = utcnow()  # a new password signs out everywhere
        session.add(open_session)
    audit.record(session, by, "user.password", "user", user.id, None)


# --- memberships -------------------------------------------------------------------


def _check_role(role: str) -> None:
    if role not in TENANT_ROLES:
        raise InvalidRequest(f"unknown tenant role {role!r}; one of {', '.join(TENANT_ROLES)}",
                             param="role")


def _grantable(by: Principal | None, role: str) -> None:
    if by is not None and RANK[role] > RANK[by.role]:
        raise PermissionDenied(f"you cannot grant the {role} role (yours is {by.role})",
                               param="role")


def add_member(session: Session, tenant_id: str, email: str, role: str, *,
               by: Principal | None = None) -> Membership:
    _check_role(role)
    _grantable(by, role)
    if session.get(Tenant, tenant_id) is None:
        raise NotFound(f"tenant {tenant_id!r} not found")
    user = find_user(session, email)
    if user is None:
        raise NotFound(f"no user with email {email!r}; create the user first", param="email")
    existing = session.exec(select(Membership).where(
        Membership.tenant_id == tenant_id, Membership.user_id == user.id)).first()
    if existing is not None:
        raise Conflict(f"{user.email} is already a member of {tenant_id!r}", param="email")
    member = Membership(id="mem_" + secrets.token_hex(8), tenant_id=tenant_id, user_id=user.id,
                        role=role)
    session.add(member)
    session.flush()
    audit.record(session, by, "member.add", "user", user.id, tenant_id, role=role,
                 email=user.email)
    return member


def list_members(session: Session, tenant_id: str) -> list[tuple[Membership, User]]:
    statement = (select(Membership, User).join(User, col(User.id) == Membership.user_id)
                 .where(Membership.tenant_id == tenant_id).order_by(col(Membership.created_at)))
    return list(session.exec(statement).all())


def get_member(session: Session, tenant_id: str, user_id: str) -> tuple[Membership, User]:
    row = session.exec(select(Membership, User).join(User, col(User.id) == Membership.user_id)
                       .where(Membership.tenant_id == tenant_id,
                              Membership.user_id == user_id)).first()
    if row is None:
        raise NotFound(f"member {user_id!r} not found")
    return row[0], row[1]


def _owners(session: Session, tenant_id: str) -> int:
    return len(session.exec(select(Membership).where(
        Membership.tenant_id == tenant_id, Membership.role == TENANT_OWNER)).all())


def _may_touch(by: Principal | None, member: Membership) -> None:
    if by is None:
        return
    if by.user_id == member.user_id and not by.is_platform_admin:
        raise PermissionDenied("you cannot change your own role or membership")
    if RANK[member.role] > RANK[by.role]:
        raise PermissionDenied("you cannot change a member whose role is above yours")


def set_role(session: Session, tenant_id: str, user_id: str, role: str, *,
             by: Principal | None = None) -> Membership:
    _check_role(role)
    member, _ = get_member(session, tenant_id, user_id)
    _may_touch(by, member)
    _grantable(by, role)
    if member.role == TENANT_OWNER and role != TENANT_OWNER and _owners(session, tenant_id) < 2:
        raise InvalidRequest("a tenant must keep at least one owner", param="role")
    previous, member.role = member.role, role
    session.add(member)
    session.flush()
    audit.record(session, by, "member.role", "user", user_id, tenant_id, role=role,
                 previous=previous)
    return member


def remove_member(session: Session, tenant_id: str, user_id: str, *,
                  by: Principal | None = None) -> None:
    member, _ = get_member(session, tenant_id, user_id)
    _may_touch(by, member)
    if member.role == TENANT_OWNER and _owners(session, tenant_id) < 2:
        raise InvalidRequest("a tenant must keep at least one owner")
    session.delete(member)
    for key in session.exec(select(ApiKey).where(ApiKey.tenant_id == tenant_id,
                                                 ApiKey.user_id == user_id,
                                                 col(ApiKey.revoked_at).is_(None))):
        key.revoked_at = utcnow()  # a departed member's keys stop with them
        session.add(key)
    for open_session in session.exec(select(UserSession).where(
            UserSession.tenant_id == tenant_id, UserSession.user_id == user_id)):
        open_session.revoked_at = open_session.revoked_at or utcnow()
        session.add(open_session)
    audit.record(session, by, "member.remove", "user", user_id, tenant_id)


def member_view(member: Membership, user: User) -> dict[str, Any]:
    return {"id": user.id, "object": "member", "tenant_id": member.tenant_id,
            "email": user.email, "name": user.name, "role": member.role,
            "joined_at": member.created_at}


# --- sign-in sessions --------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    token: str  # shown once; the console keeps it in an HttpOnly cookie
    session: UserSession
    user: User


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tenants_of(session: Session, user: User) -> list[Membership]:
    return list(session.exec(select(Membership).where(Membership.user_id == user.id)
                             .order_by(col(Membership.created_at))))


def sign_in(session: Session, email: str, password: str, tenant_id: str | None = None,
            now: datetime | None = None) -> SignIn:
    """Check the password and open a session in `tenant_id` (default: the first one)."""
    user = find_user(session, email)
    if user is None:
        verify_password(_DUMMY_HASH, password)  # same cost as a real check
        raise PermissionDenied("wrong email or password", code="invalid_credentials")
    if not verify_password(user.password_hash, password) or user.disabled_at is not None:
        raise PermissionDenied("wrong email or password", code="invalid_credentials")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
    memberships = tenants_of(session, user)
    if tenant_id is None:
        if memberships:
            tenant_id = memberships[0].tenant_id
        elif user.is_platform_admin:
            tenant_id = "platform"
        else:
            raise PermissionDenied("this user is not a member of any tenant",
                                   code="no_tenant")
    elif not user.is_platform_admin and tenant_id not in {m.tenant_id for m in memberships}:
        raise NotFound(f"tenant {tenant_id!r} not found")
    now = now or utcnow()
    token, record = _open_session(session, user, tenant_id, now, now + SESSION_TTL)
    audit.record(session, None, "user.sign_in", "user", user.id, tenant_id)
    return SignIn(token=token, session=record, user=user)


def _open_session(session: Session, user: User, tenant_id: str, now: datetime,
                  expires_at: datetime) -> tuple[str, UserSession]:
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    record = UserSession(id="ses_" + secrets.token_hex(8), token_hash=_hash(token),
                         user_id=user.id, tenant_id=tenant_id, created_at=now,
                         expires_at=expires_at)
    session.add(record)
    session.flush()
    return token, record


def switch_tenant(session: Session, who: Principal, token: str, tenant_id: str) -> str:
    """A new session token for `who`'s user in `tenant_id`, without the password again; the
    old session stops working (a session is bound to one tenant). Audited like a sign-in."""
    current = session.exec(select(UserSession).where(
        UserSession.token_hash == _hash(token))).first()
    user = session.get(User, who.user_id) if who.user_id else None
    if current is None or user is None or current.user_id != user.id:
        raise NotFound("session not found")
    member_of = {m.tenant_id for m in tenants_of(session, user)}
    if tenant_id not in member_of and not (user.is_platform_admin and tenant_id == "platform"):
        raise NotFound(f"tenant {tenant_id!r} not found")
    now = utcnow()
    current.revoked_at = now
    session.add(current)
    fresh, _ = _open_session(session, user, tenant_id, now, current.expires_at)
    audit.record(session, who, "user.switch_tenant", "user", user.id, tenant_id,
                 from_tenant=who.tenant_id)
    return fresh


def authenticate_session(session: Session, token: str, now: datetime | None = None
                         ) -> Principal | None:
    now = now or utcnow()
    row = session.exec(select(UserSession, User, Tenant, Plan)
                       .join(User, col(User.id) == UserSession.user_id)
                       .join(Tenant, col(Tenant.id) == UserSession.tenant_id)
                       .join(Plan, col(Plan.id) == Tenant.plan_id)
                       .where(UserSession.token_hash == _hash(token))).first()
    if row is None:
        return None
    record, user, tenant, plan = row
    if record.revoked_at is not None or record.expires_at <= now or user.disabled_at:
        return None
    if user.is_platform_admin:
        role = PLATFORM_ADMIN
    else:
        member = session.exec(select(Membership).where(
            Membership.tenant_id == record.tenant_id, Membership.user_id == user.id)).first()
        if member is None or tenant.disabled_at is not None:
            return None
        role = member.role
    return Principal(tenant_id=record.tenant_id, key_id=None, role=role, user_id=user.id,
                     plan_id=plan.id, plan_limits=Limits.model_validate(plan.limits or {}),
                     billing=plan.billing, expires_at=record.expires_at)


def sign_out(session: Session, token: str) -> None:
    record = session.exec(select(UserSession).where(
        UserSession.token_hash == _hash(token))).first()
    if record is not None and record.revoked_at is None:
        record.revoked_at = utcnow()
        session.add(record)
