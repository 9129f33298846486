"""Tenants' own apps: made, versioned and deleted by their tenant's admins, and submitted
for listing, which a platform admin approves or rejects with a reason.

What a tenant app names must exist and be the tenant's to use: a chat model of the
library, tools in the registry, knowledge bases it can read. An edit is a new version, and
an edit of a listed app sends it back to review: what other tenants run is always what an
admin approved.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from maas.catalog.apps import AppManifest, check_prompt
from maas.db.tables import App, AppSubscription, AppVersion, utcnow
from maas.errors import Conflict, InvalidRequest, NotFound
from maas.store.catalog import LISTED, PENDING, PRIVATE, REJECTED, AppCatalog, app_view, version_row
from maas.store.tools import ToolRegistry
from maas.tenancy import audit
from maas.tenancy.principal import TENANT_ADMIN, Principal, require_platform_admin, require_tenant

#: (model id) -> its kind, or None when the library has no such model.
ModelKindOf = Callable[[str], str | None]


def _bump(version: str) -> str:
    major, minor, patch = (int(p) for p in version.split("."))
    return f"{major}.{minor}.{patch + 1}"


class AppAuthoring:
    def __init__(self, catalog: AppCatalog, tools: ToolRegistry, model_kind: ModelKindOf
                 ) -> None:
        self.db = catalog.db
        self.catalog = catalog
        self.tools = tools
        self.model_kind = model_kind

    def validate(self, who: Principal, data: dict[str, Any], prompt: str) -> AppManifest:
        """A tenant app's manifest: schema, then what it names must exist and be usable
        by the tenant (the model, tools in the registry, knowledge bases it can read)."""
        try:
            manifest = AppManifest.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "manifest"
            raise InvalidRequest(f"{where}: {first['msg']}", param=where) from exc
        try:
            check_prompt(manifest, prompt)
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="prompt") from exc
        if self.model_kind(manifest.model) != "chat":
            raise InvalidRequest(f"model {manifest.model!r} is not a chat model of the "
                                 "library", param="model")
        unknown = [t for t in manifest.tools if self.tools.get(t) is None]
        if unknown:
            raise InvalidRequest(f"unknown tools {unknown}; available: {self.tools.names()}",
                                 param="tools")
        for kb_id in manifest.knowledge_bases:
            self.catalog.knowledge_check(who, kb_id)
        return manifest

    def create(self, who: Principal, data: dict[str, Any], prompt: str, readme: str) -> App:
        require_tenant(who, who.tenant_id, TENANT_ADMIN)
        manifest = self.validate(who, data, prompt)
        with self.db.session(write=True) as s:
            if s.get(App, manifest.slug) is not None:
                raise Conflict(f"the slug {manifest.slug!r} is taken; choose another",
                               param="slug")
            app = App(slug=manifest.slug, tenant_id=who.tenant_id, version=manifest.version,
                      industry=manifest.industry, category=manifest.category,
                      manifest=manifest.model_dump(mode="json", by_alias=True), prompt=prompt,
                      readme=readme, status=PRIVATE, created_by=who.actor)
            s.add(app)
            s.add(version_row(app, who.actor))
            s.flush()
            # The owner runs its own app as a subscriber does: one entitlement path.
            s.add(AppSubscription(id="sub_" + secrets.token_hex(8), tenant_id=who.tenant_id,
                                  app_slug=app.slug, settings={}, created_by=who.actor))
            audit.record(s, who, "app.create", "app", app.slug, who.tenant_id)
        return app

    def _owned(self, s: Session, who: Principal, slug: str) -> App:
        app = s.get(App, slug)
        if app is None or app.tenant_id is None or app.tenant_id != who.tenant_id:
            raise NotFound(f"app {slug!r} not found among your tenant's apps", param="slug")
        require_tenant(who, app.tenant_id, TENANT_ADMIN)
        return app

    def update(self, who: Principal, slug: str, data: dict[str, Any] | None,
               prompt: str | None, readme: str | None) -> App:
        """A new version (patch bumped unless the manifest raises it). A listed or pending
        app goes back to review: what others run is always what an admin approved."""
        with self.db.session() as s:
            app = self._owned(s, who, slug)
        merged = {**app.manifest, **(data or {}), "slug": slug}
        if (data or {}).get("version") in (None, app.version):
            merged["version"] = _bump(app.version)
        prompt = app.prompt if prompt is None else prompt
        manifest = self.validate(who, merged, prompt)
        with self.db.session(write=True) as s:
            app = self._owned(s, who, slug)
            if s.exec(select(AppVersion).where(AppVersion.slug == slug,
                                               AppVersion.version == manifest.version)).first():
                raise Conflict(f"version {manifest.version} exists; raise the version",
                               param="version")
            app.manifest = manifest.model_dump(mode="json", by_alias=True)
            app.version, app.industry, app.category = (manifest.version, manifest.industry,
                                                       manifest.category)
            app.prompt, app.readme = prompt, app.readme if readme is None else readme
            if app.status in (LISTED, PENDING):
                app.status = PENDING
            app.updated_at = utcnow()
            s.add(version_row(app, who.actor))
            audit.record(s, who, "app.update", "app", slug, who.tenant_id,
                         version=app.version)
        return app

    def delete(self, who: Principal, slug: str) -> None:
        with self.db.session(write=True) as s:
            app = self._owned(s, who, slug)
            for row in s.exec(select(AppSubscription).where(AppSubscription.app_slug == slug)):
                s.delete(row)
            for row in s.exec(select(AppVersion).where(AppVersion.slug == slug)):
                s.delete(row)
            s.flush()
            s.delete(app)
            audit.record(s, who, "app.delete", "app", slug, who.tenant_id)

    # --- review --------------------------------------------------------------------

    def submit(self, who: Principal, slug: str) -> App:
        with self.db.session(write=True) as s:
            app = self._owned(s, who, slug)
            if app.status == LISTED:
                raise Conflict(f"app {slug!r} is already listed")
            app.status, app.review_reason, app.updated_at = PENDING, None, utcnow()
            audit.record(s, who, "app.submit", "app", slug, who.tenant_id, version=app.version)
        return app

    def review_queue(self, who: Principal) -> list[dict[str, Any]]:
        require_platform_admin(who)
        with self.db.session() as s:
            apps = s.exec(select(App).where(App.status == PENDING)
                          .order_by(col(App.updated_at)))
            return [app_view(a, detail=True) for a in apps]

    def review(self, who: Principal, slug: str, approve: bool, reason: str | None) -> App:
        require_platform_admin(who)
        if not approve and not (reason or "").strip():
            raise InvalidRequest("a rejection needs a reason the tenant can act on",
                                 param="reason")
        with self.db.session(write=True) as s:
            app = s.get(App, slug)
            if app is None or app.status != PENDING:
                raise NotFound(f"no app {slug!r} is waiting for review", param="slug")
            app.status = LISTED if approve else REJECTED
            app.review_reason = None if approve else reason
            app.reviewed_by, app.updated_at = who.actor, utcnow()
            audit.record(s, who, "app.approve" if approve else "app.reject", "app", slug,
                         app.tenant_id, version=app.version, reason=reason)
        return app
