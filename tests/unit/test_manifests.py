"""Every manifest shipped in `models/` validates and says where its weights come from."""

from __future__ import annotations

from pathlib import Path

import pytest

from maas.catalog.models import (
    ManifestError,
    ModelManifest,
    load_model_manifest,
    load_model_manifests,
)
from maas.catalog.sources import locate
from maas.engines.availability import EngineSelector
from maas.settings import REPO_ROOT, Settings

FREE = {"input_per_1k": 0, "output_per_1k": 0}

MODELS = REPO_ROOT / "models"
EMBEDDED = {"smollm2-135m-instruct", "gemma-3-270m", "multilingual-e5-small", "all-minilm-l6-v2"}


def test_every_repo_manifest_validates() -> None:
    manifests = load_model_manifests(MODELS)
    ids = [m.id for m in manifests]
    assert len(ids) == len(set(ids)) == len(list(MODELS.glob("*.yaml")))
    assert set(ids) >= EMBEDDED
    assert sum(1 for m in manifests if any(e.kind == "vllm" and e.requires_gpu
                                           for e in m.engines)) >= 2
    for manifest in manifests:
        assert manifest.title.get("en") and manifest.title.get("zh"), manifest.id
        assert manifest.description, manifest.id


def test_embedded_models_are_found_on_this_machine() -> None:
    selector = EngineSelector(Settings(_env_file=None), gpu=lambda: False)
    for manifest in load_model_manifests(MODELS):
        choice = selector.choose(manifest)
        if manifest.id in EMBEDDED:
            assert manifest.source and locate(manifest.source).found, manifest.id
            assert choice.available, (manifest.id, choice.reason)
            assert choice.spec.kind != "vllm"
        elif any(e.requires_gpu for e in manifest.engines):
            assert not choice.available
            assert "GPU" in choice.reason


def test_bad_manifests_are_rejected_with_the_file_named(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text("id: x\nkind: chat\nfamily: f\ncontext_length: 10\nengines: []\n")
    with pytest.raises(ManifestError, match="x.yaml"):
        load_model_manifest(bad)
    wrong_name = tmp_path / "y.yaml"
    wrong_name.write_text("id: z\nkind: chat\nfamily: f\ncontext_length: 10\n"
                          "pricing: {input_per_1k: 0, output_per_1k: 0}\n"
                          "engines: [{kind: remote, base_url: 'http://h/v1'}]\n")
    with pytest.raises(ManifestError, match="must match"):
        load_model_manifest(wrong_name)
    with pytest.raises(ValueError, match="dimensions"):
        ModelManifest.model_validate({"id": "e", "kind": "embedding", "family": "f",
                                      "context_length": 5, "pricing": FREE,
                                      "engines": [{"kind": "remote", "base_url": "http://h"}]})
    with pytest.raises(ValueError, match="exactly one"):
        ModelManifest.model_validate({"id": "e", "kind": "chat", "family": "f",
                                      "context_length": 5, "pricing": FREE,
                                      "source": {"path": "a", "hf": "b"},
                                      "engines": [{"kind": "transformers"}]})


def test_a_missing_price_is_an_error_and_zero_must_be_explicit(tmp_path: Path) -> None:
    base = {"id": "m", "kind": "chat", "family": "f", "context_length": 8,
            "engines": [{"kind": "remote", "base_url": "http://h/v1"}]}
    with pytest.raises(ValueError, match="pricing"):
        ModelManifest.model_validate(base)
    with pytest.raises(ValueError, match="output_per_1k"):
        ModelManifest.model_validate({**base, "pricing": {"input_per_1k": 0.1}})
    free = ModelManifest.model_validate({**base, "pricing": FREE})
    assert free.pricing.input_per_1k == 0 and free.pricing.output_per_1k == 0
    for manifest in load_model_manifests(REPO_ROOT / "models"):
        assert manifest.pricing.input_per_1k > 0, manifest.id  # self-hosted is never free
