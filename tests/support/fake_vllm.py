"""`python -m tests.support.fake_vllm --port P --served-model-name M [--lora NAME=PATH]...`:
a process that behaves like vLLM's OpenAI server where the supervisor and router depend on
it: `/health`, LoRA adapters given at start or loaded and unloaded at run time
(`/v1/load_lora_adapter`, `/v1/unload_lora_adapter`, answering 400 as vLLM does for a
duplicate or unknown name), `/v1/models`, and chat that 404s for a model it does not serve.

A chat reply names the model (or adapter) that answered and the system prompt it got, so a
test sees which adapter served a request and what the gateway put in front of it.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "BadRequestError",
                                   "param": None, "code": status}}, status)


def create_fake_vllm(model: str, loras: dict[str, str]) -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        ids = [model, *sorted(loras)]
        return {"object": "list", "data": [{"id": i, "object": "model"} for i in ids]}

    @app.post("/v1/load_lora_adapter")
    async def load(request: Request) -> Any:
        body = await request.json()
        name = body["lora_name"]
        if name in loras:
            return _error(f"The lora adapter '{name}' has already been loaded.", 400)
        loras[name] = body["lora_path"]
        return f"Success: LoRA adapter '{name}' added successfully."

    @app.post("/v1/unload_lora_adapter")
    async def unload(request: Request) -> Any:
        name = (await request.json())["lora_name"]
        if loras.pop(name, None) is None:
            return _error(f"The lora adapter '{name}' cannot be found.", 400)
        return f"Success: LoRA adapter '{name}' removed successfully."

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        if body["model"] != model and body["model"] not in loras:
            return _error(f"The model `{body['model']}` does not exist.", 404)
        system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
        text = f"[{body['model']}] [system: {system}] {body['messages'][-1]['content']}"
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}}

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--served-model-name", required=True)
    parser.add_argument("--lora", action="append", default=[])
    args = parser.parse_args()
    static = dict(item.split("=", 1) for item in args.lora)
    uvicorn.run(create_fake_vllm(args.served_model_name, static), host=args.host,
                port=args.port, log_level="warning")
