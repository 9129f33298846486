"""A PDF's layout with pdfplumber: headings by font size, tables as tables.

Plain text extraction (pypdf) flattens a PDF: a table's cells run together without
separators, so a row can be cut in half and no chunk of it carries the column names;
headings become ordinary lines, so "1 Scope" ends up as a chunk of its own and the
chunks under it lose their section. pdfplumber gives each character's font size and
position and finds ruled tables, which is enough to rebuild what the author wrote:

- Tables (`find_tables`) become table blocks: header row plus rows, cells joined as
  text; a table continued on the next page without its header row gets it back.
- Text outside tables is read as lines with their font size. The body size is the most
  common size of that text (margins aside); a short line set clearly larger is a
  heading, its level by its size among the heading sizes; lines in the top or bottom
  margin band that are smaller than the body, page numbers, or repeated on most pages
  are running headers and footers, and are dropped.
- The lines between two headings or tables on one page are cleaned as one text
  (`cleaning.clean` joins lines a page broke inside a sentence).
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass
from statistics import median
from typing import Any

from maas.knowledge.cleaning import PAGE_NUMBER, clean

#: A line this much larger than the body text is a heading ...
HEADING_RATIO = 1.09
#: ... if it is this short (a long large line is a pull quote or a title page).
HEADING_MAX_CHARS = 80
#: Top and bottom share of a page where smaller-than-body lines are page furniture.
MARGIN_BAND = 0.08


@dataclass
class _Line:
    page: int
    top: float
    text: str
    size: float
    margin: bool  # in the top or bottom band of its page


@dataclass
class _Table:
    page: int
    top: float
    rows: list[list[str]]


def _cell(text: str | None) -> str:
    return clean(text or "").replace("\n", " ")


def _inside(obj: dict[str, Any], boxes: list[tuple[float, float, float, float]]) -> bool:
    x = (obj["x0"] + obj["x1"]) / 2
    y = (obj["top"] + obj["bottom"]) / 2
    return any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)


def _page_items(page: Any, number: int) -> list[_Line | _Table]:
    tables = page.find_tables()
    boxes = [t.bbox for t in tables]
    items: list[_Line | _Table] = []
    for table in tables:
        rows = [[_cell(c) for c in row] for row in table.extract()]
        rows = [r for r in rows if any(r)]
        if rows:
            items.append(_Table(number, table.bbox[1], rows))
    text_only = page.filter(lambda obj: obj.get("object_type") != "char"
                            or not _inside(obj, boxes))
    height = float(page.height) or 1.0
    for line in text_only.extract_text_lines(return_chars=True):
        sizes = [c["size"] for c in line["chars"] if c["text"].strip()]
        text = line["text"].strip()
        if not text or not sizes:
            continue
        band = line["top"] < MARGIN_BAND * height or line["bottom"] > (1 - MARGIN_BAND) * height
        items.append(_Line(number, line["top"], text, round(median(sizes), 1), band))
    return sorted(items, key=lambda item: item.top)


def read_layout(data: bytes) -> list[tuple[str, Any]]:
    """The document as ("heading", (level, text)), ("text", (page, text)) and
    ("table", (page, rows)) items in reading order. Raises what pdfplumber raises."""
    import pdfplumber

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        items = [item for number, page in enumerate(pdf.pages, start=1)
                 for item in _page_items(page, number)]
    lines = [i for i in items if isinstance(i, _Line)]
    weights = Counter()
    for line in lines:  # the body: most of the text outside the margins and tables
        if not line.margin:
            weights[line.size] += len(line.text)
    body = weights.most_common(1)[0][0] if weights else 0.0
    heading_sizes = sorted({ln.size for ln in lines if _is_heading(ln, body)}, reverse=True)
    furniture = _repeated_margin_lines(lines)
    out: list[tuple[str, Any]] = []
    para: list[str] = []
    para_page = 0

    def flush() -> None:
        text = clean("\n".join(para))
        if text:
            out.append(("text", (para_page, text)))
        para.clear()

    for item in items:
        if isinstance(item, _Table):
            flush()
            rows = item.rows
            page, previous = out[-1][1] if out and out[-1][0] == "table" else (0, None)
            if previous and page < item.page and len(previous[0]) == len(rows[0]) \
                    and previous[0] != rows[0]:
                rows = [previous[0], *rows]  # continued on a new page without its header
            out.append(("table", (item.page, rows)))
            continue
        if item.margin and (item.size < body or PAGE_NUMBER.match(item.text)
                            or item.text in furniture):
            continue  # running header or footer, page number
        if _is_heading(item, body):
            flush()
            out.append(("heading", (heading_sizes.index(item.size) + 1, item.text)))
            continue
        if para and item.page != para_page:
            flush()  # a citation names one page: text does not run across pages
        if not para:
            para_page = item.page
        para.append(item.text)
    flush()
    return out


def _repeated_margin_lines(lines: list[_Line]) -> set[str]:
    """Margin lines found on most pages (of three or more): a running header or footer
    set in the body size."""
    pages = len({ln.page for ln in lines})
    counts = Counter(text for _, text in {(ln.page, ln.text) for ln in lines if ln.margin})
    return {t for t, n in counts.items() if pages >= 3 and n >= 0.6 * pages}


def _is_heading(line: _Line, body: float) -> bool:
    return body > 0 and line.size >= body * HEADING_RATIO and len(line.text) <= HEADING_MAX_CHARS
