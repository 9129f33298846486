"""Protocol-parser builds for tenants: read the spec, generate the package, run its tests
in the sandbox, keep the result and the zip.

A build that fails its own tests is still kept and returned (with the test output), so the
user sees what failed; a spec that cannot be read is refused before anything is written.
Builds run at most `concurrency` at a time per gateway: each is a pytest process.
"""

from __future__ import annotations

import json
import re
import secrets
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from maas.db.database import Database
from maas.db.tables import ParserBuildRecord
from maas.errors import InvalidRequest, NotFound, ServiceUnavailable
from maas.tenancy.audit import record
from maas.tenancy.principal import Principal
from maas.toolbox.protocol.build import build_parser
from maas.toolbox.protocol.frames import FrameSpec, parse_frame_spec
from maas.toolbox.protocol.registers import RegisterMap, parse_register_map
from maas.toolbox.protocol.thing_model import register_map_from_thing_model

PACKAGE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
MAX_SPEC_BYTES = 1_000_000
MAX_LIST = 200
REGISTER_MAP_SUFFIXES = (".csv", ".xlsx", ".md", ".markdown")
FRAME_SUFFIXES = (".yaml", ".yml", ".json")
TEST_OUTPUT_CHARS = 20_000


def build_view(b: ParserBuildRecord) -> dict[str, Any]:
    return {"id": b.id, "object": "protocol_parser", "kind": b.kind, "package": b.package,
            "source": b.source_name, "thing_model_id": b.thing_model_id,
            "passed": b.passed, "isolation": b.isolation, "files": b.files,
            "test_output": b.test_output, "created_by": b.created_by,
            "created_at": b.created_at,
            "download": f"/v1/tools/protocol-parsers/{b.id}/download"}


def spec_kind(filename: str) -> str:
    """`modbus` or `frame` from the file name, or a 400 that says what is accepted."""
    name = filename.lower()
    if name.endswith(REGISTER_MAP_SUFFIXES):
        return "modbus"
    if name.endswith(FRAME_SUFFIXES):
        return "frame"
    raise InvalidRequest(
        f"cannot tell what {filename!r} is: a Modbus register map is .csv, .xlsx or .md; a "
        "binary frame spec is .yaml, .yml or .json", param="filename")


def check_package(package: str) -> str:
    if not PACKAGE_PATTERN.match(package):
        raise InvalidRequest(f"package name {package!r} is not valid: use lower-case letters, "
                             "digits and underscores, starting with a letter (at most 41)",
                             param="package")
    return package


class ParserBuilds:
    def __init__(self, db: Database, concurrency: int = 2) -> None:
        self.db = db
        self._slots = threading.BoundedSemaphore(concurrency)

    @staticmethod
    def read_spec(content: bytes, filename: str) -> tuple[str, Any]:
        """The parsed spec; errors name the row or field (they are the parser's own)."""
        if len(content) > MAX_SPEC_BYTES:
            raise InvalidRequest(f"{filename!r} is {len(content)} bytes; the limit is "
                                 f"{MAX_SPEC_BYTES}", param="file")
        if not content.strip():
            raise InvalidRequest(f"{filename!r} is empty", param="file")
        kind = spec_kind(filename)
        if kind == "modbus":
            return kind, parse_register_map(content, filename=filename)
        return kind, parse_frame_spec(content, filename=filename)

    def spec_from_thing_model(self, document: dict[str, Any], *, start_address: int = 0,
                              table: str = "holding") -> Any:
        return register_map_from_thing_model(document, start_address=start_address,
                                             table=table)

    def build(self, who: Principal, kind: str, spec: Any, *, package: str, source_name: str,
              thing_model: dict[str, Any] | None = None,
              thing_model_id: str | None = None) -> ParserBuildRecord:
        """Generate, test in the sandbox, store. Blocking: call it in a thread."""
        check_package(package)
        if not self._slots.acquire(timeout=120):
            raise ServiceUnavailable("the protocol-parser builder is busy; retry shortly")
        try:
            with tempfile.TemporaryDirectory(prefix="maas-parser-") as tmp:
                result = build_parser(spec, package=package, workdir=Path(tmp),
                                      thing_model=thing_model)
        finally:
            self._slots.release()
        test, output = result.test, result.test_output
        row = ParserBuildRecord(
            id="pp_" + secrets.token_hex(8), tenant_id=who.tenant_id, kind=kind,
            package=package, source_name=source_name[:255], thing_model_id=thing_model_id,
            spec=_spec_json(spec), files=sorted(result.files), passed=result.passed,
            isolation=test.isolation, test_output=output[-TEST_OUTPUT_CHARS:],
            archive=result.zip_bytes, created_by=who.actor)
        with self.db.session(write=True) as s:
            s.add(row)
            s.flush()
            record(s, who, "protocol_parser.build", "protocol_parser", row.id, who.tenant_id,
                   kind=kind, package=package, passed=result.passed)
        return row

    def get(self, who: Principal, build_id: str) -> ParserBuildRecord:
        with self.db.session() as s:
            row = s.get(ParserBuildRecord, build_id)
        if row is None or row.tenant_id != who.tenant_id:
            raise NotFound(f"protocol parser {build_id!r} not found", param="parser_id")
        return row

    def list(self, who: Principal, limit: int = 50) -> list[ParserBuildRecord]:
        with self.db.session() as s:
            statement = (select(ParserBuildRecord)
                         .where(ParserBuildRecord.tenant_id == who.tenant_id)
                         .order_by(col(ParserBuildRecord.created_at).desc())
                         .limit(min(max(limit, 1), MAX_LIST)))
            return list(s.exec(statement))


def _spec_json(spec: RegisterMap | FrameSpec) -> dict[str, Any]:
    """The parsed spec as JSON for the build's record (decimals kept exact, as text)."""
    return json.loads(json.dumps(asdict(spec), default=str))
