"""The requirements spec: what the software factory builds from, and the only thing it builds from.

The spec is data the user can read and edit (JSON); the generator turns it into code through
fixed templates. Every name that becomes code (project, entity, field, role, report, choice
key) is checked here against a strict identifier pattern and a reserved-word list, so nothing
the user types can become code the templates did not intend: free text (labels,
descriptions, messages) is only ever emitted as an escaped string literal.
"""

from __future__ import annotations

import builtins
import keyword
import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from maas.errors import InvalidRequest

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: Names the generated project already uses (modules, columns, SQLModel/pydantic attributes,
#: template variables); an entity or field with one of them would shadow or break it.
PROJECT_NAMES = frozenset({
    "id", "app", "api", "admin", "auth", "db", "main", "models", "routes", "reports", "settings",
    "tests", "test", "conftest", "samples", "sample_data", "static", "templates", "metadata",
    "model_config", "model_fields", "model_computed_fields", "registry", "session", "select",
    "field", "fields", "relationship", "sqlmodel", "fastapi", "pydantic", "request", "response",
    "self", "cls", "user", "role", "roles", "token", "query", "form", "page", "limit", "offset",
    "order", "sort", "created_at", "updated_at", "today", "datetime", "date", "time", "json",
    "typing", "optional", "annotated", "enum", "schema", "schemas", "table", "entity", "spec",
})
RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(
    name.lower() for name in dir(builtins)) | PROJECT_NAMES
FieldType = Literal["string", "text", "integer", "number", "boolean", "date", "datetime",
                    "choice", "image", "reference"]
Operation = Literal["create", "read", "update", "delete"]
OPERATIONS: tuple[Operation, ...] = ("create", "read", "update", "delete")
ConditionOp = Literal["eq", "ne", "lt", "le", "gt", "ge", "contains", "empty", "not_empty"]
TEXT_LIMIT = 500
CHOICE_VALUE = re.compile(r"^[^\x00-\x1f{}<>`$\\]{1,40}$")


def check_identifier(name: str, what: str, *, reserved: bool = True) -> str:
    """`name` if it may become code; otherwise a ValueError that says how to fix it.

    `reserved=False` is for names that only ever appear as data or with a fixed prefix or
    suffix in code (roles, reports), which need the pattern but not the reserved list.
    """
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise ValueError(f"{what} {name!r} is not a valid name: use lower-case ASCII letters, "
                         "digits and underscores, starting with a letter (at most 40)")
    if "__" in name or reserved and name in RESERVED:
        raise ValueError(f"{what} {name!r} is reserved in the generated code; choose another "
                         f"name (e.g. {name.strip('_')}_value)")
    return name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SpecField(_Strict):
    name: str
    label: str = Field(default="", max_length=80)
    type: FieldType = "string"
    required: bool = False
    unique: bool = False
    description: str = Field(default="", max_length=TEXT_LIMIT)
    #: Lengths for string/text, bounds for integer/number.
    min_length: int | None = Field(default=None, ge=0, le=10_000)
    max_length: int | None = Field(default=None, ge=1, le=10_000)
    minimum: float | None = None
    maximum: float | None = None
    choices: list[str] = Field(default_factory=list, max_length=30)
    #: The referenced entity's name, for type "reference" (a many-to-one relation).
    target: str | None = None
    #: Shown when a value fails validation (written in the conversation's language).
    message: str = Field(default="", max_length=200)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_identifier(value, "field")

    @field_validator("choices")
    @classmethod
    def _choices(cls, values: list[str]) -> list[str]:
        for value in values:
            if not CHOICE_VALUE.match(value):
                raise ValueError(f"choice {value!r} may not contain control characters or "
                                 "any of { } < > ` $ \\ (1-40 characters)")
        if len(set(values)) != len(values):
            raise ValueError("choices repeat a value")
        return values

    @model_validator(mode="after")
    def _consistent(self) -> SpecField:
        if self.type == "choice" and not self.choices:
            raise ValueError(f"field {self.name!r} is a choice but lists no choices")
        if self.type != "choice" and self.choices:
            raise ValueError(f"field {self.name!r} lists choices but its type is {self.type}")
        if (self.type == "reference") != (self.target is not None):
            raise ValueError(f"field {self.name!r}: a reference needs a target entity, and "
                             "only a reference has one")
        if self.type not in ("integer", "number") and (self.minimum, self.maximum) != (None, None):
            raise ValueError(f"field {self.name!r}: minimum/maximum apply to numbers only")
        if (self.minimum is not None and self.maximum is not None
                and self.minimum > self.maximum):
            raise ValueError(f"field {self.name!r}: minimum is above maximum")
        if self.type not in ("string", "text") and (self.min_length, self.max_length) != (None,
                                                                                       None):
            raise ValueError(f"field {self.name!r}: lengths apply to text fields only")
        if self.type in ("image", "boolean") and self.unique:
            raise ValueError(f"field {self.name!r}: a {self.type} field cannot be unique")
        return self


class Entity(_Strict):
    name: str
    label: str = Field(default="", max_length=80)
    plural: str = ""
    description: str = Field(default="", max_length=TEXT_LIMIT)
    fields: list[SpecField] = Field(default_factory=list, max_length=60)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_identifier(value, "entity")

    @model_validator(mode="after")
    def _plural(self) -> Entity:
        from maas.factory.naming import plural_of

        self.plural = check_identifier(self.plural or plural_of(self.name), "entity plural")
        names = [f.name for f in self.fields]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"entity {self.name!r} repeats field(s) {', '.join(duplicates)}")
        return self

    def field(self, name: str) -> SpecField | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def title_field(self) -> str:
        """The field that names a row in lists and references (first required string)."""
        texts = [f for f in self.fields if f.type == "string"]
        best = next((f for f in texts if f.required), texts[0] if texts else None)
        return best.name if best else "id"


class Role(_Strict):
    name: str
    label: str = Field(default="", max_length=80)
    #: entity name -> allowed operations; "*" stands for every entity.
    permissions: dict[str, list[Operation]] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_identifier(value, "role", reserved=False)

    def allows(self, entity: str, operation: Operation) -> bool:
        return operation in self.permissions.get(entity, self.permissions.get("*", []))


class Condition(_Strict):
    field: str
    op: ConditionOp
    #: A literal, or "today" / "today+N" / "today-N" (days) for date fields.
    value: str | float | bool | None = None


class Report(_Strict):
    name: str
    label: str = Field(default="", max_length=80)
    entity: str = ""
    description: str = Field(default="", max_length=TEXT_LIMIT)
    where: list[Condition] = Field(default_factory=list, max_length=10)
    columns: list[str] = Field(default_factory=list, max_length=30)
    order_by: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_identifier(value, "report", reserved=False)


class Spec(_Strict):
    """A whole requirements spec. `complete_problems()` says what still blocks generation."""

    name: str = "business_app"
    title: str = Field(default="", max_length=120)
    description: str = Field(default="", max_length=2000)
    language: Literal["en", "zh"] = "en"
    entities: list[Entity] = Field(default_factory=list, max_length=30)
    roles: list[Role] = Field(default_factory=list, max_length=10)
    reports: list[Report] = Field(default_factory=list, max_length=20)
    #: entity name -> rows (field name -> value); references hold the 1-based row number.
    sample_data: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_identifier(value, "project")

    @model_validator(mode="after")
    def _references(self) -> Spec:
        names = [e.name for e in self.entities]
        plurals = [e.plural for e in self.entities]
        for group, what in ((names, "entity"), (plurals, "entity plural")):
            duplicates = sorted({n for n in group if group.count(n) > 1})
            if duplicates:
                raise ValueError(f"{what} name(s) used twice: {', '.join(duplicates)}")
        for entity in self.entities:
            if any(o.name == entity.plural for o in self.entities if o is not entity):
                raise ValueError(f"entity {entity.name!r}'s plural is another entity's name")
        for entity in self.entities:
            for f in entity.fields:
                if f.target is not None and f.target not in names:
                    raise ValueError(f"{entity.name}.{f.name} refers to unknown entity "
                                     f"{f.target!r}")
        role_names = [r.name for r in self.roles]
        if len(set(role_names)) != len(role_names):
            raise ValueError("a role name is used twice")
        for role in self.roles:
            unknown = sorted(set(role.permissions) - set(names) - {"*"})
            if unknown:
                raise ValueError(f"role {role.name!r} names unknown entities: "
                                 f"{', '.join(unknown)}")
        for report in self.reports:
            _check_report(self, report)
        for entity_name, rows in self.sample_data.items():
            if entity_name not in names:
                raise ValueError(f"sample_data names unknown entity {entity_name!r}")
            if len(rows) > 50:
                raise ValueError(f"sample_data.{entity_name}: at most 50 rows")
        return self

    def entity(self, name: str) -> Entity | None:
        return next((e for e in self.entities if e.name == name), None)

    def problems(self) -> list[str]:
        """What must be settled before the spec can be confirmed (empty when complete)."""
        out: list[str] = []
        if not self.entities:
            out.append("no entities yet")
        for e in self.entities:
            if not e.fields:
                out.append(f"entity {e.name!r} has no fields")
        for r in self.reports:
            if not r.entity:
                out.append(f"report {r.name!r} does not say which entity it lists")
            elif not r.where:
                out.append(f"report {r.name!r} has no condition")
        if not self.roles:
            out.append("no roles yet")
        return out


def _check_report(spec: Spec, report: Report) -> None:
    if not report.entity:
        return
    entity = spec.entity(report.entity)
    if entity is None:
        raise ValueError(f"report {report.name!r} lists unknown entity {report.entity!r}")
    for name in [*(c.field for c in report.where), *report.columns,
                 *([report.order_by] if report.order_by else [])]:
        if entity.field(name) is None:
            raise ValueError(f"report {report.name!r} names unknown field "
                             f"{report.entity}.{name}")
    for condition in report.where:
        field = entity.field(condition.field)
        assert field is not None
        _check_condition(report.name, field, condition)


def _check_condition(report: str, field: SpecField, condition: Condition) -> None:
    where = f"report {report!r}, {field.name}"
    if condition.op in ("empty", "not_empty"):
        return
    value = condition.value
    if field.type in ("date", "datetime"):
        if not isinstance(value, str) or not (
                re.fullmatch(r"today([+-]\d{1,4})?", value) or _is_date(value)):
            raise ValueError(f"{where}: compare a date with 'today', 'today+N', 'today-N' or "
                             "a YYYY-MM-DD date")
    elif field.type in ("integer", "number") and (
            isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError(f"{where}: compare a number with a number")
    elif field.type == "boolean" and not isinstance(value, bool):
        raise ValueError(f"{where}: compare a yes/no field with true or false")
    elif field.type == "choice" and value not in field.choices:
        raise ValueError(f"{where}: {value!r} is not one of {field.choices}")
    if condition.op == "contains" and field.type not in ("string", "text"):
        raise ValueError(f"{where}: 'contains' applies to text fields only")


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def parse_spec(data: Any) -> Spec:
    """A validated Spec, or an InvalidRequest naming the first problem and where it is."""
    if not isinstance(data, dict):
        raise InvalidRequest("the spec must be a JSON object", param="spec")
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "spec"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidRequest(f"spec.{where}: {message}" if where != "spec" else message,
                             param=f"spec.{where}") from exc
