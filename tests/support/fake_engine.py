"""A deterministic OpenAI-compatible engine for tests and the gateway-overhead benchmark.

It answers instantly (or after `delay` seconds) so that what is measured or asserted is
the gateway: routing, validation, streaming relay, usage and errors. Chat replies echo
the last user message; embeddings are a fixed function of the text.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


def fake_vector(text: str, dims: int) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vec = np.random.default_rng(seed).standard_normal(dims).astype(np.float32)
    return (vec / np.linalg.norm(vec)).tolist()


def create_fake_engine(delay: float = 0.0, dims: int = 8) -> FastAPI:
    app = FastAPI()
    app.state.requests = []
    app.state.cancelled = 0
    #: Scripted replies for agent decisions (requests with `response_format` or `tools`),
    #: used in order; when none are left a decision is answered by echoing, as chat is.
    app.state.decisions = []

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "fake", "object": "model"}]}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        app.state.requests.append(body)
        if body.get("max_tokens", 1) > 100000:
            return JSONResponse({"error": {"message": "too long", "type": "invalid_request_error",
                                           "param": "max_tokens", "code": None}}, 400)
        if (body.get("response_format") or body.get("tools")) and app.state.decisions:
            return _scripted(body, app.state.decisions.pop(0))
        words = ("echo: " + str(body["messages"][-1]["content"])).split(" ")
        if delay:
            await asyncio.sleep(delay)
        prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in body["messages"])
        if not body.get("stream"):
            return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                    "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": " ".join(words)}}],
                    "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(words),
                              "total_tokens": prompt_tokens + len(words)}}

        async def events() -> AsyncIterator[str]:
            base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                    "created": int(time.time()), "model": body["model"]}
            try:
                for i, word in enumerate(words):
                    delta = {"content": (" " if i else "") + word}
                    if i == 0:
                        delta["role"] = "assistant"
                    yield "data: " + json.dumps({**base, "choices": [
                        {"index": 0, "delta": delta, "finish_reason": None}]}) + "\n\n"
                    await asyncio.sleep(body.get("chunk_delay", 0))
                yield "data: " + json.dumps({**base, "choices": [
                    {"index": 0, "delta": {}, "finish_reason": "stop"}]}) + "\n\n"
                if (body.get("stream_options") or {}).get("include_usage"):
                    yield "data: " + json.dumps({**base, "choices": [], "usage": {
                        "prompt_tokens": prompt_tokens, "completion_tokens": len(words),
                        "total_tokens": prompt_tokens + len(words)}}) + "\n\n"
                yield "data: [DONE]\n\n"
            except asyncio.CancelledError:
                app.state.cancelled += 1
                raise

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/completions")
    async def completions(request: Request) -> dict[str, Any]:
        body = await request.json()
        app.state.requests.append(body)
        text = " continued"
        return {"id": "cmpl-fake", "object": "text_completion", "created": int(time.time()),
                "model": body["model"],
                "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> dict[str, Any]:
        body = await request.json()
        app.state.requests.append(body)
        texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
        data = []
        for i, text in enumerate(texts):
            vec = fake_vector(text, dims)
            if body.get("encoding_format") == "base64":
                emb: Any = base64.b64encode(np.asarray(vec, dtype="<f4").tobytes()).decode()
            else:
                emb = vec
            data.append({"object": "embedding", "index": i, "embedding": emb})
        tokens = sum(len(t.split()) for t in texts)
        return {"object": "list", "data": data, "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    return app


def _scripted(body: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
    """A decision: `{"content": ...}` (JSON protocol) or `{"tool_calls": [...]}`."""
    message = {"role": "assistant", "content": reply.get("content")}
    if reply.get("tool_calls"):
        message["tool_calls"] = [{"id": f"call_{i}", "type": "function", "function": {
            "name": call["name"], "arguments": json.dumps(call.get("arguments", {}))}}
            for i, call in enumerate(reply["tool_calls"])]
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(app: Any, port: int | None = None) -> Iterator[str]:
    """Run an ASGI app with uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
