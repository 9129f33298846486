"""The vLLM engine's command line, environment and launcher, without vLLM installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from maas.catalog.models import EngineSpec, ModelManifest, load_model_manifest
from maas.engines.availability import EngineSelector
from maas.engines.commands import engine_command
from maas.engines.vllm_server import (
    DEFAULT_CHAT_TEMPLATE,
    chat_template_file,
    lora_args,
    lora_capacity,
    vllm_argv,
    vllm_env,
)
from maas.settings import REPO_ROOT, Settings

SMOLLM = REPO_ROOT / "models" / "smollm2-135m-instruct.yaml"


def smollm() -> ModelManifest:
    return load_model_manifest(SMOLLM)


def vllm_spec(manifest: ModelManifest) -> EngineSpec:
    return next(e for e in manifest.engines if e.kind == "vllm")


def flag_value(argv: list[str], flag: str) -> str:
    assert argv.count(flag) == 1, f"{flag} appears {argv.count(flag)} times in {argv}"
    return argv[argv.index(flag) + 1]


def test_argv_has_manifest_args_and_cpu_defaults(tmp_path: Path) -> None:
    manifest = smollm()
    argv = vllm_argv(manifest, vllm_spec(manifest), tmp_path, "127.0.0.1", 8123)
    assert flag_value(argv, "--model") == str(tmp_path)
    assert flag_value(argv, "--served-model-name") == "smollm2-135m-instruct"
    assert flag_value(argv, "--port") == "8123"
    assert flag_value(argv, "--max-model-len") == "4096"
    assert "--enforce-eager" in argv
    config = json.loads(flag_value(argv, "--structured-outputs-config"))
    assert config == {"backend": "xgrammar", "disable_any_whitespace": True}
    # A chat model takes LoRA adapters at run time (fine-tunes) unless its args say no.
    assert "--enable-lora" in argv and flag_value(argv, "--max-loras") == "2"
    assert "--chat-template" not in argv
    spec = EngineSpec(kind="vllm", args={"enable_lora": False})
    assert "--enable-lora" not in vllm_argv(manifest, spec, tmp_path, "127.0.0.1", 8123)


def test_manifest_args_override_defaults(tmp_path: Path) -> None:
    manifest = smollm()
    spec = EngineSpec(kind="vllm", args={"enforce_eager": False, "max_model_len": 1024})
    argv = vllm_argv(manifest, spec, tmp_path, "h", 1, chat_template=tmp_path / "t.jinja")
    assert "--enforce-eager" not in argv
    assert flag_value(argv, "--max-model-len") == "1024"
    assert flag_value(argv, "--chat-template") == str(tmp_path / "t.jinja")


def test_lora_args_for_adapters() -> None:
    adapters = [("smollm2-mining", Path("/a/mining")), ("smollm2-textile", "/a/textile")]
    assert lora_args(adapters) == [
        "--enable-lora", "--max-lora-rank", "8", "--max-loras", "3",
        "--lora-modules", "smollm2-mining=/a/mining", "smollm2-textile=/a/textile",
    ]
    assert lora_args([]) == []
    assert lora_args([], runtime=True) == [
        "--enable-lora", "--max-lora-rank", "8", "--max-loras", "2"]
    # Headroom: slots for adapters loaded at run time, plus the base's free slot.
    assert lora_args(adapters, headroom=4)[:6] == [
        "--enable-lora", "--max-lora-rank", "8", "--max-loras", "7", "--lora-modules"]
    assert lora_capacity(0, False, 4) == 0 and lora_capacity(0, True, 0) == 1
    assert lora_capacity(2, False, 4) == 6
    with pytest.raises(ValueError, match="duplicate"):
        lora_args([("a", "/x"), ("a", "/y")])


def test_manifest_enable_lora_and_adapters_give_one_flag_set(tmp_path: Path) -> None:
    manifest = smollm()
    spec = EngineSpec(kind="vllm", args={"enable_lora": True})
    argv = vllm_argv(manifest, spec, tmp_path, "h", 1, adapters=[("x", "/x")])
    assert argv.count("--enable-lora") == 1
    assert flag_value(argv, "--max-loras") == "2"
    assert flag_value(argv, "--lora-modules") == "x=/x"


def test_env() -> None:
    env = vllm_env({"PATH": "/bin"}, lora=False)
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "2" and env["PATH"] == "/bin"
    assert "VLLM_ALLOW_RUNTIME_LORA_UPDATING" not in env
    env = vllm_env({"VLLM_CPU_KVCACHE_SPACE": "4"}, lora=True)
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "4"  # the operator's value wins
    assert env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "True"


def test_chat_template_only_where_missing(tmp_path: Path) -> None:
    manifest = smollm()
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    path = chat_template_file(manifest, model_dir, tmp_path / "cache")
    assert path is not None and path.read_text() == DEFAULT_CHAT_TEMPLATE
    (model_dir / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{x}}"}))
    assert chat_template_file(manifest, model_dir, tmp_path / "cache") is None
    own = manifest.model_copy(update={"chat_template": "{{ messages }}"})
    path = chat_template_file(own, model_dir, tmp_path / "cache")
    assert path is not None and path.read_text() == "{{ messages }}"


def test_engine_command_runs_launcher_with_vllm_python(tmp_path: Path) -> None:
    python = tmp_path / "python"
    python.write_text("")
    settings = Settings(data_dir=tmp_path, vllm_python=str(python), _env_file=None)
    manifest = smollm()
    argv = engine_command(manifest, vllm_spec(manifest), settings, "127.0.0.1", 9000,
                          adapters=[("a", "/x")])
    assert argv[:3] == [sys.executable, "-m", "maas.vllm_launcher"]
    assert flag_value(argv, "--python") == str(python)
    assert flag_value(argv, "--model") == manifest.id
    assert flag_value(argv, "--lora") == "a=/x"


def test_vllm_chosen_only_with_vllm_python(tmp_path: Path) -> None:
    manifest = smollm()
    not_vllm = lambda module: module != "vllm"  # noqa: E731 - the CPU worker is installed
    plain = Settings(data_dir=tmp_path, _env_file=None)
    choice = EngineSelector(plain, installed=not_vllm).choose(manifest)
    if choice.spec is None:
        pytest.skip(f"SmolLM2 weights not installed here: {choice.reason}")
    assert choice.spec.kind == "transformers" and "vLLM is not installed" in str(choice.reason)
    python = tmp_path / "python"
    python.write_text("")
    with_vllm = Settings(data_dir=tmp_path, vllm_python=str(python), _env_file=None)
    assert EngineSelector(with_vllm, installed=not_vllm).choose(manifest).spec.kind == "vllm"


def test_launcher_execs_vllm_python_with_converted_weights(tmp_path: Path) -> None:
    """The launcher process itself: finds the weights, adds a template, execs the interpreter."""
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "config.json").write_text("{}")  # a transformers directory: used as is
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny.yaml").write_text(
        "id: tiny\nkind: chat\nfamily: f\ncontext_length: 512\n"
        "pricing: {input_per_1k: 0, output_per_1k: 0}\n"
        f"source: {{path: '{weights}'}}\nengines: [{{kind: vllm, args: {{max_model_len: 256}}}}]\n")
    record = tmp_path / "record.json"
    fake = tmp_path / "python"
    fake.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                    f"json.dump({{'argv': sys.argv, 'env': dict(os.environ)}}, "
                    f"open({str(record)!r}, 'w'))\n")
    fake.chmod(0o755)
    env = {**os.environ, "MAAS_DATA_DIR": str(tmp_path / "data"), "MAAS_MODELS_DIR": str(models)}
    env.pop("VLLM_CPU_KVCACHE_SPACE", None)
    subprocess.run(
        [sys.executable, "-m", "maas.vllm_launcher", "--model", "tiny", "--python",
         str(fake), "--host", "127.0.0.1", "--port", "8555", "--lora", "ad=/adapters/ad"],
        env=env, cwd=REPO_ROOT, check=True, timeout=60)
    seen = json.loads(record.read_text())
    argv = seen["argv"]
    assert argv[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert flag_value(argv, "--model") == str(weights)
    assert flag_value(argv, "--max-model-len") == "256"
    assert Path(flag_value(argv, "--chat-template")).read_text() == DEFAULT_CHAT_TEMPLATE
    assert flag_value(argv, "--lora-modules") == "ad=/adapters/ad"
    assert seen["env"]["VLLM_CPU_KVCACHE_SPACE"] == "2"
    assert seen["env"]["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "True"
