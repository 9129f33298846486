"""The agent runtime: an app's prompt, its knowledge, and a bounded tool-calling loop.

One run goes: render the app's prompt -> retrieve from the run's knowledge bases (numbered
sources) -> decide, step by step, whether to call a tool (at most `max_steps` calls) ->
one final model call that writes the answer, streamed like any chat completion.

Deciding uses OpenAI `tools` where the model's engines support them, otherwise a JSON
action protocol whose reply is constrained by a JSON Schema (`response_format`), so even
a small model can only name a tool the app allows. Either way the runtime re-checks every
call against the app's allowlist before running anything: knowledge-base text and tool
results are data placed in the prompt, and whatever they say, they cannot add a tool, a
knowledge base or a step.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from maas.catalog.apps import render_prompt
from maas.errors import MaasError
from maas.knowledge.grounding import Source, ground, select_sources
from maas.store.protocol import (
    action_schema,
    decision_messages,
    parse_action,
    tool_result_message,
)
from maas.store.runs import Trace, clip
from maas.store.subscriptions import Entitlement
from maas.store.tools import ToolContext, ToolError, ToolRegistry

log = logging.getLogger(__name__)

#: (chat completion payload) -> the engine's JSON response; metered by the caller.
ModelCall = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
DECISION_MAX_TOKENS = 200


class Agent:
    """One run of one app. Built per request; holds the run's state and its trace."""

    def __init__(self, entitlement: Entitlement, tools: ToolRegistry, context: ToolContext,
                 call: ModelCall, trace: Trace, *, tool_calling: bool = False,
                 constrained: bool = True, source_tokens: int = 2000) -> None:
        self.ent = entitlement
        self.registry = tools
        self.context = context
        self.call = call
        self.trace = trace
        self.tool_calling = tool_calling
        self.constrained = constrained
        self.source_tokens = source_tokens
        self.system = ""
        self.conversation: list[dict[str, Any]] = []
        self.sources: list[Source] = []
        self.tool_log: list[tuple[str, dict[str, Any], str]] = []  # (tool, args, result)
        self.variables: dict[str, str] = {}
        self.inputs: dict[str, Any] = {}
        self.query = ""

    # --- preparing --------------------------------------------------------------------

    @property
    def allowed(self) -> list[str]:
        """The app's tools that this gateway has: the only ones the model is offered."""
        return [t for t in self.ent.manifest.tools if self.registry.get(t) is not None]

    async def prepare(self, conversation: list[dict[str, Any]], variables: dict[str, str],
                      query: str, inputs: dict[str, Any] | None = None) -> None:
        """The app's system prompt, the caller's messages, and the first retrieval."""
        self.variables, self.inputs, self.query = variables, inputs or {}, query
        prompt = render_prompt(self.ent.app.prompt, variables)
        extra = [m["content"] for m in conversation
                 if m.get("role") in ("system", "developer") and isinstance(m.get("content"),
                                                                            str)]
        if extra:  # the caller's own instructions come after the app's, never instead
            prompt += "\n\nAdditional instructions from the user:\n" + "\n".join(extra)
        self.system = prompt
        self.conversation = [m for m in conversation if m.get("role") not in ("system",
                                                                                "developer")]
        self.trace.add("prompt", system=clip(prompt), messages=len(self.conversation))
        if self.ent.knowledge_bases and query:
            top_k = int(self.ent.parameters.get("knowledge_top_k", 4))
            hits = await self.context.search(query, top_k)
            self.sources = select_sources(hits, self.source_tokens)
            self.context.hits.extend(s.hit for s in self.sources)
            self.trace.add("retrieve", query=clip(query, 500),
                           knowledge_bases=self.ent.knowledge_bases,
                           hits=[_hit_summary(s.hit) for s in self.sources])

    # --- deciding and acting ------------------------------------------------------------

    async def act(self) -> None:
        """Run the app's preset calls, then call tools until the model is ready to answer
        or the step limit is reached."""
        if not self.allowed:
            return
        for preset in self.ent.manifest.first_tools:
            await self._run_tool(preset.tool, self._preset_arguments(preset.arguments))
        for step in range(self.ent.manifest.max_steps):
            calls = await self._decide(step)
            if not calls:
                return
            for name, arguments in calls:
                await self._run_tool(name, arguments)
        self.trace.add("limit", message=f"step limit of {self.ent.manifest.max_steps} "
                                        "tool calls reached; answering with what was found")

    async def _decide(self, step: int) -> list[tuple[str, dict[str, Any]]]:
        payload = self._decision_payload()
        try:
            response = await self.call(payload)
        except MaasError as exc:
            if self.constrained and "response_format" in exc.message:
                # An engine without structured output: fall back to parsing free text.
                self.constrained = False
                self.trace.add("notice", message="the engine cannot constrain output; "
                                                 "parsing the action from free text")
                response = await self.call(self._decision_payload())
            else:
                raise
        self.trace.count(response.get("usage"))
        message = (response.get("choices") or [{}])[0].get("message") or {}
        if self.tool_calling:
            calls = [(c["function"]["name"], _arguments(c["function"].get("arguments")))
                     for c in message.get("tool_calls") or [] if c.get("function")]
            self.trace.add("decide", step=step, mode="tools",
                           calls=[{"tool": n, "arguments": a} for n, a in calls],
                           content=clip(message.get("content") or "", 1000),
                           usage=response.get("usage"))
            return calls
        text = message.get("content") or ""
        action = parse_action(text)
        self.trace.add("decide", step=step, mode="json", raw=clip(text, 1000),
                       action=action, usage=response.get("usage"))
        if action is None or action[0] == "answer":
            return []
        return [action]

    def _preset_arguments(self, arguments: dict[str, Any]) -> dict[str, Any]:
        values = {**self.variables, "query": self.query}
        rendered: dict[str, Any] = {}
        for name, value in arguments.items():
            if isinstance(value, str) and value.strip() == "{{inputs}}":
                rendered[name] = dict(self.inputs)
            elif isinstance(value, str):
                rendered[name] = render_prompt(value, values)
            else:
                rendered[name] = value
        return rendered

    def _decision_payload(self) -> dict[str, Any]:
        system = self._system_with_sources()
        payload: dict[str, Any] = {"temperature": 0.0, "max_tokens": DECISION_MAX_TOKENS}
        tools = [self.registry.get(n) for n in self.allowed]
        if self.tool_calling:
            payload["messages"] = [{"role": "system", "content": system}, *self.conversation,
                                   *self._tool_turns()]
            payload["tools"] = [{"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.parameters}}
                for t in tools if t is not None]
            return payload
        payload["messages"] = decision_messages(system, self.conversation,
                                                [t for t in tools if t is not None],
                                                self.tool_log, self.context.language)
        if self.constrained:
            payload["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "agent_action", "strict": True,
                "schema": action_schema([t for t in tools if t is not None])}}
        return payload

    async def _run_tool(self, name: str, arguments: dict[str, Any]) -> None:
        """Run one call if the app allows it; anything else is refused, not run."""
        tool = self.registry.get(name) if name in self.allowed else None
        if tool is None:
            result = (f"error: tool {name!r} is not available to this app; available: "
                      f"{', '.join(self.allowed)}")
            self.trace.add("refused", tool=clip(name, 100), arguments=arguments,
                           reason="not in the app's tool allowlist")
            self.tool_log.append((name[:100], arguments, result))
            return
        timeout = self.ent.manifest.tool_timeout_seconds
        try:
            outcome = (await asyncio.wait_for(tool.run(self.context, arguments),
                                              timeout)).clipped()
            result, data, status = outcome.text, outcome.data, "ok"
        except TimeoutError:
            result, data, status = f"error: {name} took longer than {timeout:g} s", {}, \
                "timeout"
        except ToolError as exc:
            result, data, status = f"error: {exc}", {}, "error"
        except Exception as exc:  # a broken tool must not break the run
            log.exception("tool %s failed", name)
            result, data, status = f"error: {name} failed ({type(exc).__name__})", {}, "error"
        self.trace.add("tool", tool=name, arguments=arguments, status=status,
                       result=clip(result), data=data)
        self.tool_log.append((name, arguments, result))

    def _tool_turns(self) -> list[dict[str, Any]]:
        """Previous calls as OpenAI tool-call turns (for engines that take `tools`)."""
        turns: list[dict[str, Any]] = []
        for i, (name, arguments, result) in enumerate(self.tool_log):
            call_id = f"call_{i}"
            turns.append({"role": "assistant", "content": None, "tool_calls": [{
                "id": call_id, "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)}}]})
            turns.append({"role": "tool", "tool_call_id": call_id, "content": result})
        return turns

    # --- answering --------------------------------------------------------------------

    def _system_with_sources(self) -> str:
        if not self.ent.knowledge_bases:
            return self.system
        grounded = ground([{"role": "system", "content": self.system}], self.sources,
                          self.context.language)
        return grounded[0]["content"]

    def final_messages(self) -> list[dict[str, Any]]:
        """The answer's prompt: every source found (first retrieval and kb_search calls,
        renumbered within the budget) and the tool results, then the conversation."""
        if self.ent.knowledge_bases:
            self.sources = select_sources(self.context.hits, self.source_tokens)
        system = self._system_with_sources()
        if self.tool_log:
            system += "\n\n" + tool_result_message(self.tool_log, self.context.language)
        return [{"role": "system", "content": system}, *self.conversation]

    def citations(self) -> list[dict[str, Any]]:
        return [s.citation() for s in self.sources]


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _hit_summary(hit: dict[str, Any]) -> dict[str, Any]:
    return {"knowledge_base": hit.get("knowledge_base"), "document": hit.get("document"),
            "page": hit.get("page"), "score": hit.get("score")}
