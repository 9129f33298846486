"""The app catalogue: platform apps synced from `apps/`, and what each caller may see of
every app (tenants' own apps are made in `authoring`).

Who sees an app is decided here and only here (`_visible`): a `listed` app everyone; the
owner tenant its own app in any state; a platform admin everything. Anyone else gets 404,
as for every other tenant-owned thing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from markdown_it import MarkdownIt
from sqlalchemy import func
from sqlmodel import Session, col, or_, select

from maas.catalog.apps import AppManifest, AppPackage
from maas.db.database import Database
from maas.db.tables import App, AppSubscription, AppVersion, utcnow
from maas.errors import NotFound
from maas.tenancy.principal import Principal

log = logging.getLogger(__name__)

LISTED, PRIVATE, PENDING, REJECTED, WITHDRAWN = "listed", "private", "pending", "rejected", \
    "withdrawn"
MAX_SEARCH = 100

#: (caller, knowledge base id) -> raises NotFound unless the caller may read it.
KnowledgeCheck = Callable[[Principal, str], Any]


def render_readme(text: str) -> str:
    """README markdown to HTML; raw HTML in the source is escaped, never passed through."""
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def manifest_of(app: App) -> AppManifest:
    return AppManifest.model_validate(app.manifest)


def app_view(app: App, subscribers: int = 0, subscribed: bool = False,
             detail: bool = False) -> dict[str, Any]:
    m = manifest_of(app)
    view: dict[str, Any] = {
        "slug": app.slug, "id": f"app:{app.slug}", "object": "app", "version": app.version,
        "title": m.title.model_dump(), "description": m.description.model_dump(),
        "industry": app.industry, "category": app.category, "kind": m.kind,
        "model": m.model, "knowledge_bases": m.knowledge_bases, "tools": m.tools,
        "pricing": m.pricing.model_dump(), "tags": m.tags,
        "owner": "platform" if app.tenant_id is None else app.tenant_id,
        "status": app.status, "subscribers": subscribers, "subscribed": subscribed,
        "created_at": app.created_at, "updated_at": app.updated_at,
    }
    if app.review_reason:
        view["review_reason"] = app.review_reason
    if detail:
        view.update({
            "readme": app.readme, "readme_html": render_readme(app.readme),
            "input_form": [f.model_dump() for f in m.input_form or []] or None,
            "output": m.output.model_dump(by_alias=True),
            "parameters": m.parameters.model_dump(), "max_steps": m.max_steps,
            "allow_tenant_knowledge": m.allow_tenant_knowledge,
        })
    return view


def version_row(app: App, by: str | None) -> AppVersion:
    return AppVersion(slug=app.slug, version=app.version, manifest=app.manifest,
                      prompt=app.prompt, readme=app.readme, created_by=by)


class AppCatalog:
    def __init__(self, db: Database, knowledge_check: KnowledgeCheck) -> None:
        self.db = db
        self.knowledge_check = knowledge_check

    # --- platform apps -------------------------------------------------------------

    def sync(self, packages: list[AppPackage]) -> None:
        """Make the platform rows match `apps/`: new versions recorded, removed apps
        withdrawn (their subscriptions and runs are kept)."""
        seen = {p.slug for p in packages}
        with self.db.session(write=True) as s:
            for package in packages:
                m = package.manifest
                status = LISTED if m.visibility == "public" else PRIVATE
                app = s.get(App, m.slug)
                if app is not None and app.tenant_id is not None:
                    log.error("platform app %s not loaded: tenant %s has an app of that "
                              "slug", m.slug, app.tenant_id)
                    continue
                data = m.model_dump(mode="json", by_alias=True)
                if app is None:
                    app = App(slug=m.slug, version=m.version, industry=m.industry,
                              category=m.category, manifest=data, prompt=package.prompt,
                              readme=package.readme, status=status)
                    s.add(app)
                    s.add(version_row(app, None))
                    continue
                changed = (app.manifest, app.prompt, app.readme) != (data, package.prompt,
                                                                     package.readme)
                if changed or app.status != status:
                    new_version = app.version != m.version
                    app.version, app.industry, app.category = m.version, m.industry, m.category
                    app.manifest, app.prompt, app.readme = data, package.prompt, package.readme
                    app.status, app.updated_at = status, utcnow()
                    if new_version:
                        s.add(version_row(app, None))
                    else:
                        self._replace_version(s, app)
            for app in s.exec(select(App).where(col(App.tenant_id).is_(None),
                                                col(App.status) != WITHDRAWN)):
                if app.slug not in seen:
                    app.status, app.updated_at = WITHDRAWN, utcnow()

    @staticmethod
    def _replace_version(s: Session, app: App) -> None:
        row = s.exec(select(AppVersion).where(AppVersion.slug == app.slug,
                                              AppVersion.version == app.version)).first()
        if row is None:
            s.add(version_row(app, app.created_by))
        else:
            row.manifest, row.prompt, row.readme = app.manifest, app.prompt, app.readme

    # --- reading -------------------------------------------------------------------

    @staticmethod
    def _visible(who: Principal, app: App | None, slug: str) -> App:
        if app is None or not (app.status == LISTED or who.is_platform_admin
                               or (app.tenant_id is not None and app.tenant_id == who.tenant_id)):
            raise NotFound(f"app {slug!r} not found", param="slug")
        return app

    def get(self, who: Principal, slug: str) -> App:
        with self.db.session() as s:
            return self._visible(who, s.get(App, slug), slug)

    def subscribers(self, s: Session, slugs: list[str]) -> dict[str, int]:
        rows = s.execute(select(AppSubscription.app_slug, func.count()).where(
            col(AppSubscription.app_slug).in_(slugs)).group_by(AppSubscription.app_slug))
        return {slug: count for slug, count in rows}

    def subscribed(self, s: Session, tenant_id: str) -> set[str]:
        return set(s.exec(select(AppSubscription.app_slug).where(
            AppSubscription.tenant_id == tenant_id)))

    def list(self, who: Principal, industry: str | None = None, category: str | None = None,
             q: str | None = None, kind: str | None = None, mine: bool = False
             ) -> list[dict[str, Any]]:
        """Visible apps, filtered; `q` matches slug, titles, descriptions and tags."""
        with self.db.session() as s:
            statement = select(App).where(or_(col(App.status) == LISTED,
                                              App.tenant_id == who.tenant_id))
            if mine:
                statement = statement.where(App.tenant_id == who.tenant_id)
            if industry:
                statement = statement.where(App.industry == industry)
            if category:
                statement = statement.where(App.category == category)
            apps = list(s.exec(statement.order_by(col(App.slug))))
            if kind:
                apps = [a for a in apps if a.manifest.get("kind") == kind]
            if q:
                needle = q.strip().lower()[:MAX_SEARCH]
                apps = [a for a in apps if needle in self._haystack(a)]
            counts = self.subscribers(s, [a.slug for a in apps])
            mine_set = self.subscribed(s, who.tenant_id)
        return [app_view(a, counts.get(a.slug, 0), a.slug in mine_set) for a in apps]

    @staticmethod
    def _haystack(app: App) -> str:
        m = app.manifest
        parts = [app.slug, *m["title"].values(), *m.get("description", {}).values(),
                 *m.get("tags", []), app.industry, app.category]
        return " ".join(parts).lower()

    def detail(self, who: Principal, slug: str) -> dict[str, Any]:
        with self.db.session() as s:
            app = self._visible(who, s.get(App, slug), slug)
            count = self.subscribers(s, [slug]).get(slug, 0)
            subscribed = slug in self.subscribed(s, who.tenant_id)
        view = app_view(app, count, subscribed, detail=True)
        if app.pending and (who.is_platform_admin or app.tenant_id == who.tenant_id):
            view["pending_version"] = {"version": app.pending["version"],
                                       "submitted": bool(app.pending.get("submitted"))}
        return view

    def versions(self, who: Principal, slug: str) -> list[dict[str, Any]]:
        with self.db.session() as s:
            self._visible(who, s.get(App, slug), slug)
            rows = s.exec(select(AppVersion).where(AppVersion.slug == slug)
                          .order_by(col(AppVersion.id).desc()))
            return [{"version": r.version, "created_at": r.created_at,
                     "title": r.manifest["title"], "model": r.manifest["model"],
                     "tools": r.manifest.get("tools", []),
                     "knowledge_bases": r.manifest.get("knowledge_bases", [])} for r in rows]
