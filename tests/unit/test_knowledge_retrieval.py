"""Retrieval refinements: sentence windows, window re-scoring, the bilingual query,
PDF layout (headings and tables) and table captions."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from maas.knowledge.chunking import chunk_blocks
from maas.knowledge.ingest import read_windows, write_chunk_files
from maas.knowledge.loaders import load
from maas.knowledge.store import Snapshot, StoredChunk, write_version
from maas.knowledge.uploads import check_upload
from maas.knowledge.windows import Windows, split_windows, window_texts

DIMS = 8


def basis(i: int) -> np.ndarray:
    out = np.zeros(DIMS, dtype=np.float32)
    out[i] = 1.0
    return out


def mix(*parts: tuple[int, float]) -> np.ndarray:
    out = sum(weight * basis(i) for i, weight in parts)
    return (out / np.linalg.norm(out)).astype(np.float32)


def stored(texts: list[str]) -> list[StoredChunk]:
    return [StoredChunk(f"d:{i}", "d", "d.md", i, t, "text", None, "", 0, len(t))
            for i, t in enumerate(texts)]


def test_windows_split_sentences_and_table_rows() -> None:
    text = "主轴温度过高时先停机。" * 12 + "Check the pump. " * 8
    windows = split_windows(text, "text", size=60)
    assert len(windows) > 2 and all(len(w) <= 60 for w in windows)
    assert "".join(windows).replace(" ", "") == text.replace(" ", "")  # nothing lost
    assert split_windows("一句话。", "text") == []  # one window: the chunk itself
    table = "代码 | 含义\n" + "\n".join(f"E{i:02d} | 故障{i}说明" for i in range(30))
    rows = split_windows(table, "table", size=50)
    assert len(rows) > 3 and all(w.startswith("代码 | 含义\n") for w in rows)
    owners, texts = window_texts([("短。", "text", ""), (table, "table", "报警")])
    assert set(owners) == {1} and texts[0].startswith("报警\n代码 | 含义\n")


def test_window_files_round_trip_and_older_documents_have_none(tmp_path: Path) -> None:
    rows = np.stack([basis(1), basis(2), basis(3)])
    windows = Windows(np.array([0, 0, 1], dtype=np.int32), rows)
    write_chunk_files(tmp_path, "doc", stored(["a", "b"]), np.stack([basis(0)] * 2), windows)
    back = read_windows(tmp_path, "doc", DIMS)
    assert back.owners.tolist() == [0, 0, 1] and np.allclose(back.vectors, windows.vectors)
    assert len(read_windows(tmp_path, "older", DIMS)) == 0
    both = Windows.concat([(windows, 0), (back, 2)], DIMS)
    assert both.owners.tolist() == [0, 0, 1, 2, 2, 3]


def test_a_chunk_whose_window_states_the_answer_outranks_a_vaguer_one(tmp_path: Path
                                                                       ) -> None:
    # Chunk 0's own vector is the blurred average of two topics; one of its windows is
    # exactly what the question asks. Chunk 1 is vaguely close as a whole.
    texts = ["Topic A is long. Topic B answers the question.", "Loosely related text.",
             "Something else."]
    vectors = np.stack([mix((0, 1), (1, 1), (2, 1)), mix((1, 1), (3, 0.9)), basis(4)])
    windows = Windows(np.array([0, 0], dtype=np.int32), np.stack([basis(0), basis(1)]))
    query = basis(1)
    write_version(tmp_path / "plain", stored(texts), vectors, {})
    write_version(tmp_path / "windows", stored(texts), vectors, {}, windows=windows)
    plain = Snapshot.open(tmp_path / "plain").search("zzz", query, top_k=3)
    rescored = Snapshot.open(tmp_path / "windows").search("zzz", query, top_k=3)
    assert plain[0].chunk.id == "d:1"
    assert rescored[0].chunk.id == "d:0" and rescored[0].vector_rank == 1


def test_the_bilingual_query_reaches_the_other_language(tmp_path: Path) -> None:
    # Two Chinese and two English passages. The English question's own vector is the
    # English warm-up passage's; its terms carried into Chinese (the translation vector)
    # are the Chinese lubrication passage's, which answers it.
    texts = ["润滑泵不出油时检查油位。", "冷却液浓度保持百分之五。",
             "Coolant concentration stays at five percent.",
             "Spindle warm-up takes ten minutes."]
    vectors = np.stack([mix((0, 1), (6, 1)), mix((1, 1), (6, 1)), mix((1, 1), (7, 1)),
                        mix((2, 1), (7, 1))])
    write_version(tmp_path, stored(texts), vectors, {})
    snap = Snapshot.open(tmp_path)
    question = mix((2, 1), (7, 1))
    alone = {h.chunk.id: h for h in snap.search("xyz", question, top_k=4)}
    helped = snap.search("xyz", question, top_k=4, translation_vector=vectors[0])
    assert alone["d:0"].neutral_rank == 2 and alone["d:3"].neutral_rank == 1
    assert helped[0].chunk.id == "d:0" and helped[0].neutral_rank == 1
    assert helped[0].vector_rank == alone["d:0"].vector_rank  # the raw list is unchanged


def layout_pdf() -> bytes:
    """A two-page PDF the way reports are set: title, numbered headings, a ruled table
    that runs onto the next page, a running header and page numbers."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    body = ParagraphStyle("b", fontName="STSong-Light", fontSize=10.5, leading=16,
                          wordWrap="CJK")
    h1 = ParagraphStyle("h1", parent=body, fontSize=17, leading=24)
    h2 = ParagraphStyle("h2", parent=body, fontSize=13.5, leading=20)
    rows = [["报警号", "含义", "处理"]] + [[f"AL{i:03d}", f"第{i}号故障的含义", f"检查部件{i}"]
                                         for i in range(70)]
    table = Table([[Paragraph(c, body) for c in r] for r in rows], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey)]))
    story = [Paragraph("设备报警手册", h1), Paragraph("一、使用说明", h2),
             Paragraph("本手册列出常见报警的含义和处理方法，供维修人员查阅。", body),
             Paragraph("二、报警一览", h2), Paragraph("报警及处理如下：", body), table]

    def furniture(canvas, doc) -> None:  # noqa: ANN001 - reportlab's callback
        canvas.setFont("STSong-Light", 8)
        canvas.drawString(60, A4[1] - 30, "设备报警手册（内部资料）")
        canvas.drawString(290, 30, f"- {doc.page} -")

    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4).build(story, onFirstPage=furniture,
                                              onLaterPages=furniture)
    return out.getvalue()


def test_pdf_headings_tables_and_captions() -> None:
    blocks = load(check_upload("报警手册.pdf", layout_pdf()))
    text = [b for b in blocks if not b.is_table]
    tables = [b for b in blocks if b.is_table]
    assert text[0].section == "设备报警手册 > 一、使用说明"
    assert text[0].text.startswith("本手册列出常见报警")
    assert all("内部资料" not in b.text and "- 1 -" not in b.text for b in blocks)
    assert len(tables) >= 2 and [b.page for b in tables] == sorted({b.page for b in tables})
    assert tables[0].page == 1 and tables[-1].page > 1  # one block per page it runs on
    assert all(b.header == "报警号 | 含义 | 处理" for b in tables)
    assert all(b.section == "设备报警手册 > 二、报警一览" for b in tables)
    rows = [r for b in tables for r in b.rows]
    assert rows == [f"AL{i:03d} | 第{i}号故障的含义 | 检查部件{i}" for i in range(70)]
    chunks = chunk_blocks(blocks, size=300, overlap=40)
    table_chunks = [c for c in chunks if c.kind == "table"]
    # The one-line lead-in is the table's caption, not a chunk of its own.
    assert all(c.text.startswith("报警及处理如下： 报警号 | 含义 | 处理\n")
               for c in table_chunks)
    assert not any(c.kind == "text" and c.text == "报警及处理如下：" for c in chunks)
