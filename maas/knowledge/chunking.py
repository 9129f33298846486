"""Blocks -> chunks for indexing, each with its document place and character offsets.

Text is split with LangChain's recursive splitter on paragraph, line and sentence
boundaries, Chinese punctuation included, keeping the punctuation with its sentence.
Consecutive paragraphs under the same heading and page are packed together; a heading
never spans into the next section's chunk. Tables are cut between rows, and every
chunk of a table starts with the table's header row. A short text ending in a colon
right before a table in the same section ("阈值设置如下：") is the table's caption: it
leads the header line of every chunk of the table instead of standing alone as a chunk
too small to mean anything.

Offsets refer to the document's canonical text: its blocks joined by blank lines, a
table written as its header line followed by its row lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from langchain_text_splitters import RecursiveCharacterTextSplitter

from maas.knowledge.loaders import Block

SEPARATORS = ["\n\n", "\n", "。", "！", "？", "；", "! ", "? ", "; ", ". ", "，", "、", ", ",
              " ", ""]
BLOCK_GAP = "\n\n"
#: Text this short, ending in a colon, before a table of its section is its caption.
CAPTION_MAX = 80


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    kind: str  # text | table
    page: int | None
    section: str
    start: int
    end: int


def block_text(block: Block) -> str:
    return "\n".join([block.header or "", *block.rows]) if block.is_table else block.text


def canonical_text(blocks: list[Block]) -> str:
    return BLOCK_GAP.join(block_text(b) for b in blocks)


def _table_chunks(block: Block, start: int, size: int, caption: str = ""
                  ) -> list[tuple[str, int, int]]:
    header = block.header or ""
    lead = f"{caption} {header}" if caption else header
    out: list[tuple[str, int, int]] = []
    offset = start + len(header) + 1
    rows: list[str] = []
    first = offset
    for row in block.rows:
        if rows and len(header) + sum(len(r) + 1 for r in rows) + len(row) > size:
            out.append(("\n".join([lead, *rows]), first, offset - 1))
            rows, first = [], offset
        rows.append(row)
        offset += len(row) + 1
    if rows or not out:
        out.append(("\n".join([lead, *rows]), first if rows else start,
                    (offset - 1) if rows else start + len(header)))
    return out


def chunk_blocks(blocks: list[Block], size: int = 500, overlap: int = 80) -> list[Chunk]:
    """Cut a document's blocks into chunks of at most about `size` characters."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=size, chunk_overlap=overlap, separators=SEPARATORS,
        keep_separator="end", add_start_index=True, strip_whitespace=True)
    starts, offset = [], 0
    for block in blocks:
        starts.append(offset)
        offset += len(block_text(block)) + len(BLOCK_GAP)
    chunks: list[Chunk] = []
    indexed = list(zip(blocks, starts, strict=True))

    def place(item: tuple[Block, int]) -> tuple[bool, int | None, str]:
        block = item[0]
        return block.is_table, block.page, block.section

    groups = [(key, list(group)) for key, group in groupby(indexed, key=place)]
    caption, captioned = "", None  # the caption and the header of the table it names
    for number, ((is_table, page, section), items) in enumerate(groups):
        if is_table:
            for block, start in items:
                if captioned is None:
                    captioned = block.header
                elif block.header != captioned:  # another table: the caption is not its
                    caption = ""
                for text, s, e in _table_chunks(block, start, size, caption):
                    chunks.append(Chunk(len(chunks), text, "table", page, section, s, e))
            continue  # a table continued on the next page keeps its caption
        caption, captioned = "", None
        # Consecutive text blocks of one place, joined exactly as in the canonical text.
        first = items[0][1]
        text = BLOCK_GAP.join(block_text(b) for b, _ in items)
        following = groups[number + 1][0] if number + 1 < len(groups) else None
        if len(text) <= CAPTION_MAX and text.rstrip()[-1:] in (":", "：") and following \
                and following[0] and following[2] == section:
            caption = text
            continue
        for doc in splitter.create_documents([text]):
            s = first + int(doc.metadata["start_index"])
            chunks.append(Chunk(len(chunks), doc.page_content, "text", page, section, s,
                                s + len(doc.page_content)))
    return chunks
