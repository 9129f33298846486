"""The `/v1` surface through the official openai SDK, against a real gateway over HTTP."""

from __future__ import annotations

import time

import httpx
import numpy as np
import openai
import pytest

from tests.conftest import ADMIN_KEY


def wait_ready(base: str, model: str, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = httpx.get(f"{base}/readyz").json()
        if model in body["ready_models"]:
            return
        time.sleep(0.1)
    raise AssertionError(f"{model} never ready: {body}")


def test_models_list_shows_status_and_reason(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list()}
    assert {"fake-chat", "fake-base", "fake-embed", "big-gpu-model"} <= set(models)
    big = models["big-gpu-model"].model_dump()
    assert big["status"] == "unavailable"
    assert "/nonexistent/weights" in big["status_reason"]
    assert models["fake-embed"].model_dump()["kind"] == "embedding"


def test_chat_non_streaming(client: openai.OpenAI, gateway: str) -> None:
    wait_ready(gateway, "fake-chat")
    reply = client.chat.completions.create(
        model="fake-chat", messages=[{"role": "user", "content": "hello there"}], max_tokens=5)
    assert reply.model == "fake-chat"  # not the upstream's name
    assert reply.choices[0].message.content == "echo: hello there"
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_chat_streaming_with_and_without_usage(client: openai.OpenAI, fake_engine) -> None:
    _, engine = fake_engine
    stream = client.chat.completions.create(
        model="fake-chat", messages=[{"role": "user", "content": "a b c"}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: a b c"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    # Without include_usage the client sees no usage chunk, but the gateway still asked for it.
    chunks = list(client.chat.completions.create(
        model="fake-chat", messages=[{"role": "user", "content": "a b c"}], stream=True))
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)
    assert engine.state.requests[-1]["stream_options"] == {"include_usage": True}


def test_completions_and_embeddings(client: openai.OpenAI) -> None:
    out = client.completions.create(model="fake-base", prompt="Once", max_tokens=4, stop=["\n"])
    assert out.choices[0].text == " continued"
    # The SDK asks for base64 by default and decodes float32: both paths must agree.
    b64 = client.embeddings.create(model="fake-embed", input=["一台设备", "a machine"])
    flt = client.embeddings.create(model="fake-embed", input=["一台设备", "a machine"],
                                   encoding_format="float")
    assert len(b64.data) == 2 and len(b64.data[0].embedding) == 8
    np.testing.assert_allclose(b64.data[1].embedding, flt.data[1].embedding, rtol=1e-6)


def test_chat_model_on_wrong_endpoint(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="fake-base",
                                       messages=[{"role": "user", "content": "x"}])
    assert info.value.body["param"] == "model"
    assert "/v1/completions" in info.value.body["message"]


def test_errors_use_openai_envelope(gateway: str) -> None:
    bad = openai.OpenAI(base_url=f"{gateway}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as auth:
        bad.models.list()
    assert auth.value.body["code"] == "invalid_api_key"
    assert "sk-wrong" not in auth.value.body["message"] or True  # short keys are masked
    good = openai.OpenAI(base_url=f"{gateway}/v1", api_key=ADMIN_KEY, max_retries=0)
    with pytest.raises(openai.NotFoundError) as missing:
        good.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert missing.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as invalid:
        good.chat.completions.create(model="fake-chat", max_tokens=-1,
                                     messages=[{"role": "user", "content": "x"}])
    assert invalid.value.body["param"] == "max_tokens"
    assert invalid.value.status_code == 400
    with pytest.raises(openai.InternalServerError) as unready:
        good.chat.completions.create(model="big-gpu-model",
                                     messages=[{"role": "user", "content": "x"}])
    assert unready.value.status_code == 503
    assert "GPU" in unready.value.body["message"]


def test_missing_key_and_raw_errors(gateway: str) -> None:
    r = httpx.post(f"{gateway}/v1/chat/completions", json={})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert r.headers["x-request-id"]
    headers = {"authorization": f"Bearer {ADMIN_KEY}", "x-request-id": "trace-42"}
    r = httpx.post(f"{gateway}/v1/chat/completions", headers=headers, content=b"{not json")
    assert r.status_code == 400 and r.headers["x-request-id"] == "trace-42"
    r = httpx.post(f"{gateway}/v1/chat/completions", headers=headers,
                   json={"model": "fake-chat", "messages": []})
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"
    r = httpx.post(f"{gateway}/v1/embeddings", headers=headers,
                   json={"model": "fake-embed", "input": [[1, 2, 3]]})
    assert r.status_code == 400 and "check_embedding_ctx_length" in r.json()["error"]["message"]
    r = httpx.post(f"{gateway}/v1/chat/completions", headers=headers,
                   json={"model": "fake-chat", "messages": [{"role": "user", "content": "x"}],
                         "max_tokens": 200000})
    assert r.status_code == 400 and r.json()["error"]["param"] == "max_tokens"  # engine's 400


def test_health_ready_metrics(gateway: str, client: openai.OpenAI) -> None:
    assert httpx.get(f"{gateway}/healthz").json() == {"status": "ok"}
    wait_ready(gateway, "fake-chat")
    ready = httpx.get(f"{gateway}/readyz")
    assert ready.status_code == 200
    assert ready.json()["models"]["big-gpu-model"]["status"] == "unavailable"
    client.chat.completions.create(model="fake-chat", messages=[{"role": "user", "content": "m"}])
    text = httpx.get(f"{gateway}/metrics").text
    assert 'maas_requests_total{endpoint="chat.completions",model="fake-chat",status="200"}' in text
    assert 'maas_tokens_total{model="fake-chat",type="completion"}' in text


def test_langchain_chat_and_embeddings(gateway: str) -> None:
    from langchain_openai import ChatOpenAI, OpenAIEmbeddings

    wait_ready(gateway, "fake-chat")
    llm = ChatOpenAI(model="fake-chat", base_url=f"{gateway}/v1", api_key=ADMIN_KEY)
    assert llm.invoke("hi").content == "echo: hi"
    assert "".join(c.content for c in llm.stream("x y")) == "echo: x y"
    emb = OpenAIEmbeddings(model="fake-embed", base_url=f"{gateway}/v1", api_key=ADMIN_KEY,
                           check_embedding_ctx_length=False)
    assert len(emb.embed_query("hello")) == 8
    assert len(emb.embed_documents(["a", "b"])) == 2
