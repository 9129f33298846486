"""App packages (`apps/<slug>/app.yaml` + `prompt.md` + `README.md`).

An app is an agent packaged as data: which model it runs on, the prompt it starts from,
the knowledge bases it reads, the tools it may call, an optional input form (form-style
apps), its price and what a subscriber may tune. Platform apps come from the folders in
`apps/`; tenants' own apps are the same manifest, stored in the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from maas.catalog.knowledge import Localised, LocalisedText
from maas.catalog.models import ManifestError

APP_SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,63}$"
TOOL_NAME_PATTERN = r"^[a-z][a-z0-9_]{1,63}$"
FIELD_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
VERSION_PATTERN = r"^\d+\.\d+\.\d+$"
#: Platform knowledge base ids (`equipment-maintenance`) and tenants' (`kb_3f2a...`).
KB_REF_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,63}$"
#: `{{name}}` in a prompt template: a form field, or one of the built-in variables.
PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\s*\}\}")
BUILTIN_VARIABLES = ("app_title", "today", "language")
#: Extra variables in `first_tools` arguments: the user's message and the form's inputs.
PRESET_VARIABLES = ("query", "inputs")
MAX_PROMPT_CHARS = 20_000
MAX_README_CHARS = 50_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Pricing(_Strict):
    """What a subscriber pays for the app itself, on top of the model's token prices."""

    kind: Literal["free", "per_run", "monthly"] = "free"
    credits: float = Field(default=0.0, ge=0, le=1_000_000)

    @model_validator(mode="after")
    def _credits_match_kind(self) -> Pricing:
        if self.kind == "free" and self.credits:
            raise ValueError("a free app has credits 0")
        if self.kind != "free" and not self.credits:
            raise ValueError(f"a {self.kind} app needs credits > 0")
        return self


class Parameter(_Strict):
    """A setting a subscriber may choose within [minimum, maximum]."""

    default: float
    minimum: float
    maximum: float

    @model_validator(mode="after")
    def _ordered(self) -> Parameter:
        if not self.minimum <= self.default <= self.maximum:
            raise ValueError("need minimum <= default <= maximum")
        return self


class Parameters(_Strict):
    temperature: Parameter = Field(
        default_factory=lambda: Parameter(default=0.2, minimum=0.0, maximum=1.0))
    max_tokens: Parameter = Field(
        default_factory=lambda: Parameter(default=512, minimum=16, maximum=2048))
    knowledge_top_k: Parameter = Field(
        default_factory=lambda: Parameter(default=4, minimum=1, maximum=10))


class FormField(_Strict):
    """One input of a form-style app (rendered by the console, checked by the API)."""

    name: str = Field(pattern=FIELD_NAME_PATTERN)
    label: Localised
    #: `multi`: any number of the options (a list of them).
    type: Literal["string", "text", "number", "integer", "boolean", "enum", "multi"] = "string"
    required: bool = True
    options: list[str] | None = Field(default=None, min_length=1, max_length=50)
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = Field(default=2000, ge=1, le=20_000)
    default: Any = None
    help: LocalisedText = Field(default_factory=LocalisedText)

    @model_validator(mode="after")
    def _options_for_enum(self) -> FormField:
        if (self.type in ("enum", "multi")) != bool(self.options):
            raise ValueError(f"field {self.name!r}: options are required for (and only "
                             "for) types enum and multi")
        if self.default is not None and not self._fits(self.default):
            raise ValueError(f"field {self.name!r}: default {self.default!r} is not a valid "
                             f"{self.type}")
        return self

    def _fits(self, value: Any) -> bool:
        if self.type == "boolean":
            return isinstance(value, bool)
        if self.type in ("number", "integer"):
            return (isinstance(value, int | float) and not isinstance(value, bool)
                    and (self.type == "number" or float(value).is_integer()))
        if self.type == "enum":
            return value in (self.options or [])
        if self.type == "multi":
            return isinstance(value, list) and all(v in (self.options or []) for v in value)
        return isinstance(value, str) and len(value) <= self.max_length


class Output(_Strict):
    """What a run returns: free text, a JSON object (schema-constrained) or a document."""

    type: Literal["text", "json", "document"] = "text"
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _schema_for_json(self) -> Output:
        if (self.type == "json") != (self.json_schema is not None):
            raise ValueError("output.schema is required for (and only for) type json")
        if self.json_schema is not None and self.json_schema.get("type") != "object":
            raise ValueError("output.schema must describe an object")
        return self


class PresetCall(_Strict):
    """A tool call every run makes before the model decides anything: for apps whose tool
    does the deterministic work (a thing model, a parser build, a scored assessment), so
    the result never depends on a small model choosing to call it. String arguments may
    use the prompt's `{{variables}}` and `{{query}}` (the user's message); an argument
    that is exactly `{{inputs}}` receives the form's checked inputs as an object."""

    tool: str = Field(pattern=TOOL_NAME_PATTERN)
    arguments: dict[str, Any] = Field(default_factory=dict)


class AppManifest(_Strict):
    slug: str = Field(pattern=APP_SLUG_PATTERN)
    version: str = Field(default="1.0.0", pattern=VERSION_PATTERN)
    title: Localised
    description: LocalisedText = Field(default_factory=LocalisedText)
    industry: str = Field(min_length=1, max_length=64)
    category: str = Field(default="assistant", pattern=r"^[a-z][a-z0-9-]{1,39}$")
    kind: Literal["chat", "form"] = "chat"
    model: str = Field(min_length=1, max_length=128)
    prompt: str = "prompt.md"
    knowledge_bases: list[str] = Field(default_factory=list, max_length=8)
    tools: list[str] = Field(default_factory=list, max_length=16)
    input_form: list[FormField] | None = Field(default=None, max_length=40)
    output: Output = Field(default_factory=Output)
    pricing: Pricing = Field(default_factory=Pricing)
    visibility: Literal["public", "private"] = "public"
    parameters: Parameters = Field(default_factory=Parameters)
    allow_tenant_knowledge: bool = True
    max_steps: int = Field(default=4, ge=1, le=10)
    first_tools: list[PresetCall] = Field(default_factory=list, max_length=3)
    tool_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    tags: list[str] = Field(default_factory=list, max_length=16)

    @model_validator(mode="after")
    def _consistent(self) -> AppManifest:
        for kb_id in self.knowledge_bases:
            if not re.match(KB_REF_PATTERN, kb_id):
                raise ValueError(f"knowledge base id {kb_id!r} is not valid")
        for tool in self.tools:
            if not re.match(TOOL_NAME_PATTERN, tool):
                raise ValueError(f"tool name {tool!r} is not valid")
        if len(set(self.tools)) != len(self.tools):
            raise ValueError("tools are listed twice")
        for preset in self.first_tools:
            if preset.tool not in self.tools:
                raise ValueError(f"first_tools calls {preset.tool!r}, which is not in tools")
            for value in preset.arguments.values():
                if isinstance(value, str):
                    unknown = set(PLACEHOLDER.findall(value)) - self.template_variables() \
                        - set(PRESET_VARIABLES)
                    if unknown:
                        raise ValueError(f"first_tools uses undefined variables: "
                                         f"{sorted(unknown)}")
        if (self.kind == "form") != bool(self.input_form):
            raise ValueError("input_form is required for (and only for) kind form")
        names = [f.name for f in self.input_form or []]
        if len(set(names)) != len(names):
            raise ValueError("input_form has two fields with one name")
        if set(names) & set(BUILTIN_VARIABLES):
            raise ValueError(f"input_form field names may not be {BUILTIN_VARIABLES}")
        if self.output.type != "text" and self.kind != "form":
            raise ValueError("json and document output are for form apps")
        return self

    def template_variables(self) -> set[str]:
        return {f.name for f in self.input_form or []} | set(BUILTIN_VARIABLES)


def check_prompt(manifest: AppManifest, prompt: str) -> None:
    """A prompt may only name variables the app defines (a typo would reach the model)."""
    if not prompt.strip():
        raise ValueError("the prompt is empty")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(f"the prompt is longer than {MAX_PROMPT_CHARS} characters")
    unknown = set(PLACEHOLDER.findall(prompt)) - manifest.template_variables()
    if unknown:
        raise ValueError(f"the prompt uses undefined variables: {sorted(unknown)}")


def render_prompt(prompt: str, variables: dict[str, str]) -> str:
    """Fill `{{name}}` placeholders. Values are inserted as text, never evaluated."""
    return PLACEHOLDER.sub(lambda m: variables.get(m.group(1), m.group(0)), prompt)


@dataclass(frozen=True)
class AppPackage:
    """A platform app folder, validated."""

    manifest: AppManifest
    prompt: str
    readme: str
    path: Path

    @property
    def slug(self) -> str:
        return self.manifest.slug


def load_app_package(folder: Path) -> AppPackage:
    path = folder / "app.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        manifest = AppManifest.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ManifestError(f"{path}: {exc}") from exc
    if manifest.slug != folder.name:
        raise ManifestError(f"{path}: slug {manifest.slug!r} must match its folder name")
    prompt_path = folder / manifest.prompt
    if Path(manifest.prompt).is_absolute() or ".." in Path(manifest.prompt).parts:
        raise ManifestError(f"{path}: prompt must be a file inside the folder")
    try:
        prompt = prompt_path.read_text(encoding="utf-8")
        readme = (folder / "README.md").read_text(encoding="utf-8")
        check_prompt(manifest, prompt)
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{folder}: {exc}") from exc
    if len(readme) > MAX_README_CHARS or not readme.strip():
        raise ManifestError(f"{folder}/README.md must hold 1 to {MAX_README_CHARS} characters")
    return AppPackage(manifest, prompt, readme, folder)


def load_app_packages(apps_dir: Path) -> list[AppPackage]:
    """Every `apps/<slug>/` folder with an app.yaml, sorted by slug."""
    if not apps_dir.is_dir():
        return []
    return [load_app_package(folder) for folder in sorted(apps_dir.iterdir())
            if (folder / "app.yaml").is_file()]
