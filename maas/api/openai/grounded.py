"""Knowledge in chat: `knowledge_bases` on `/v1/chat/completions`.

Before admission, so the metered prompt is the one the engine really reads: retrieve from
the caller's visible knowledge bases with the last user message, put the numbered sources
into the prompt, and keep them to return as `citations`. Works with any chat model: the
engine only ever sees an ordinary chat request.
"""

from __future__ import annotations

from typing import Any

from maas.catalog.models import ModelManifest
from maas.knowledge.cleaning import text_language
from maas.knowledge.grounding import ground, query_of, select_sources
from maas.metering.meter import wanted_completion
from maas.services import Services
from maas.tenancy.principal import Principal

DEFAULT_TOP_K = 5
#: Sources never take more than this many (estimated) tokens, whatever the context.
MAX_SOURCE_TOKENS = 6000
MIN_SOURCE_TOKENS = 256


def source_budget(manifest: ModelManifest, payload: dict[str, Any]) -> int:
    """Tokens the sources may use: half of what the context leaves after the answer."""
    room = manifest.context_length - wanted_completion("chat.completions", payload, manifest)
    return max(MIN_SOURCE_TOKENS, min(MAX_SOURCE_TOKENS, room // 2))


async def ground_request(svc: Services, who: Principal, manifest: ModelManifest,
                         payload: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The payload to forward (extension fields removed, sources added) and the citations."""
    kb_ids: list[str] = payload.pop("knowledge_bases")
    top_k = payload.pop("knowledge_top_k", None) or DEFAULT_TOP_K
    query = query_of(payload["messages"])
    hits = (await svc.knowledge.search(who, kb_ids, query, top_k) if query else [])
    sources = select_sources(hits, source_budget(manifest, payload))
    payload = {**payload, "messages": ground(payload["messages"], sources,
                                             text_language(query))}
    return payload, [source.citation() for source in sources]
