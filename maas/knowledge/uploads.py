"""Checking an uploaded document before any parser sees it.

Refused with a clear error, before anything is written: a file name that is a path (or
tries to be one), an unknown or mismatched type, an oversized file, and an Office file
whose zip would inflate far beyond its size (a zip bomb).
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from maas.errors import InvalidRequest, MaasError

#: Extension -> document kind.
KINDS = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".html": "html",
         ".htm": "html", ".pdf": "pdf", ".docx": "docx", ".csv": "csv", ".xlsx": "xlsx"}
ZIP_KINDS = {"docx", "xlsx"}
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_INFLATED_BYTES = 200 * 1024 * 1024
MAX_ZIP_RATIO = 100
MAX_ZIP_MEMBERS = 5000


class UnsupportedDocument(MaasError):
    """The file's type is not one we ingest (415)."""

    code = "unsupported_document"


class DocumentTooLarge(MaasError):
    """Over the upload size limit (413)."""

    code = "document_too_large"


class UnreadableDocument(MaasError):
    """The file claims a type but cannot be parsed as it (corrupt, encrypted) (422)."""

    code = "unreadable_document"


@dataclass(frozen=True)
class Upload:
    """A checked upload: a safe display name, its kind and its bytes."""

    name: str
    kind: str
    data: bytes


def safe_name(name: str) -> str:
    """The file name if it is a plain name; anything path-like is refused, not repaired."""
    cleaned = unicodedata.normalize("NFC", name or "").strip()
    if not cleaned or len(cleaned) > 255:
        raise InvalidRequest("a document needs a file name of 1-255 characters",
                             param="file")
    if any(ord(c) < 32 or c in '<>:"|?*\\/' for c in cleaned) or cleaned in {".", ".."}:
        raise InvalidRequest(f"{name!r} is not a plain file name (no paths or control "
                             "characters)", param="file", code="invalid_file_name")
    if PurePosixPath(cleaned).name != cleaned or PureWindowsPath(cleaned).name != cleaned:
        raise InvalidRequest(f"{name!r} is not a plain file name", param="file",
                             code="invalid_file_name")
    if cleaned.startswith("."):
        raise InvalidRequest(f"{name!r}: hidden file names are not accepted", param="file",
                             code="invalid_file_name")
    return cleaned


def _check_zip(data: bytes, name: str) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UnreadableDocument(f"{name} is not a valid Office file (bad zip)",
                                 param="file") from exc
    members = archive.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise UnreadableDocument(f"{name} holds {len(members)} parts; refusing it",
                                 param="file", code="zip_bomb")
    inflated = sum(m.file_size for m in members)
    packed = max(1, sum(m.compress_size for m in members))
    if inflated > MAX_INFLATED_BYTES or inflated / packed > MAX_ZIP_RATIO:
        raise UnreadableDocument(
            f"{name} would inflate to {inflated // 1024 // 1024} MB ({inflated // packed}x "
            "its size); refusing what looks like a zip bomb", param="file", code="zip_bomb")


def check_upload(name: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> Upload:
    """Validate an upload (name, size, type, container) or raise a 4xx domain error."""
    display = safe_name(name)
    if len(data) > max_bytes:
        raise DocumentTooLarge(f"{display} is {len(data) / 1e6:.1f} MB; the limit is "
                               f"{max_bytes / 1e6:.0f} MB", param="file")
    if not data:
        raise InvalidRequest(f"{display} is empty", param="file")
    suffix = PurePosixPath(display.lower()).suffix
    kind = KINDS.get(suffix)
    if kind is None:
        raise UnsupportedDocument(
            f"{display}: unsupported type {suffix or '(none)'}; supported: "
            f"{', '.join(sorted(KINDS))}", param="file")
    if kind == "pdf" and not data.lstrip()[:5] == b"%PDF-":
        raise UnreadableDocument(f"{display} is not a PDF file", param="file")
    if kind in ZIP_KINDS:
        if data[:2] != b"PK":
            raise UnreadableDocument(f"{display} is not a {kind} file", param="file")
        _check_zip(data, display)
    return Upload(name=display, kind=kind, data=data)
