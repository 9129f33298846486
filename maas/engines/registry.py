"""The model registry: manifests synced into the `models` table, plus run-time status.

Manifest facts are refreshed on every start; the operator's `enabled` switch and the
status written by the supervisor belong to the deployment and survive restarts.

Two kinds of model have no engine process of their own when vLLM serves their base: industry
models (YAML in `models/`) and tenants' private fine-tunes (rows with an `owner`, written by
fine-tuning jobs; their manifest lives only in the table). Both are LoRA adapters, and
`adapters_for(base)` tells the supervisor which ones to load into the base's vLLM server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError
from sqlmodel import select

from maas.catalog.models import ModelManifest
from maas.db.database import Database
from maas.db.tables import ModelRecord, utcnow
from maas.engines.availability import EngineChoice, EngineSelector
from maas.errors import ModelNotFound
from maas.finetune.store import adapter_state

log = logging.getLogger(__name__)

READY, LOADING, UNAVAILABLE, FAILED, DISABLED = (
    "ready", "loading", "unavailable", "failed", "disabled"
)


class ModelRegistry:
    def __init__(self, db: Database, selector: EngineSelector) -> None:
        self.db = db
        self.selector = selector
        #: The manifests from `models/`, including industry models held back.
        self.catalog: list[ModelManifest] = []
        #: Every model this registry serves: the catalog's ready ones and private models.
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
        left out, with the reason in `self.held_back`. Private models' rows are data, not
        configuration: a sync keeps them and re-applies their stored manifest.
        """
        self.catalog = list(manifests)
        self.held_back = self._held_back()
        catalog = {m.id: m for m in self.catalog if m.id not in self.held_back}
        with self.db.session() as session:
            existing = {r.id: r for r in session.exec(select(ModelRecord))}
            private = self._private_manifests(existing.values())
            for record_id, record in existing.items():
                if record_id not in catalog and record.owner is None:
                    session.delete(record)
            for manifest in catalog.values():
                record = existing.get(manifest.id) or self._new_record(manifest)
                if record.owner is not None:
                    log.error("model %s in models/ clashes with a private model; the private "
                              "one is kept", manifest.id)
                    continue
                self._apply_manifest(record, manifest)
                session.add(record)
            for manifest in private.values():
                record = existing[manifest.id]
                self._apply_manifest(record, manifest)
                session.add(record)
        self.manifests = {**catalog, **private}
        self.list()

    def refresh(self) -> bool:
        """Re-read which industry adapters are ready (a build or eval ran meanwhile) and
        sync if that changed: adapters appear and disappear without a restart."""
        if self._held_back() == self.held_back:
            return False
        self.sync(self.catalog)
        return True

    def _held_back(self) -> dict[str, str]:
        settings = self.selector.settings
        return {m.id: str(s.reason) for m in self.catalog if m.is_industry
                and not (s := adapter_state(m, settings)).ready}

    @staticmethod
    def _new_record(manifest: ModelManifest) -> ModelRecord:
        return ModelRecord(id=manifest.id, owner=manifest.owner, kind=manifest.kind,
                           family=manifest.family, version=manifest.version,
                           context_length=manifest.context_length, enabled=manifest.enabled)

    @staticmethod
    def _private_manifests(records: Iterable[ModelRecord]) -> dict[str, ModelManifest]:
        out = {}
        for record in records:
            if record.owner is None:
                continue
            try:
                out[record.id] = ModelManifest.model_validate(record.manifest)
            except ValidationError as exc:
                log.error("private model %s has an unreadable manifest: %s", record.id, exc)
        return out

    # ------------------------------------------------------------------ private models

    def add_private(self, manifest: ModelManifest) -> ModelRecord:
        """Register a tenant's fine-tuned model (its adapter must be ready); the supervisor
        serves it from its next pass. Idempotent for the same id and owner."""
        if manifest.owner is None or not manifest.is_industry or manifest.base is None:
            raise ValueError("a private model needs an owner, a base and an adapter")
        if manifest.base not in self.manifests:
            raise ValueError(f"base model {manifest.base!r} is not in this registry")
        state = adapter_state(manifest, self.selector.settings)
        if not state.ready:
            raise ValueError(f"{manifest.id}: {state.reason}")
        with self.db.session() as session:
            record = session.get(ModelRecord, manifest.id)
            if record is not None and record.owner != manifest.owner:
                raise ValueError(f"model id {manifest.id!r} is taken")
            record = record or self._new_record(manifest)
            self._apply_manifest(record, manifest)
            session.add(record)
        self.manifests[manifest.id] = manifest
        self.snapshot[manifest.id] = record
        return record

    def remove_private(self, model_id: str, owner: str) -> None:
        """Delete a private model's row (404 unless `owner` owns it); the supervisor then
        unloads its adapter. The adapter files are the caller's to delete."""
        with self.db.session() as session:
            record = session.get(ModelRecord, model_id)
            if record is None or record.owner is None or record.owner != owner:
                raise ModelNotFound(f"The model '{model_id}' does not exist", param="model")
            session.delete(record)
        self.manifests.pop(model_id, None)
        self.snapshot.pop(model_id, None)

    def adapters_for(self, base_id: str) -> list[tuple[str, Path]]:
        """(model id, adapter dir) of the enabled, ready adapters vLLM serves on `base_id`,
        sorted by id: what the base's vLLM server must have loaded."""
        out = []
        for model_id, manifest in self.manifests.items():
            record = self.snapshot.get(model_id)
            if (manifest.base != base_id or record is None or not record.enabled
                    or record.engine != "vllm"):
                continue
            state = adapter_state(manifest, self.selector.settings)
            if state.ready:
                out.append((model_id, state.path))
        return sorted(out)

    def _apply_manifest(self, record: ModelRecord, manifest: ModelManifest) -> None:
        record.owner = manifest.owner
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
        if manifest.owner is not None and choice.available:
            state = adapter_state(manifest, self.selector.settings)
            choice = choice if state.ready else EngineChoice(None, state.reason)
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
        """Every row, refreshing the hot-path snapshot; private models another gateway
        added or removed meanwhile are picked up here too."""
        with self.db.session() as session:
            records = list(session.exec(select(ModelRecord).order_by(ModelRecord.id)))
        self.snapshot = {r.id: r for r in records}
        owned = {r.id for r in records if r.owner is not None}
        for model_id in [m for m, man in self.manifests.items()
                         if man.owner is not None and m not in owned]:
            del self.manifests[model_id]
        new = [r for r in records if r.owner is not None and r.id not in self.manifests]
        self.manifests.update(self._private_manifests(new))
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
