"""Tenants' thing models and their versions.

A version is never edited: saving a document whose identifier the tenant already has adds
the next version, so any two versions can be diffed and an export can always name the
version it came from. Every read is scoped to the caller's tenant here, in one place;
another tenant's thing model answers 404 as if it did not exist.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from maas.db.database import Database
from maas.db.tables import ThingModelRecord, ThingModelVersion, utcnow
from maas.errors import Conflict, InvalidRequest, NotFound
from maas.tenancy.audit import record
from maas.tenancy.principal import Principal
from maas.toolbox.thingmodel.diff import diff_thing_models, format_diff
from maas.toolbox.thingmodel.schema import ThingModel, parse_thing_model

MAX_LIST = 200
MAX_VERSIONS = 500


@dataclass(frozen=True)
class Saved:
    record: ThingModelRecord
    version: ThingModelVersion


def record_view(tm: ThingModelRecord) -> dict[str, Any]:
    return {"id": tm.id, "object": "thing_model", "identifier": tm.identifier, "name": tm.name,
            "latest_version": tm.latest_version, "created_by": tm.created_by,
            "created_at": tm.created_at, "updated_at": tm.updated_at}


def version_view(v: ThingModelVersion, document: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {"object": "thing_model.version", "thing_model_id": v.thing_model_id,
                            "version": v.version, "comment": v.comment, "source": v.source,
                            "created_by": v.created_by, "created_at": v.created_at}
    if document:
        view["document"] = v.document
    return view


class ThingModelLibrary:
    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, who: Principal, tm: ThingModel, *, source: dict[str, Any],
             comment: str = "", thing_model_id: str | None = None) -> Saved:
        """Store `tm` as a new thing model, or as the next version of the tenant's thing
        model with the same identifier (or of `thing_model_id`, which must match it)."""
        document = tm.model_dump(mode="json")
        try:
            with self.db.session(write=True) as s:
                statement = select(ThingModelRecord).where(
                    ThingModelRecord.tenant_id == who.tenant_id)
                if thing_model_id:
                    statement = statement.where(ThingModelRecord.id == thing_model_id)
                else:
                    statement = statement.where(ThingModelRecord.identifier == tm.identifier)
                current = s.exec(statement).first()
                if thing_model_id and current is None:
                    raise NotFound(f"thing model {thing_model_id!r} not found",
                                   param="thing_model_id")
                if current is not None and current.identifier != tm.identifier:
                    raise InvalidRequest(
                        f"thing model {current.id!r} has the identifier "
                        f"{current.identifier!r}; the document says {tm.identifier!r}. Keep "
                        "the identifier, or save the document as a new thing model",
                        param="document.identifier")
                if current is None:
                    current = ThingModelRecord(
                        id="tm_" + secrets.token_hex(8), tenant_id=who.tenant_id,
                        identifier=tm.identifier, name=tm.name, latest_version=0,
                        created_by=who.actor)
                if current.latest_version >= MAX_VERSIONS:
                    raise InvalidRequest(f"thing model {current.id!r} has {MAX_VERSIONS} "
                                         "versions, the most one may keep")
                current.latest_version += 1
                current.name, current.updated_at = tm.name, utcnow()
                s.add(current)
                version = ThingModelVersion(
                    thing_model_id=current.id, tenant_id=who.tenant_id,
                    version=current.latest_version, document=document, source=source,
                    comment=comment[:500], created_by=who.actor)
                s.add(version)
                s.flush()
                record(s, who, "thing_model.save", "thing_model", current.id, who.tenant_id,
                       version=version.version, identifier=tm.identifier)
                return Saved(current, version)
        except IntegrityError as exc:  # two first saves of one identifier at once
            raise Conflict(f"thing model {tm.identifier!r} was saved concurrently; "
                           "retry") from exc

    def list(self, who: Principal, limit: int = 100) -> list[ThingModelRecord]:
        with self.db.session() as s:
            statement = (select(ThingModelRecord)
                         .where(ThingModelRecord.tenant_id == who.tenant_id)
                         .order_by(col(ThingModelRecord.updated_at).desc())
                         .limit(min(max(limit, 1), MAX_LIST)))
            return list(s.exec(statement))

    def get(self, who: Principal, thing_model_id: str) -> ThingModelRecord:
        with self.db.session() as s:
            tm = s.get(ThingModelRecord, thing_model_id)
        if tm is None or tm.tenant_id != who.tenant_id:
            raise NotFound(f"thing model {thing_model_id!r} not found", param="thing_model_id")
        return tm

    def versions(self, who: Principal, thing_model_id: str) -> list[ThingModelVersion]:
        self.get(who, thing_model_id)
        with self.db.session() as s:
            statement = (select(ThingModelVersion)
                         .where(ThingModelVersion.tenant_id == who.tenant_id,
                                ThingModelVersion.thing_model_id == thing_model_id)
                         .order_by(col(ThingModelVersion.version)))
            return list(s.exec(statement))

    def version(self, who: Principal, thing_model_id: str, version: int | None = None
                ) -> ThingModelVersion:
        """One version (the latest when `version` is None)."""
        tm = self.get(who, thing_model_id)
        wanted = tm.latest_version if version is None else version
        with self.db.session() as s:
            found = s.exec(select(ThingModelVersion).where(
                ThingModelVersion.tenant_id == who.tenant_id,
                ThingModelVersion.thing_model_id == thing_model_id,
                ThingModelVersion.version == wanted)).first()
        if found is None:
            raise NotFound(f"thing model {thing_model_id!r} has no version {wanted} "
                           f"(versions 1 to {tm.latest_version})", param="version")
        return found

    def thing_model(self, who: Principal, thing_model_id: str, version: int | None = None
                    ) -> ThingModel:
        return parse_thing_model(self.version(who, thing_model_id, version).document)

    def diff(self, who: Principal, thing_model_id: str, old: int, new: int
             ) -> dict[str, Any]:
        before = self.thing_model(who, thing_model_id, old)
        after = self.thing_model(who, thing_model_id, new)
        changes = diff_thing_models(before, after)
        return {"object": "thing_model.diff", "thing_model_id": thing_model_id,
                "from": old, "to": new, "changes": [asdict(c) for c in changes],
                "text": format_diff(changes)}

    def delete(self, who: Principal, thing_model_id: str) -> None:
        with self.db.session(write=True) as s:
            tm = s.get(ThingModelRecord, thing_model_id)
            if tm is None or tm.tenant_id != who.tenant_id:
                raise NotFound(f"thing model {thing_model_id!r} not found",
                               param="thing_model_id")
            for v in s.exec(select(ThingModelVersion).where(
                    ThingModelVersion.thing_model_id == thing_model_id)):
                s.delete(v)
            s.flush()
            s.delete(tm)
            record(s, who, "thing_model.delete", "thing_model", thing_model_id,
                   who.tenant_id, identifier=tm.identifier)
