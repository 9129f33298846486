"""Ingestion: upload checks, loaders for every format, cleaning and chunking."""

from __future__ import annotations

import io
import zipfile

import pytest

from maas.errors import InvalidRequest
from maas.knowledge.chunking import canonical_text, chunk_blocks
from maas.knowledge.cleaning import join_broken_lines
from maas.knowledge.loaders import load
from maas.knowledge.uploads import (
    DocumentTooLarge,
    UnreadableDocument,
    UnsupportedDocument,
    check_upload,
    safe_name,
)
from tests.support.documents import chinese_pdf, docx_bytes


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b.pdf", "..\\x.docx", "C:\\x.pdf", "",
                                  ".env", "bad\x00name.txt", "..", "x" * 300 + ".md"])
def test_path_like_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidRequest):
        safe_name(name)


def test_checks_before_parsing() -> None:
    assert check_upload("设备手册.pdf", b"%PDF-1.4 ...").kind == "pdf"
    with pytest.raises(DocumentTooLarge):
        check_upload("big.txt", b"x" * 101, max_bytes=100)
    with pytest.raises(UnsupportedDocument):
        check_upload("tool.exe", b"MZ...")
    with pytest.raises(UnreadableDocument):
        check_upload("fake.pdf", b"hello")
    with pytest.raises(UnreadableDocument):
        check_upload("fake.docx", b"PK\x03\x04 not a zip")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * 20_000_000)
    with pytest.raises(UnreadableDocument) as caught:
        check_upload("bomb.docx", bomb.getvalue())
    assert caught.value.code == "zip_bomb"
    with pytest.raises(UnreadableDocument):
        load(check_upload("broken.pdf", b"%PDF-1.4\n1 0 obj <<>> garbage"))


def test_broken_lines_are_joined_the_chinese_way() -> None:
    text = ("主轴温度过高的常见原因是润\n滑不足，\n以及轴承预紧力过大。\n1. 停机\n2. 检查\n"
            "The spin-\ndle overheats\nwhen dry.")
    assert join_broken_lines(text).splitlines() == [
        "主轴温度过高的常见原因是润滑不足，以及轴承预紧力过大。", "1. 停机", "2. 检查",
        "The spindle overheats when dry."]


def test_chinese_pdf_keeps_pages_and_drops_furniture() -> None:
    pages = [["数控机床主轴温度过高的常见原因是润滑", "不足，以及轴承预紧力过大。"],
             ["报警 2001 表示主轴过热，应先停机，", "再检查润滑泵与油位。"],
             ["冷却液浓度应保持在百分之五到八之间。"]]
    blocks = load(check_upload("手册.pdf", chinese_pdf(pages)))
    assert [b.page for b in blocks] == [1, 2, 3]
    assert blocks[0].text == "数控机床主轴温度过高的常见原因是润滑不足，以及轴承预紧力过大。"
    assert all("维护手册" not in b.text and "- 2 -" not in b.text for b in blocks)
    chunks = chunk_blocks(blocks)
    assert chunks[1].page == 2 and "报警 2001" in chunks[1].text


def test_docx_headings_and_table_header_in_every_chunk() -> None:
    blocks = load(check_upload("电机.docx", docx_bytes()))
    assert blocks[0].section == "电机维护 > 轴承" and "95°C" in blocks[0].text
    chunks = chunk_blocks(blocks, size=120, overlap=20)
    tables = [c for c in chunks if c.kind == "table"]
    assert len(tables) > 2
    assert all(c.text.startswith("报警代码 | 含义 | 处理\n") for c in tables)
    assert {row for c in tables for row in c.text.splitlines()[1:]} == {
        f"E{i:02d} | 故障{i} | 检查{i}" for i in range(30)}  # every row, none twice-lost


def test_html_markdown_csv_xlsx() -> None:
    import openpyxl

    html = ("<html><head><script>var x=1</script></head><body><nav>首页 | 登录</nav>"
            "<h1>仓储</h1><h2>收货</h2><p>收货时核对<b>数量</b>与批次。</p>"
            "<table><tr><th>库位</th><th>容量</th></tr><tr><td>A-01</td><td>40</td></tr>"
            "</table><footer>版权所有</footer></body></html>").encode()
    blocks = load(check_upload("wms.html", html))
    assert [b.section for b in blocks] == ["仓储 > 收货", "仓储 > 收货"]
    assert blocks[0].text == "收货时核对 数量 与批次。" and blocks[1].header == "库位 | 容量"
    assert all("首页" not in b.text and "版权" not in b.text for b in blocks)

    md = ("# Mine safety\n\nGas above 1.0% stops work.\n\n"
          "| gas | action |\n|---|---|\n| 1.0% | stop |\n")
    blocks = load(check_upload("safety.md", md.encode()))
    assert blocks[1].header == "gas | action" and blocks[1].rows == ["1.0% | stop"]

    blocks = load(check_upload("stock.csv", "sku;qty\nA1;5\nB2;7\n".encode("gb18030")))
    assert blocks[0].header == "sku | qty" and blocks[0].rows == ["A1 | 5", "B2 | 7"]

    book = openpyxl.Workbook()
    book.active.title = "寄存器"
    book.active.append(["地址", "名称"])
    book.active.append([40001, "温度"])
    out = io.BytesIO()
    book.save(out)
    blocks = load(check_upload("map.xlsx", out.getvalue()))
    assert blocks[0].headings == ["寄存器"] and blocks[0].rows == ["40001 | 温度"]


def test_text_chunk_offsets_point_into_the_document() -> None:
    md = ("# A\n\n" + "第一句话说明润滑。" * 40 + "\n\nSecond paragraph. " * 20).encode()
    blocks = load(check_upload("a.md", md))
    text = canonical_text(blocks)
    chunks = chunk_blocks(blocks, size=150, overlap=30)
    assert len(chunks) > 3
    for chunk in chunks:
        assert text[chunk.start:chunk.end] == chunk.text
        assert len(chunk.text) <= 150
