"""Real documents made on the fly for ingestion tests (no binary fixtures in the repo)."""

from __future__ import annotations

import io


def chinese_pdf(pages: list[list[str]]) -> bytes:
    """A real PDF with Chinese text (reportlab's built-in CID font), one list per page."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    pdf = canvas.Canvas(out)
    for number, lines in enumerate(pages, start=1):
        pdf.setFont("STSong-Light", 11)
        pdf.drawString(72, 800, "华东精密机械有限公司 设备维护手册")  # running header
        for i, line in enumerate(lines):
            pdf.drawString(72, 760 - 16 * i, line)
        pdf.drawString(290, 40, f"- {number} -")  # page number
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("电机维护", level=1)
    document.add_heading("轴承", level=2)
    document.add_paragraph("电机轴承温度超过 95°C 时应停机检查润滑脂。")
    table = document.add_table(rows=1, cols=3)
    for cell, text in zip(table.rows[0].cells, ["报警代码", "含义", "处理"], strict=True):
        cell.text = text
    for code in range(30):
        row = table.add_row().cells
        row[0].text, row[1].text, row[2].text = f"E{code:02d}", f"故障{code}", f"检查{code}"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
