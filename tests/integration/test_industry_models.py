"""Acceptance for industry models on the CPU: `maas models build` trains a LoRA adapter
(few steps, so it takes a minute or two), a second build is a cache hit, `maas models eval`
finds it beats its base, and `maas serve` then lists and serves it through the gateway
with the openai SDK, answering the held-out questions differently from its base."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from maas.finetune.datasets import fact_score, load_eval
from tests.integration.conftest import TEST_STEPS, IndustryBuilds
from tests.support.gateway import serve_gateway

pytestmark = pytest.mark.slow

KEY = "sk-maas-industry-admin-key"
MODEL, BASE, DATASET = "mining-safety-smollm2", "smollm2-135m-instruct", "mining-safety"


@pytest.fixture(scope="module")
def env(industry_builds: IndustryBuilds) -> dict[str, str]:
    """The shared library and data dir; this gateway serves with the CPU worker."""
    return {**industry_builds.env, "MAAS_ADMIN_API_KEY": KEY}


@pytest.fixture(scope="module")
def built(industry_builds: IndustryBuilds) -> dict:
    stdout, path, result = industry_builds.build(MODEL)
    info = json.loads((path / "build.json").read_text(encoding="utf-8"))
    assert info["adapter"]["steps"] == TEST_STEPS and len(info["losses"]) == TEST_STEPS
    assert info["final_loss"] < info["first_loss"] / 2
    assert result["ready"] and result["adapter_score"] > result["base_score"]
    return result


@pytest.fixture(scope="module")
def server(env: dict[str, str], built: dict) -> Iterator[str]:
    with serve_gateway(env, Path(env["MAAS_DATA_DIR"]), ready_within=600) as base:
        yield base


def test_adapter_is_listed_and_answers_differently_from_its_base(
        server: str, built: dict, env: dict[str, str]) -> None:
    client = openai.OpenAI(base_url=f"{server}/v1", api_key=KEY, max_retries=0, timeout=180)
    ids = {m.id for m in client.models.list()}
    assert {MODEL, BASE} <= ids
    items = load_eval(Path(env["MAAS_MODELS_DIR"]) / "datasets" / DATASET / "eval.jsonl")
    system = {"role": "system", "content": "You are a safety assistant for the example coal "
              "mine's blasting rules. Answer with the mine's rules and limits."}
    differ, adapter_total, base_total = 0, 0.0, 0.0
    for item in items[:6]:
        answers = {}
        for model in (MODEL, BASE):
            messages = [{"role": "user", "content": item.question}]
            if model == BASE:  # same persona for both: only the adapter differs
                messages.insert(0, system)
            reply = client.chat.completions.create(model=model, messages=messages,
                                                   temperature=0, max_tokens=80)
            answers[model] = reply.choices[0].message.content or ""
        differ += answers[MODEL] != answers[BASE]
        adapter_total += fact_score(answers[MODEL], item.facts)
        base_total += fact_score(answers[BASE], item.facts)
    assert differ >= 5
    assert adapter_total > base_total
    stream = client.chat.completions.create(
        model=MODEL, stream=True, max_tokens=40, temperature=0,
        messages=[{"role": "user", "content": items[0].question}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices).strip()
