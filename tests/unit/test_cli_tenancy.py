"""The operator's CLI for plans, tenants, users, members, keys, credits, vouchers, usage and
audit, against a fresh data dir: one end-to-end scenario plus the error paths."""

from __future__ import annotations

import csv
import io
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from maas.cli import app
from maas.settings import Settings

PASSWORD = "correct-horse-battery"


def ok(runner: CliRunner, *args: str, input: str | None = None) -> Result:
    out = runner.invoke(app, list(args), input=input)
    assert out.exit_code == 0, (args, out.output, out.exception)
    return out


def fails(runner: CliRunner, *args: str, input: str | None = None) -> str:
    """The command ends with one clean `error:` line and exit code 1 (no traceback)."""
    out = runner.invoke(app, list(args), input=input)
    assert out.exit_code == 1, (args, out.output)
    assert isinstance(out.exception, SystemExit), out.exc_info
    assert "Traceback" not in out.output
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1, out.stderr
    return out.stderr


def as_json(runner: CliRunner, *args: str) -> object:
    return json.loads(ok(runner, *args, "--json").stdout)


def test_tenancy_scenario(runner: CliRunner, tmp_path: Path) -> None:
    # A plan; update keeps the limits not given and 0 removes one.
    ok(runner, "plans", "create", "gold", "--name", "Gold", "--billing", "postpaid",
       "--rpm", "100", "--tpm", "50000", "--concurrent", "4", "--monthly-tokens", "1000000",
       "--model-tag", "small", "--model-tag", "chat")
    ok(runner, "plans", "update", "gold", "--rpm", "200", "--concurrent", "0",
       "--billing", "prepaid")
    plan = as_json(runner, "plans", "show", "gold")
    assert plan["billing"] == "prepaid" and plan["limits"] == {
        "requests_per_minute": 200, "tokens_per_minute": 50000, "monthly_tokens": 1000000,
        "model_tags": ["small", "chat"]}
    assert "gold" in ok(runner, "plans", "list").stdout

    # Users (one from stdin, one from the hidden prompt) and a tenant with an owner.
    owner = ok(runner, "users", "create", "--email", "Owner@Acme.test", "--name", "Olga",
               "--password-stdin", input=PASSWORD + "\n").stdout
    assert PASSWORD not in owner
    ok(runner, "users", "create", "--email", "alice@acme.test", "--name", "Alice",
       input=f"{PASSWORD}\n{PASSWORD}\n")
    ok(runner, "tenants", "create", "acme", "--name", "ACME", "--plan", "gold",
       "--industry", "finance", "--owner-email", "owner@acme.test")
    tenant = as_json(runner, "tenants", "show", "acme")
    assert tenant["plan"] == "gold" and tenant["industry"] == "finance"
    assert any(line.startswith("acme ") for line in ok(runner, "tenants", "list").stdout
               .splitlines())

    # Members: add, promote, list.
    ok(runner, "members", "add", "--tenant", "acme", "--email", "alice@acme.test")
    members = {m["email"]: m for m in as_json(runner, "members", "list", "--tenant", "acme")}
    assert members["owner@acme.test"]["role"] == "tenant_owner"
    alice = members["alice@acme.test"]["id"]
    ok(runner, "members", "set-role", "--tenant", "acme", "--user-id", alice,
       "--role", "tenant_admin")
    assert "tenant_admin" in ok(runner, "members", "list", "--tenant", "acme").stdout

    # A scoped, expiring key; rotation prints a new secret once and keeps the scope.
    out = ok(runner, "keys", "create", "--tenant", "acme", "--name", "ci", "--model",
             "smollm2-135m-instruct", "--app", "support-bot", "--rpm", "10",
             "--expires-in-days", "30")
    secret = out.stdout.strip()
    assert secret.startswith("sk-maas-") and "not shown again" in out.stderr
    key_id = ok(runner, "keys", "list", "--tenant", "acme").stdout.splitlines()[1].split()[0]
    key = as_json(runner, "keys", "show", key_id, "--tenant", "acme")
    assert key["allowed_models"] == ["smollm2-135m-instruct"]
    assert key["allowed_apps"] == ["support-bot"] and key["limits"] == {"requests_per_minute": 10}
    out = ok(runner, "keys", "rotate", key_id, "--tenant", "acme", "--grace-hours", "1")
    new_secret = out.stdout.strip()
    assert new_secret.startswith("sk-maas-") and new_secret != secret
    assert "stops working at" in out.stderr
    keys = {k["id"]: k for k in as_json(runner, "keys", "list", "--tenant", "acme")}
    new_id = keys[key_id]["replaced_by"]
    assert keys[new_id]["allowed_models"] == ["smollm2-135m-instruct"]
    listed = ok(runner, "keys", "list", "--tenant", "acme", "--all").output
    assert secret not in listed and new_secret not in listed and new_secret[:16] in listed

    # Vouchers: a batch of two, one redeemed into the tenant, and only once.
    out = ok(runner, "vouchers", "issue", "--name", "launch", "--issuer", "ACME Cloud",
             "--amount", "5", "--count", "2", "--credit-days", "30")
    codes = out.stdout.split()
    assert len(codes) == 2 and all(c.startswith("MAAS-") for c in codes)
    assert "redeemed" in ok(runner, "vouchers", "redeem", codes[0], "--tenant", "acme").stdout
    assert "already been redeemed" in fails(runner, "vouchers", "redeem", codes[0],
                                            "--tenant", "acme")
    (batch,) = as_json(runner, "vouchers", "list")
    assert batch["redeemed"] == 1 and batch["count"] == 2
    assert codes[1] not in ok(runner, "vouchers", "list").output

    # Credits: a grant plus the voucher.
    ok(runner, "credits", "grant", "--tenant", "acme", "--amount", "10.25", "--note", "welcome")
    assert "15.25 credits available" in ok(runner, "credits", "balance", "--tenant",
                                           "acme").stdout
    balance = as_json(runner, "credits", "balance", "--tenant", "acme")
    assert balance["available_micro"] == 15_250_000 and len(balance["lots"]) == 2
    ledger = ok(runner, "credits", "ledger", "--tenant", "acme").stdout
    assert "grant" in ledger and "redeem" in ledger and "welcome" in ledger

    # Removing a member revokes nothing of others, and is audited.
    ok(runner, "members", "remove", "--tenant", "acme", "--user-id", alice)

    # The audit log has the tenant's key, voucher and member events; never a secret.
    events = as_json(runner, "audit", "list", "--tenant", "acme", "--limit", "100")
    actions = {e["action"] for e in events}
    assert {"tenant.create", "member.add", "member.role", "member.remove", "key.create",
            "key.rotate", "voucher.redeem", "credits.grant"} <= actions
    table = ok(runner, "audit", "list", "--tenant", "acme").stdout
    assert secret not in table and new_secret not in table and codes[0] not in table
    only_keys = as_json(runner, "audit", "list", "--tenant", "acme", "--action", "key.")
    assert {e["action"] for e in only_keys} == {"key.create", "key.rotate"}
    platform = as_json(runner, "audit", "list", "--platform")
    assert {"plan.create", "plan.update", "user.create", "voucher_batch.issue"} <= {
        e["action"] for e in platform}

    # The owner's password can be changed from stdin.
    ok(runner, "users", "set-password", "--email", "owner@acme.test", "--password-stdin",
       input="another-long-password\n")
    ok(runner, "tenants", "update", "acme", "--disable")
    assert as_json(runner, "tenants", "show", "acme")["disabled_at"] is not None
    ok(runner, "tenants", "update", "acme", "--enable", "--plan", "standard")
    assert as_json(runner, "tenants", "show", "acme")["plan"] == "standard"


def test_voucher_codes_to_a_private_file(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "codes.csv"
    out = ok(runner, "vouchers", "issue", "--name", "fair", "--issuer", "ACME", "--amount",
             "1.5", "--count", "3", "--model", "smollm2-135m-instruct", "--out", str(target))
    assert "MAAS-" not in out.output and str(target) in out.stdout
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert len(rows) == 3 and all(r["code"].startswith("MAAS-") for r in rows)
    assert rows[0]["credits"] == "1.5"
    before = target.read_text(encoding="utf-8")
    assert "refusing to overwrite" in fails(runner, "vouchers", "issue", "--name", "again",
                                            "--issuer", "ACME", "--amount", "1",
                                            "--out", str(target))
    assert target.read_text(encoding="utf-8") == before
    assert len(as_json(runner, "vouchers", "list")) == 1  # no batch without its codes
    # A failed issue leaves no file behind.
    fails(runner, "vouchers", "issue", "--name", "", "--issuer", "ACME", "--amount", "1",
          "--out", str(tmp_path / "none.csv"))
    assert not (tmp_path / "none.csv").exists()
    batch_id = as_json(runner, "vouchers", "list")[0]["id"]
    ok(runner, "vouchers", "revoke", batch_id)
    ok(runner, "tenants", "create", "beta")
    assert "withdrawn" in fails(runner, "vouchers", "redeem", rows[1]["code"],
                                "--tenant", "beta")


def test_usage_list_report_and_export(runner: CliRunner) -> None:
    from maas.app import open_database
    from maas.db.tables import UsageRecord

    ok(runner, "tenants", "create", "acme")
    day = datetime(2024, 1, 2, 10, 0, tzinfo=UTC)
    with open_database(Settings()).session() as session:
        for i, (model, tokens) in enumerate([("m-a", 10), ("m-a", 20), ("m-b", 5)]):
            session.add(UsageRecord(id=f"use_{i}", tenant_id="acme", key_id="key_x",
                                    model_id=model, endpoint="chat.completions",
                                    prompt_tokens=tokens, total_tokens=tokens, cost=1_500_000,
                                    created_at=day))
        session.add(UsageRecord(id="use_late", tenant_id="acme", model_id="m-a",
                                endpoint="embeddings", app_id="=cmd()",
                                created_at=datetime(2024, 1, 5, tzinfo=UTC)))
    listed = ok(runner, "usage", "list", "--tenant", "acme", "--model", "m-a").stdout
    assert len(listed.splitlines()) == 1 + 3
    rows = as_json(runner, "usage", "list", "--tenant", "acme", "--since", "2024-01-02",
                   "--until", "2024-01-02")
    assert {r["id"] for r in rows} == {"use_0", "use_1", "use_2"}  # --until day included
    report = list(csv.DictReader(io.StringIO(ok(
        runner, "usage", "report", "--tenant", "acme", "--group-by", "day,model", "--until",
        "2024-01-03", "--csv").stdout)))
    assert [(r["day"], r["model"], r["requests"], r["total_tokens"], r["cost"])
            for r in report] == [("2024-01-02", "m-a", "2", "30", "3.0"),
                                 ("2024-01-02", "m-b", "1", "5", "1.5")]
    table = ok(runner, "usage", "report", "--tenant", "acme", "--group-by", "endpoint").stdout
    assert table.splitlines()[0].split()[:2] == ["ENDPOINT", "REQUESTS"]
    assert "bad group_by" not in fails(runner, "usage", "report", "--tenant", "acme",
                                       "--group-by", "colour")
    exported = list(csv.DictReader(io.StringIO(ok(runner, "usage", "export", "--tenant",
                                                  "acme").stdout)))
    assert len(exported) == 4 and "cost" in exported[0]
    assert next(r for r in exported if r["id"] == "use_late")["app"] == "'=cmd()"


@pytest.mark.parametrize("args", [
    ["keys", "list", "--tenant", "ghost"],
    ["keys", "create", "--tenant", "ghost", "--name", "x"],
    ["keys", "show", "key_nope", "--tenant", "default"],
    ["tenants", "show", "ghost"],
    ["tenants", "update", "ghost", "--name", "x"],
    ["tenants", "create", "acme", "--plan", "platinum"],
    ["tenants", "create", "Bad_Id"],
    ["tenants", "update", "default"],
    ["members", "list", "--tenant", "ghost"],
    ["members", "add", "--tenant", "default", "--email", "nobody@acme.test"],
    ["members", "add", "--tenant", "default", "--email", "x@acme.test", "--role", "king"],
    ["members", "set-role", "--tenant", "default", "--user-id", "usr_x", "--role", "king"],
    ["keys", "create", "--tenant", "default", "--name", "x", "--role", "king"],
    ["keys", "create", "--tenant", "default", "--name", "x", "--rpm", "-5"],
    ["plans", "create", "pro", "--billing", "monthly"],
    ["plans", "update", "free", "--billing", "monthly"],
    ["plans", "show", "platinum"],
    ["credits", "grant", "--tenant", "ghost", "--amount", "5"],
    ["credits", "grant", "--tenant", "default", "--amount", "lots"],
    ["credits", "grant", "--tenant", "default", "--amount", "-1"],
    ["credits", "balance", "--tenant", "ghost"],
    ["vouchers", "redeem", "MAAS-NOPE", "--tenant", "default"],
    ["vouchers", "revoke", "vb_nope"],
    ["usage", "list", "--tenant", "ghost"],
    ["audit", "list"],
    ["audit", "list", "--tenant", "default", "--platform"],
    ["users", "set-password", "--email", "nobody@acme.test", "--password-stdin"],
])
def test_errors_are_one_clean_line(runner: CliRunner, args: list[str]) -> None:
    fails(runner, *args, input="long-enough-password\n")


def test_error_messages(runner: CliRunner) -> None:
    assert fails(runner, "keys", "list", "--tenant", "ghost") == (
        "error: tenant 'ghost' not found\n")
    assert "unknown tenant role 'king'" in fails(
        runner, "members", "add", "--tenant", "default", "--email", "x@acme.test",
        "--role", "king")
    assert "billing must be one of prepaid, postpaid" in fails(
        runner, "plans", "create", "pro", "--billing", "monthly")
    assert "at least 10 characters" in fails(
        runner, "users", "create", "--email", "a@acme.test", "--name", "A", "--password-stdin",
        input="short\n")
