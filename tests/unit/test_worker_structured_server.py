"""`response_format` over HTTP: both endpoints, streaming, errors, where compiling runs.

The worker app runs the real `TransformersBackend` code paths (grammar compiler built from
a Hugging Face tokenizer on first use, engine, routes) with the tiny random Llama and the
in-memory byte-level tokenizer of `test_worker_structured` swapped in for a real model.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from maas.settings import Settings
from maas.worker.generation import GenerationEngine
from maas.worker.llm import TransformersBackend
from maas.worker.server import create_worker_app
from tests.unit.test_worker_batching import EOS, _llama
from tests.unit.test_worker_server import _manifest, _sse
from tests.unit.test_worker_structured import SCHEMA, byte_tokenizer, check_against_schema

pytest.importorskip("xgrammar")


class TinyTextBackend(TransformersBackend):
    """The real backend on a tiny random model and an in-memory tokenizer."""

    def load(self) -> None:
        self.tokenizer, self.model = byte_tokenizer(), _llama()
        self.model.generation_config.eos_token_id = EOS
        self.decode_tokenizer = self.tokenizer
        self.load_grammars()
        self.engine = GenerationEngine(self.model, self.eos_ids(), self.settings.max_batch_size)
        self.engine.start()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, max_batch_size=4, _env_file=None)


def _client(settings: Settings, kind: str, **manifest: Any) -> Iterator[TestClient]:
    spec = _manifest(kind, context_length=512, **manifest)
    with TestClient(create_worker_app(spec, settings, TinyTextBackend(spec, settings))) as client:
        yield client


@pytest.fixture
def chat(settings: Settings) -> Iterator[TestClient]:
    yield from _client(settings, "chat", defaults={"temperature": 0.0, "max_tokens": 300})


@pytest.fixture
def base(settings: Settings) -> Iterator[TestClient]:
    yield from _client(settings, "completion",
                       defaults={"temperature": 0.0, "max_tokens": 300, "stop": ["\n\n"]})


SCHEMA_FORMAT = {"type": "json_schema",
                 "json_schema": {"name": "tool_call", "schema": SCHEMA, "strict": True}}


def _chat(**extra: Any) -> dict[str, Any]:
    return {"model": "test-chat", "messages": [{"role": "user", "content": "Pick a tool."}],
            **extra}


def test_chat_json_schema(chat: TestClient) -> None:
    body = chat.post("/v1/chat/completions", json=_chat(response_format=SCHEMA_FORMAT)).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop"
    check_against_schema(choice["message"]["content"])
    plain = chat.post("/v1/chat/completions", json=_chat(max_tokens=40)).json()
    with pytest.raises(ValueError):  # the model alone writes byte noise, not JSON
        json.loads(plain["choices"][0]["message"]["content"])


def test_chat_json_object_and_sampled_choices(chat: TestClient) -> None:
    body = chat.post("/v1/chat/completions",
                     json=_chat(response_format={"type": "json_object"})).json()
    assert isinstance(json.loads(body["choices"][0]["message"]["content"]), dict)
    body = chat.post("/v1/chat/completions",
                     json=_chat(response_format=SCHEMA_FORMAT, n=3, temperature=1.0,
                                seed=5)).json()
    assert [c["finish_reason"] for c in body["choices"]] == ["stop"] * 3
    for choice in body["choices"]:
        check_against_schema(choice["message"]["content"])


def test_completions_json_schema_ignores_the_default_stop(base: TestClient) -> None:
    body = base.post("/v1/completions", json={"model": "b", "prompt": ["one", "two three"],
                                              "response_format": SCHEMA_FORMAT}).json()
    assert [c["finish_reason"] for c in body["choices"]] == ["stop"] * 2
    for choice in body["choices"]:
        check_against_schema(choice["text"])
    body = base.post("/v1/completions", json={"model": "b", "prompt": "x", "max_tokens": 4,
                                              "response_format": SCHEMA_FORMAT}).json()
    assert body["choices"][0]["finish_reason"] == "length"  # truncated JSON, as requested
    assert body["choices"][0]["text"].startswith("{")


def test_streaming_with_response_format(chat: TestClient, base: TestClient) -> None:
    whole = chat.post("/v1/chat/completions", json=_chat(response_format=SCHEMA_FORMAT)).json()
    with chat.stream("POST", "/v1/chat/completions",
                     json=_chat(response_format=SCHEMA_FORMAT, stream=True,
                                stream_options={"include_usage": True})) as response:
        chunks = _sse(response)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == whole["choices"][0]["message"]["content"]
    check_against_schema(text)
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["usage"] == whole["usage"]
    request = {"model": "b", "prompt": "x", "response_format": SCHEMA_FORMAT}
    whole = base.post("/v1/completions", json=request).json()["choices"][0]["text"]
    with base.stream("POST", "/v1/completions", json={**request, "stream": True}) as response:
        chunks = _sse(response)
    assert "".join(c["choices"][0]["text"] for c in chunks) == whole
    check_against_schema(whole)


@pytest.mark.parametrize("schema", [{"type": "objectx"},
                                    {"type": "string", "minLength": 3, "maxLength": 1}])
def test_uncompilable_schema_is_a_400(chat: TestClient, base: TestClient,
                                      schema: dict[str, Any]) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "bad", "schema": schema}}
    for response in (chat.post("/v1/chat/completions", json=_chat(response_format=fmt)),
                     base.post("/v1/completions", json={"model": "b", "prompt": "x",
                                                        "response_format": fmt})):
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["param"] == "response_format" and error["type"] == "invalid_request_error"
        assert error["code"] == "invalid_json_schema"
        assert "'response_format'" in error["message"] and ".cc:" not in error["message"]
    assert chat.app.state.backend.stats()["active_sequences"] == 0


@pytest.mark.parametrize("fmt", [{"type": "grammar"}, {"type": "json_schema"}, "json"])
def test_other_response_formats_are_a_400(chat: TestClient, base: TestClient, fmt: Any) -> None:
    for response in (chat.post("/v1/chat/completions", json=_chat(response_format=fmt)),
                     base.post("/v1/completions", json={"model": "b", "prompt": "x",
                                                        "response_format": fmt})):
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "response_format"


def test_text_format_is_unconstrained(chat: TestClient) -> None:
    body = _chat(max_tokens=12)
    plain = chat.post("/v1/chat/completions", json=body).json()
    text = chat.post("/v1/chat/completions", json={**body, "response_format": {"type": "text"}})
    assert text.json()["choices"] == plain["choices"]


def test_grammars_compile_off_the_loop_and_the_engine_thread_once(chat: TestClient) -> None:
    backend = chat.app.state.backend
    compile_grammar, calls = backend.compile_grammar, []

    def recording(fmt: Any) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        calls.append((threading.current_thread().name, on_loop))
        return compile_grammar(fmt)

    backend.compile_grammar = recording
    for _ in range(2):
        assert chat.post("/v1/chat/completions",
                         json=_chat(response_format=SCHEMA_FORMAT)).status_code == 200
    assert len(calls) == 2 and not any(on_loop for _, on_loop in calls)
    assert all(name != "generation-engine" for name, _ in calls)
    assert len(backend._grammars) == 1  # the second request hit the cache


def test_worker_without_xgrammar_says_so(settings: Settings,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xgrammar", None)  # import xgrammar -> ImportError
    for chat in _client(settings, "chat"):
        response = chat.post("/v1/chat/completions",
                             json=_chat(response_format=SCHEMA_FORMAT))
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["param"] == "response_format" and "xgrammar" in error["message"]
        assert chat.post("/v1/chat/completions", json=_chat(max_tokens=3)).status_code == 200
