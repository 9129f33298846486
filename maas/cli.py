"""`maas` command line: the operator's tool for models, tenants, keys, credits and audit."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from maas.apps_cli import apps_app
from maas.factory_cli import factory_app
from maas.finetune.cli import register as register_industry_commands
from maas.kb_cli import kb_app
from maas.settings import Settings
from maas.tools_cli import tools_app

if TYPE_CHECKING:
    from sqlmodel import Session

    from maas.limits.policy import Limits

app = typer.Typer(help="Industry MaaS: models, knowledge and apps behind one OpenAI API.",
                  no_args_is_help=True)
models_app = typer.Typer(help="The model library.", no_args_is_help=True)
register_industry_commands(models_app)  # maas models build | eval (industry adapters)
plans_app = typer.Typer(help="Plans: billing mode and limits.", no_args_is_help=True)
tenants_app = typer.Typer(help="Tenants.", no_args_is_help=True)
users_app = typer.Typer(help="Console users.", no_args_is_help=True)
members_app = typer.Typer(help="Tenant members and their roles.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
credits_app = typer.Typer(help="Tenant credits: grants, balance, ledger.", no_args_is_help=True)
vouchers_app = typer.Typer(help="Voucher batches.", no_args_is_help=True)
usage_app = typer.Typer(help="Usage records, reports and CSV export.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
for _sub, _name in ((models_app, "models"), (plans_app, "plans"), (tenants_app, "tenants"),
                    (users_app, "users"), (members_app, "members"), (keys_app, "keys"),
                    (credits_app, "credits"), (vouchers_app, "vouchers"), (usage_app, "usage"),
                    (audit_app, "audit")):
    app.add_typer(_sub, name=_name)
app.add_typer(kb_app, name="kb")
app.add_typer(apps_app, name="apps")
app.add_typer(tools_app, name="tools")
app.add_typer(factory_app, name="factory")


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
           host: str = "127.0.0.1", port: int = 8100,
           manifest: Annotated[Path | None, typer.Option(
               help="A manifest as JSON instead of models/<id>.yaml (private fine-tuned "
                    "models, which the gateway writes there)")] = None) -> None:
    """Run the CPU worker (an OpenAI-compatible server) for one model."""
    from maas.catalog.models import ModelManifest, load_model_manifest
    from maas.worker.server import run_worker

    settings = Settings()
    if manifest is not None:
        loaded = ModelManifest.model_validate_json(manifest.read_text(encoding="utf-8"))
        if loaded.id != model:
            raise typer.BadParameter(f"{manifest} is the manifest of {loaded.id}",
                                     param_hint="--manifest")
        run_worker(loaded, settings, host, port)
        return
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


# --- shared helpers ----------------------------------------------------------------
# The CLI acts as the system itself (`by=None`); domain errors end as one `error:` line.


def _fail(message: str) -> NoReturn:
    """One clean line on stderr and exit code 1: operators want the reason, not a trace."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@contextmanager
def _session() -> Iterator[Session]:
    """A database session (commits on success) whose domain errors become `_fail`."""
    from maas.errors import MaasError

    try:
        with _db().session() as session:
            yield session
    except MaasError as exc:
        _fail(exc.message)


def _json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return _when(value)
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    if isinstance(value, dict):
        return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Aligned text columns; the last column is left unpadded (it may be long)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        padded = [v.ljust(w) for v, w in zip(row[:-1], widths[:-1], strict=True)]
        typer.echo("  ".join([*padded, row[-1]]).rstrip())


def _show(view: dict[str, Any], as_json: bool) -> None:
    """One object: JSON, or one `field: value` line per field."""
    if as_json:
        _json(view)
        return
    width = max(len(k) for k in view)
    for key, value in view.items():
        typer.echo(f"{key + ':':{width + 1}} {_cell(value)}")


def _credits(amount: str) -> int:
    """User-facing decimal credits to the integer micro-credits the database holds."""
    from maas.metering.pricing import credits_to_micro

    try:
        micro = credits_to_micro(amount)
    except (ArithmeticError, ValueError):
        _fail(f"--amount must be a number of credits, not {amount!r}")
    if micro <= 0:
        _fail("--amount must be positive (the smallest amount is 0.000001 credits)")
    return micro


def _fmt_credits(micro: int) -> str:
    from maas.metering.pricing import MICRO

    return f"{Decimal(micro) / MICRO:f}"


def _fmt_float_credits(credits: float) -> str:
    """Views carry credits as floats; print them like `_fmt_credits` (12.5, not 12.500000)."""
    from maas.metering.pricing import credits_to_micro

    return _fmt_credits(credits_to_micro(credits))


def _days_from_now(days: int | None) -> datetime | None:
    return datetime.now(UTC) + timedelta(days=days) if days else None


def _tenant_exists(session: Session, tenant_id: str) -> None:
    """Listing an unknown tenant should say so rather than print an empty table."""
    from maas.tenancy.tenants import get_tenant

    get_tenant(session, tenant_id)


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant id")]
Days = Annotated[int | None, typer.Option(min=1, help="Expire this many days from now.")]
Models = Annotated[list[str] | None, typer.Option("--model", help="Restrict to this model "
                                                  "(repeatable).")]
Industries = Annotated[list[str] | None, typer.Option("--industry", help="Restrict to tenants "
                                                      "of this industry (repeatable).")]
Rpm = Annotated[int | None, typer.Option("--rpm", help="Requests per minute (0: no limit).")]
Tpm = Annotated[int | None, typer.Option("--tpm", help="Tokens per minute (0: no limit).")]
Concurrent = Annotated[int | None, typer.Option(help="Requests in flight (0: no limit).")]
MonthlyTokens = Annotated[int | None, typer.Option(help="Tokens per calendar month "
                                                   "(0: no limit).")]
Since = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"],
                                                help="First day (UTC), YYYY-MM-DD.")]
Until = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"],
                                                help="Last day (UTC, included), YYYY-MM-DD.")]


def _limits(base: dict[str, Any], rpm: int | None, tpm: int | None, concurrent: int | None,
            monthly_tokens: int | None, model_tags: list[str] | None) -> Limits:
    """`base` with the given options applied; 0 removes a limit, unset keeps it."""
    from pydantic import ValidationError

    from maas.limits.policy import Limits

    values = dict(base)
    given = {"requests_per_minute": rpm, "tokens_per_minute": tpm, "concurrent": concurrent,
             "monthly_tokens": monthly_tokens}
    for name, value in given.items():
        if value == 0:
            values.pop(name, None)
        elif value is not None:
            values[name] = value
    if model_tags:
        values["model_tags"] = model_tags
    try:
        return Limits.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")


def _day_range(since: datetime | None, until: datetime | None
               ) -> tuple[datetime | None, datetime | None]:
    """CLI days (UTC) to the domain's [since, until) datetimes; `--until` day is included."""
    start = since.replace(tzinfo=UTC) if since else None
    end = until.replace(tzinfo=UTC) + timedelta(days=1) if until else None
    if start and end and start >= end:
        _fail("--since must not be after --until")
    return start, end


# --- plans -------------------------------------------------------------------------


def _plan_row(view: dict[str, Any]) -> list[Any]:
    limits = view["limits"] or {}
    return [view["id"], view["billing"], limits.get("requests_per_minute"),
            limits.get("tokens_per_minute"), limits.get("concurrent"),
            limits.get("monthly_tokens"), limits.get("model_tags"), view["name"]]


@plans_app.command("list")
def plans_list(as_json: JsonFlag = False) -> None:
    """Every plan with its billing mode and limits (- means no limit)."""
    from maas.tenancy.tenants import list_plans, plan_view

    with _session() as session:
        views = [plan_view(p) for p in list_plans(session)]
    if as_json:
        _json(views)
        return
    _table(["ID", "BILLING", "RPM", "TPM", "CONCURRENT", "MONTHLY_TOKENS", "MODEL_TAGS",
            "NAME"], [_plan_row(v) for v in views])


@plans_app.command("show")
def plans_show(plan_id: str, as_json: JsonFlag = False) -> None:
    """One plan."""
    from maas.tenancy.tenants import get_plan, plan_view

    with _session() as session:
        view = plan_view(get_plan(session, plan_id))
    _show(view, as_json)


@plans_app.command("create")
def plans_create(plan_id: str,
                 name: Annotated[str, typer.Option(help="Display name (default: the id)")] = "",
                 billing: Annotated[str, typer.Option(help="prepaid or postpaid")] = "prepaid",
                 rpm: Rpm = None, tpm: Tpm = None, concurrent: Concurrent = None,
                 monthly_tokens: MonthlyTokens = None,
                 model_tag: Annotated[list[str] | None, typer.Option(
                     help="Only models with one of these tags (repeatable).")] = None) -> None:
    """Create a plan; a limit left out is no limit."""
    from maas.tenancy.tenants import create_plan

    limits = _limits({}, rpm, tpm, concurrent, monthly_tokens, model_tag)
    with _session() as session:
        create_plan(session, plan_id, name or plan_id, limits, billing, by=None)
    typer.echo(f"created plan {plan_id}")


@plans_app.command("update")
def plans_update(plan_id: str, name: Annotated[str | None, typer.Option()] = None,
                 billing: Annotated[str | None, typer.Option(help="prepaid or postpaid")] = None,
                 rpm: Rpm = None, tpm: Tpm = None, concurrent: Concurrent = None,
                 monthly_tokens: MonthlyTokens = None,
                 model_tag: Annotated[list[str] | None, typer.Option(
                     help="Only models with one of these tags (repeatable; replaces).")] = None,
                 any_model: Annotated[bool, typer.Option(
                     "--any-model", help="Drop the model-tag restriction.")] = False) -> None:
    """Change a plan; limits not given stay as they are. Tenants on it follow at once."""
    from maas.tenancy.tenants import get_plan, update_plan

    limit_options = (rpm, tpm, concurrent, monthly_tokens, model_tag)
    if name is None and billing is None and not any_model and all(
            v is None for v in limit_options):
        _fail("nothing to change; give at least one option")
    with _session() as session:
        limits = None
        if any_model or any(v is not None for v in limit_options):
            base = dict(get_plan(session, plan_id).limits or {})
            if any_model:
                base.pop("model_tags", None)
            limits = _limits(base, rpm, tpm, concurrent, monthly_tokens, model_tag)
        update_plan(session, plan_id, name=name, limits=limits, billing=billing, by=None)
    typer.echo(f"updated plan {plan_id}")


# --- tenants -----------------------------------------------------------------------


@tenants_app.command("create")
def tenants_create(tenant_id: str,
                   name: Annotated[str, typer.Option(help="Display name (default: the id)")] = "",
                   plan: Annotated[str, typer.Option(help="Plan id")] = "free",
                   industry: Annotated[str | None, typer.Option(help="e.g. finance")] = None,
                   owner_email: Annotated[str | None, typer.Option(
                       help="An existing user who becomes the tenant owner.")] = None) -> None:
    """Create a tenant (with its credit account) on a plan."""
    from maas.tenancy.tenants import create_tenant

    with _session() as session:
        create_tenant(session, tenant_id, name or tenant_id, plan_id=plan, industry=industry,
                      owner_email=owner_email, by=None)
    typer.echo(f"created tenant {tenant_id} (plan {plan})")


@tenants_app.command("list")
def tenants_list(as_json: JsonFlag = False) -> None:
    """Every tenant with its plan and status."""
    from maas.tenancy.tenants import list_tenants, tenant_view

    with _session() as session:
        views = [tenant_view(t) for t in list_tenants(session)]
    if as_json:
        _json(views)
        return

    def status(v: dict[str, Any]) -> str:
        return "disabled" if v["disabled_at"] else "platform" if v["is_platform"] else "active"

    _table(["ID", "PLAN", "INDUSTRY", "STATUS", "CREATED", "NAME"],
           [[v["id"], v["plan"], v["industry"], status(v), v["created_at"], v["name"]]
            for v in views])


@tenants_app.command("show")
def tenants_show(tenant_id: str, as_json: JsonFlag = False) -> None:
    """One tenant."""
    from maas.tenancy.tenants import get_tenant, tenant_view

    with _session() as session:
        view = tenant_view(get_tenant(session, tenant_id))
    _show(view, as_json)


@tenants_app.command("update")
def tenants_update(tenant_id: str, name: Annotated[str | None, typer.Option()] = None,
                   plan: Annotated[str | None, typer.Option(help="Plan id")] = None,
                   industry: Annotated[str | None, typer.Option()] = None,
                   disable: Annotated[bool | None, typer.Option(
                       "--disable/--enable", help="A disabled tenant's keys stop working.",
                       show_default=False)] = None) -> None:
    """Rename a tenant, move it to another plan, or disable/enable it."""
    from maas.tenancy.tenants import update_tenant

    if name is None and plan is None and industry is None and disable is None:
        _fail("nothing to change; give at least one option")
    with _session() as session:
        update_tenant(session, tenant_id, name=name, plan_id=plan, industry=industry,
                      disabled=disable, by=None)
    typer.echo(f"updated tenant {tenant_id}")


# --- users and members -------------------------------------------------------------

PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from stdin (else prompt, hidden).")]


def _password(from_stdin: bool) -> str:
    """From stdin (scripts) or a hidden prompt; never from an option (shell history)."""
    if from_stdin:
        return typer.get_text_stream("stdin").read().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("create")
def users_create(email: Annotated[str, typer.Option(help="Sign-in email")],
                 name: Annotated[str, typer.Option(help="Display name")],
                 password_stdin: PasswordStdin = False,
                 platform_admin: Annotated[bool, typer.Option(
                     "--platform-admin", help="May manage every tenant.")] = False) -> None:
    """Create a console user (add them to a tenant with `members add`)."""
    from maas.tenancy.users import create_user

    password = _password(password_stdin)
    with _session() as session:
        user = create_user(session, email, name, password, is_platform_admin=platform_admin,
                           by=None)
    typer.echo(f"created user {user.id} ({user.email})")


@users_app.command("set-password")
def users_set_password(email: Annotated[str, typer.Option(help="Sign-in email")],
                       password_stdin: PasswordStdin = False) -> None:
    """Set a user's password; this signs them out everywhere."""
    from maas.tenancy.users import find_user, set_password

    password = _password(password_stdin)
    with _session() as session:
        user = find_user(session, email)
        if user is None:
            _fail(f"no user with email {email!r}")
        set_password(session, user, password, by=None)
    typer.echo(f"password changed for {user.email}")


@members_app.command("list")
def members_list(tenant: TenantOpt, as_json: JsonFlag = False) -> None:
    """A tenant's members and their roles."""
    from maas.tenancy.users import list_members, member_view

    with _session() as session:
        _tenant_exists(session, tenant)
        views = [member_view(m, u) for m, u in list_members(session, tenant)]
    if as_json:
        _json(views)
        return
    _table(["USER_ID", "ROLE", "JOINED", "EMAIL", "NAME"],
           [[v["id"], v["role"], v["joined_at"], v["email"], v["name"]] for v in views])


RoleOpt = Annotated[str, typer.Option(help="tenant_owner, tenant_admin or member")]


@members_app.command("add")
def members_add(tenant: TenantOpt, email: Annotated[str, typer.Option(help="An existing user")],
                role: RoleOpt = "member") -> None:
    """Make an existing user a member of a tenant."""
    from maas.tenancy.users import add_member

    with _session() as session:
        member = add_member(session, tenant, email, role, by=None)
    typer.echo(f"added {email} to {tenant} as {role} (user id {member.user_id})")


@members_app.command("set-role")
def members_set_role(tenant: TenantOpt, user_id: Annotated[str, typer.Option(help="User id")],
                     role: RoleOpt) -> None:
    """Change a member's role (a tenant always keeps one owner)."""
    from maas.tenancy.users import set_role

    with _session() as session:
        set_role(session, tenant, user_id, role, by=None)
    typer.echo(f"{user_id} is now {role} in {tenant}")


@members_app.command("remove")
def members_remove(tenant: TenantOpt,
                   user_id: Annotated[str, typer.Option(help="User id")]) -> None:
    """Remove a member; their keys in this tenant are revoked and sessions ended."""
    from maas.tenancy.users import remove_member

    with _session() as session:
        remove_member(session, tenant, user_id, by=None)
    typer.echo(f"removed {user_id} from {tenant}")


# --- keys --------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(tenant: TenantOpt,
                name: Annotated[str, typer.Option(help="A name to recognise the key by")],
                role: Annotated[str, typer.Option(help="member, tenant_admin, tenant_owner")]
                = "member",
                model: Annotated[list[str] | None, typer.Option(
                    help="Allow only this model (repeatable; default: any).")] = None,
                app: Annotated[list[str] | None, typer.Option(
                    help="Allow only this app (repeatable; default: any).")] = None,
                rpm: Rpm = None, tpm: Tpm = None, concurrent: Concurrent = None,
                monthly_tokens: MonthlyTokens = None, expires_in_days: Days = None) -> None:
    """Create a key and print its secret (shown this once; only its hash is stored)."""
    from maas.tenancy.keys import create_key

    limits = _limits({}, rpm, tpm, concurrent, monthly_tokens, None)
    with _session() as session:
        created = create_key(session, tenant, name, role, by=None, allowed_models=model or None,
                             allowed_apps=app or None, limits=limits,
                             expires_at=_days_from_now(expires_in_days))
    typer.echo(created.secret)
    typer.echo(f"(key id {created.record.id}, tenant {tenant}; store it now, it is not shown "
               "again)", err=True)


@keys_app.command("list")
def keys_list(tenant: TenantOpt,
              include_revoked: Annotated[bool, typer.Option("--all",
                                                            help="Include revoked keys.")] = False,
              as_json: JsonFlag = False) -> None:
    """Keys of a tenant (prefix only, never the secret)."""
    from maas.tenancy.keys import key_view, list_keys

    with _session() as session:
        _tenant_exists(session, tenant)
        views = [key_view(k) for k in list_keys(session, tenant, by=None,
                                                include_revoked=include_revoked)]
    if as_json:
        _json(views)
        return
    _table(["ID", "PREFIX", "ROLE", "CREATED", "LAST_USED", "EXPIRES", "REVOKED", "NAME"],
           [[v["id"], v["prefix"] + "…", v["role"], v["created_at"], v["last_used_at"],
             v["expires_at"], v["revoked_at"], v["name"]] for v in views])


@keys_app.command("show")
def keys_show(key_id: str, tenant: TenantOpt, as_json: JsonFlag = False) -> None:
    """One key: scope, limits and dates (never the secret)."""
    from maas.tenancy.keys import get_key, key_view

    with _session() as session:
        view = key_view(get_key(session, tenant, key_id, by=None))
    _show(view, as_json)


@keys_app.command("rotate")
def keys_rotate(key_id: str, tenant: TenantOpt,
                grace_hours: Annotated[float, typer.Option(
                    min=0, max=720, help="How long the old secret keeps working.")] = 24) -> None:
    """A new secret with the same scope (printed once); the old one stops after the grace."""
    from maas.tenancy.keys import get_key, rotate_key

    with _session() as session:
        created = rotate_key(session, tenant, key_id, by=None,
                             grace=timedelta(hours=grace_hours))
        old_until = get_key(session, tenant, key_id, by=None).expires_at
    typer.echo(created.secret)
    typer.echo(f"(new key id {created.record.id}; the old secret of {key_id} stops working at "
               f"{old_until:%Y-%m-%d %H:%M:%S} UTC; store the new one now, it is not shown "
               "again)", err=True)


@keys_app.command("revoke")
def keys_revoke(key_id: str, tenant: TenantOpt) -> None:
    """Revoke a key at once."""
    from maas.tenancy.keys import revoke_key

    with _session() as session:
        revoke_key(session, tenant, key_id, by=None)
    typer.echo(f"revoked {key_id}")


# --- credits -----------------------------------------------------------------------


@credits_app.command("grant")
def credits_grant(tenant: TenantOpt,
                  amount: Annotated[str, typer.Option(help="Credits, e.g. 100 or 12.5")],
                  expires_in_days: Days = None, model: Models = None,
                  industry: Industries = None,
                  note: Annotated[str, typer.Option(help="Shown in the ledger")] = "") -> None:
    """Credit a tenant directly (not through a voucher)."""
    from maas.metering.credits import grant

    micro = _credits(amount)
    with _session() as session:
        lot = grant(session, tenant, micro, by=None, description=note,
                    expires_at=_days_from_now(expires_in_days), restrict_models=model,
                    restrict_industries=industry)
    typer.echo(f"granted {_fmt_credits(micro)} credits to {tenant} (lot {lot.id})")


@credits_app.command("balance")
def credits_balance(tenant: TenantOpt, as_json: JsonFlag = False) -> None:
    """Available and held credits, and the lots they come from."""
    from maas.metering.credits import balance

    with _session() as session:
        _tenant_exists(session, tenant)
        view = balance(session, tenant)
    if as_json:
        _json(view)
        return
    typer.echo(f"tenant {tenant}: {_fmt_credits(view['available_micro'])} credits available, "
               f"{_fmt_credits(view['held_micro'])} held by requests in flight")
    if view["lots"]:
        _table(["LOT", "SOURCE", "AMOUNT", "REMAINING", "HELD", "EXPIRES", "MODELS",
                "INDUSTRIES"],
               [[lot["id"], lot["source"], *(_fmt_float_credits(lot[f])
                                             for f in ("amount", "remaining", "held")),
                 lot["expires_at"], lot["restrict_models"], lot["restrict_industries"]]
                for lot in view["lots"]])


@credits_app.command("ledger")
def credits_ledger(tenant: TenantOpt,
                   limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
                   as_json: JsonFlag = False) -> None:
    """The newest ledger entries: grants, redemptions, debits and expiries."""
    from maas.metering.credits import ledger, ledger_view

    with _session() as session:
        _tenant_exists(session, tenant)
        views = [ledger_view(e) for e in ledger(session, tenant, limit=limit)]
    if as_json:
        _json(views)
        return
    _table(["ID", "WHEN", "KIND", "AMOUNT", "LOT", "DESCRIPTION"],
           [[v["id"], v["created_at"], v["kind"], _fmt_credits(v["amount_micro"]), v["lot_id"],
             v["description"]] for v in views])


# --- vouchers ----------------------------------------------------------------------


def _create_private(path: Path) -> IO[str]:
    """A new file only its owner can read; never overwrites (codes are secrets)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _fail(f"{path} already exists; refusing to overwrite it")
    except OSError as exc:
        _fail(f"cannot create {path}: {exc.strerror}")
    return os.fdopen(fd, "w", encoding="utf-8", newline="")


@vouchers_app.command("issue")
def vouchers_issue(name: Annotated[str, typer.Option(help="Batch name, e.g. a campaign")],
                   issuer: Annotated[str, typer.Option(help="Who funds the credits")],
                   amount: Annotated[str, typer.Option(help="Credits per voucher")],
                   count: Annotated[int, typer.Option(help="Number of codes")] = 1,
                   expires_in_days: Annotated[int | None, typer.Option(
                       min=1, help="Codes cannot be redeemed after this many days.")] = None,
                   credit_days: Annotated[int | None, typer.Option(
                       min=1, help="Redeemed credits expire this many days later.")] = None,
                   model: Models = None, industry: Industries = None,
                   out: Annotated[Path | None, typer.Option(
                       help="Write the codes to this new CSV file (mode 0600).")] = None
                   ) -> None:
    """Issue a batch of voucher codes; they are shown (or written) this once only."""
    import csv

    from maas.metering.vouchers import issue_batch

    micro = _credits(amount)
    handle = _create_private(out) if out else None
    try:
        with _session() as session:
            issued = issue_batch(session, name=name, issuer=issuer, amount=micro, count=count,
                                 expires_at=_days_from_now(expires_in_days),
                                 credit_days=credit_days, restrict_models=model,
                                 restrict_industries=industry, by=None)
            if handle is not None:  # written before commit: no batch without its codes
                writer = csv.writer(handle)
                writer.writerow(["code", "batch_id", "credits", "expires_at"])
                expires = issued.batch.expires_at
                writer.writerows([code, issued.batch.id, _fmt_credits(micro),
                                  expires.isoformat() if expires else ""]
                                 for code in issued.codes)
                handle.close()
    except BaseException:
        if handle is not None and out is not None:
            handle.close()
            out.unlink(missing_ok=True)
        raise
    summary = (f"issued batch {issued.batch.id}: {count} voucher(s) of {_fmt_credits(micro)} "
               "credits")
    if out:
        typer.echo(f"{summary}; codes written to {out}")
        return
    for code in issued.codes:
        typer.echo(code)
    typer.echo(f"({summary}; store the codes now, they are not shown again)", err=True)


@vouchers_app.command("list")
def vouchers_list(as_json: JsonFlag = False) -> None:
    """Voucher batches and how many codes have been redeemed."""
    from maas.metering.vouchers import batch_view, list_batches, redeemed_count

    with _session() as session:
        views = [batch_view(b, redeemed_count(session, b.id)) for b in list_batches(session)]
    if as_json:
        _json(views)
        return
    _table(["ID", "AMOUNT", "COUNT", "REDEEMED", "EXPIRES", "CREDIT_DAYS", "REVOKED", "ISSUER",
            "NAME"],
           [[v["id"], _fmt_float_credits(v["amount"]), v["count"], v["redeemed"],
             v["expires_at"], v["credit_days"], v["revoked_at"], v["issuer"], v["name"]]
            for v in views])


@vouchers_app.command("revoke")
def vouchers_revoke(batch_id: str) -> None:
    """Withdraw a batch: its unredeemed codes stop working (redeemed credits stay)."""
    from maas.metering.vouchers import revoke_batch

    with _session() as session:
        revoke_batch(session, batch_id, by=None)
    typer.echo(f"revoked voucher batch {batch_id}")


@vouchers_app.command("redeem")
def vouchers_redeem(code: str, tenant: TenantOpt) -> None:
    """Redeem a voucher code into a tenant's credits (each code works once)."""
    from maas.db.tables import CreditLot
    from maas.metering.vouchers import redeem

    with _session() as session:
        voucher = redeem(session, tenant, code, by=None)
        lot = session.get(CreditLot, voucher.lot_id)
        added = lot.amount if lot else 0
    typer.echo(f"redeemed voucher {voucher.prefix}… into {tenant}: +{_fmt_credits(added)} "
               "credits")


# --- usage -------------------------------------------------------------------------

ModelFilter = Annotated[str | None, typer.Option("--model", help="Only this model")]


@usage_app.command("list")
def usage_list(tenant: TenantOpt, since: Since = None, until: Until = None,
               model: ModelFilter = None,
               key: Annotated[str | None, typer.Option(help="Only this key id")] = None,
               limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
               as_json: JsonFlag = False) -> None:
    """The newest usage records of a tenant."""
    from maas.metering.usage import list_usage, usage_view

    start, end = _day_range(since, until)
    with _session() as session:
        _tenant_exists(session, tenant)
        views = [usage_view(r) for r in list_usage(session, tenant, since=start, until=end,
                                                   model=model, key_id=key, limit=limit)]
    if as_json:
        _json(views)
        return
    _table(["WHEN", "MODEL", "ENDPOINT", "KEY", "PROMPT", "COMPLETION", "COST", "MS", "OUTCOME"],
           [[v["created_at"], v["model"], v["endpoint"], v["key_id"], v["prompt_tokens"],
             v["completion_tokens"], _fmt_credits(v["cost_micro"]), v["latency_ms"],
             v["outcome"]] for v in views])


REPORT_METRICS = ("requests", "prompt_tokens", "completion_tokens", "total_tokens", "cost",
                  "errors", "avg_latency_ms")


@usage_app.command("report")
def usage_report(tenant: TenantOpt,
                 group_by: Annotated[str, typer.Option(
                     help="Comma list of day, model, key, app, endpoint")] = "day,model",
                 since: Since = None, until: Until = None, model: ModelFilter = None,
                 as_csv: Annotated[bool, typer.Option("--csv", help="CSV to stdout.")] = False,
                 as_json: JsonFlag = False) -> None:
    """Totals per group: requests, tokens, cost, errors and average latency."""
    from maas.metering.usage import report, to_csv

    groups = [g.strip() for g in group_by.split(",") if g.strip()]
    start, end = _day_range(since, until)
    with _session() as session:
        _tenant_exists(session, tenant)
        rows = report(session, tenant, groups, since=start, until=end, model=model)
    fields = [*groups, *REPORT_METRICS]
    if as_csv:
        typer.echo(to_csv(rows, fields), nl=False)
    elif as_json:
        _json(rows)
    else:
        _table([f.upper() for f in fields], [[r[f] for f in fields] for r in rows])


@usage_app.command("export")
def usage_export(tenant: TenantOpt, since: Since = None, until: Until = None) -> None:
    """Every usage record in the range as CSV on stdout (redirect it to a file)."""
    from maas.metering.usage import MAX_ROWS, USAGE_FIELDS, list_usage, to_csv, usage_view

    start, end = _day_range(since, until)
    end = end or datetime.now(UTC)  # a fixed end keeps pages stable while traffic goes on

    def records(session: Session) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = list_usage(session, tenant, since=start, until=end, limit=MAX_ROWS,
                              offset=offset)
            yield from (usage_view(r) for r in page)
            if len(page) < MAX_ROWS:
                return
            offset += len(page)

    with _session() as session:
        _tenant_exists(session, tenant)
        text = to_csv(records(session), USAGE_FIELDS)
    typer.echo(text, nl=False)


# --- audit -------------------------------------------------------------------------


@audit_app.command("list")
def audit_list(tenant: Annotated[str | None, typer.Option(help="Tenant id")] = None,
               platform: Annotated[bool, typer.Option(
                   "--platform", help="Platform-level events (plans, users, vouchers).")]
               = False,
               action: Annotated[str | None, typer.Option(
                   help="Action prefix, e.g. key. or member.add")] = None,
               limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
               as_json: JsonFlag = False) -> None:
    """The newest audit events of a tenant (or of the platform)."""
    from maas.tenancy.audit import event_view, list_events

    if (tenant is None) == (not platform):
        _fail("give either --tenant ID or --platform")
    with _session() as session:
        if tenant is not None:
            _tenant_exists(session, tenant)
        views = [event_view(e) for e in list_events(session, tenant, action=action,
                                                     limit=limit)]
    if as_json:
        _json(views)
        return
    _table(["ID", "WHEN", "ACTION", "TARGET", "ACTOR", "DETAILS"],
           [[v["id"], v["created_at"], v["action"],
             f"{v['target_type']}:{v['target_id'] or '-'}",
             v["actor_user_id"] or v["actor_key_id"] or "system", v["details"]] for v in views])


def main() -> None:
    app()
