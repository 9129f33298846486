"""Read a register table from CSV, XLSX or a Markdown pipe table, keeping the user's row numbers.

Row numbers are what the user sees: the line number in a CSV or Markdown file, the sheet row in
XLSX. Lines before the header may hold directives such as `base: 1` (also as `# base: 1`).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from maas.toolbox.protocol.errors import RegisterMapError, RowError

DIRECTIVE = re.compile(r"^\s*#?\s*([a-z_]+)\s*[:=]\s*(\S+)\s*$", re.IGNORECASE)
MD_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
MAX_BYTES = 5 * 1024 * 1024


@dataclass
class RawTable:
    """Header cells and data rows as text, each row with its user-visible number."""

    header: list[str]
    header_row: int
    rows: list[tuple[int, list[str]]]
    directives: dict[str, str] = field(default_factory=dict)


def _text(content: bytes | str) -> str:
    if isinstance(content, str):
        return content
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RegisterMapError([RowError(None, "the file is neither UTF-8 nor GB18030 text")])


def _directive(cells: list[str]) -> tuple[str, str] | None:
    joined = " ".join(c for c in cells if c.strip())
    match = DIRECTIVE.match(joined)
    return (match.group(1).lower(), match.group(2)) if match else None


def _split_header(lines: list[tuple[int, list[str]]]) -> RawTable:
    """The first non-empty, non-directive, non-comment line is the header."""
    directives: dict[str, str] = {}
    for index, (number, cells) in enumerate(lines):
        if not any(c.strip() for c in cells):
            continue
        found = _directive(cells)
        if found:
            directives[found[0]] = found[1]
            continue
        if cells[0].lstrip().startswith("#"):
            continue
        rows = [(n, c) for n, c in lines[index + 1:]
                if any(x.strip() for x in c) and not c[0].lstrip().startswith("#")]
        return RawTable([c.strip() for c in cells], number, rows, directives)
    raise RegisterMapError([RowError(None, "the register map is empty: no header row found")])


def read_csv(content: bytes | str) -> RawTable:
    text = _text(content)
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    if sample.count("\t") > max(sample.count(","), sample.count(";")):
        delimiter = "\t"
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    lines: list[tuple[int, list[str]]] = []
    previous_end = 0
    for cells in reader:
        # A quoted cell may span lines: number a record by the line it starts on.
        lines.append((previous_end + 1, [c.strip() for c in cells] or [""]))
        previous_end = reader.line_num
    return _split_header(lines)


def _md_cells(line: str) -> list[str]:
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    cells = re.split(r"(?<!\\)\|", body)
    return [c.strip().replace("\\|", "|").strip("`").strip() for c in cells]


def read_markdown(content: bytes | str) -> RawTable:
    """The first pipe table of the document; prose lines may carry directives (`base: 1`)."""
    lines = _text(content).splitlines()
    directives: dict[str, str] = {}
    for index, line in enumerate(lines):
        if "|" not in line:
            found = DIRECTIVE.match(line.strip().lstrip(">-* ").replace("**", ""))
            if found:
                directives[found.group(1).lower()] = found.group(2).strip("`")
            continue
        if index + 1 < len(lines) and MD_SEPARATOR.match(lines[index + 1]):
            rows = []
            for number in range(index + 3, len(lines) + 1):
                row_line = lines[number - 1]
                if "|" not in row_line:
                    break
                rows.append((number, _md_cells(row_line)))
            return RawTable(_md_cells(line), index + 1, rows, directives)
    raise RegisterMapError([RowError(None, "no Markdown pipe table found (a header line, then a "
                                           "separator line such as |---|---|)")])


def read_xlsx(content: bytes) -> RawTable:
    """The first worksheet (openpyxl, read-only, values not formulas)."""
    from openpyxl import load_workbook  # imported here: only XLSX uploads need it

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a corrupt file
        raise RegisterMapError([RowError(None, f"not a readable XLSX workbook ({exc})")]) from exc
    try:
        sheet = workbook.worksheets[0]
        lines = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            lines.append((number, [_cell_text(v) for v in values] or [""]))
    finally:
        workbook.close()
    return _split_header(lines)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_table(content: bytes | str, filename: str) -> RawTable:
    if len(content) > MAX_BYTES:
        raise RegisterMapError([RowError(None, f"file is larger than {MAX_BYTES} bytes")])
    suffix = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    if suffix in ("csv", "tsv", "txt"):
        return read_csv(content)
    if suffix in ("md", "markdown"):
        return read_markdown(content)
    if suffix in ("xlsx", "xlsm"):
        if isinstance(content, str):
            raise RegisterMapError([RowError(None, "an XLSX file must be given as bytes")])
        return read_xlsx(content)
    raise RegisterMapError([RowError(None, f"unsupported file type {filename!r}: use .csv, "
                                           ".xlsx or .md")])
