"""The architecture's rules, checked: layers import only downwards, the gateway never
imports torch or vLLM, and domain code knows nothing of HTTP frameworks."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from maas.settings import REPO_ROOT

PACKAGE = REPO_ROOT / "maas"
FORBIDDEN = {
    # package: imports it must never make
    "catalog": ("fastapi", "starlette", "maas.api", "maas.engines", "maas.tenancy", "maas.worker"),
    "db": ("fastapi", "starlette", "maas.api", "maas.engines", "maas.tenancy", "maas.worker"),
    "tenancy": ("fastapi", "starlette", "maas.api", "maas.engines", "maas.worker"),
    "engines": ("fastapi", "starlette", "maas.api", "maas.worker", "torch", "transformers"),
    "worker": ("maas.api", "maas.engines", "maas.tenancy", "maas.db"),
    "limits": ("fastapi", "starlette", "maas.api", "maas.engines", "maas.tenancy", "maas.db",
               "maas.metering", "maas.worker"),
    "metering": ("fastapi", "starlette", "maas.api", "maas.engines", "maas.worker"),
    "knowledge": ("fastapi", "starlette", "maas.api", "maas.engines", "maas.worker", "torch"),
    "store": ("fastapi", "starlette", "maas.api", "maas.engines", "maas.worker", "torch"),
    "toolbox": ("fastapi", "starlette", "maas.api", "maas.store", "maas.engines", "maas.worker",
                "torch"),
}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_layers_import_only_downwards() -> None:
    problems = []
    for package, forbidden in FORBIDDEN.items():
        for path in (PACKAGE / package).rglob("*.py"):
            for name in imports_of(path):
                if any(name == f or name.startswith(f + ".") for f in forbidden):
                    problems.append(f"{path.relative_to(REPO_ROOT)} imports {name}")
    assert problems == []


def test_gateway_never_imports_engines(tmp_path: Path) -> None:
    code = (
        "import sys; from maas.app import create_app; from maas.settings import Settings\n"
        f"create_app(Settings(data_dir={str(tmp_path)!r}, admin_api_key='sk-maas-x', "
        "supervise_workers=False, _env_file=None))\n"
        "print(sorted(m for m in ('torch', 'transformers', 'vllm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO_ROOT, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
