"""The services one gateway process is built from: made once by `create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from maas.api.metrics import Metrics
from maas.db.database import Database
from maas.engines.registry import ModelRegistry
from maas.engines.router import Router
from maas.engines.supervisor import Supervisor
from maas.engines.upstream import UpstreamClient
from maas.factory.service import Factory
from maas.finetune.jobs.runner import FineTuningRunner
from maas.knowledge.service import KnowledgeService
from maas.metering.meter import Meter
from maas.settings import Settings
from maas.store.service import AppStore
from maas.tenancy.auth_cache import PrincipalCache
from maas.toolbox.service import Toolbox


@dataclass
class Services:
    settings: Settings
    db: Database
    registry: ModelRegistry
    supervisor: Supervisor
    router: Router
    upstream: UpstreamClient
    metrics: Metrics
    principals: PrincipalCache
    meter: Meter
    knowledge: KnowledgeService
    apps: AppStore
    toolbox: Toolbox
    factory: Factory
    fine_tuning: FineTuningRunner  # tenant fine-tuning jobs' queue runner
