"""`maas factory`: the software factory from the command line, on a local spec file.

`say` runs one conversation turn on a spec file (`chat` runs them interactively), `diff`
compares two spec files, `generate` renders the project, runs its tests in the sandbox and
writes the zip. The server's `/v1/factory/sessions` adds tenants, versions and publishing.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from maas.errors import InvalidRequest
from maas.factory.build import build_project
from maas.factory.dialogue import empty_spec, take_turn
from maas.factory.diff import diff_specs, format_spec_diff
from maas.factory.spec import Spec, parse_spec
from maas.tools_cli import fail, read_json

factory_app = typer.Typer(help="Software factory: requirements in conversation -> a tested "
                               "program.", no_args_is_help=True)
SpecFile = Annotated[Path, typer.Argument(help="The spec file (JSON); made if missing.")]


def load(path: Path, language: str = "en") -> Spec:
    if not path.exists():
        return empty_spec(language)
    try:
        return parse_spec(read_json(path))
    except InvalidRequest as exc:
        fail(f"{path}: {exc.message}")


def save(path: Path, spec: Spec) -> None:
    path.write_text(json.dumps(spec.model_dump(mode="json"), ensure_ascii=False, indent=2)
                    + "\n", encoding="utf-8")


def _turn(path: Path, spec: Spec, message: str) -> tuple[Spec, bool]:
    try:
        turn = take_turn(spec, message)
    except InvalidRequest as exc:
        fail(exc.message)
    typer.echo(turn.reply)
    save(path, turn.spec)
    return turn.spec, turn.confirm and not turn.spec.problems()


@factory_app.command()
def say(spec_file: SpecFile, message: Annotated[str, typer.Argument(help="What you need.")],
        language: Annotated[str, typer.Option(help="en or zh, for a new spec")] = "en"
        ) -> None:
    """One conversation turn: read MESSAGE into the spec file and print the reply."""
    _turn(spec_file, load(spec_file, language), message)


@factory_app.command()
def chat(spec_file: SpecFile,
         language: Annotated[str, typer.Option(help="en or zh, for a new spec")] = "en") -> None:
    """Talk until the spec is confirmed (type 'confirm'); one message per line."""
    spec = load(spec_file, language)
    typer.echo(take_turn(spec, "?").reply if not spec.entities else "Spec loaded.")
    for line in sys.stdin:
        if line.strip():
            spec, confirmed = _turn(spec_file, spec, line)
            if confirmed:
                typer.echo(f"Confirmed. Next: maas factory generate {spec_file} --out DIR")
                return


@factory_app.command()
def diff(old: Path, new: Path) -> None:
    """Print the changes from one spec file to another."""
    lines = format_spec_diff(diff_specs(load(old), load(new)))
    typer.echo("\n".join(lines) if lines else "no changes")


@factory_app.command()
def generate(spec_file: Annotated[Path, typer.Argument(help="A complete spec file.")],
             out: Annotated[Path, typer.Option(help="Folder for the project and its zip.")],
             test: Annotated[bool, typer.Option(help="Run its tests in the sandbox.")] = True,
             version: Annotated[int, typer.Option(min=1)] = 1) -> None:
    """Generate the project, run its tests in the sandbox, write it and its zip under OUT."""
    if not spec_file.exists():
        fail(f"{spec_file} does not exist")
    spec = load(spec_file)
    problems = spec.problems()
    if problems:
        fail("the spec is not complete: " + "; ".join(problems))
    target = out / spec.name
    if target.exists():
        fail(f"{target} exists; choose another --out")
    with tempfile.TemporaryDirectory(prefix="maas-factory-") as tmp:
        result = build_project(spec, version, Path(tmp) / spec.name, run_tests=test)
    for relative, text in result.files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    archive = out / f"{spec.name}-v{version}.zip"
    archive.write_bytes(result.zip_bytes)
    typer.echo(f"wrote {target} ({len(result.files)} files) and {archive}")
    if result.test is not None:
        typer.echo(result.test_output.splitlines()[-1] if result.test_output else "")
        typer.echo(f"tests {'passed' if result.passed else 'FAILED'} "
                   f"(isolation: {result.test.isolation})")
        if not result.passed:
            typer.echo(result.test_output, err=True)
            raise typer.Exit(1)
