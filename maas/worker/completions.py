"""`/v1/chat/completions` and `/v1/completions`: OpenAI's shapes, streaming and not.

Parameters this server cannot honour (tools, logprobs, echo, suffix, logit_bias, best_of,
a response_format type other than text, json_object and json_schema) are rejected with a
400 naming the parameter instead of being silently ignored, so a client never believes it
got something it did not.

`response_format` (both endpoints; on /v1/completions as an extra body field) constrains
decoding with xgrammar: `json_object` gives some JSON object, `json_schema` JSON matching
`json_schema.schema`. The grammar is compiled here, in a worker thread, before the request
reaches the engine; a schema xgrammar cannot compile is a 400. Constrained choices ignore
stop sequences (they could cut the JSON) and end with "stop" when the value is complete,
or "length" (truncated JSON) when max_tokens comes first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from maas.protocol import ChatCompletionRequest, CompletionRequest, new_id, now, usage
from maas.worker.errors import PromptTooLong, WorkerError, unsupported
from maas.worker.runs import Run
from maas.worker.structured import parse_response_format

if TYPE_CHECKING:
    from maas.worker.sampling import SamplingParams

log = logging.getLogger(__name__)


def _log_done(request: Request, run: Run, started: float, outcome: str) -> None:
    """One line per request: enough to follow load and spot cancellations in the logs."""
    reasons = ",".join(sorted({c.finish_reason or "-" for c in run.choices}))
    log.info("%s %s: %s, %d prompt + %d completion tokens, %d choice(s) [%s], %.2f s",
             getattr(request.state, "request_id", "-"), request.url.path, outcome,
             run.prompt_tokens, run.completion_tokens, len(run.choices), reasons,
             time.monotonic() - started)


def _text_backend(request: Request, endpoint: str) -> Any:
    backend = request.app.state.backend
    manifest = request.app.state.manifest
    if backend.kind != "text":
        raise WorkerError(f"{manifest.id} is an embedding model; use /v1/embeddings.",
                          param="model", code="wrong_endpoint")
    if endpoint == "chat" and (manifest.kind != "chat" or not backend.has_chat_template):
        raise WorkerError(f"{manifest.id} is a base model without a chat template; use "
                          "/v1/completions with a prompt.", param="model", code="wrong_endpoint")
    return backend


def _extra(body: Any, name: str) -> Any:
    return (body.model_extra or {}).get(name)


def _check_common(body: ChatCompletionRequest | CompletionRequest) -> None:
    if _extra(body, "logit_bias"):
        raise unsupported("logit_bias")
    if (_extra(body, "best_of") or 1) > 1:
        raise unsupported("best_of")


def _check_chat(body: ChatCompletionRequest) -> None:
    _check_common(body)
    if body.tools:
        raise unsupported("tools", "this model does not do function calling")
    if body.tool_choice not in (None, "none"):
        raise unsupported("tool_choice")
    if body.logprobs or _extra(body, "top_logprobs"):
        raise unsupported("logprobs")
    for i, message in enumerate(body.messages):
        if message.role == "tool":
            raise unsupported(f"messages[{i}].role", "tool messages need tool support")


def _check_completion(body: CompletionRequest) -> None:
    _check_common(body)
    if body.echo:
        raise unsupported("echo")
    if body.suffix:
        raise unsupported("suffix")
    if body.logprobs is not None:
        raise unsupported("logprobs")


async def _params(backend: Any, body: ChatCompletionRequest | CompletionRequest,
                  prompt_len: int, param: str, response_format: Any) -> SamplingParams:
    explicit = "max_tokens" in body.model_fields_set or isinstance(body, ChatCompletionRequest)
    fmt = parse_response_format(response_format)  # a bad one fails before any work
    try:
        params = backend.sampling_params(
            prompt_len, body.token_limit() if explicit else None, body.temperature, body.top_p,
            body.stop_list() if body.stop is not None else None, body.seed,
            ignore_eos=bool(_extra(body, "ignore_eos")),
            presence_penalty=body.presence_penalty, frequency_penalty=body.frequency_penalty)
    except PromptTooLong as exc:
        raise WorkerError(str(exc), param=param, code="context_length_exceeded") from exc
    if fmt is None:
        return params
    # Compiled in a worker thread: other requests keep streaming while a new schema
    # compiles (up to about a second), and the engine thread never waits for it.
    grammar = await asyncio.to_thread(backend.compile_grammar, fmt)
    return dataclasses.replace(params, grammar=grammar)


def _sse(payload: dict[str, Any] | str) -> str:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n"


async def _respond(request: Request, start: Callable[[], Run], body: Any, chat: bool) -> Any:
    """Streaming starts the generation inside the response body, so a client that leaves
    before the first byte never leaves an orphan generation behind."""
    model = request.app.state.manifest.id
    rid, created = new_id("chatcmpl" if chat else "cmpl"), now()
    if body.stream:
        return StreamingResponse(_stream(request, start, body, chat, model, rid, created),
                                 media_type="text/event-stream",
                                 headers={"cache-control": "no-cache"})
    started, run = time.monotonic(), start()
    try:
        finished = await run.wait(request.is_disconnected)
    except BaseException:
        run.cancel()
        raise
    _log_done(request, run, started, "done" if finished else "client gone")
    if not finished:
        return JSONResponse({}, status_code=499)
    if any(c.finish_reason == "error" for c in run.choices):
        raise WorkerError("generation failed in the model server", status=500,
                          type_="server_error")
    choices = [
        {"index": i, "message": {"role": "assistant", "content": c.text},
         "logprobs": None, "finish_reason": c.finish_reason} if chat else
        {"index": i, "text": c.text, "logprobs": None, "finish_reason": c.finish_reason}
        for i, c in enumerate(run.choices)
    ]
    return {"id": rid, "object": "chat.completion" if chat else "text_completion",
            "created": created, "model": model, "choices": choices,
            "usage": usage(run.prompt_tokens, run.completion_tokens)}


async def _stream(request: Request, start: Callable[[], Run], body: Any, chat: bool,
                  model: str, rid: str, created: int) -> AsyncIterator[str]:
    obj = "chat.completion.chunk" if chat else "text_completion"

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> str:
        return _sse({"id": rid, "object": obj, "created": created, "model": model,
                     "choices": choices, **extra})

    started, run = time.monotonic(), start()
    try:
        if chat:
            for i in range(len(run.choices)):
                yield chunk([{"index": i, "delta": {"role": "assistant", "content": ""},
                              "logprobs": None, "finish_reason": None}])
        async for batch in run.event_batches():
            if any(e.finish_reason == "error" for e in batch):
                yield _sse({"error": {"message": "generation failed in the model server",
                                      "type": "server_error", "param": None, "code": None}})
                return
            merged: dict[int, tuple[str, str | None]] = {}
            for event in batch:
                text, reason = merged.get(event.index, ("", None))
                merged[event.index] = (text + event.text, event.finish_reason or reason)
            for index, (text, reason) in merged.items():
                if not text and reason is None:
                    continue
                if chat:
                    delta = {"content": text} if text else {}
                    yield chunk([{"index": index, "delta": delta, "logprobs": None,
                                  "finish_reason": reason}])
                else:
                    yield chunk([{"index": index, "text": text, "logprobs": None,
                                  "finish_reason": reason}])
        if body.include_usage_in_stream():
            yield chunk([], usage=usage(run.prompt_tokens, run.completion_tokens))
        yield _sse("[DONE]")
    finally:
        run.cancel()  # the client left early (or we are done: cancelling is then a no-op)
        _log_done(request, run, started, "streamed" if run.done else "stream closed early")


def completion_routes() -> APIRouter:
    """The text-generation routes (built per app: no module-level router state)."""
    router = APIRouter()

    @router.post("/v1/chat/completions")
    async def chat_completions(request: Request, body: ChatCompletionRequest) -> Any:
        backend = _text_backend(request, "chat")
        _check_chat(body)
        messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()}
                    for m in body.messages]
        try:
            prompt = backend.chat_prompt_ids(messages)
        except Exception as exc:  # jinja templates raise on unsupported role orders
            raise WorkerError(f"the chat template rejected these messages: {exc}",
                              param="messages") from exc
        params = await _params(backend, body, len(prompt), "messages", body.response_format)
        return await _respond(request, lambda: Run.start(backend, [prompt], params, body.n),
                              body, chat=True)

    @router.post("/v1/completions")
    async def completions(request: Request, body: CompletionRequest) -> Any:
        backend = _text_backend(request, "completions")
        _check_completion(body)
        prompts = [backend.text_prompt_ids(p) for p in body.prompts()]
        params = await _params(backend, body, max(len(p) for p in prompts), "prompt",
                               _extra(body, "response_format"))
        return await _respond(request, lambda: Run.start(backend, prompts, params, body.n),
                              body, chat=False)

    return router
