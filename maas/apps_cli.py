"""`maas apps`: the platform app packages in `apps/`, listed and checked."""

from __future__ import annotations

from typing import Annotated

import typer

from maas.settings import Settings

apps_app = typer.Typer(help="Platform apps (apps/<slug>/): list and check.",
                       no_args_is_help=True)


@apps_app.command("list")
def list_apps(industry: Annotated[str | None, typer.Option(help="Only this industry")] = None
              ) -> None:
    """The packages in apps/, one line each (the gateway lists them on its next start)."""
    from maas.catalog.apps import load_app_packages
    from maas.catalog.models import ManifestError

    settings = Settings()
    try:
        packages = load_app_packages(settings.apps_dir)
    except ManifestError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    for package in packages:
        m = package.manifest
        if industry and m.industry != industry:
            continue
        price = m.pricing.kind if m.pricing.kind == "free" else \
            f"{m.pricing.credits:g} credits {m.pricing.kind.replace('_', ' ')}"
        typer.echo(f"{m.slug:34} {m.version:8} {m.kind:5} {m.industry:26} {m.model:24} "
                   f"{price:24} {m.title.en}")


@apps_app.command("check")
def check_apps() -> None:
    """Validate every package and what it names: the model, knowledge bases and tools."""
    from maas.catalog.apps import load_app_packages
    from maas.catalog.knowledge import load_kb_manifests
    from maas.catalog.models import ManifestError, load_model_manifests
    from maas.store.tools import ToolRegistry

    settings = Settings()
    try:
        packages = load_app_packages(settings.apps_dir)
        models = {m.id: m.kind for m in load_model_manifests(settings.models_dir)}
        kbs = {k.id for k in load_kb_manifests(settings.knowledge_bases_dir)}
    except ManifestError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    tools = set(ToolRegistry.default().names())
    problems = []
    for package in packages:
        m = package.manifest
        if models.get(m.model) != "chat":
            problems.append(f"{m.slug}: model {m.model!r} is not a chat model of the library")
        problems += [f"{m.slug}: no knowledge base {k!r}" for k in m.knowledge_bases
                     if k not in kbs]
        problems += [f"{m.slug}: no tool {t!r}" for t in m.tools if t not in tools]
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"{len(packages)} apps OK")
