"""Tenants and plans: managed by platform admins; every tenant is on exactly one plan."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import Session, col, select

from maas.db.tables import Plan, Tenant, utcnow
from maas.errors import Conflict, InvalidRequest, NotFound
from maas.limits.policy import Limits
from maas.tenancy import audit
from maas.tenancy.principal import TENANT_OWNER, Principal

TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
BILLING_MODES = ("prepaid", "postpaid")


# --- plans -------------------------------------------------------------------------


def _check_billing(billing: str) -> None:
    if billing not in BILLING_MODES:
        raise InvalidRequest(f"billing must be one of {', '.join(BILLING_MODES)}",
                             param="billing")


def create_plan(session: Session, plan_id: str, name: str, limits: Limits,
                billing: str = "prepaid", by: Principal | None = None) -> Plan:
    if not TENANT_ID.match(plan_id):
        raise InvalidRequest("a plan id is 2-63 lowercase letters, digits or '-'", param="id")
    _check_billing(billing)
    if session.get(Plan, plan_id) is not None:
        raise Conflict(f"plan {plan_id!r} already exists", param="id")
    plan = Plan(id=plan_id, name=name, limits=limits.model_dump(exclude_none=True),
                billing=billing)
    session.add(plan)
    session.flush()
    audit.record(session, by, "plan.create", "plan", plan_id, None, limits=plan.limits,
                 billing=billing)
    return plan


def get_plan(session: Session, plan_id: str) -> Plan:
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"plan {plan_id!r} not found")
    return plan


def list_plans(session: Session) -> list[Plan]:
    return list(session.exec(select(Plan).order_by(col(Plan.id))))


def update_plan(session: Session, plan_id: str, *, name: str | None = None,
                limits: Limits | None = None, billing: str | None = None,
                by: Principal | None = None) -> Plan:
    plan = get_plan(session, plan_id)
    if name is not None:
        plan.name = name
    if limits is not None:
        plan.limits = limits.model_dump(exclude_none=True)
    if billing is not None:
        _check_billing(billing)
        plan.billing = billing
    plan.updated_at = utcnow()
    session.add(plan)
    session.flush()
    audit.record(session, by, "plan.update", "plan", plan_id, None, limits=plan.limits,
                 billing=plan.billing)
    return plan


def plan_view(plan: Plan) -> dict[str, Any]:
    return {"id": plan.id, "object": "plan", "name": plan.name, "billing": plan.billing,
            "limits": plan.limits, "updated_at": plan.updated_at}


# --- tenants -----------------------------------------------------------------------


def create_tenant(session: Session, tenant_id: str, name: str, *, plan_id: str = "free",
                  industry: str | None = None, owner_email: str | None = None,
                  by: Principal | None = None) -> Tenant:
    from maas.tenancy.users import add_member  # users imports nothing from here

    if not TENANT_ID.match(tenant_id):
        raise InvalidRequest("a tenant id is 2-63 lowercase letters, digits or '-'",
                             param="id")
    if not name.strip():
        raise InvalidRequest("a tenant needs a name", param="name")
    if session.get(Tenant, tenant_id) is not None:
        raise Conflict(f"tenant {tenant_id!r} already exists", param="id")
    get_plan(session, plan_id)
    tenant = Tenant(id=tenant_id, name=name.strip(), plan_id=plan_id, industry=industry)
    session.add(tenant)
    session.flush()
    audit.record(session, by, "tenant.create", "tenant", tenant_id, tenant_id, plan=plan_id)
    if owner_email:
        add_member(session, tenant_id, owner_email, TENANT_OWNER, by=by)
    return tenant


def get_tenant(session: Session, tenant_id: str) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id!r} not found")
    return tenant


def list_tenants(session: Session) -> list[Tenant]:
    return list(session.exec(select(Tenant).order_by(col(Tenant.created_at))))


def update_tenant(session: Session, tenant_id: str, *, name: str | None = None,
                  plan_id: str | None = None, industry: str | None = None,
                  disabled: bool | None = None, by: Principal | None = None) -> Tenant:
    tenant = get_tenant(session, tenant_id)
    changes: dict[str, Any] = {}
    if name is not None:
        tenant.name = changes["name"] = name
    if plan_id is not None:
        get_plan(session, plan_id)
        tenant.plan_id = changes["plan"] = plan_id
    if industry is not None:
        tenant.industry = changes["industry"] = industry
    if disabled is not None:
        if tenant.is_platform and disabled:
            raise InvalidRequest("the platform tenant cannot be disabled")
        tenant.disabled_at = utcnow() if disabled else None
        changes["disabled"] = disabled
    session.add(tenant)
    session.flush()
    audit.record(session, by, "tenant.update", "tenant", tenant_id, tenant_id, **changes)
    return tenant


def tenant_view(tenant: Tenant) -> dict[str, Any]:
    return {"id": tenant.id, "object": "tenant", "name": tenant.name, "plan": tenant.plan_id,
            "industry": tenant.industry, "is_platform": tenant.is_platform,
            "created_at": tenant.created_at, "disabled_at": tenant.disabled_at}
