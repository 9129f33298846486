"""First-start state: the platform tenant, the default tenant and the platform admin key."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from sqlmodel import Session

from maas.db.tables import ApiKey, Plan, Tenant
from maas.settings import Settings
from maas.tenancy.keys import create_key, generate_secret, hash_secret
from maas.tenancy.principal import PLATFORM_ADMIN

log = logging.getLogger(__name__)

PLATFORM_TENANT = "platform"
DEFAULT_TENANT = "default"
ADMIN_KEY_ID = "key_platform_admin"


@dataclass(frozen=True)
class BootstrapResult:
    generated_admin_key: str | None  # set only when a key was generated on this start


INTERNAL_PLAN = "internal"


def _ensure_plans(session: Session) -> None:
    """The seed plans (also inserted by migration 0002); admins may edit them later."""
    from maas.db.migrations.seed import SEED_PLANS

    for plan in SEED_PLANS:
        if session.get(Plan, plan["id"]) is None:
            session.add(Plan(**plan))
    session.flush()


def _ensure_tenant(session: Session, tenant_id: str, name: str, is_platform: bool) -> None:
    """The platform and default tenants run on the internal (postpaid) plan."""
    if session.get(Tenant, tenant_id) is None:
        session.add(Tenant(id=tenant_id, name=name, is_platform=is_platform,
                           plan_id=INTERNAL_PLAN))
        session.flush()


def _admin_secret(settings: Settings) -> tuple[str, bool]:
    """The admin secret: from settings, else the data-dir file, else a new one."""
    if settings.admin_api_key:
        return settings.admin_api_key, False
    path = settings.admin_key_file
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), False
    secret = generate_secret()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return secret, True


def bootstrap(session: Session, settings: Settings) -> BootstrapResult:
    _ensure_plans(session)
    _ensure_tenant(session, PLATFORM_TENANT, "Platform", is_platform=True)
    _ensure_tenant(session, DEFAULT_TENANT, "Default tenant", is_platform=False)
    secret, generated = _admin_secret(settings)
    record = session.get(ApiKey, ADMIN_KEY_ID)
    if record is None:
        create_key(session, PLATFORM_TENANT, "platform admin", role=PLATFORM_ADMIN,
                   key_id=ADMIN_KEY_ID, secret=secret)
    elif record.key_hash != hash_secret(secret):
        log.info("platform admin key changed (MAAS_ADMIN_API_KEY or key file); updating its hash")
        record.key_hash = hash_secret(secret)
        record.prefix = secret[:16]
        record.revoked_at = None
        session.add(record)
    return BootstrapResult(generated_admin_key=secret if generated else None)
