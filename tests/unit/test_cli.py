"""The `maas` CLI against a fresh data dir: models, tenants and keys."""

from __future__ import annotations

from typer.testing import CliRunner

from maas.cli import app


def test_models_commands(runner: CliRunner) -> None:
    out = runner.invoke(app, ["models", "list"])
    assert out.exit_code == 0, out.output
    assert "smollm2-135m-instruct" in out.output
    qwen = next(line for line in out.output.splitlines() if line.startswith("qwen2.5-7b"))
    assert "unavailable" in qwen and "GPU" in qwen
    out = runner.invoke(app, ["models", "disable", "gemma-3-270m"])
    assert out.exit_code == 0 and "disabled" in out.output
    out = runner.invoke(app, ["models", "show", "gemma-3-270m"])
    assert '"enabled": false' in out.output
    assert runner.invoke(app, ["models", "enable", "gemma-3-270m"]).exit_code == 0
    out = runner.invoke(app, ["models", "show", "no-such-model"])
    assert out.exit_code != 0 and "does not exist" in out.output


def test_tenant_and_key_commands(runner: CliRunner) -> None:
    assert runner.invoke(app, ["tenants", "create", "acme", "--name", "ACME"]).exit_code == 0
    out = runner.invoke(app, ["tenants", "create", "acme"])
    assert out.exit_code != 0 and "already exists" in out.output
    out = runner.invoke(app, ["keys", "create", "--tenant", "acme", "--name", "ci"])
    assert out.exit_code == 0, out.output
    secret = out.stdout.splitlines()[0]
    assert secret.startswith("sk-maas-")
    listed = runner.invoke(app, ["keys", "list", "--tenant", "acme"])
    assert secret[:16] in listed.output and secret not in listed.output
    key_id = listed.stdout.splitlines()[1].split()[0]  # below the header
    assert runner.invoke(app, ["keys", "revoke", key_id, "--tenant", "acme"]).exit_code == 0
    out = runner.invoke(app, ["keys", "create", "--tenant", "ghost", "--name", "x"])
    assert out.exit_code == 1 and "error: tenant 'ghost' not found" in out.stderr
