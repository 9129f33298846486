"""Subscriptions (tenant x app) and the entitlement check made on every app call.

A subscription's settings stay within what the app allows: parameters inside the app's
ranges, the tenant's own knowledge bases only if the app accepts them. An app's fee is
charged here for monthly apps (on subscribing, and again when a lapsed period is used);
per-run fees are charged by the runtime when a run has answered.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, col, select

from maas.catalog.apps import AppManifest
from maas.db.database import Database
from maas.db.tables import App, AppSubscription, utcnow
from maas.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from maas.metering.charges import AppCharge, charge
from maas.metering.pricing import credits_to_micro
from maas.store.catalog import LISTED, AppCatalog, app_view, manifest_of
from maas.tenancy import audit
from maas.tenancy.principal import TENANT_ADMIN, Principal, require_tenant

MONTH = timedelta(days=30)
MAX_KNOWLEDGE_BASES = 8


class SubscriptionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    knowledge_bases: list[str] = Field(default_factory=list, max_length=MAX_KNOWLEDGE_BASES)
    parameters: dict[str, float] = Field(default_factory=dict)


@dataclass(frozen=True)
class Entitlement:
    """Everything a run needs to know about the app it may run, resolved once."""

    app: App
    manifest: AppManifest
    parameters: dict[str, float]
    knowledge_bases: list[str]  # the app's, then the subscriber's own
    #: Knowledge bases read through the app although the caller's tenant does not own
    #: them: those a tenant app's owner attached to it ("shared with a subscribed app").
    grants: frozenset[str] = field(default_factory=frozenset)
    owner: bool = False  # the caller's tenant made the app: it pays no app fee


    @property
    def slug(self) -> str:
        return self.app.slug

    def fee(self) -> AppCharge | None:
        pricing = self.manifest.pricing
        if pricing.kind != "per_run" or self.owner:
            return None
        return AppCharge(self.slug, self.manifest.industry, credits_to_micro(pricing.credits),
                         "apps.run")


def subscription_view(sub: AppSubscription, app: App) -> dict[str, Any]:
    return {"id": sub.id, "object": "app.subscription", "app": app.slug,
            "app_title": app.manifest["title"], "settings": sub.settings,
            "paid_until": sub.paid_until, "created_at": sub.created_at,
            "updated_at": sub.updated_at}


def lapsed(paid_until: datetime | None) -> bool:
    if paid_until is None:
        return False
    if paid_until.tzinfo is None:  # SQLite hands back naive UTC
        paid_until = paid_until.replace(tzinfo=UTC)
    return paid_until < utcnow()


def monthly_fee(app: App) -> AppCharge | None:
    pricing = manifest_of(app).pricing
    if pricing.kind != "monthly":
        return None
    return AppCharge(app.slug, app.industry, credits_to_micro(pricing.credits),
                     "apps.subscription")


class Subscriptions:
    def __init__(self, db: Database, catalog: AppCatalog) -> None:
        self.db = db
        self.catalog = catalog

    def check_settings(self, who: Principal, manifest: AppManifest, raw: dict[str, Any]
                       ) -> dict[str, Any]:
        try:
            settings = SubscriptionSettings.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = "settings." + ".".join(str(p) for p in first["loc"])
            raise InvalidRequest(f"{where}: {first['msg']}", param=where) from exc
        allowed = manifest.parameters.model_dump()
        for name, value in settings.parameters.items():
            if name not in allowed:
                raise InvalidRequest(f"unknown parameter {name!r}; the app allows "
                                     f"{sorted(allowed)}", param=f"settings.parameters.{name}")
            low, high = allowed[name]["minimum"], allowed[name]["maximum"]
            if not low <= value <= high:
                raise InvalidRequest(f"{name} must be between {low} and {high}",
                                     param=f"settings.parameters.{name}")
        if settings.knowledge_bases:
            if not manifest.allow_tenant_knowledge:
                raise InvalidRequest(f"app {manifest.slug!r} does not accept your own "
                                     "knowledge bases", param="settings.knowledge_bases")
            if len(set(settings.knowledge_bases) | set(manifest.knowledge_bases)) > \
                    MAX_KNOWLEDGE_BASES:
                raise InvalidRequest(f"an app reads at most {MAX_KNOWLEDGE_BASES} knowledge "
                                     "bases", param="settings.knowledge_bases")
            for kb_id in settings.knowledge_bases:
                self.catalog.knowledge_check(who, kb_id)
        return settings.model_dump()

    def subscribe(self, who: Principal, slug: str, settings: dict[str, Any]) -> dict[str, Any]:
        require_tenant(who, who.tenant_id, TENANT_ADMIN)
        app = self.catalog.get(who, slug)
        clean = self.check_settings(who, manifest_of(app), settings)
        with self.db.session(write=True) as s:
            if self._find(s, who.tenant_id, slug) is not None:
                raise Conflict(f"tenant {who.tenant_id!r} is already subscribed to {slug!r}; "
                               "PATCH the subscription to change its settings")
            sub = AppSubscription(id="sub_" + secrets.token_hex(8), tenant_id=who.tenant_id,
                                  app_slug=slug, settings=clean, created_by=who.actor)
            fee = monthly_fee(app) if app.tenant_id != who.tenant_id else None
            if fee is not None and fee.amount:
                charge(s, who, fee)
                sub.paid_until = utcnow() + MONTH
            s.add(sub)
            audit.record(s, who, "app.subscribe", "app", slug, who.tenant_id, settings=clean)
        return subscription_view(sub, app)

    @staticmethod
    def _find(s: Session, tenant_id: str, slug: str) -> AppSubscription | None:
        return s.exec(select(AppSubscription).where(AppSubscription.tenant_id == tenant_id,
                                                    AppSubscription.app_slug == slug)).first()

    def _own(self, s: Session, who: Principal, slug: str) -> AppSubscription:
        sub = self._find(s, who.tenant_id, slug)
        if sub is None:
            raise NotFound(f"tenant {who.tenant_id!r} is not subscribed to app {slug!r}",
                           param="slug")
        return sub

    def get(self, who: Principal, slug: str) -> dict[str, Any]:
        with self.db.session() as s:
            sub = self._own(s, who, slug)
            app = s.get(App, slug)
        assert app is not None
        return subscription_view(sub, app)

    def update(self, who: Principal, slug: str, settings: dict[str, Any]) -> dict[str, Any]:
        require_tenant(who, who.tenant_id, TENANT_ADMIN)
        app = self.catalog.get(who, slug)
        clean = self.check_settings(who, manifest_of(app), settings)
        with self.db.session(write=True) as s:
            sub = self._own(s, who, slug)
            sub.settings, sub.updated_at = clean, utcnow()
            audit.record(s, who, "app.subscription.update", "app", slug, who.tenant_id,
                         settings=clean)
        return subscription_view(sub, app)

    def unsubscribe(self, who: Principal, slug: str) -> None:
        require_tenant(who, who.tenant_id, TENANT_ADMIN)
        with self.db.session(write=True) as s:
            s.delete(self._own(s, who, slug))
            audit.record(s, who, "app.unsubscribe", "app", slug, who.tenant_id)

    def list(self, who: Principal) -> list[dict[str, Any]]:
        with self.db.session() as s:
            rows = s.exec(select(AppSubscription, App).join(
                App, col(App.slug) == col(AppSubscription.app_slug)).where(
                AppSubscription.tenant_id == who.tenant_id).order_by(col(App.slug)))
            return [subscription_view(sub, app) for sub, app in rows]

    def usable_apps(self, who: Principal) -> list[dict[str, Any]]:
        """The apps this caller may run now (for `/v1/models`)."""
        with self.db.session() as s:
            rows = s.exec(select(App).join(
                AppSubscription, col(App.slug) == col(AppSubscription.app_slug)).where(
                AppSubscription.tenant_id == who.tenant_id))
            apps = [a for a in rows if self._runnable(who, a) and who.may_use_app(a.slug)]
        return [app_view(a, subscribed=True) for a in apps]

    @staticmethod
    def _runnable(who: Principal, app: App) -> bool:
        return app.status == LISTED or (app.tenant_id is not None
                                        and app.tenant_id == who.tenant_id)

    def entitle(self, who: Principal, slug: str) -> Entitlement:
        """May this caller run this app now? 404 when it cannot see it, 403 when it can
        but has no subscription (or its key may not use the app), 402 when a monthly
        period lapsed and cannot be renewed."""
        with self.db.session() as s:
            app = s.get(App, slug)
            if app is None or not self._runnable(who, app):
                raise NotFound(f"The app '{slug}' does not exist or you do not have access "
                               "to it.", param="model")
            if not who.may_use_app(slug):
                raise PermissionDenied(f"this API key may not use app {slug!r}", param="model")
            sub = self._find(s, who.tenant_id, slug)
        if sub is None:
            raise PermissionDenied(
                f"tenant {who.tenant_id!r} is not subscribed to app {slug!r}; subscribe with "
                f"POST /v1/apps/{slug}/subscription", param="model", code="not_subscribed")
        if lapsed(sub.paid_until):
            self._renew(who, app, sub.id)
        manifest = manifest_of(app)
        settings = SubscriptionSettings.model_validate(sub.settings)
        parameters = {name: spec["default"] for name, spec in
                      manifest.parameters.model_dump().items()}
        parameters.update(settings.parameters)
        own = [k for k in settings.knowledge_bases if k not in manifest.knowledge_bases]
        grants = frozenset(manifest.knowledge_bases) if app.tenant_id is not None else \
            frozenset()
        return Entitlement(app, manifest, parameters, manifest.knowledge_bases + own, grants,
                           owner=app.tenant_id == who.tenant_id)

    def _renew(self, who: Principal, app: App, sub_id: str) -> None:
        fee = monthly_fee(app) if app.tenant_id != who.tenant_id else None
        with self.db.session(write=True) as s:
            sub = s.get(AppSubscription, sub_id)
            if sub is None or sub.paid_until is None:
                return
            if not lapsed(sub.paid_until):
                return  # renewed meanwhile by a concurrent call
            if fee is not None and fee.amount:
                charge(s, who, fee)
            sub.paid_until = utcnow() + MONTH
            audit.record(s, who, "app.subscription.renew", "app", app.slug, who.tenant_id)
