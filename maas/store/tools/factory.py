"""The software factory as an agent tool: requirements text -> a draft spec and the next
questions, kept as a factory session in the caller's tenant so the user can go on in the
API or console (edit, confirm, generate, download)."""

from __future__ import annotations

import asyncio
from typing import Any

from maas.factory.dialogue import empty_spec, take_turn
from maas.factory.service import Factory
from maas.store.tools import ToolContext, ToolError, ToolResult

MAX_REQUIREMENTS = 8000


class SoftwareFactoryTool:
    name = "software_factory"
    description = ("Read business requirements (entities and their fields, relations, reports, "
                   "roles) into a structured spec draft; returns what was understood, what was "
                   "not, and the next clarifying question.")
    parameters = {"type": "object", "additionalProperties": False, "required": ["requirements"],
                  "properties": {"requirements": {"type": "string",
                                                  "maxLength": MAX_REQUIREMENTS}}}

    def __init__(self, factory: Factory | None = None) -> None:
        self.factory = factory

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        text = str(arguments.get("requirements") or "").strip()[:MAX_REQUIREMENTS]
        if not text:
            raise ToolError("give the requirements")
        language = "zh" if context.language.startswith("zh") else "en"
        session_id = None
        if self.factory is not None and context.principal is not None:
            who = context.principal
            row = await asyncio.to_thread(self.factory.create, who, language)
            turn, _ = await asyncio.to_thread(self.factory.send, who, row.id, text)
            session_id = row.id
        else:
            turn = await asyncio.to_thread(take_turn, empty_spec(language), text)
        spec = turn.spec
        lines = [f"Spec draft {spec.name!r}: {len(spec.entities)} entities, "
                 f"{len(spec.reports)} reports, {len(spec.roles)} roles."]
        for entity in spec.entities:
            fields = ", ".join(f"{f.name} ({f.type})" for f in entity.fields) or "no fields yet"
            lines.append(f"- {entity.label or entity.name}: {fields}")
        if turn.not_understood:
            lines.append("Not understood: " + "; ".join(turn.not_understood[:5]))
        lines.append("Next question: " + (turn.questions[0] if turn.questions else
                                          "none; the spec is complete and can be confirmed."))
        if session_id:
            lines.append(f"Continue at /v1/factory/sessions/{session_id} (messages, spec, "
                         "confirm, generate).")
        return ToolResult("\n".join(lines), {"spec": spec.model_dump(mode="json"),
                                             "session_id": session_id,
                                             "questions": turn.questions,
                                             "not_understood": turn.not_understood})
