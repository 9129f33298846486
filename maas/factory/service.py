"""Factory sessions for tenants: conversation, spec versions, confirmation, builds, publishing.

Every read and write is scoped to the caller's tenant here, in one place. A spec change is a
new version (never an edit), and any change clears the confirmation: only a spec the user has
confirmed as it stands is ever generated.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from maas.db.database import Database
from maas.db.tables import (
    FactoryBuildRecord,
    FactoryMessageRecord,
    FactorySessionRecord,
    FactorySpecVersion,
    utcnow,
)
from maas.errors import Conflict, InvalidRequest, NotFound, ServiceUnavailable
from maas.factory.build import build_project
from maas.factory.dialogue import Turn, empty_spec, questions_for, take_turn
from maas.factory.diff import diff_specs, format_spec_diff
from maas.factory.spec import Spec, parse_spec
from maas.tenancy.audit import record
from maas.tenancy.principal import Principal

MAX_MESSAGE_CHARS = 8000
MAX_LIST = 200
TEST_OUTPUT_CHARS = 20_000


def session_view(row: FactorySessionRecord) -> dict[str, Any]:
    spec = Spec.model_validate(row.spec)
    return {"id": row.id, "object": "factory.session", "title": row.title,
            "spec": row.spec, "spec_version": row.spec_version,
            "confirmed_version": row.confirmed_version,
            "confirmed": row.confirmed_version == row.spec_version,
            "problems": spec.problems(), "questions": questions_for(spec),
            "created_by": row.created_by, "created_at": row.created_at,
            "updated_at": row.updated_at}


def build_view(b: FactoryBuildRecord) -> dict[str, Any]:
    return {"id": b.id, "object": "factory.build", "session_id": b.session_id,
            "spec_version": b.spec_version, "package": b.package, "passed": b.passed,
            "isolation": b.isolation, "files": b.files, "test_output": b.test_output,
            "published_app": b.published_app, "created_by": b.created_by,
            "created_at": b.created_at,
            "download": f"/v1/factory/sessions/{b.session_id}/builds/{b.id}/download"}


class Factory:
    def __init__(self, db: Database, concurrency: int = 1) -> None:
        self.db = db
        self._slots = threading.BoundedSemaphore(concurrency)

    # -- sessions ---------------------------------------------------------------------------
    def create(self, who: Principal, language: str = "en") -> FactorySessionRecord:
        spec = empty_spec(language)
        row = FactorySessionRecord(id="fs_" + secrets.token_hex(8), tenant_id=who.tenant_id,
                                   spec=spec.model_dump(mode="json"), created_by=who.actor)
        with self.db.session(write=True) as s:
            s.add(row)
            s.flush()
            s.add(FactorySpecVersion(session_id=row.id, tenant_id=who.tenant_id, version=1,
                                     spec=row.spec, changes=[], created_by=who.actor))
            record(s, who, "factory.session.create", "factory_session", row.id, who.tenant_id)
        return row

    def _owned(self, s: Session, who: Principal, session_id: str) -> FactorySessionRecord:
        row = s.get(FactorySessionRecord, session_id)
        if row is None or row.tenant_id != who.tenant_id:
            raise NotFound(f"factory session {session_id!r} not found", param="session_id")
        return row

    def get(self, who: Principal, session_id: str) -> FactorySessionRecord:
        with self.db.session() as s:
            return self._owned(s, who, session_id)

    def list(self, who: Principal, limit: int = 50) -> list[FactorySessionRecord]:
        with self.db.session() as s:
            return list(s.exec(select(FactorySessionRecord)
                               .where(FactorySessionRecord.tenant_id == who.tenant_id)
                               .order_by(col(FactorySessionRecord.updated_at).desc())
                               .limit(min(max(limit, 1), MAX_LIST))))

    def messages(self, who: Principal, session_id: str) -> list[FactoryMessageRecord]:
        with self.db.session() as s:
            self._owned(s, who, session_id)
            return list(s.exec(select(FactoryMessageRecord)
                               .where(FactoryMessageRecord.session_id == session_id)
                               .order_by(col(FactoryMessageRecord.id))))

    def versions(self, who: Principal, session_id: str) -> list[FactorySpecVersion]:
        with self.db.session() as s:
            self._owned(s, who, session_id)
            return list(s.exec(select(FactorySpecVersion)
                               .where(FactorySpecVersion.session_id == session_id)
                               .order_by(col(FactorySpecVersion.version))))

    def diff(self, who: Principal, session_id: str, old: int, new: int) -> list[str]:
        by_version = {v.version: v for v in self.versions(who, session_id)}
        for version in (old, new):
            if version not in by_version:
                raise NotFound(f"spec version {version} not found", param="version")
        return format_spec_diff(diff_specs(Spec.model_validate(by_version[old].spec),
                                           Spec.model_validate(by_version[new].spec)))

    # -- changing the spec ------------------------------------------------------------------
    def _new_version(self, s: Session, who: Principal, row: FactorySessionRecord, spec: Spec,
                     changes: list[str]) -> None:
        row.spec = spec.model_dump(mode="json")
        row.spec_version += 1
        row.confirmed_version = None
        row.title = spec.title or row.title
        s.add(FactorySpecVersion(session_id=row.id, tenant_id=row.tenant_id,
                                 version=row.spec_version, spec=row.spec, changes=changes,
                                 created_by=who.actor))

    def send(self, who: Principal, session_id: str, content: str) -> tuple[Turn, dict[str, Any]]:
        """One conversation turn; the messages, the new spec version (if it changed) and a
        confirmation asked for in words are written together."""
        if len(content) > MAX_MESSAGE_CHARS:
            raise InvalidRequest(f"the message is longer than {MAX_MESSAGE_CHARS} characters",
                                 param="content")
        with self.db.session(write=True) as s:
            row = self._owned(s, who, session_id)
            turn = take_turn(Spec.model_validate(row.spec), content)
            if turn.changes:
                self._new_version(s, who, row, turn.spec, turn.changes)
            reply = turn.reply
            if turn.confirm:
                reply = "\n".join(filter(None, [reply, self._confirm(s, who, row)]))
            row.updated_at = utcnow()
            s.add(row)
            for role, text in (("user", content), ("assistant", reply)):
                s.add(FactoryMessageRecord(session_id=row.id, tenant_id=row.tenant_id,
                                           role=role, content=text,
                                           spec_version=row.spec_version))
            turn.reply = reply
            s.flush()
            return turn, session_view(row)

    def put_spec(self, who: Principal, session_id: str, data: Any,
                 expected_version: int | None = None) -> dict[str, Any]:
        """Replace the spec (a new version if anything differs). `expected_version` guards
        against overwriting a change made since the caller read the spec."""
        spec = parse_spec(data)
        with self.db.session(write=True) as s:
            row = self._owned(s, who, session_id)
            if expected_version is not None and expected_version != row.spec_version:
                raise Conflict(f"the spec changed since version {expected_version} (now "
                               f"{row.spec_version}); reload it and retry", param="version")
            changes = format_spec_diff(diff_specs(Spec.model_validate(row.spec), spec))
            if changes:
                self._new_version(s, who, row, spec, changes)
                row.updated_at = utcnow()
                s.add(row)
            s.flush()
            return {**session_view(row), "changes": changes}

    def _confirm(self, s: Session, who: Principal, row: FactorySessionRecord) -> str:
        spec = Spec.model_validate(row.spec)
        zh = spec.language == "zh"
        problems = spec.problems()
        if problems:
            return (("还不能确认：" if zh else "Cannot confirm yet: ") + "; ".join(problems))
        row.confirmed_version = row.spec_version
        record(s, who, "factory.spec.confirm", "factory_session", row.id, who.tenant_id,
               version=row.spec_version)
        return (f"已确认需求第 {row.spec_version} 版，可以生成程序了。" if zh else
                f"Spec version {row.spec_version} confirmed; it can be generated now.")

    def confirm(self, who: Principal, session_id: str, version: int | None = None
                ) -> dict[str, Any]:
        with self.db.session(write=True) as s:
            row = self._owned(s, who, session_id)
            if version is not None and version != row.spec_version:
                raise Conflict(f"version {version} is not the current spec (version "
                               f"{row.spec_version}); review the current one", param="version")
            problems = Spec.model_validate(row.spec).problems()
            if problems:
                raise InvalidRequest("the spec is not complete: " + "; ".join(problems),
                                     param="spec")
            self._confirm(s, who, row)
            s.add(row)
            s.flush()
            return session_view(row)

    # -- builds -----------------------------------------------------------------------------
    def generate(self, who: Principal, session_id: str) -> FactoryBuildRecord:
        """Generate the confirmed spec and test it in the sandbox. Blocking: run in a thread."""
        row = self.get(who, session_id)
        if row.confirmed_version != row.spec_version:
            raise Conflict("confirm the current spec before generating (POST .../confirm)",
                           param="session_id")
        spec = Spec.model_validate(row.spec)
        if not self._slots.acquire(timeout=300):
            raise ServiceUnavailable("the software factory is busy; retry shortly")
        try:
            with tempfile.TemporaryDirectory(prefix="maas-factory-") as tmp:
                result = build_project(spec, row.spec_version, Path(tmp) / spec.name)
        finally:
            self._slots.release()
        assert result.test is not None
        build = FactoryBuildRecord(
            id="fb_" + secrets.token_hex(8), session_id=row.id, tenant_id=who.tenant_id,
            spec_version=row.spec_version, package=spec.name, files=sorted(result.files),
            passed=result.passed, isolation=result.test.isolation,
            test_output=result.test_output[-TEST_OUTPUT_CHARS:], archive=result.zip_bytes,
            created_by=who.actor)
        with self.db.session(write=True) as s:
            s.add(build)
            s.flush()
            record(s, who, "factory.build", "factory_build", build.id, who.tenant_id,
                   session_id=row.id, version=row.spec_version, passed=result.passed)
        return build

    def builds(self, who: Principal, session_id: str) -> list[FactoryBuildRecord]:
        with self.db.session() as s:
            self._owned(s, who, session_id)
            return list(s.exec(select(FactoryBuildRecord)
                               .where(FactoryBuildRecord.session_id == session_id)
                               .order_by(col(FactoryBuildRecord.created_at).desc())))

    def build(self, who: Principal, session_id: str, build_id: str) -> FactoryBuildRecord:
        with self.db.session() as s:
            self._owned(s, who, session_id)
            build = s.get(FactoryBuildRecord, build_id)
            if build is None or build.session_id != session_id:
                raise NotFound(f"build {build_id!r} not found", param="build_id")
            return build

    def mark_published(self, who: Principal, session_id: str, build_id: str, slug: str) -> None:
        with self.db.session(write=True) as s:
            self._owned(s, who, session_id)
            build = s.get(FactoryBuildRecord, build_id)
            assert build is not None
            build.published_app = slug
            s.add(build)
