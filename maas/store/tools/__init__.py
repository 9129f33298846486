"""Tools an app's agent may call, and the registry that holds them.

Built-in tools register themselves in `ToolRegistry.default()`; a package adds more through
the `maas.tools` entry-point group (each entry point names a zero-argument callable that
returns a `Tool`). An app lists the tools it may call; the runtime never offers or runs
any other, whatever the model or a document asks for.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

from maas.catalog.apps import TOOL_NAME_PATTERN
from maas.tenancy.principal import Principal

if TYPE_CHECKING:
    from maas.factory.service import Factory
    from maas.toolbox.service import Toolbox

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "maas.tools"
#: Characters of a tool result the model gets back; the rest is cut (and says so).
MAX_RESULT_CHARS = 4000


class ToolError(Exception):
    """A tool refused its input or failed; the message goes back to the model."""


#: Searches the knowledge bases the run may read: (query, top_k) -> hits as the
#: knowledge service returns them.
KnowledgeSearch = Callable[[str, int], Awaitable[list[dict[str, Any]]]]


@dataclass
class ToolContext:
    """What a tool may use during one run: nothing beyond what the run itself may do."""

    tenant_id: str
    app_slug: str
    language: str
    search: KnowledgeSearch
    hits: list[dict[str, Any]] = field(default_factory=list)  # kb_search results, citable
    #: The caller, for tools that keep what they make in the caller's tenant (a parser
    #: build, an assessment); None where a tool runs outside a request.
    principal: Principal | None = None


@dataclass(frozen=True)
class ToolResult:
    """Text for the model, plus structured data kept in the trace."""

    text: str
    data: dict[str, Any] = field(default_factory=dict)

    def clipped(self, limit: int = MAX_RESULT_CHARS) -> ToolResult:
        if len(self.text) <= limit:
            return self
        return ToolResult(self.text[:limit] + f"\n[result cut at {limit} characters]",
                          {**self.data, "truncated": True})


class Tool(Protocol):
    name: str
    description: str
    #: JSON Schema of the arguments object (an OpenAI function's `parameters`).
    parameters: dict[str, Any]

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> ToolResult: ...


class ToolRegistry:
    """Tools by name. Built once per gateway and passed to the runtime."""

    def __init__(self, tools: list[Tool] | None = None) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools or []:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        if not re.match(TOOL_NAME_PATTERN, tool.name):
            raise ValueError(f"tool name {tool.name!r} is not valid")
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is registered twice")
        self._tools[tool.name] = tool

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return sorted(self._tools)

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": t.name, "description": t.description, "parameters": t.parameters}
                for t in (self._tools[n] for n in self.names())]

    def load_entry_points(self) -> None:
        """Add the tools installed packages offer; a broken plugin is logged, not fatal."""
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            try:
                self.register(entry.load()())
            except Exception:
                log.exception("tool plugin %s could not be loaded", entry.name)

    @classmethod
    def default(cls, plugins: bool = True, toolbox: Toolbox | None = None,
                factory: Factory | None = None) -> ToolRegistry:
        """The built-in, industrial and factory tools (which keep their results in the
        caller's tenant when given the gateway's `toolbox` and `factory`), plus plugins."""
        from maas.store.tools.builtin import builtin_tools
        from maas.store.tools.factory import SoftwareFactoryTool
        from maas.store.tools.industrial import industrial_tools

        registry = cls([*builtin_tools(), *industrial_tools(toolbox),
                        SoftwareFactoryTool(factory)])
        if plugins:
            registry.load_entry_points()
        return registry
