"""Documents as text for the toolbox: a datasheet upload read with the knowledge base's
own loaders, so a table keeps its header row and PDF/DOCX tables arrive as rows."""

from __future__ import annotations

from maas.knowledge.loaders import load
from maas.knowledge.uploads import check_upload

MAX_TEXT_CHARS = 200_000


def document_text(filename: str, data: bytes, max_bytes: int) -> str:
    """The text of an uploaded document: headings, paragraphs, and each table as its
    Markdown pipe table (header, separator, one line per row)."""
    upload = check_upload(filename, data, max_bytes)
    parts: list[str] = []
    for block in load(upload):
        if block.is_table:
            columns = block.header.count(" | ") + 1
            separator = "|" + "---|" * columns
            parts.append("\n".join([f"| {block.header} |", separator,
                                    *(f"| {r} |" for r in block.rows)]))
        elif block.text.strip():
            parts.append(block.text.strip())
    return "\n\n".join(parts)[:MAX_TEXT_CHARS]
