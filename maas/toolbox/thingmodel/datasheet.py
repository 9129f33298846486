"""The deterministic extractor: a datasheet or device description -> a thing model + notes.

Tables are read first (their numbers are the manufacturer's), then prose; duplicates are
merged with the table's version winning. Markdown, HTML, CSV text and the " | "-joined rows
that `maas.knowledge.loaders` makes of PDF/DOCX/XLSX tables are all understood; for binary
uploads use `extract_document`, which runs the knowledge loaders first.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from maas.knowledge.loaders import LOADERS, Block, load_csv, load_html, load_markdown
from maas.toolbox.thingmodel.normalise import normalise_draft
from maas.toolbox.thingmodel.prose import ProseReader, section_of
from maas.toolbox.thingmodel.schema import ThingModel, parse_thing_model
from maas.toolbox.thingmodel.tables import ROLES, Table, read_table, split_row
from maas.toolbox.thingmodel.units import UnitCatalogue

MAX_TEXT = 400_000
DOC_WORDS = re.compile(r"\s*(?:数据手册|说明书|使用手册|用户手册|技术手册|产品手册|datasheet|"
                       r"data sheet|user manual|manual|user guide)\s*$", re.I)
PIPE_ROW = re.compile(r"^[^|\n]*\S[^|\n]*(\s\|\s[^|\n]*)+$")


def text_blocks(text: str) -> list[Block]:
    """Blocks of a text in whichever format it is written."""
    data = text.encode("utf-8")
    if re.search(r"<(table|html|body|p|h[1-6])\b", text, re.I):
        return load_html(data)
    if _looks_like_csv(text):
        return load_csv(data)
    return load_markdown(data)


def _looks_like_csv(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()][:20]
    if len(lines) < 2 or any(line.lstrip().startswith(("|", "#")) for line in lines):
        return False
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t")
    except csv.Error:
        return False
    rows = list(csv.reader(io.StringIO("\n".join(lines)), dialect))
    widths = {len(r) for r in rows}
    header = " ".join(rows[0]).casefold()
    known = any(s in header for _, synonyms in ROLES for s in synonyms)
    return len(widths) == 1 and widths.pop() >= 2 and known


def _tables_in_text(block: Block) -> tuple[list[Table], str]:
    """Loader-style tables ("a | b | c" lines without a Markdown separator) inside a text
    block, and the text left over."""
    tables, rest, run = [], [], []
    for line in [*block.text.splitlines(), ""]:
        if PIPE_ROW.match(line.strip()):
            run.append(split_row(line))
            continue
        if len(run) >= 2 and len({len(r) for r in run}) == 1:
            tables.append(Table(run[0], run[1:], block.section))
        else:
            rest.extend(" | ".join(r) for r in run)
        run = []
        rest.append(line)
    return tables, "\n".join(rest)


def _title(blocks: list[Block], text: str) -> str:
    """The device's name: the first heading, less words that name the document itself."""
    first = next((b.headings[0] for b in blocks if b.headings), "") or next(
        (line.strip("# ").strip() for line in text.splitlines() if line.strip()), "")
    return DOC_WORDS.sub("", first).strip()[:80]


def _description(blocks: list[Block]) -> str:
    for block in blocks:
        if not block.is_table and block.text and len(block.headings) <= 1:
            return block.text.strip()[:300]
    return ""


def extract_from_blocks(blocks: list[Block], *, name: str | None = None, title: str = "",
                        units: UnitCatalogue | None = None
                        ) -> tuple[ThingModel, list[str]]:
    """The thing model that loader blocks describe, and notes on what was read/skipped."""
    units = units or UnitCatalogue()
    notes: list[str] = []
    table_props: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    prose = ProseReader(units, notes)
    for block in blocks:
        tables: list[Table] = []
        text = block.text
        if block.is_table:
            tables.append(Table(split_row(block.header or ""), [split_row(r) for r in block.rows],
                                block.section))
            text = ""
        else:
            tables, text = _tables_in_text(block)
        for table in tables:
            props, found_events = read_table(table, units, notes)
            table_props.extend(props)
            events.extend(found_events)
        if text.strip():
            prose.read(text, section_of(block.headings[1:] if len(block.headings) > 1
                                        else block.headings))
    draft = {"name": name or title or "Device", "description": _description(blocks),
             "properties": table_props + prose.props, "events": events + prose.events,
             "services": prose.services}
    doc, more = normalise_draft(draft, units)
    notes.extend(more)
    notes.append(f"extracted {len(doc['properties'])} properties, {len(doc['events'])} "
                 f"events, {len(doc['services'])} services")
    return parse_thing_model(doc), notes


def extract_thing_model(text: str, *, name: str | None = None,
                        units: UnitCatalogue | None = None) -> tuple[ThingModel, list[str]]:
    """Deterministic extraction from a description or datasheet text (md, html, csv, plain)."""
    text = text[:MAX_TEXT]
    blocks = text_blocks(text)
    return extract_from_blocks(blocks, name=name, title=_title(blocks, text), units=units)


def extract_document(data: bytes, kind: str, *, name: str | None = None,
                     units: UnitCatalogue | None = None) -> tuple[ThingModel, list[str]]:
    """Extraction from an upload, `kind` as in `maas.knowledge.loaders.LOADERS` (pdf, docx,
    xlsx, csv, html, markdown, text); loader errors (UnreadableDocument) propagate."""
    blocks = LOADERS[kind](data)
    return extract_from_blocks(blocks, name=name, title=_title(blocks, ""), units=units)
