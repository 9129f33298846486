"""`maas tools`: the industrial toolbox from the command line, no server needed.

Thing models (generate from a description or datasheet, validate, export, diff files or a
tenant's stored versions), protocol parsers (build and test in the sandbox, write the
package) and the transformation diagnosis (questionnaire, scores, report). Commands that
need a language model are the API's; here the deterministic parts run on their own.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer

tools_app = typer.Typer(help="Industrial toolbox: thing models, protocol parsers, diagnosis.",
                        no_args_is_help=True)
thing_app = typer.Typer(help="Device thing models: generate, validate, export, diff.",
                        no_args_is_help=True)
tools_app.add_typer(thing_app, name="thing-model")

Format = Literal["platform", "tsl", "wot"]


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def echo_json(doc: Any) -> None:
    typer.echo(json.dumps(doc, ensure_ascii=False, indent=2, default=str))


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"{path}: {exc}")


def _thing_model(doc: Any, where: str) -> Any:
    from maas.toolbox.thingmodel.schema import ThingModelError, parse_thing_model

    try:
        return parse_thing_model(doc)
    except ThingModelError as exc:
        fail(f"{where}: {exc.message}", 2)


def _export(tm: Any, fmt: Format) -> dict[str, Any]:
    from maas.toolbox.thingmodel.tsl import to_tsl
    from maas.toolbox.thingmodel.wot import to_wot

    if fmt == "tsl":
        return to_tsl(tm)
    if fmt == "wot":
        return to_wot(tm)
    return tm.model_dump(mode="json")


@thing_app.command("generate")
def thing_generate(
        source: Annotated[Path, typer.Argument(help="Description or datasheet: md, txt, "
                                                    "html, pdf, docx, csv, xlsx")],
        name: Annotated[str | None, typer.Option(help="Device name")] = None,
        fmt: Annotated[str, typer.Option("--format", help="platform, tsl or wot")] = "platform",
        notes: Annotated[bool, typer.Option(help="Print what was read and skipped")] = False
) -> None:
    """The thing model the deterministic extractor reads from a document (the API adds
    the model's proposal on top)."""
    from maas.errors import MaasError
    from maas.toolbox.documents import document_text
    from maas.toolbox.thingmodel.datasheet import extract_thing_model

    if fmt not in ("platform", "tsl", "wot"):
        fail(f"--format must be platform, tsl or wot, not {fmt!r}")
    try:
        text = document_text(source.name, source.read_bytes(), 50_000_000)
    except OSError as exc:
        fail(str(exc))
    except MaasError as exc:
        fail(exc.message)
    tm, found = extract_thing_model(text, name=name)
    if notes:
        typer.echo("\n".join(found), err=True)
    echo_json(_export(tm, fmt))  # type: ignore[arg-type]


@thing_app.command("validate")
def thing_validate(document: Path,
                   kind: Annotated[str, typer.Option(help="platform, tsl or wot")] = "platform"
                   ) -> None:
    """Check a document against the project's JSON Schema; exit 2 if it does not pass."""
    from maas.toolbox.thingmodel.validate import validate_platform, validate_tsl, validate_wot

    checks = {"platform": validate_platform, "tsl": validate_tsl, "wot": validate_wot}
    if kind not in checks:
        fail(f"--kind must be one of {sorted(checks)}")
    problems = checks[kind](read_json(document))
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(2)
    typer.echo(f"{document}: valid {kind} document")


@thing_app.command("export")
def thing_export(document: Path,
                 fmt: Annotated[str, typer.Option("--format", help="tsl or wot")] = "tsl"
                 ) -> None:
    """A platform thing model as Alibaba IoT TSL or a W3C WoT Thing Description."""
    if fmt not in ("tsl", "wot"):
        fail(f"--format must be tsl or wot, not {fmt!r}")
    echo_json(_export(_thing_model(read_json(document), str(document)), fmt))  # type: ignore[arg-type]


def _stored(ref: str, tenant: str | None) -> Any:
    """`tm_…@N` -> version N of a tenant's stored thing model."""
    from maas.app import open_database
    from maas.errors import MaasError
    from maas.settings import Settings
    from maas.tenancy.principal import TENANT_ADMIN, Principal
    from maas.toolbox.library import ThingModelLibrary

    if not tenant:
        fail(f"{ref} is a stored version: give --tenant")
    ident, _, version = ref.partition("@")
    if not version.isdigit():
        fail(f"{ref!r}: write a stored version as <thing model id>@<version>, e.g. tm_1a2b@2")
    library = ThingModelLibrary(open_database(Settings()))
    try:
        return library.thing_model(Principal(tenant, None, TENANT_ADMIN), ident, int(version))
    except MaasError as exc:
        fail(exc.message)


@thing_app.command("diff")
def thing_diff(old: Annotated[str, typer.Argument(help="A JSON file, or tm_<id>@<version>")],
               new: Annotated[str, typer.Argument(help="A JSON file, or tm_<id>@<version>")],
               tenant: Annotated[str | None, typer.Option(
                   help="Tenant whose stored versions are compared")] = None) -> None:
    """What changed from one thing-model version to another: `+` added, `-` removed,
    `~` changed, one line each."""
    from maas.toolbox.thingmodel.diff import diff_thing_models, format_diff

    def load(ref: str) -> Any:
        if "@" in ref and not Path(ref).exists():
            return _stored(ref, tenant)
        return _thing_model(read_json(Path(ref)), ref)

    typer.echo(format_diff(diff_thing_models(load(old), load(new))))


def main() -> None:  # pragma: no cover - `python -m maas.tools_cli`
    tools_app(sys.argv[1:])
