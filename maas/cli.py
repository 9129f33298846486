"""`maas` command line: serve, worker, models, keys, tenants."""

from __future__ import annotations

import json
import logging
from typing import Annotated

import typer

from maas.settings import Settings

app = typer.Typer(help="Industry MaaS: models, knowledge and apps behind one OpenAI API.",
                  no_args_is_help=True)
models_app = typer.Typer(help="The model library.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
tenants_app = typer.Typer(help="Tenants.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(keys_app, name="keys")
app.add_typer(tenants_app, name="tenants")


def _logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def serve(host: Annotated[str | None, typer.Option(help="Bind address")] = None,
          port: Annotated[int | None, typer.Option(help="Port")] = None) -> None:
    """Start the gateway and supervise the local workers the enabled models ask for."""
    import uvicorn

    from maas.app import create_app

    settings = Settings()
    _logging(settings)
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port,
                log_level=settings.log_level, timeout_graceful_shutdown=15)


@app.command()
def worker(model: Annotated[str, typer.Option(help="Model id from models/")],
           host: str = "127.0.0.1", port: int = 8100) -> None:
    """Run the CPU worker (an OpenAI-compatible server) for one model."""
    from maas.catalog.models import load_model_manifest
    from maas.worker.server import run_worker

    settings = Settings()
    path = settings.models_dir / f"{model}.yaml"
    if not path.exists():
        raise typer.BadParameter(f"no manifest {path}", param_hint="--model")
    run_worker(load_model_manifest(path), settings, host, port)


def _registry():  # noqa: ANN202 - local import keeps `maas --help` fast
    from maas.app import open_registry

    settings = Settings()
    return open_registry(settings, _db(settings))


@models_app.command("list")
def models_list() -> None:
    """Every model with kind, engine, enabled and status (and why it is unavailable)."""
    registry = _registry()
    typer.echo(f"{'ID':28} {'KIND':10} {'ENGINE':22} {'ENABLED':8} STATUS")
    for r in registry.list():
        status = r.status + (f" ({r.status_reason})" if r.status_reason else "")
        typer.echo(f"{r.id:28} {r.kind:10} {r.engine or '-':22} {str(r.enabled):8} {status}")


@models_app.command("show")
def models_show(model_id: str) -> None:
    """The registry record and manifest of one model, as JSON."""
    from maas.errors import ModelNotFound

    try:
        record = _registry().get(model_id)
    except ModelNotFound as exc:
        raise typer.BadParameter(exc.message) from exc
    typer.echo(json.dumps(record.model_dump(mode="json"), indent=2, ensure_ascii=False))


def _switch(model_id: str, enabled: bool) -> None:
    from maas.errors import ModelNotFound

    try:
        record = _registry().set_enabled(model_id, enabled)
    except ModelNotFound as exc:
        raise typer.BadParameter(exc.message) from exc
    typer.echo(f"{record.id}: {'enabled' if enabled else 'disabled'} (status {record.status})")


@models_app.command("enable")
def models_enable(model_id: str) -> None:
    """Enable a model; a running gateway starts its worker within seconds."""
    _switch(model_id, True)


@models_app.command("disable")
def models_disable(model_id: str) -> None:
    """Disable a model; a running gateway stops its worker within seconds."""
    _switch(model_id, False)


def _db(settings: Settings | None = None):  # noqa: ANN202
    from maas.app import open_database

    return open_database(settings or Settings())


@keys_app.command("create")
def keys_create(tenant: Annotated[str, typer.Option(help="Tenant id")],
                name: Annotated[str, typer.Option(help="A name to recognise the key by")],
                role: str = "member") -> None:
    """Create a key and print its secret (shown this once; only its hash is stored)."""
    from maas.errors import MaasError
    from maas.tenancy.keys import create_key

    try:
        with _db().session() as session:
            created = create_key(session, tenant, name, role)
    except MaasError as exc:
        raise typer.BadParameter(exc.message) from exc
    typer.echo(created.secret)
    typer.echo(f"(key id {created.record.id}, tenant {tenant}; store it now, it is not shown "
               "again)", err=True)


@keys_app.command("list")
def keys_list(tenant: Annotated[str, typer.Option(help="Tenant id")]) -> None:
    """Keys of a tenant: id, prefix, name, created, last used, revoked."""
    from maas.tenancy.keys import list_keys

    with _db().session() as session:
        for k in list_keys(session, tenant):
            typer.echo(f"{k.id}  {k.prefix}…  {k.name!r}  created {k.created_at:%Y-%m-%d %H:%M}"
                       f"  last used {k.last_used_at or '-'}  revoked {k.revoked_at or '-'}")


@keys_app.command("revoke")
def keys_revoke(key_id: str, tenant: Annotated[str, typer.Option(help="Tenant id")]) -> None:
    """Revoke a key at once."""
    from maas.errors import MaasError
    from maas.tenancy.keys import revoke_key

    try:
        with _db().session() as session:
            revoke_key(session, tenant, key_id)
    except MaasError as exc:
        raise typer.BadParameter(exc.message) from exc
    typer.echo(f"revoked {key_id}")


@tenants_app.command("create")
def tenants_create(tenant_id: str, name: Annotated[str, typer.Option()] = "") -> None:
    """Create a tenant."""
    import re

    from maas.db.tables import Tenant

    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{1,63}", tenant_id):
        raise typer.BadParameter("use 2-64 lowercase letters, digits, '-' or '_'")
    with _db().session() as session:
        if session.get(Tenant, tenant_id) is not None:
            raise typer.BadParameter(f"tenant {tenant_id!r} already exists")
        session.add(Tenant(id=tenant_id, name=name or tenant_id))
    typer.echo(f"created tenant {tenant_id}")


@tenants_app.command("list")
def tenants_list() -> None:
    from sqlmodel import select

    from maas.db.tables import Tenant

    with _db().session() as session:
        for t in session.exec(select(Tenant).order_by(Tenant.id)):
            typer.echo(f"{t.id:24} {t.name}{'  (platform)' if t.is_platform else ''}")


def main() -> None:
    app()
