"""The model registry: manifests synced into the `models` table, plus run-time status.

Manifest facts are refreshed on every start; the operator's `enabled` switch and the
status written by the supervisor belong to the deployment and survive restarts.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import select

from maas.catalog.models import ModelManifest
from maas.db.database import Database
from maas.db.tables import ModelRecord, utcnow
from maas.engines.availability import EngineSelector
from maas.errors import ModelNotFound
from maas.finetune.store import adapter_state

READY, LOADING, UNAVAILABLE, FAILED, DISABLED = (
    "ready", "loading", "unavailable", "failed", "disabled"
)


class ModelRegistry:
    def __init__(self, db: Database, selector: EngineSelector) -> None:
        self.db = db
        self.selector = selector
        self.manifests: dict[str, ModelManifest] = {}
        #: Industry models whose adapter is not ready -> why (not served, not listed).
        self.held_back: dict[str, str] = {}
        #: In-memory copy of the table for the request hot path; refreshed by `list()`
        #: (the supervisor calls it every pass) and by every change made through here.
        self.snapshot: dict[str, ModelRecord] = {}

    def sync(self, manifests: Iterable[ModelManifest]) -> None:
        """Upsert every manifest, choose its engine, drop rows whose manifest is gone.

        An industry model enters the registry (and so /v1/models and the supervisor) only
        once its adapter is built and evaluated as better than its base; until then it is
        left out, with the reason in `self.held_back`.
        """
        manifests = list(manifests)
        self.held_back = {m.id: str(s.reason) for m in manifests if m.is_industry
                          and not (s := adapter_state(m, self.selector.settings)).ready}
        self.manifests = {m.id: m for m in manifests if m.id not in self.held_back}
        with self.db.session() as session:
            existing = {r.id: r for r in session.exec(select(ModelRecord))}
            for record_id, record in existing.items():
                if record_id not in self.manifests:
                    session.delete(record)
            for manifest in self.manifests.values():
                record = existing.get(manifest.id) or ModelRecord(
                    id=manifest.id, kind=manifest.kind, family=manifest.family,
                    version=manifest.version, context_length=manifest.context_length,
                    enabled=manifest.enabled,
                )
                self._apply_manifest(record, manifest)
                session.add(record)
        self.list()

    def _apply_manifest(self, record: ModelRecord, manifest: ModelManifest) -> None:
        record.kind = manifest.kind
        record.family = manifest.family
        record.version = manifest.version
        record.industries = list(manifest.industries)
        record.tags = list(manifest.tags)
        record.languages = list(manifest.languages)
        record.context_length = manifest.context_length
        record.pricing = manifest.pricing.model_dump()
        record.manifest = manifest.model_dump(mode="json")
        choice = self.selector.choose(manifest)
        record.engine = choice.spec.kind if choice.spec else None
        record.endpoint = choice.spec.base_url if choice.spec else None
        if not choice.available:
            record.status, record.status_reason = UNAVAILABLE, choice.reason
        elif not record.enabled:
            record.status, record.status_reason = DISABLED, "disabled by an administrator"
        elif record.status in (UNAVAILABLE, DISABLED, None):
            # Otherwise keep what the supervisor reported: a CLI sync must not clobber it.
            record.status, record.status_reason = LOADING, None
        record.updated_at = utcnow()

    # ------------------------------------------------------------------ queries

    def list(self) -> list[ModelRecord]:
        with self.db.session() as session:
            records = list(session.exec(select(ModelRecord).order_by(ModelRecord.id)))
        self.snapshot = {r.id: r for r in records}
        return records

    def get(self, model_id: str) -> ModelRecord:
        with self.db.session() as session:
            record = session.get(ModelRecord, model_id)
        if record is None:
            raise ModelNotFound(f"The model '{model_id}' does not exist", param="model")
        return record

    # ------------------------------------------------------------------ changes

    def set_enabled(self, model_id: str, enabled: bool) -> ModelRecord:
        with self.db.session() as session:
            record = session.get(ModelRecord, model_id)
            if record is None:
                raise ModelNotFound(f"The model '{model_id}' does not exist", param="model")
            record.enabled = enabled
            if record.engine is not None:
                if not enabled:
                    record.status, record.status_reason = DISABLED, "disabled by an administrator"
                elif record.status == DISABLED:
                    record.status, record.status_reason = LOADING, None
            record.updated_at = utcnow()
            session.add(record)
        self.snapshot[model_id] = record
        return record

    def set_status(self, model_id: str, status: str, reason: str | None = None) -> None:
        with self.db.session() as session:
            record = session.get(ModelRecord, model_id)
            if record is None or (record.status, record.status_reason) == (status, reason):
                return
            record.status, record.status_reason = status, reason
            record.updated_at = utcnow()
            session.add(record)
        self.snapshot[model_id] = record
