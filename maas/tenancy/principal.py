"""Who is calling: the explicit identity passed into every domain call."""

from __future__ import annotations

from dataclasses import dataclass

PLATFORM_ADMIN = "platform_admin"
TENANT_ADMIN = "tenant_admin"
MEMBER = "member"
ROLES = (PLATFORM_ADMIN, TENANT_ADMIN, MEMBER)


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    key_id: str
    role: str

    @property
    def is_platform_admin(self) -> bool:
        return self.role == PLATFORM_ADMIN
