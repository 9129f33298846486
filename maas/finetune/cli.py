"""`maas models build <id>` and `maas models eval <id>` (registered on `maas models`)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from maas.catalog.models import ManifestError, ModelManifest, load_model_manifest
from maas.finetune.datasets import DatasetError
from maas.settings import Settings


def _industry(model_id: str, settings: Settings) -> ModelManifest:
    path = settings.models_dir / f"{model_id}.yaml"
    if not path.is_file():
        typer.echo(f"error: no model manifest {path}", err=True)
        raise typer.Exit(1)
    try:
        manifest = load_model_manifest(path)
    except ManifestError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if not manifest.is_industry:
        typer.echo(f"error: {model_id} is not an industry model (it has no adapter:)", err=True)
        raise typer.Exit(1)
    return manifest


def register(models_app: typer.Typer) -> None:
    """Add the industry-model commands to the `maas models` group."""

    @models_app.command("build")
    def models_build(model_id: str, force: Annotated[bool, typer.Option(
            help="Retrain even if this exact build is cached")] = False) -> None:
        """Train an industry model's LoRA adapter on this CPU (cached by content hash)."""
        from maas.finetune.training import build_adapter

        settings = Settings()
        settings.ensure_dirs()
        logging.basicConfig(level=settings.log_level.upper())
        manifest = _industry(model_id, settings)
        try:
            result = build_adapter(manifest, settings, force=force)
        except (DatasetError, FileNotFoundError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
        verb = "cached" if result.cached else "built"
        typer.echo(f"{model_id}: {verb} in {result.seconds} s, loss {result.first_loss:.3f} -> "
                   f"{result.final_loss:.3f}\n  {result.path}\n"
                   f"next: maas models eval {model_id}")

    @models_app.command("eval")
    def models_eval(model_id: str) -> None:
        """Score base vs adapter on the held-out questions; ready only if the adapter wins."""
        from maas.finetune.evaluation import evaluate_adapter

        settings = Settings()
        settings.ensure_dirs()
        manifest = _industry(model_id, settings)
        try:
            result = evaluate_adapter(manifest, settings)
        except (DatasetError, FileNotFoundError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"{model_id}: base {result.base_score:.3f}  adapter "
                   f"{result.adapter_score:.3f}  ({len(result.items)} questions, "
                   f"{result.seconds} s)  -> {'READY' if result.ready else 'NOT READY'}")
        if not result.ready:
            raise typer.Exit(2)
