"""Running an app over HTTP: `model: "app:<slug>"` on `/v1/chat/completions`, and form runs.

The agent (`maas.store.runtime`) decides and calls tools; this module gives it metered
model calls and sends its final answer the way any chat completion goes out (JSON or
SSE, citations on the final chunk). Every model call of a run is metered on its own and
charged to the app (`app_id`); an app's per-run fee is charged once the run answered.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from maas.api.deps import in_session
from maas.api.openai.grounded import source_budget
from maas.api.openai.serving import Forwarder, open_forwarder
from maas.catalog.models import ModelManifest
from maas.engines.upstream import UpstreamStatusError
from maas.errors import (
    InvalidRequest,
    MaasError,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    UpstreamError,
)
from maas.knowledge.cleaning import text_language
from maas.knowledge.grounding import query_of
from maas.metering.charges import affordable, charge
from maas.services import Services
from maas.store.catalog import render_readme
from maas.store.forms import check_inputs, user_message, variables
from maas.store.runs import Trace, clip, run_view
from maas.store.runtime import Agent
from maas.store.subscriptions import Entitlement
from maas.store.tools import ToolContext
from maas.tenancy.principal import Principal

APP_PREFIX = "app:"
#: Request fields an app call passes on to the final answer (the rest the app decides).
PASSTHROUGH = ("stream", "stop", "seed", "top_p", "presence_penalty", "frequency_penalty",
               "user")
REFUSED = {"tools": "an app calls its own tools", "tool_choice": "an app calls its own tools",
           "knowledge_bases": "attach knowledge bases in the subscription's settings",
           "response_format": "form apps declare their output format"}


class ClientGone(Exception):
    """The client disconnected during a step; the run ends as cancelled."""


class AppRunner:
    """One run of one app for one HTTP request."""

    def __init__(self, svc: Services, request: Request, who: Principal, ent: Entitlement,
                 kind: str) -> None:
        self.svc = svc
        self.request = request
        self.who = who
        self.ent = ent
        self.kind = kind
        self.model: ModelManifest = svc.router.manifest(ent.manifest.model, who.tenant_id)
        self.request_id: str | None = request.scope.get("state", {}).get("request_id")
        self.trace: Trace | None = None
        self.agent: Agent | None = None
        self.unavailable: set[str] = set()

    @classmethod
    async def open(cls, svc: Services, request: Request, who: Principal, slug: str,
                   kind: str) -> AppRunner:
        ent = await asyncio.to_thread(svc.apps.subscriptions.entitle, who, slug)
        if ent.manifest.kind != kind:
            hint = (f"POST /v1/apps/{slug}/runs with its form's inputs" if kind == "chat"
                    else f"/v1/chat/completions with model 'app:{slug}'")
            raise InvalidRequest(f"app {slug!r} is a {ent.manifest.kind} app; use {hint}",
                                 param="model", code="app_kind")
        model = svc.router.manifest(ent.manifest.model, who.tenant_id)
        if not who.plan_limits.allows_tags(model.tags):
            raise PermissionDenied(f"app {slug!r} runs on {model.id!r}, which the plan "
                                   f"{who.plan_id!r} does not include", param="model")
        return cls(svc, request, who, ent, kind)

    # --- the run ----------------------------------------------------------------------

    async def start(self, conversation: list[dict[str, Any]], variables: dict[str, str],
                    run_input: dict[str, Any]) -> Agent:
        """Check the fee can be paid, then retrieve and run the tool loop."""
        fee = self.ent.fee()
        if fee is not None:
            await in_session(self.svc, lambda s: affordable(s, self.who, fee))
        query = query_of(conversation)
        language = text_language(query) if query else "en"
        self.trace = await asyncio.to_thread(
            self.svc.apps.runs.start, self.who, self.ent.slug, self.ent.app.version,
            self.kind, run_input, self.request_id)

        async def search(text: str, top_k: int) -> list[dict[str, Any]]:
            """The run's bases; one that is missing or still being built is skipped (and
            noted in the trace) so the app answers from the others."""
            kb_ids = [k for k in self.ent.knowledge_bases if k not in self.unavailable]
            try:
                return await self.svc.knowledge.search(self.who, kb_ids, text, top_k,
                                                       grants=self.ent.grants)
            except (NotFound, ServiceUnavailable):
                pass
            hits: list[dict[str, Any]] = []
            for kb_id in kb_ids:
                try:
                    hits += await self.svc.knowledge.search(self.who, [kb_id], text, top_k,
                                                            grants=self.ent.grants)
                except (NotFound, ServiceUnavailable) as exc:
                    self.unavailable.add(kb_id)
                    assert self.trace is not None
                    self.trace.add("notice", knowledge_base=kb_id,
                                   message=f"knowledge base skipped: {exc.message}")
            return sorted(hits, key=lambda h: -h["score"])[:top_k]

        context = ToolContext(self.who.tenant_id, self.ent.slug, language, search,
                              principal=self.who)
        budget = source_budget(self.model, {"max_tokens": self.max_tokens(None)})
        self.agent = Agent(self.ent, self.svc.apps.tools, context, self.call, self.trace,
                           tool_calling=self.model.tool_calling, source_tokens=budget)
        try:
            await self.agent.prepare(conversation, {
                "app_title": self.ent.manifest.title.zh if language == "zh"
                else self.ent.manifest.title.en,
                "today": _today(), "language": language, **variables}, query,
                run_input.get("inputs"))
            await self.agent.act()
        except BaseException as exc:
            await self.fail(exc)
            raise
        return self.agent

    def max_tokens(self, asked: int | None) -> int:
        spec = self.ent.manifest.parameters.max_tokens
        wanted = asked or int(self.ent.parameters.get("max_tokens", spec.default))
        return int(min(max(wanted, spec.minimum), spec.maximum))

    def temperature(self, asked: float | None) -> float:
        spec = self.ent.manifest.parameters.temperature
        value = self.ent.parameters.get("temperature", spec.default) if asked is None else asked
        return float(min(max(value, spec.minimum), spec.maximum))

    async def call(self, payload: dict[str, Any]) -> dict[str, Any]:
        """One metered, non-streamed model call of the run (a decision step)."""
        payload = {**payload, "model": self.model.id}
        forwarder = await self.forwarder(payload)
        try:
            result = await forwarder.fetch("/chat/completions", payload)
        except UpstreamStatusError as exc:
            error = exc.body.get("error") if isinstance(exc.body, dict) else None
            message = (error or {}).get("message") if isinstance(error, dict) else str(exc.body)
            if exc.status < 500:
                raise InvalidRequest(f"the app's model refused a step: {message}") from exc
            raise UpstreamError(f"the app's model failed a step: {message}") from exc
        if result is None:
            raise ClientGone()
        return result

    async def forwarder(self, payload: dict[str, Any], **options: Any) -> Forwarder:
        """An admitted, routed model call of this run, metered and charged to the app."""
        return await open_forwarder(self.svc, self.request, self.who, self.model,
                                    "chat.completions", payload, self.ent.slug,
                                    public_model=f"{APP_PREFIX}{self.ent.slug}", **options)

    # --- ending -------------------------------------------------------------------------

    async def answer(self, payload: dict[str, Any], stream: bool, include_usage: bool
                     ) -> Response:
        """The final answer, JSON or SSE; the run is completed when it has gone out."""
        assert self.agent is not None and self.trace is not None
        extra = {"citations": self.agent.citations(),
                 "app_run": {"id": self.trace.run_id, "app": self.ent.slug}}
        try:
            forwarder = await self.forwarder(payload, extra=extra, on_done=self.done)
        except BaseException as exc:
            await self.fail(exc)
            raise
        if stream:
            return await forwarder.stream("/chat/completions", payload, include_usage)
        return await forwarder.json("/chat/completions", payload)

    async def done(self, status: int, usage: dict[str, Any] | None, outcome: str,
                   text: str, output: dict[str, Any] | None = None) -> None:
        """Record the answer, charge the run's fee if it answered, store the trace."""
        assert self.trace is not None and self.agent is not None
        self.trace.count(usage)
        self.trace.add("answer", status=status, outcome=outcome, content=clip(text),
                       usage=usage)
        ok = status == 200
        state = "ok" if ok else ("cancelled" if outcome == "cancelled" else "error")
        fee = self.ent.fee() if ok else None
        trace, citations = self.trace, self.agent.citations()

        def store() -> None:
            cost = 0
            if fee is not None:
                with self.svc.db.session(write=True) as session:
                    cost = charge(session, self.who, fee, self.request_id, full=False).cost
            self.svc.apps.runs.finish(trace, state, output or {"content": text}, citations,
                                      None if ok else f"the answer ended with {status}", cost)

        await asyncio.to_thread(store)

    async def fail(self, exc: BaseException) -> None:
        if self.trace is None:
            return
        cancelled = isinstance(exc, ClientGone | asyncio.CancelledError)
        message = exc.message if isinstance(exc, MaasError) else type(exc).__name__
        self.trace.add("error", message=message)
        trace = self.trace
        await asyncio.to_thread(self.svc.apps.runs.finish, trace,
                                "cancelled" if cancelled else "error", None,
                                self.agent.citations() if self.agent else [], message)


def _today() -> str:
    return date.today().isoformat()


def refuse_extensions(payload: dict[str, Any]) -> None:
    for name, why in REFUSED.items():
        if payload.get(name):
            raise InvalidRequest(f"{name} cannot be set when calling an app: {why}",
                                 param=name)


async def app_chat(svc: Services, request: Request, payload: dict[str, Any], who: Principal,
                   stream: bool, include_usage: bool) -> Response:
    """`/v1/chat/completions` for `model: "app:<slug>"`."""
    refuse_extensions(payload)
    runner = await AppRunner.open(svc, request, who, payload["model"][len(APP_PREFIX):],
                                  "chat")
    conversation = payload["messages"]
    agent = await runner.start(conversation, {}, {
        "messages": [{"role": m.get("role"), "content": clip(str(m.get("content")), 2000)}
                     for m in conversation[-4:]]})
    final = {k: payload[k] for k in PASSTHROUGH if k in payload}
    final.update(model=runner.model.id, messages=agent.final_messages(),
                 temperature=runner.temperature(payload.get("temperature")),
                 max_tokens=runner.max_tokens(payload.get("max_completion_tokens")
                                              or payload.get("max_tokens")))
    return await runner.answer(final, stream, include_usage)


def parse_output(kind: str, text: str) -> dict[str, Any]:
    """A form run's output: the JSON object, or the text (a document also as HTML)."""
    if kind == "json":
        try:
            return {"type": "json", "json": json.loads(text)}
        except ValueError:
            return {"type": "json", "json": None, "raw": text,
                    "error": "the model's output was not valid JSON"}
    output = {"type": kind, "format": "markdown", "content": text}
    if kind == "document":
        output["html"] = render_readme(text)
    return output


async def form_run(svc: Services, request: Request, who: Principal, slug: str,
                   inputs: dict[str, Any]) -> dict[str, Any] | None:
    """`POST /v1/apps/{slug}/runs`: checked inputs -> agent -> structured output."""
    runner = await AppRunner.open(svc, request, who, slug, "form")
    manifest = runner.ent.manifest
    form = manifest.input_form or []
    values = check_inputs(form, inputs)
    language = text_language(" ".join(v for v in values.values() if isinstance(v, str)))
    message = user_message(form, values, language)
    agent = await runner.start([{"role": "user", "content": message}],
                               variables(form, values, language), {"inputs": values})
    final: dict[str, Any] = {"model": runner.model.id, "messages": agent.final_messages(),
                             "temperature": runner.temperature(None),
                             "max_tokens": runner.max_tokens(None)}
    if manifest.output.type == "json":
        final["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "output", "strict": True, "schema": manifest.output.json_schema}}
    try:
        forwarder = await runner.forwarder(final)
        result = await forwarder.fetch("/chat/completions", final)
    except BaseException as exc:
        await runner.fail(exc)
        raise
    if result is None:
        await runner.done(499, None, "cancelled", "")
        return None
    text = ((result.get("choices") or [{}])[0].get("message") or {}).get("content") or ""
    await runner.done(200, result.get("usage"), "ok", text,
                      parse_output(manifest.output.type, text))
    assert runner.trace is not None
    run = await asyncio.to_thread(svc.apps.runs.get, who, runner.trace.run_id)
    return run_view(run)
