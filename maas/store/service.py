"""The app store's services, built once per gateway by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from maas.catalog.apps import AppPackage
from maas.db.database import Database
from maas.store.authoring import AppAuthoring, ModelKindOf
from maas.store.catalog import AppCatalog, KnowledgeCheck
from maas.store.runs import RunStore
from maas.store.subscriptions import Subscriptions
from maas.store.tools import ToolRegistry


@dataclass
class AppStore:
    catalog: AppCatalog
    authoring: AppAuthoring
    subscriptions: Subscriptions
    runs: RunStore
    tools: ToolRegistry

    @classmethod
    def build(cls, db: Database, tools: ToolRegistry, model_kind: ModelKindOf,
              knowledge_check: KnowledgeCheck, packages: list[AppPackage]) -> AppStore:
        catalog = AppCatalog(db, knowledge_check)
        catalog.sync(packages)
        return cls(catalog, AppAuthoring(catalog, tools, model_kind), Subscriptions(db, catalog),
                   RunStore(db), tools)
