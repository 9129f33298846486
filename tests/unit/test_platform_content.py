"""The shipped platform knowledge bases: manifests valid, rendered documents current,
enough substance, and every evaluation question's gold passage really in its document."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest

from maas.catalog.knowledge import load_kb_manifests
from maas.knowledge.chunking import block_text
from maas.knowledge.evaluation import load_eval_set, normalise
from maas.knowledge.loaders import load
from maas.knowledge.uploads import check_upload
from maas.settings import REPO_ROOT

KB_DIR = REPO_ROOT / "knowledge_bases"
KBS = load_kb_manifests(KB_DIR)


def _renderer():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location(
        "render_kb_documents", REPO_ROOT / "scripts" / "render_kb_documents.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _text(path: Path, data: bytes | None = None) -> str:
    upload = check_upload(path.name, data if data is not None else path.read_bytes(),
                          50_000_000)
    return "\n".join(block_text(b) for b in load(upload))


def test_five_industries_thirty_documents_three_formats_two_languages() -> None:
    assert len({kb.manifest.industry for kb in KBS}) >= 5
    docs = [p for kb in KBS for p in kb.documents()]
    assert len(docs) >= 30
    formats = Counter(p.suffix for p in docs)
    assert {".md", ".html", ".pdf", ".docx"} <= set(formats), formats
    languages = Counter(p.stem.rsplit("-", 1)[-1] for p in docs)
    assert languages["zh"] >= 10 and languages["en"] >= 10, languages
    for kb in KBS:
        assert kb.manifest.embedding_model == "multilingual-e5-small"
        for path in kb.documents():
            assert len(_text(path)) > 1500, f"{path} is too thin"


@pytest.mark.parametrize("kb", KBS, ids=[kb.id for kb in KBS])
def test_rendered_documents_match_their_sources(kb) -> None:  # noqa: ANN001
    renderer = _renderer()
    for source, target, fmt in renderer.sources(KB_DIR):
        if source.parent.parent != kb.folder:
            continue
        assert target.exists(), f"run scripts/render_kb_documents.py: {target} is missing"
        assert _text(target) == _text(target, renderer.render(source, fmt)), (
            f"{target} is out of date with {source}; run scripts/render_kb_documents.py")


def test_evaluation_sets_are_big_enough_and_mixed() -> None:
    questions = [q for kb in KBS for q in load_eval_set(kb.folder / "eval.jsonl")]
    assert len(questions) >= 60
    langs = Counter(q.lang for q in questions)
    assert langs["zh"] >= 20 and langs["en"] >= 20
    assert sum(q.cross_lingual for q in questions) >= 10
    assert len({q.id for q in questions}) == len(questions)


@pytest.mark.parametrize("kb", KBS, ids=[kb.id for kb in KBS])
def test_every_gold_passage_is_in_exactly_its_document(kb) -> None:  # noqa: ANN001
    texts = {kb.name_of(p): normalise(_text(p)) for p in kb.documents()}
    for q in load_eval_set(kb.folder / "eval.jsonl"):
        gold = normalise(q.gold)
        assert q.doc in texts, f"{q.id}: no document {q.doc}"
        assert gold in texts[q.doc], f"{q.id}: gold not in the loaded text of {q.doc}"
        others = [name for name, text in texts.items() if name != q.doc and gold in text]
        assert not others, f"{q.id}: gold also in {others}"
        assert q.cross_lingual == (q.lang != q.doc.rsplit(".", 1)[0].rsplit("-", 1)[-1]), q.id


def test_every_platform_knowledge_base_has_a_term_base() -> None:
    from maas.catalog.knowledge import load_kb_manifests
    from maas.knowledge.glossary import Glossary

    for kb in load_kb_manifests(REPO_ROOT / "knowledge_bases"):
        text = kb.glossary()
        assert text is not None, kb.id
        glossary = Glossary.parse(text)
        assert len(glossary.entries) >= 100, kb.id
