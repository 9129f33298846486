"""Model calls the toolbox makes for a caller: entitled, admitted, metered and attributed.

A tool's model call is a chat completion like any other: the caller's plan and key scope
decide whether the model may be used, the credits and limits admit it, and its usage
record names the tool (`tool:<name>`) so a tenant sees what the tokens were spent on.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from maas.api.openai.serving import open_forwarder, resolve_model
from maas.services import Services
from maas.tenancy.principal import Principal
from maas.toolbox.assessments import ModelCall


class CallerGone(Exception):
    """The client went away before the tool's model call finished."""


def tool_model_call(svc: Services, request: Request, who: Principal, model_id: str,
                    tool: str) -> ModelCall:
    """A `ModelCall` for `model_id`, checked now (so a bad model is a 404 before any work)."""
    manifest = resolve_model(svc, who, model_id, "chat.completions")

    async def call(payload: dict[str, Any]) -> dict[str, Any]:
        body = {**payload, "model": manifest.id}
        forwarder = await open_forwarder(svc, request, who, manifest, "chat.completions",
                                         body, f"tool:{tool}")
        result = await forwarder.fetch("/chat/completions", body)
        if result is None:
            raise CallerGone()
        return result

    return call
