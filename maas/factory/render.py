"""Spec -> project files, through the templates in `templates/`.

All structure comes from the templates; this module only computes, from a validated spec,
the pieces the templates put in place. Two rules keep user text from becoming code:
identifiers were checked by the spec, and every piece of free text reaches Python source
through `py` (a literal, checked to read back as the same value) or a docstring through
`doc` (quotes and backslashes removed), and Markdown through `md`.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import jinja2

from maas.factory.conditions import report_case, where_expression
from maas.factory.samples import sample_rows
from maas.factory.spec import Entity, Spec, SpecField

TEMPLATES = Path(__file__).parent / "templates"
TEXT_DEFAULT_MAX = {"string": 200, "text": 5000}


def py(value: Any) -> str:
    """A Python literal for plain data; refuses anything that would not read back the same."""
    text = repr(value)
    if ast.literal_eval(text) != value:
        raise ValueError(f"cannot write {value!r} as a literal")
    return text


def doc(value: str) -> str:
    return re.sub(r"[\"\\\x00-\x1f]+", " ", value).strip() or "-"


def md(value: str) -> str:
    return re.sub(r"\s+", " ", value.replace("|", "\\|").replace("<", "&lt;")
                  .replace(">", "&gt;")).strip()


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def column_of(field: SpecField) -> str:
    return f"{field.name}_id" if field.type == "reference" else field.name


def _kwargs(field: SpecField, spec: Spec, *, for_update: bool = False) -> tuple[str, str]:
    """(annotation, Field(...) arguments) for a client-writable column."""
    optional = for_update or not field.required
    parts: list[str] = []
    base = {"string": "str", "text": "str", "integer": "int", "number": "float",
            "boolean": "bool", "date": "date", "datetime": "datetime", "choice": "str",
            "reference": "int"}[field.type]
    if field.type == "boolean":
        parts.append("default=None" if for_update else "default=False")
        annotation = "bool | None" if for_update else "bool"
    else:
        annotation = f"{base} | None" if optional else base
        if optional:
            parts.append("default=None")
    if field.type in ("string", "text"):
        low = max(field.min_length or 0, 1 if field.required else 0)
        if low:
            parts.append(f"min_length={low}")
        parts.append(f"max_length={field.max_length or TEXT_DEFAULT_MAX[field.type]}")
    if field.type == "choice":
        parts.append("max_length=40")
    if field.type in ("integer", "number"):
        cast = int if field.type == "integer" else float
        if field.minimum is not None:
            parts.append(f"ge={py(cast(field.minimum))}")
        if field.maximum is not None:
            parts.append(f"le={py(cast(field.maximum))}")
    if not for_update:
        if field.unique:
            parts.append("unique=True")
        if field.type == "reference":
            target = spec.entity(field.target or "")
            assert target is not None
            parts.append(f"foreign_key={py(target.plural + '.id')}")
            parts.append("index=True")
    if field.description:
        parts.append(f"description={py(field.description)}")
    return annotation, ", ".join(parts)


def _message(field: SpecField) -> str:
    if field.message:
        return field.message
    label = field.label or field.name
    if field.type == "choice":
        return f"{label} must be one of: {', '.join(field.choices)}"
    return ""


def entity_context(spec: Spec, entity: Entity) -> dict[str, Any]:
    writable = [f for f in entity.fields if f.type != "image"]
    base = [dict(zip(("annotation", "kwargs"), _kwargs(f, spec), strict=True),
                 name=column_of(f)) for f in writable]
    update = [dict(zip(("annotation", "kwargs"), _kwargs(f, spec, for_update=True),
                       strict=True), name=column_of(f)) for f in writable]
    images = [f.name for f in entity.fields if f.type == "image"]
    cls = camel(entity.name)
    filters: list[dict[str, str]] = []
    for f in writable:
        column = column_of(f)
        if f.type in ("choice", "boolean", "reference"):
            kind = {"choice": "str", "boolean": "bool", "reference": "int"}[f.type]
            filters.append({"param": column, "annotation": f"{kind} | None",
                            "expr": f"col({cls}.{column}) == {column}"})
        elif f.type in ("date", "datetime", "integer", "number"):
            kind = {"date": "date", "datetime": "datetime", "integer": "int",
                    "number": "float"}[f.type]
            for suffix, op in (("from", ">="), ("to", "<=")):
                filters.append({"param": f"{column}_{suffix}", "annotation": f"{kind} | None",
                                "expr": f"col({cls}.{column}) {op} {column}_{suffix}"})
    references = {column_of(f): spec.entity(f.target or "") for f in writable
                  if f.type == "reference"}
    referenced = sorted({camel(t.name) for t in references.values() if t and t.name != entity.name})
    return {
        "name": entity.name, "plural": entity.plural, "cls": cls,
        "label": entity.label or entity.name, "label_doc": doc(entity.label or entity.name),
        "description": md(entity.description),
        "base_columns": base, "update_columns": update,
        "table_columns": [{"name": n, "annotation": "str | None",
                           "kwargs": "default=None, max_length=200"} for n in images],
        "image_fields": images,
        "datetime_fields": [f.name for f in writable if f.type == "datetime"],
        "choice_fields": [{"name": f.name, "constant": f"{entity.name}_{f.name}_choices".upper(),
                           "choices": tuple(f.choices), "message": _message(f)}
                          for f in writable if f.type == "choice"],
        "filters": filters,
        "search_fields": [f.name for f in writable if f.type in ("string", "text")],
        "orderable": sorted({"id", "created_at", "updated_at", *(column_of(f) for f in writable)}),
        "required": sorted(column_of(f) for f in writable if f.required),
        "references_code": "{" + ", ".join(
            f"{py(column)}: ({camel(t.name)}, {py(t.label or t.name)})"
            for column, t in references.items() if t) + "}",
        "imports": ", ".join([cls, f"{cls}Create", f"{cls}Read", f"{cls}Update", *referenced]),
        "fields_doc": [_field_doc(f) for f in entity.fields],
    }


def _field_doc(f: SpecField) -> dict[str, str]:
    rules = []
    if f.required:
        rules.append("required")
    if f.unique:
        rules.append("unique")
    if f.choices:
        rules.append("one of " + ", ".join(f.choices))
    if f.target:
        rules.append(f"refers to {f.target}")
    if f.minimum is not None:
        rules.append(f">= {f.minimum:g}")
    if f.maximum is not None:
        rules.append(f"<= {f.maximum:g}")
    if f.max_length:
        rules.append(f"at most {f.max_length} characters")
    return {"column": column_of(f), "type": f.type, "rules": md(", ".join(rules)),
            "description": md(f.description or f.label)}


def _field_meta(spec: Spec, f: SpecField) -> dict[str, Any]:
    target = spec.entity(f.target) if f.target else None
    return {"name": f.name, "column": column_of(f), "label": f.label or f.name, "type": f.type,
            "required": f.required, "unique": f.unique, "description": f.description,
            "choices": list(f.choices), "minimum": f.minimum, "maximum": f.maximum,
            "max_length": f.max_length or TEXT_DEFAULT_MAX.get(f.type),
            "target_plural": target.plural if target else None}


def _role_summary(spec: Spec, permissions: dict[str, list[str]]) -> str:
    parts = []
    for entity, operations in permissions.items():
        label = "everything" if entity == "*" else entity
        parts.append(f"{'/'.join(operations) or 'nothing'} {label}")
    return md("; ".join(parts) or "nothing")


def build_context(spec: Spec, version: int, today: date) -> dict[str, Any]:
    entities = [entity_context(spec, e) for e in spec.entities]
    by_name = {e.name: e for e in spec.entities}
    samples = sample_rows(spec, today)
    sample_refs = {e.plural: {column_of(f): by_name[f.target].plural for f in e.fields
                              if f.type == "reference" and f.target}
                   for e in spec.entities}
    ordered = _parents_first(spec)
    samples_code = "{" + ", ".join(
        f"{py(by_name[n].plural)}: {py(_sample_columns(by_name[n], samples[n]))}"
        for n in ordered) + "}"
    reports = []
    reports_meta = {}
    for r in spec.reports:
        entity = by_name[r.entity]
        columns = [column_of(entity.field(c)) for c in r.columns if entity.field(c)] or [
            column_of(f) for f in entity.fields if f.type != "image"][:6]
        order = column_of(entity.field(r.order_by)) if r.order_by else "id"
        reports.append({"name": r.name, "cls": camel(entity.name), "entity": entity.name,
                        "label": r.label or r.name, "label_doc": doc(r.label or r.name),
                        "description": md(r.description),
                        "where": [where_expression(camel(entity.name), entity, c)
                                  for c in r.where],
                        "order": f"col({camel(entity.name)}.{order})"})
        reports_meta[r.name] = {
            "label": r.label or r.name, "description": r.description, "entity": entity.name,
            "plural": entity.plural, "columns": columns,
            "column_labels": {column_of(f): f.label or f.name for f in entity.fields}}
    admin_entity = next((e for e in spec.entities
                         if any(f.type in ("string", "text") for f in e.fields)), None)
    return {
        "spec": spec, "pkg": spec.name, "version": version,
        "dist_name": spec.name.replace("_", "-"),
        "summary": (spec.title or spec.name)[:200], "title_doc": doc(spec.title or spec.name),
        "entities": entities,
        "entities_meta": {e.plural: {"name": e.name, "label": e.label or e.name,
                                     "description": e.description,
                                     "title_field": column_of(e.field(e.title_field))
                                     if e.field(e.title_field) else "id",
                                     "fields": [_field_meta(spec, f) for f in e.fields]}
                          for e in spec.entities},
        "messages": {(e.plural, column_of(f)): _message(f) for e in spec.entities
                     for f in e.fields if _message(f)},
        "roles": {r.name: {"label": r.label or r.name,
                           "permissions": {k: list(v) for k, v in r.permissions.items()}}
                  for r in spec.roles},
        "roles_doc": [{"name": r.name, "label": md(r.label), "summary":
                       _role_summary(spec, r.permissions)} for r in spec.roles],
        "reports": reports, "reports_meta": reports_meta,
        "report_imports": ", ".join(sorted({r["cls"] for r in reports})) or "",
        "report_cases": [report_case(by_name[r.entity], r) for r in spec.reports if r.where],
        "registry_imports": ", ".join(f"{e['cls']}, {e['cls']}Create, {e['cls']}Update"
                                      for e in entities),
        "route_modules": ", ".join(e.plural for e in spec.entities),
        "samples_code": samples_code, "sample_references": sample_refs,
        "admin_plural": admin_entity.plural if admin_entity else None,
        "admin_field": next((f.name for f in admin_entity.fields if f.type in ("string", "text")),
                            None) if admin_entity else None,
    }


def _sample_columns(entity: Entity, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    columns = {f.name: column_of(f) for f in entity.fields}
    return [{columns.get(k, k): v for k, v in row.items()} for row in rows]


def _parents_first(spec: Spec) -> list[str]:
    """Entity names ordered so referenced entities come before those that refer to them."""
    done: list[str] = []
    pending = [e.name for e in spec.entities]
    while pending:
        for name in pending:
            entity = spec.entity(name)
            assert entity is not None
            targets = {f.target for f in entity.fields if f.target and f.target != name}
            if targets <= set(done):
                done.append(name)
                pending.remove(name)
                break
        else:  # a cycle of required references cannot be seeded in any order; keep spec order
            done.extend(pending)
            break
    return done


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(py=py, doc=doc, md=md, toml=lambda v: json.dumps(str(v)))
    return env


def render_project(spec: Spec, version: int, today: date | None = None) -> dict[str, str]:
    """Every file of the project, by relative path; Python formatted and lint-fixed by ruff."""
    context = build_context(spec, version, today or date.today())
    env = environment()
    pkg = spec.name
    files: dict[str, str] = {}

    def put(template: str, target: str, **extra: Any) -> None:
        files[target] = env.get_template(template).render({**context, **extra})

    for template, target in (("pyproject.toml.j2", "pyproject.toml"),
                             ("Dockerfile.j2", "Dockerfile"), ("gitignore.j2", ".gitignore"),
                             ("README.md.j2", "README.md")):
        put(template, target, **({"roles": context["roles_doc"]} if "README" in template
                                 or "Docker" in template else {}))
    for name in ("__init__", "__main__", "settings", "db", "auth", "permissions", "meta",
                 "models", "crud", "reports", "admin", "sample_data", "main"):
        put(f"pkg/{name}.py.j2", f"{pkg}/{name}.py")
    put("pkg/routes/__init__.py.j2", f"{pkg}/routes/__init__.py")
    for e in context["entities"]:
        put("pkg/routes/entity.py.j2", f"{pkg}/routes/{e['plural']}.py", e=e)
    for page in sorted((TEMPLATES / "pkg" / "templates").glob("*.html")):
        files[f"{pkg}/templates/{page.name}"] = page.read_text(encoding="utf-8")
    for name in ("conftest", "test_api", "test_reports", "test_admin", "test_sample_data"):
        put(f"tests/{name}.py.j2", f"tests/{name}.py")
    files["spec.json"] = json.dumps(spec.model_dump(mode="json"), ensure_ascii=False,
                                    indent=2) + "\n"
    return format_python(files)


def format_python(files: dict[str, str]) -> dict[str, str]:
    """`ruff check --fix` (imports, unused names) then `ruff format`, on the Python files."""
    with tempfile.TemporaryDirectory(prefix="maas-factory-fmt-") as tmp:
        root = Path(tmp)
        python = [p for p in files if p.endswith(".py")]
        for relative in python:
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(files[relative], encoding="utf-8")
        (root / "pyproject.toml").write_text(files["pyproject.toml"], encoding="utf-8")
        ruff = [sys.executable, "-m", "ruff"]
        for command in (["check", "--fix", "--quiet", "--select", "I,F401", "--exit-zero", "."],
                        ["format", "--quiet", "."]):
            done = subprocess.run(ruff + command, cwd=root, capture_output=True, text=True,
                                  timeout=120)
            if done.returncode != 0:  # a template bug: say where, never ship broken code
                raise RuntimeError(f"generated code does not parse: {done.stderr[-2000:]}")
        return {p: (root / p).read_text(encoding="utf-8") if p in python else text
                for p, text in files.items()}
