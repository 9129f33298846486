"""Fixtures for the unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner on a fresh data dir (SQLite) with a known admin key."""
    monkeypatch.setenv("MAAS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MAAS_ADMIN_API_KEY", "sk-maas-cli-admin")
    monkeypatch.delenv("MAAS_DATABASE_URL", raising=False)
    return CliRunner()
