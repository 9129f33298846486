"""Render the platform knowledge bases' markdown sources into PDF and Word documents.

`knowledge_bases/<id>/sources/<stem>.pdf.md` becomes `docs/<stem>.pdf` and
`<stem>.docx.md` becomes `docs/<stem>.docx`: real documents of the kinds users upload
(a paginated PDF with a running header and page numbers, a Word file with heading
styles, lists and tables), made from text we can review in a diff. Run it after editing a
source (`python scripts/render_kb_documents.py`); a test checks the documents match.

Needs reportlab (a dev dependency) for PDFs; Chinese uses reportlab's built-in
STSong-Light CID font, so no font files are shipped.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
BULLET = re.compile(r"^\s*[-*]\s+(.*)$")
NUMBERED = re.compile(r"^\s*(\d+)[.)]\s+(.*)$")
CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass
class Element:
    kind: str  # heading | paragraph | bullet | numbered | table
    text: str = ""
    level: int = 0
    rows: list[list[str]] = field(default_factory=list)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse(markdown: str) -> list[Element]:
    """The small markdown subset the sources use: headings, paragraphs, lists, tables."""
    lines, out, para, i = markdown.splitlines(), [], [], 0

    def flush() -> None:
        if para:
            out.append(Element("paragraph", " ".join(para) if not CJK.search("".join(para))
                               else "".join(para)))
            para.clear()

    while i < len(lines):
        line = lines[i]
        if (heading := HEADING.match(line)):
            flush()
            out.append(Element("heading", heading.group(2), len(heading.group(1))))
        elif line.strip().startswith("|") and i + 1 < len(lines) and TABLE_SEP.match(lines[i + 1]):
            flush()
            rows, i = [_cells(line)], i + 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            out.append(Element("table", rows=rows))
            continue
        elif (item := BULLET.match(line)):
            flush()
            out.append(Element("bullet", item.group(1)))
        elif (item := NUMBERED.match(line)):
            flush()
            out.append(Element("numbered", item.group(2), int(item.group(1))))
        elif not line.strip():
            flush()
        else:
            para.append(line.strip())
        i += 1
    flush()
    return out


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_pdf(elements: list[Element], title: str) -> bytes:
    from reportlab import rl_config
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    rl_config.invariant = 1  # no timestamps or random ids: the same source, the same bytes
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    font = "STSong-Light"
    body = ParagraphStyle("body", fontName=font, fontSize=10.5, leading=16, wordWrap="CJK",
                          spaceAfter=6)
    cell = ParagraphStyle("cell", parent=body, fontSize=9, leading=12, spaceAfter=0)
    headings = {1: ParagraphStyle("h1", parent=body, fontSize=17, leading=24, spaceAfter=10),
                2: ParagraphStyle("h2", parent=body, fontSize=13.5, leading=20, spaceBefore=8),
                3: ParagraphStyle("h3", parent=body, fontSize=11.5, leading=17, spaceBefore=4)}
    story: list = []
    for el in elements:
        if el.kind == "heading":
            story.append(Paragraph(_escape(el.text), headings[min(el.level, 3)]))
        elif el.kind == "paragraph":
            story.append(Paragraph(_escape(el.text), body))
        elif el.kind in ("bullet", "numbered"):
            mark = "•" if el.kind == "bullet" else f"{el.level}."
            story.append(Paragraph(f"{mark} {_escape(el.text)}", body))
        else:
            width = (A4[0] - 40 * mm) / max(len(r) for r in el.rows)
            data = [[Paragraph(_escape(c), cell) for c in row] for row in el.rows]
            table = Table(data, colWidths=[width] * len(el.rows[0]), repeatRows=1)
            table.setStyle(TableStyle([
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)),
                ("VALIGN", (0, 0), (-1, -1), "TOP")]))
            story += [table, Spacer(1, 6)]

    def furniture(canvas, doc) -> None:  # noqa: ANN001 - reportlab's callback signature
        canvas.saveState()
        canvas.setFont(font, 8.5)
        canvas.drawString(20 * mm, A4[1] - 12 * mm, title)
        canvas.drawCentredString(A4[0] / 2, 10 * mm, f"- {doc.page} -")
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
                            topMargin=20 * mm, bottomMargin=20 * mm, title=title,
                            author="Industry MaaS", creator="Industry MaaS")
    doc.build(story, onFirstPage=furniture, onLaterPages=furniture)
    return out.getvalue()


def render_docx(elements: list[Element], title: str) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.core_properties.author = "Industry MaaS"
    for el in elements:
        if el.kind == "heading":
            document.add_heading(el.text, level=min(el.level, 4))
        elif el.kind == "paragraph":
            document.add_paragraph(el.text)
        elif el.kind == "bullet":
            document.add_paragraph(el.text, style="List Bullet")
        elif el.kind == "numbered":
            document.add_paragraph(el.text, style="List Number")
        else:
            table = document.add_table(rows=0, cols=len(el.rows[0]))
            table.style = "Table Grid"
            for row in el.rows:
                cells = table.add_row().cells
                for target, text in zip(cells, row, strict=False):
                    target.text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def sources(root: Path) -> list[tuple[Path, Path, str]]:
    """(source, target, format) for every `sources/<stem>.<pdf|docx>.md`."""
    found = []
    for source in sorted(root.glob("*/sources/*.md")):
        stem, _, fmt = source.name[:-3].rpartition(".")
        if fmt in ("pdf", "docx"):
            found.append((source, source.parent.parent / "docs" / f"{stem}.{fmt}", fmt))
    return found


def render(source: Path, fmt: str) -> bytes:
    elements = parse(source.read_text(encoding="utf-8"))
    title = next((e.text for e in elements if e.kind == "heading"), source.stem)
    return render_pdf(elements, title) if fmt == "pdf" else render_docx(elements, title)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=REPO / "knowledge_bases")
    args = parser.parse_args(argv)
    for source, target, fmt in sources(args.root):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(render(source, fmt))
        print(f"{source.relative_to(args.root)} -> {target.relative_to(args.root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
