"""One document from checked bytes to stored chunks and their vectors.

Shared by tenant uploads and platform builds so both index a document the same way:
parse and chunk in a thread (CPU-bound), then embed every chunk with its section heading
in front (a chunk of a table or a list means more with the heading that names it), and the
sentence windows of every longer chunk (`windows`), in the same batches.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maas.errors import InvalidRequest
from maas.knowledge.chunking import chunk_blocks
from maas.knowledge.embedder import Embedder
from maas.knowledge.loaders import load
from maas.knowledge.store import StoredChunk, read_chunks, write_chunks
from maas.knowledge.uploads import Upload
from maas.knowledge.windows import Windows, window_texts

WINDOWS_SUFFIX = ".windows.npz"


@dataclass
class IngestedDocument:
    chunks: list[StoredChunk]
    vectors: np.ndarray
    tokens: int  # embedding tokens the engine counted
    windows: Windows | None = None

    @property
    def pages(self) -> int | None:
        return page_count(self.chunks)


def page_count(chunks: list[StoredChunk]) -> int | None:
    """The last page any chunk is on (None for formats without pages)."""
    return max((c.page or 0 for c in chunks), default=0) or None


def embedding_text(chunk: StoredChunk) -> str:
    return chunk.text if not chunk.section else f"{chunk.section}\n{chunk.text}"


def stored_chunks(upload: Upload, doc_id: str, size: int = 500, overlap: int = 80
                  ) -> list[StoredChunk]:
    """Parse and chunk a checked upload (CPU-bound: callers run it in a thread)."""
    return [StoredChunk(f"{doc_id}:{c.index}", doc_id, upload.name, c.index, c.text, c.kind,
                        c.page, c.section, c.start, c.end)
            for c in chunk_blocks(load(upload), size, overlap)]


async def ingest(upload: Upload, doc_id: str, embedder: Embedder, size: int = 500,
                 overlap: int = 80, progress: bool = False) -> IngestedDocument:
    chunks = await asyncio.to_thread(stored_chunks, upload, doc_id, size, overlap)
    if not chunks:
        raise InvalidRequest(f"{upload.name} has no text to index", param="file")
    owners, texts = window_texts([(c.text, c.kind, c.section) for c in chunks])
    vectors, tokens = await embedder.embed([embedding_text(c) for c in chunks] + texts,
                                           "passage", progress=progress)
    windows = Windows(np.asarray(owners, dtype=np.int32), vectors[len(chunks):])
    return IngestedDocument(chunks, vectors[:len(chunks)], tokens, windows)


def write_chunk_files(directory: Path, stem: str, chunks: list[StoredChunk],
                      vectors: np.ndarray, windows: Windows | None = None) -> list[Path]:
    """`<stem>.jsonl`, `<stem>.windows.npz` and `<stem>.npy`, each written whole then
    renamed into place (the `.npy` last: it marks the set complete for the caches)."""
    directory.mkdir(parents=True, exist_ok=True)
    chunk_file, vector_file = directory / f"{stem}.jsonl", directory / f"{stem}.npy"
    window_file = directory / f"{stem}{WINDOWS_SUFFIX}"
    written = [chunk_file]
    if windows is not None:
        windows.save(directory / f".{stem}.windows.tmp")
        os.replace(directory / f".{stem}.windows.tmp", window_file)
        written.append(window_file)
    tmp = directory / f".{stem}.jsonl.tmp"
    write_chunks(tmp, chunks)
    os.replace(tmp, chunk_file)
    with (directory / f".{stem}.npy.tmp").open("wb") as out:
        np.save(out, np.asarray(vectors, dtype=np.float32), allow_pickle=False)
    os.replace(directory / f".{stem}.npy.tmp", vector_file)
    return [*written, vector_file]


def read_chunk_files(directory: Path, stem: str) -> tuple[list[StoredChunk], np.ndarray]:
    return (read_chunks(directory / f"{stem}.jsonl"),
            np.load(directory / f"{stem}.npy", allow_pickle=False))


def read_windows(directory: Path, stem: str, dims: int) -> Windows:
    return Windows.load(directory / f"{stem}{WINDOWS_SUFFIX}", dims)
