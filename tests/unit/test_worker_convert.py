"""The conversion cache: complete-or-absent, reused, and sources that need no conversion."""

from __future__ import annotations

from pathlib import Path

import pytest

from maas.catalog.models import ModelManifest
from maas.worker import convert


def _manifest(path: Path) -> ModelManifest:
    return ModelManifest.model_validate({
        "id": "tiny", "kind": "chat", "family": "t", "version": "2", "context_length": 64,
        "pricing": {"input_per_1k": 0, "output_per_1k": 0}, "source": {"path": str(path)},
        "engines": [{"kind": "transformers"}]})


def test_conversion_runs_once_and_is_atomic(tmp_path: Path, monkeypatch) -> None:
    gguf = tmp_path / "w" / "tiny.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF")
    calls: list[Path] = []

    def fake_convert(source: Path, target: Path, template: str | None) -> None:
        calls.append(target)
        if len(calls) == 1:
            (target / "half-written").write_text("x")
            raise RuntimeError("crash half-way")
        (target / "config.json").write_text("{}")

    monkeypatch.setattr(convert, "_convert_gguf", fake_convert)
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError):
        convert.ensure_converted(_manifest(gguf), cache)
    assert not (cache / "converted" / "tiny-2").exists()
    assert list((cache / "converted").iterdir()) == []  # the temp dir is gone too
    target = convert.ensure_converted(_manifest(gguf), cache)
    assert target == cache / "converted" / "tiny-2" and (target / "config.json").exists()
    assert convert.ensure_converted(_manifest(gguf), cache) == target
    assert len(calls) == 2


def test_transformers_directory_is_used_as_is(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    assert convert.ensure_converted(_manifest(tmp_path), tmp_path / "cache") == tmp_path
