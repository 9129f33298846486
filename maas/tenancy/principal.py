"""Who is calling: the explicit identity passed into every domain call.

Roles are ranked; a caller may only grant what it holds itself (a key or a member can
never be given a role, model scope or limit wider than the caller's own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from maas.errors import NotFound, PermissionDenied
from maas.limits.policy import Limits

PLATFORM_ADMIN = "platform_admin"
TENANT_OWNER = "tenant_owner"
TENANT_ADMIN = "tenant_admin"
MEMBER = "member"
ROLES = (PLATFORM_ADMIN, TENANT_OWNER, TENANT_ADMIN, MEMBER)
TENANT_ROLES = (TENANT_OWNER, TENANT_ADMIN, MEMBER)
RANK = {MEMBER: 0, TENANT_ADMIN: 1, TENANT_OWNER: 2, PLATFORM_ADMIN: 3}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a key or a signed-in user, acting in one tenant.

    It also carries what enforcement needs on the hot path (plan limits, key scope,
    billing mode) so a `/v1` call does not read the tenant and plan again.
    """

    tenant_id: str
    key_id: str | None
    role: str
    user_id: str | None = None
    allowed_models: tuple[str, ...] | None = None
    allowed_apps: tuple[str, ...] | None = None
    key_limits: Limits = field(default_factory=Limits)
    plan_id: str = "internal"
    plan_limits: Limits = field(default_factory=Limits)
    billing: str = "postpaid"
    expires_at: datetime | None = None  # a cached principal stops at this instant

    @property
    def is_platform_admin(self) -> bool:
        return self.role == PLATFORM_ADMIN

    @property
    def actor(self) -> str:
        return self.user_id or self.key_id or "system"

    def outranks_or_equals(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]

    def may_use_model(self, model_id: str, tags: list[str]) -> bool:
        if self.allowed_models is not None and model_id not in self.allowed_models:
            return False
        return self.plan_limits.allows_tags(tags) and self.key_limits.allows_tags(tags)

    def may_use_app(self, slug: str) -> bool:
        return self.allowed_apps is None or slug in self.allowed_apps


def require_tenant(who: Principal, tenant_id: str, min_role: str = MEMBER) -> None:
    """Allow `who` to act on `tenant_id` with at least `min_role`.

    Another tenant's resources answer 404, never 403: a caller must not learn that they
    exist. Within its own tenant, a caller without the role gets 403.
    """
    if who.is_platform_admin:
        return
    if who.tenant_id != tenant_id:
        raise NotFound(f"tenant {tenant_id!r} not found")
    if not who.outranks_or_equals(min_role):
        raise PermissionDenied(f"this needs the {min_role} role in tenant {tenant_id!r}")


def require_platform_admin(who: Principal) -> None:
    if not who.is_platform_admin:
        raise PermissionDenied("this needs a platform admin")
