"""Embedding chunks and queries with a model of the library, through its engine.

The knowledge layer does not know about engines: it gets a `post` function (the gateway
wires it to the router and the upstream client) and sends OpenAI embedding requests in
batches. Passages and queries are marked with `input_type`, which e5-style models need
("passage: " / "query: " prefixes) and other engines ignore.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

Post = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
BATCH = 32


class Embedder:
    def __init__(self, model: str, post: Post, batch: int = BATCH) -> None:
        self.model = model
        self.post = post
        self.batch = batch

    async def embed(self, texts: Sequence[str], input_type: str = "passage",
                    progress: bool = False) -> tuple[np.ndarray, int]:
        """Unit-length float32 vectors [n, dims], and the tokens the engine counted."""
        vectors: list[np.ndarray] = []
        tokens = 0
        bar = tqdm(total=len(texts), unit="chunk", desc=f"embedding ({self.model})",
                   disable=not progress)
        try:
            for start in range(0, len(texts), self.batch):
                part = list(texts[start:start + self.batch])
                result = await self.post({"model": self.model, "input": part,
                                          "encoding_format": "base64",
                                          "input_type": input_type})
                rows = sorted(result["data"], key=lambda d: d["index"])
                for row in rows:
                    vec = np.frombuffer(base64.b64decode(row["embedding"]), dtype="<f4")
                    vectors.append(vec)
                tokens += int((result.get("usage") or {}).get("prompt_tokens") or 0)
                bar.update(len(part))
        finally:
            bar.close()
        if not vectors:
            return np.zeros((0, 0), dtype=np.float32), 0
        matrix = np.vstack(vectors).astype(np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1, norms), tokens
