"""Fine-tune files: every line validated at upload, stored only when all are good.

A training file is JSONL in OpenAI's chat format, `{"messages": [{"role", "content"}, ...]}`
ending with an assistant turn. A file someone exported by hand is fixable only if the error
says where, so the upload answers 400 listing every bad line by number with its reason,
and nothing is written. Content lives under `data_dir/fine_tuning/files/<tenant>/`; the
row in `fine_tune_files` is its catalogue (written after the content, removed before it).
"""

from __future__ import annotations

import calendar
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from maas.db.tables import FineTuneFile, FineTuneJob
from maas.errors import Conflict, InvalidRequest, NotFound
from maas.finetune.datasets import ROLES
from maas.metering.pricing import prompt_token_bounds

PURPOSE = "fine-tune"
#: Bad lines listed in one error message; the count of the rest is given.
MAX_REPORTED = 20
ACTIVE = ("validating_files", "queued", "running")


@dataclass(frozen=True)
class CheckedFile:
    chats: list[list[dict[str, str]]]
    estimated_tokens: int


def unix(when: datetime | None) -> int | None:
    """Seconds since the epoch; stored datetimes are UTC (SQLite hands them back naive)."""
    return None if when is None else calendar.timegm(when.utctimetuple())


def line_problem(row: object) -> str | None:
    """What is wrong with one parsed line, in the words of its JSON path; None if fine."""
    if not isinstance(row, dict):
        return "must be a JSON object"
    unknown = sorted(set(row) - {"messages"})
    if unknown:
        return f"unknown field {unknown[0]!r} (only \"messages\" is read)"
    messages = row.get("messages")
    if not isinstance(messages, list):
        return 'must have a "messages" list'
    if len(messages) < 2:
        return "messages needs at least a user and an assistant message"
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"messages[{i}] must be an object"
        if message.get("role") not in ROLES:
            return f"messages[{i}].role must be one of {'/'.join(ROLES)}"
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            return f"messages[{i}].content must be a non-empty string"
        extra = sorted(set(message) - {"role", "content"})
        if extra:
            return f"messages[{i}] has an unknown field {extra[0]!r}"
    if messages[-1]["role"] != "assistant":
        return f"messages[{len(messages) - 1}] must be the assistant's answer (the last " \
               "message is what the model learns)"
    if not any(m["role"] == "user" for m in messages):
        return "messages needs a user message"
    return None


def check_jsonl(data: bytes) -> CheckedFile:
    """Every line checked; InvalidRequest listing each bad one ("line 7: ...") otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"the file is not UTF-8 text (byte {exc.start})",
                             param="file") from exc
    problems: list[str] = []
    chats: list[list[dict[str, str]]] = []
    tokens = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc.msg} at column {exc.colno})")
            continue
        problem = line_problem(row)
        if problem:
            problems.append(f"line {number}: {problem}")
            continue
        messages = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
        chats.append(messages)
        tokens += prompt_token_bounds("chat.completions", {"messages": messages})[0]
    if problems:
        shown = "; ".join(problems[:MAX_REPORTED])
        more = f"; and {len(problems) - MAX_REPORTED} more bad lines" \
            if len(problems) > MAX_REPORTED else ""
        raise InvalidRequest(f"Invalid file format: {len(problems)} bad line(s): {shown}{more}",
                             param="file", code="invalid_file_format")
    if not chats:
        raise InvalidRequest("Invalid file format: the file has no examples", param="file",
                             code="invalid_file_format")
    return CheckedFile(chats, tokens)


def files_dir(data_dir: Path, tenant_id: str) -> Path:
    return data_dir / "fine_tuning" / "files" / tenant_id


def store_file(session: Session, data_dir: Path, tenant_id: str, filename: str, purpose: str,
               data: bytes, created_by: str | None) -> FineTuneFile:
    """Validate, write the content (temp file, then rename), then the row."""
    if purpose != PURPOSE:
        raise InvalidRequest(f"purpose must be {PURPOSE!r} (the only files kept here)",
                             param="purpose")
    checked = check_jsonl(data)
    file_id = "file-" + secrets.token_hex(12)
    folder = files_dir(data_dir, tenant_id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{file_id}.jsonl"
    fd, tmp = tempfile.mkstemp(prefix=f".{file_id}.", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
        record = FineTuneFile(id=file_id, tenant_id=tenant_id,
                              filename=(Path(filename).name or "upload.jsonl")[:255],
                              purpose=purpose, bytes=len(data), examples=len(checked.chats),
                              estimated_tokens=checked.estimated_tokens,
                              path=str(target.relative_to(data_dir)), created_by=created_by)
        session.add(record)
        session.flush()
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        raise
    return record


def get_file(session: Session, tenant_id: str, file_id: str, param: str = "file_id"
             ) -> FineTuneFile:
    record = session.get(FineTuneFile, file_id)
    if record is None or record.tenant_id != tenant_id:
        raise NotFound(f"No such File object: {file_id}", param=param)
    return record


def list_files(session: Session, tenant_id: str, limit: int, after: str | None,
               order: str = "desc") -> tuple[list[FineTuneFile], bool]:
    """A page of the tenant's files (newest first by default) and whether more follow."""
    statement = select(FineTuneFile).where(FineTuneFile.tenant_id == tenant_id)
    newest_first = order != "asc"
    if after:
        cursor = get_file(session, tenant_id, after, "after")
        created = col(FineTuneFile.created_at)
        ident = col(FineTuneFile.id)
        statement = statement.where(
            (created < cursor.created_at) | ((created == cursor.created_at) & (ident < cursor.id))
            if newest_first else
            (created > cursor.created_at) | ((created == cursor.created_at) & (ident > cursor.id)))
    keys = (col(FineTuneFile.created_at).desc(), col(FineTuneFile.id).desc()) if newest_first \
        else (col(FineTuneFile.created_at), col(FineTuneFile.id))
    rows = list(session.exec(statement.order_by(*keys).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def delete_file(session: Session, data_dir: Path, tenant_id: str, file_id: str) -> None:
    """Remove the row, then the content; refused while a queued or running job reads it."""
    record = get_file(session, tenant_id, file_id)
    busy = session.exec(select(FineTuneJob.id).where(
        FineTuneJob.tenant_id == tenant_id, col(FineTuneJob.status).in_(ACTIVE),
        (FineTuneJob.training_file == file_id) | (FineTuneJob.validation_file == file_id))
    ).first()
    if busy:
        raise Conflict(f"file {file_id} is used by fine-tuning job {busy}, which has not "
                       "finished; cancel it or wait", param="file_id")
    session.delete(record)
    session.flush()
    (data_dir / record.path).unlink(missing_ok=True)


def file_view(record: FineTuneFile) -> dict[str, Any]:
    """OpenAI's FileObject, plus what validation counted."""
    return {"id": record.id, "object": "file", "bytes": record.bytes,
            "created_at": unix(record.created_at), "filename": record.filename,
            "purpose": record.purpose, "status": "processed", "status_details": None,
            "expires_at": None, "examples": record.examples,
            "estimated_tokens": record.estimated_tokens}
