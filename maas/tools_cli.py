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


parser_app = typer.Typer(help="Protocol parsers: register map or frame spec -> tested package.",
                         no_args_is_help=True)
tools_app.add_typer(parser_app, name="parser")
diagnosis_app = typer.Typer(help="Transformation diagnosis: questionnaire, scores, report.",
                            no_args_is_help=True)
tools_app.add_typer(diagnosis_app, name="diagnosis")


@parser_app.command("build")
def parser_build(
        spec: Annotated[Path, typer.Argument(help="Register map (.csv .xlsx .md) or frame spec "
                                                  "(.yaml .json)")],
        out: Annotated[Path, typer.Option(help="Folder to write the package into")],
        package: Annotated[str | None, typer.Option(help="Python package name")] = None
) -> None:
    """Generate the parser, run its tests in the sandbox, and write it to --out. Exits 1
    when the tests fail (the package is written anyway, to look at)."""
    import tempfile

    from maas.errors import MaasError
    from maas.toolbox.parsers import ParserBuilds, check_package
    from maas.toolbox.protocol.build import build_parser

    name = package or spec.stem.replace("-", "_").lower() + "_parser"
    try:
        check_package(name)
        kind, parsed = ParserBuilds.read_spec(spec.read_bytes(), spec.name)
        with tempfile.TemporaryDirectory(prefix="maas-parser-") as tmp:
            result = build_parser(parsed, package=name, workdir=Path(tmp))
    except OSError as exc:
        fail(str(exc))
    except MaasError as exc:
        fail(exc.message, 2)
    for relative, content in sorted(result.files.items()):
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    typer.echo(result.test_output.strip().splitlines()[-1] if result.test_output.strip()
               else "(no test output)")
    typer.echo(f"{kind} parser {name}: tests {'passed' if result.passed else 'FAILED'} "
               f"({result.test.isolation}); {len(result.files)} files in {out}")
    if not result.passed:
        raise typer.Exit(1)


def _answers(path: Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        fail(f"{path}: {exc}")
    if not isinstance(data, dict) or not isinstance(data.get("answers"), dict):
        fail(f"{path}: expected a mapping with `answers` (see examples/diagnosis/)")
    return str(data.get("questionnaire") or "sme-digital-level-2024"), data["answers"], data


@diagnosis_app.command("questionnaire")
def diagnosis_questionnaire(questionnaire: str = "sme-digital-level-2024",
                            language: str = "zh") -> None:
    """The questions, with their ids and options, to fill an answers file."""
    from maas.errors import MaasError
    from maas.toolbox.diagnosis.form import questions
    from maas.toolbox.diagnosis.questionnaire import load_questionnaire

    try:
        q = load_questionnaire(questionnaire)
    except MaasError as exc:
        fail(exc.message)
    lang = "zh" if language == "zh" else "en"
    for question in questions(q):
        typer.echo(f"{question.id} ({question.type}): {getattr(question.text, lang)}")
        for option in question.options:
            typer.echo(f"    {option.id}: {getattr(option.text, lang)}")


@diagnosis_app.command("score")
def diagnosis_score(answers: Path,
                    as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Scores, level and the explanation of every step, from an answers file."""
    from maas.errors import MaasError
    from maas.toolbox.diagnosis.questionnaire import load_questionnaire
    from maas.toolbox.diagnosis.scoring import score_assessment

    qid, given, data = _answers(answers)
    try:
        result = score_assessment(load_questionnaire(qid), given)
    except MaasError as exc:
        fail(exc.message, 2)
    if as_json:
        echo_json(result.model_dump(mode="json"))
        return
    lang = "en" if data.get("language") == "en" else "zh"
    for line in result.explanation:
        typer.echo(getattr(line, lang))
    typer.echo(f"total {result.total} level {result.level} "
               f"({getattr(result.level_name, lang)})")


@diagnosis_app.command("report")
def diagnosis_report(answers: Path,
                     out: Annotated[Path, typer.Option(help="report.html or report.docx")],
                     company: Annotated[str | None, typer.Option()] = None) -> None:
    """The report with the built-in narrative (the API adds the model's narrative and the
    knowledge base's cited policies)."""
    import asyncio

    from maas.errors import MaasError
    from maas.toolbox.diagnosis import narrative, report
    from maas.toolbox.diagnosis.questionnaire import load_questionnaire
    from maas.toolbox.diagnosis.scoring import score_assessment

    qid, given, data = _answers(answers)
    lang = "en" if data.get("language") == "en" else "zh"
    name = company or str(data.get("company") or "-")
    try:
        result = score_assessment(load_questionnaire(qid), given)
    except MaasError as exc:
        fail(exc.message, 2)
    story = asyncio.run(narrative.write_narrative(result, [], call=None, model="",
                                                  language=lang))
    if out.suffix == ".docx":
        out.write_bytes(report.render_docx(result, story, [], company=name, language=lang))
    elif out.suffix in (".html", ".htm"):
        out.write_text(report.render_html(result, story, [], company=name, language=lang),
                       encoding="utf-8")
    else:
        fail("--out must end in .html or .docx")
    typer.echo(f"wrote {out}: total {result.total}, level {result.level}")
