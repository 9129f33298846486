"""Reading a multipart upload under a size limit, for every endpoint that takes files."""

from __future__ import annotations

from fastapi import UploadFile

from maas.knowledge.uploads import DocumentTooLarge

READ_CHUNK = 1 << 20


async def read_limited(upload: UploadFile, limit: int, purpose: str = "") -> bytes:
    """The upload's bytes, read in chunks so that an oversized file is refused (413) as soon
    as it passes `limit` bytes instead of being held whole in memory first. `purpose` ends
    the error message ("for fine-tune files")."""
    parts, size = [], 0
    while chunk := await upload.read(READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise DocumentTooLarge(f"{upload.filename} is over the {limit / 1e6:g} MB limit"
                                   f"{' ' + purpose if purpose else ''}", param="file")
        parts.append(chunk)
    return b"".join(parts)
