"""The built-in tools: knowledge-base search, a calculator and unit conversion.

The industrial toolbox's tools (thing models, protocol parsers, diagnosis) join here as
they land.
"""

from __future__ import annotations

from typing import Any

from maas.store.tools import Tool, ToolContext, ToolError, ToolResult
from maas.store.tools.calculator import Calculator
from maas.store.tools.units import UnitConverter

MAX_QUERY = 300
SNIPPET = 600


class KnowledgeSearchTool:
    """Searches only the knowledge bases the run may read (the app's and those the
    subscriber attached), never one the model names: the arguments carry a query only."""

    name = "kb_search"
    description = ("Search the app's knowledge bases for passages about a question. Returns "
                   "numbered passages with their document and page.")
    parameters = {"type": "object", "additionalProperties": False, "required": ["query"],
                  "properties": {"query": {"type": "string", "maxLength": MAX_QUERY},
                                 "top_k": {"type": "integer", "minimum": 1, "maximum": 8}}}

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        query = str(arguments.get("query", "")).strip()[:MAX_QUERY]
        if not query:
            raise ToolError("give a query")
        top_k = arguments.get("top_k", 4)
        top_k = top_k if isinstance(top_k, int) and 1 <= top_k <= 8 else 4
        hits = await context.search(query, top_k)
        if not hits:
            return ToolResult("No passages found.", {"hits": []})
        lines = []
        for hit in hits:
            context.hits.append(hit)
            where = hit.get("document") or ""
            if hit.get("page"):
                where += f", p. {hit['page']}"
            lines.append(f"[{len(context.hits)}] ({where}) {hit['text'][:SNIPPET]}")
        return ToolResult("\n".join(lines), {"hits": [
            {"document": h.get("document"), "page": h.get("page"), "score": h.get("score"),
             "knowledge_base": h.get("knowledge_base")} for h in hits]})


def builtin_tools() -> list[Tool]:
    return [KnowledgeSearchTool(), Calculator(), UnitConverter()]
