"""Document loaders: bytes of a checked upload -> blocks of text with their place.

Each block keeps where it came from (page for PDFs, the heading path for structured
formats) and tables stay tables: a table block carries its header row so every chunk cut
from it can repeat the header (a row of numbers means nothing without its columns).
Parsing uses the field's libraries (pypdf, python-docx, BeautifulSoup, openpyxl).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from maas.knowledge.cleaning import clean, strip_page_furniture
from maas.knowledge.uploads import UnreadableDocument, Upload

log = logging.getLogger(__name__)
MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
MD_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
MAX_TABLE_ROWS = 100_000


@dataclass
class Block:
    """A run of text, or a table (header + rows), at one place in a document."""

    text: str = ""
    page: int | None = None
    headings: list[str] = field(default_factory=list)
    header: str | None = None  # tables: the header row, as text
    rows: list[str] = field(default_factory=list)  # tables: one text line per row

    @property
    def is_table(self) -> bool:
        return self.header is not None

    @property
    def section(self) -> str:
        return " > ".join(self.headings)


def _row(cells: list[str]) -> str:
    return " | ".join(c.strip().replace("\n", " ") for c in cells)


class _Outline:
    """The current heading path while walking a document."""

    def __init__(self) -> None:
        self.path: list[tuple[int, str]] = []

    def enter(self, level: int, title: str) -> None:
        self.path = [(lv, t) for lv, t in self.path if lv < level] + [(level, title)]

    @property
    def headings(self) -> list[str]:
        return [t for _, t in self.path]


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def load_text(data: bytes) -> list[Block]:
    text = clean(_decode(data))
    return [Block(text=p) for p in re.split(r"\n\s*\n", text) if p.strip()]


def load_markdown(data: bytes) -> list[Block]:
    outline, blocks, para = _Outline(), [], []
    lines = _decode(data).splitlines()

    def flush() -> None:
        text = clean("\n".join(para))
        if text:
            blocks.append(Block(text=text, headings=outline.headings))
        para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        heading = MD_HEADING.match(line)
        if heading:
            flush()
            outline.enter(len(heading.group(1)), heading.group(2))
        elif line.strip().startswith("|") and i + 1 < len(lines) and MD_TABLE_SEP.match(
                lines[i + 1]):
            flush()
            header = _row([c for c in line.strip().strip("|").split("|")])
            rows, i = [], i + 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_row(lines[i].strip().strip("|").split("|")))
                i += 1
            blocks.append(Block(header=header, rows=rows, headings=outline.headings))
            continue
        elif not line.strip():
            flush()
        else:
            para.append(line)
        i += 1
    flush()
    return blocks


def load_html(data: bytes) -> list[Block]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(data), "lxml")
    for junk in soup(["script", "style", "noscript", "nav", "footer", "header", "aside",
                      "form", "iframe", "svg", "button"]):
        junk.decompose()
    outline, blocks = _Outline(), []
    body = soup.body or soup
    for el in body.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "table",
                             "blockquote", "dd", "dt"]):
        if el.name == "table":
            rows = [[c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])]
                    for tr in el.find_all("tr")]
            rows = [r for r in rows if any(r)]
            if rows:
                blocks.append(Block(header=_row(rows[0]), rows=[_row(r) for r in rows[1:]],
                                    headings=outline.headings))
            continue
        if el.find_parent("table") is not None or (el.name != "li" and el.find_parent("li")):
            continue
        text = clean(el.get_text(" ", strip=True))
        if not text:
            continue
        if el.name[0] == "h" and el.name[1:].isdigit():
            outline.enter(int(el.name[1]), text)
        else:
            blocks.append(Block(text=text, headings=outline.headings))
    return blocks


def load_pdf(data: bytes) -> list[Block]:
    import pypdf
    from pypdf.errors import PdfReadError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnreadableDocument("the PDF is encrypted; upload an unprotected copy",
                                     param="file")
        pages = [page.extract_text() or "" for page in reader.pages]
    except UnreadableDocument:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnreadableDocument(f"the PDF cannot be read ({exc})", param="file") from exc
    blocks = _pdf_layout_blocks(data)
    if blocks:
        return blocks
    for number, text in enumerate(strip_page_furniture(pages), start=1):
        for para in re.split(r"\n\s*\n", clean(text)):
            if para.strip():
                blocks.append(Block(text=para, page=number))
    if not blocks:
        raise UnreadableDocument("the PDF has no extractable text (a scan?); OCR it first",
                                 param="file")
    return blocks


def _pdf_layout_blocks(data: bytes) -> list[Block]:
    """Headings, text and tables from the PDF's layout (`pdf_layout`); empty when the
    layout cannot be read, and the caller falls back to pypdf's plain text."""
    from maas.knowledge.pdf_layout import read_layout

    try:
        items = read_layout(data)
    except Exception as exc:  # noqa: BLE001 - pdfminer raises many types; plain text works
        log.info("PDF layout unreadable (%s: %s); using its plain text", type(exc).__name__, exc)
        return []
    outline, blocks = _Outline(), []
    for kind, value in items:
        if kind == "heading":
            outline.enter(*value)
        elif kind == "table":
            page, rows = value
            blocks.append(Block(header=_row(rows[0]), rows=[_row(r) for r in rows[1:]],
                                page=page, headings=outline.headings))
        else:
            page, text = value
            blocks.extend(Block(text=p, page=page, headings=outline.headings)
                          for p in re.split(r"\n\s*\n", text) if p.strip())
    return blocks


def _docx_items(document) -> Iterator[object]:  # noqa: ANN001 - python-docx types
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            yield Paragraph(child, document)
        elif tag == "tbl":
            yield Table(child, document)


def load_docx(data: bytes) -> list[Block]:
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises a variety on bad packages
        raise UnreadableDocument(f"the docx cannot be read ({exc})", param="file") from exc
    outline, blocks = _Outline(), []
    for item in _docx_items(document):
        if isinstance(item, Table):
            rows = [[cell.text for cell in row.cells] for row in item.rows]
            rows = [r for r in rows if any(c.strip() for c in r)]
            if rows:
                blocks.append(Block(header=_row(rows[0]), rows=[_row(r) for r in rows[1:]],
                                    headings=outline.headings))
            continue
        text = clean(item.text)  # type: ignore[attr-defined]
        if not text:
            continue
        style = (item.style.name or "").lower() if item.style is not None else ""  # type: ignore[attr-defined]
        level = re.search(r"(?:heading|标题)\s*(\d)", style)
        if level or style == "title":
            outline.enter(int(level.group(1)) if level else 0, text)
        else:
            blocks.append(Block(text=text, headings=outline.headings))
    return blocks


def load_csv(data: bytes) -> list[Block]:
    text = _decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = [r for r in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    if not rows:
        return []
    return [Block(header=_row(rows[0]), rows=[_row(r) for r in rows[1:MAX_TABLE_ROWS]])]


def load_xlsx(data: bytes) -> list[Block]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises a variety on bad packages
        raise UnreadableDocument(f"the xlsx cannot be read ({exc})", param="file") from exc
    blocks = []
    for sheet in book.worksheets:
        rows = []
        for values in sheet.iter_rows(values_only=True):
            cells = ["" if v is None else str(v) for v in values]
            if any(c.strip() for c in cells):
                rows.append(cells)
            if len(rows) >= MAX_TABLE_ROWS:
                break
        if rows:
            blocks.append(Block(header=_row(rows[0]), rows=[_row(r) for r in rows[1:]],
                                headings=[sheet.title]))
    book.close()
    return blocks


LOADERS = {"text": load_text, "markdown": load_markdown, "html": load_html, "pdf": load_pdf,
           "docx": load_docx, "csv": load_csv, "xlsx": load_xlsx}


def load(upload: Upload) -> list[Block]:
    """The blocks of a checked upload; `UnreadableDocument` if its content is broken."""
    return LOADERS[upload.kind](upload.data)
