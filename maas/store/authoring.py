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
        """A new version (patch bumped unless the manifest raises it). A listed app keeps
        serving its approved version; the edit waits beside it as the pending version
        until it is submitted and approved: what others run is always what an admin
        approved, and they never lose the app while a change is reviewed."""
        with self.db.session() as s:
            app = self._owned(s, who, slug)
        base = app.pending or {"version": app.version, "manifest": app.manifest,
                               "prompt": app.prompt, "readme": app.readme}
        merged = {**base["manifest"], **(data or {}), "slug": slug}
        if (data or {}).get("version") in (None, base["version"]):
            merged["version"] = _bump(base["version"])
        prompt = base["prompt"] if prompt is None else prompt
        readme = base["readme"] if readme is None else readme
        manifest = self.validate(who, merged, prompt)
        data_json = manifest.model_dump(mode="json", by_alias=True)
        with self.db.session(write=True) as s:
            app = self._owned(s, who, slug)
            if s.exec(select(AppVersion).where(AppVersion.slug == slug,
                                               AppVersion.version == manifest.version)).first():
                raise Conflict(f"version {manifest.version} exists; raise the version",
                               param="version")
            if app.status == LISTED:
                app.pending = {"version": manifest.version, "manifest": data_json,
                               "prompt": prompt, "readme": readme, "submitted": False,
                               "by": who.actor}
            else:
                _apply(app, data_json, prompt, readme)
                s.add(version_row(app, who.actor))
            app.updated_at = utcnow()
            audit.record(s, who, "app.update", "app", slug, who.tenant_id,
                         version=manifest.version)
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
                if app.pending is None:
                    raise Conflict(f"app {slug!r} is listed; edit it to submit a new version")
                app.pending = {**app.pending, "submitted": True}
                version = app.pending["version"]
            else:
                app.status, version = PENDING, app.version
            app.review_reason, app.updated_at = None, utcnow()
            audit.record(s, who, "app.submit", "app", slug, who.tenant_id, version=version)
        return app

    def review_queue(self, who: Principal) -> list[dict[str, Any]]:
        """New apps waiting to be listed, and listed apps with a new version to review
        (shown as that version)."""
        require_platform_admin(who)
        with self.db.session() as s:
            apps = list(s.exec(select(App).where(col(App.tenant_id).is_not(None),
                                                 col(App.status).in_([PENDING, LISTED]))
                               .order_by(col(App.updated_at))))
        views = []
        for app in apps:
            if app.status == PENDING:
                views.append(app_view(app, detail=True))
            elif (app.pending or {}).get("submitted"):
                candidate = App.model_validate(app.model_dump())
                _apply(candidate, app.pending["manifest"], app.pending["prompt"],
                       app.pending["readme"])
                views.append({**app_view(candidate, detail=True), "update_of": app.version})
        return views

    def review(self, who: Principal, slug: str, approve: bool, reason: str | None) -> App:
        require_platform_admin(who)
        if not approve and not (reason or "").strip():
            raise InvalidRequest("a rejection needs a reason the tenant can act on",
                                 param="reason")
        with self.db.session(write=True) as s:
            app = s.get(App, slug)
            update = app is not None and app.status == LISTED and bool(
                (app.pending or {}).get("submitted"))
            if app is None or not (app.status == PENDING or update):
                raise NotFound(f"no app {slug!r} is waiting for review", param="slug")
            version = app.pending["version"] if update and app.pending else app.version
            if update and app.pending:
                if approve:  # the new version goes live, for every subscriber at once
                    pending, app.pending = app.pending, None
                    _apply(app, pending["manifest"], pending["prompt"], pending["readme"])
                    s.add(version_row(app, pending.get("by")))
                else:
                    app.pending = {**app.pending, "submitted": False}
            else:
                app.status = LISTED if approve else REJECTED
            app.review_reason = None if approve else reason
            app.reviewed_by, app.updated_at = who.actor, utcnow()
            audit.record(s, who, "app.approve" if approve else "app.reject", "app", slug,
                         app.tenant_id, version=version, reason=reason)
        return app


def _apply(app: App, manifest: dict[str, Any], prompt: str, readme: str) -> None:
    app.manifest, app.prompt, app.readme = manifest, prompt, readme
    app.version, app.industry, app.category = (manifest["version"], manifest["industry"],
                                               manifest["category"])
