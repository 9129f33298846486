"""The on-disk index: hybrid search, filters, and atomic replacement."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from maas.knowledge import store
from maas.knowledge.store import Snapshot, StoredChunk, current_version, write_version

TEXTS = [
    "数控机床主轴温度过高时，先检查润滑泵和油位。",
    "报警 2001 表示主轴过热，应立即停机。",
    "仓库收货时核对数量、批次和包装完好。",
    "Gas concentration above 1.0% stops all work in the mine.",
    "Spindle alarm 2001 indicates overheating of the spindle motor.",
]


def vector(text: str, dims: int = 16) -> np.ndarray:
    """A stand-in embedding: similar texts share words, so share hashed dimensions."""
    out = np.zeros(dims, dtype=np.float32)
    for word in text.lower().replace("，", " ").replace("。", " ").split():
        out[int(hashlib.sha256(word.encode()).hexdigest(), 16) % dims] += 1
    return out / (np.linalg.norm(out) or 1)


def chunks(texts: list[str], doc: str = "d1") -> list[StoredChunk]:
    return [StoredChunk(f"{doc}:{i}", doc, f"{doc}.md", i, t, "text", i + 1, "手册 > 主轴"
                        if i < 2 else "other", 0, len(t)) for i, t in enumerate(texts)]


def test_hybrid_search_and_filters(tmp_path: Path) -> None:
    items = chunks(TEXTS)
    write_version(tmp_path, items, np.stack([vector(t) for t in TEXTS]), {"dimensions": 16})
    snap = Snapshot.open(tmp_path)
    hits = snap.search("主轴过热报警", vector("主轴过热报警"), top_k=3)
    assert hits[0].chunk.text == TEXTS[1] and hits[0].lexical_rank == 1
    assert hits[0].score > hits[-1].score
    english = snap.search("spindle alarm 2001", vector("spindle alarm 2001"), top_k=2)
    assert english[0].chunk.id == "d1:4"
    only_zh = snap.search("alarm 2001", vector("alarm 2001"), top_k=5,
                          filters={"section": "手册"})
    assert {h.chunk.id for h in only_zh} <= {"d1:0", "d1:1"} and only_zh
    assert snap.search("gas", None, filters={"page": [4]})[0].chunk.page == 4


def test_a_failed_build_leaves_the_index_as_it_was(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    first = write_version(tmp_path, chunks(TEXTS[:2]), np.stack([vector(t) for t in TEXTS[:2]]),
                          {})
    before = sorted(p.name for p in (tmp_path / "versions").iterdir())

    def explode(self, directory: Path) -> None:  # noqa: ANN001
        raise OSError("disk full")

    monkeypatch.setattr(store.BM25Index, "save", explode)
    with pytest.raises(OSError):
        write_version(tmp_path, chunks(TEXTS), np.stack([vector(t) for t in TEXTS]), {})
    assert current_version(tmp_path) == first
    assert sorted(p.name for p in (tmp_path / "versions").iterdir()) == before
    assert len(Snapshot.open(tmp_path).chunks) == 2
    monkeypatch.undo()
    second = write_version(tmp_path, chunks(TEXTS), np.stack([vector(t) for t in TEXTS]), {})
    assert current_version(tmp_path) == second != first
    assert [p.name for p in (tmp_path / "versions").iterdir()] == [second]
    assert len(Snapshot.open(tmp_path).chunks) == len(TEXTS)


def test_empty_and_missing(tmp_path: Path) -> None:
    assert Snapshot.open(tmp_path) is None
    write_version(tmp_path, [], np.zeros((0, 16), dtype=np.float32), {"dimensions": 16})
    assert Snapshot.open(tmp_path).search("x", vector("x")) == []


GLOSSARY = "zh\ten\n润滑泵 | 润滑油泵\tlubrication pump | lube pump\n仓库收货\tgoods receiving\n"


def test_glossary_carries_a_question_into_the_other_language(tmp_path: Path) -> None:
    from maas.knowledge.glossary import Glossary, GlossaryError

    glossary = Glossary.parse(GLOSSARY)
    assert glossary.translate("Check the lube pump first?") == ["润滑泵", "润滑油泵"]
    assert glossary.translate("润滑泵不出油") == ["lubrication pump", "lube pump"]
    assert glossary.translate("pumpkin lubrication") == []  # whole terms only
    assert glossary.translate("Lube-pumps failing") == ["润滑泵", "润滑油泵"]  # stems
    for bad in ("zh\ten\n润滑泵\n", "zh\ten\n\tpump\n", "a\tb\tc\n"):
        with pytest.raises(GlossaryError, match="line"):
            Glossary.parse(bad)

    # With no vectors to help (a pure-lexical search), only the glossary can find the
    # Chinese passage for the English question.
    items = chunks(TEXTS)
    write_version(tmp_path / "plain", items, np.stack([vector(t) for t in TEXTS]), {})
    write_version(tmp_path / "termed", items, np.stack([vector(t) for t in TEXTS]), {},
                  glossary=GLOSSARY)
    question = "what to check on the lube pump"
    plain = Snapshot.open(tmp_path / "plain").search(question, None, top_k=5)
    termed = Snapshot.open(tmp_path / "termed").search(question, None, top_k=5)
    assert "d1:0" not in {h.chunk.id for h in plain}
    assert termed[0].chunk.id == "d1:0"


def test_a_glossary_change_changes_the_content_hash(tmp_path: Path) -> None:
    from maas.catalog.knowledge import load_kb_manifest

    folder = tmp_path / "plant"
    (folder / "docs").mkdir(parents=True)
    (folder / "kb.yaml").write_text("id: plant\nindustry: x\ntitle: {zh: 厂, en: Plant}\n",
                                    encoding="utf-8")
    (folder / "docs" / "a.md").write_text("# A\n\ntext\n", encoding="utf-8")
    kb = load_kb_manifest(folder)
    before = kb.content_hash()
    (folder / "glossary.tsv").write_text(GLOSSARY, encoding="utf-8")
    assert kb.content_hash() != before and kb.glossary() == GLOSSARY
    assert [p.name for p in kb.documents()] == ["a.md"]
