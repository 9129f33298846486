"""Building the platform knowledge bases from `knowledge_bases/<id>/`.

A build runs when a base's content hash (its documents and index settings) differs from
the one recorded with its live index, at gateway start (in the background) or with
`maas kb build`. Each document's chunks and vectors are cached under a key of its bytes and
the settings, so changing one document re-embeds only that one. The new index version is
written in full before it goes live; a failure leaves the previous version serving and
the catalogue as it was. Builds take the knowledge base's lock, so two gateways starting
on one data dir build it once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sqlmodel import select

from maas.catalog.knowledge import CHUNK_FORMAT, PlatformKnowledgeBase
from maas.db.tables import KnowledgeBase, KnowledgeDocument, utcnow
from maas.knowledge.glossary import Glossary
from maas.knowledge.ingest import (
    ingest,
    page_count,
    read_chunk_files,
    read_windows,
    write_chunk_files,
)
from maas.knowledge.service import KnowledgeService
from maas.knowledge.store import StoredChunk, current_version, stack, write_version
from maas.knowledge.uploads import check_upload
from maas.knowledge.windows import Windows

log = logging.getLogger("maas.knowledge")
#: Platform documents are ours, not uploads, but a limit still guards against accidents.
MAX_PLATFORM_DOCUMENT_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class BuildResult:
    kb_id: str
    status: str  # built | up-to-date | failed
    documents: int = 0
    chunks: int = 0
    embedded: int = 0  # documents embedded now (not taken from the cache)
    seconds: float = 0.0
    error: str | None = None


def platform_doc_id(kb_id: str, name: str) -> str:
    """Stable across rebuilds, so citations and filters keep meaning the same document."""
    return "pdoc_" + hashlib.sha256(f"{kb_id}/{name}".encode()).hexdigest()[:16]


class PlatformBuilder:
    def __init__(self, service: KnowledgeService) -> None:
        self.service = service

    def _cache_dir(self, kb_id: str) -> Path:
        return self.service.root / kb_id / "cache"

    def _is_current(self, kb: PlatformKnowledgeBase, source_hash: str) -> bool:
        with self.service.db.session() as s:
            row = s.get(KnowledgeBase, kb.id)
        return (row is not None and row.source_hash == source_hash and row.status == "ready"
                and row.version is not None
                and current_version(self.service.root / kb.id) == row.version)

    def _register(self, kb: PlatformKnowledgeBase) -> None:
        """The catalogue row, so the base is listed (as `building`) before its first index."""
        m = kb.manifest
        with self.service.db.session() as s:
            row = s.get(KnowledgeBase, kb.id)
            if row is None:
                row = KnowledgeBase(id=kb.id, tenant_id=None, name=m.title.en,
                                    embedding_model=m.embedding_model, status="building")
            elif row.tenant_id is not None:
                raise ValueError(f"knowledge base id {kb.id!r} is taken by a tenant's base")
            row.name, row.name_zh = m.title.en, m.title.zh
            row.description, row.description_zh = m.description.en, m.description.zh or None
            row.industry = m.industry
            if current_version(self.service.root / kb.id) is None:
                row.status = "building"
            s.add(row)

    async def build(self, kb: PlatformKnowledgeBase, force: bool = False,
                    progress: bool = False) -> BuildResult:
        loop = asyncio.get_running_loop()
        started = loop.time()
        source_hash = await asyncio.to_thread(kb.content_hash)
        if not force and await asyncio.to_thread(self._is_current, kb, source_hash):
            return BuildResult(kb.id, "up-to-date")
        async with self.service.kb_lock(kb.id):
            source_hash = await asyncio.to_thread(kb.content_hash)  # may have changed
            if not force and await asyncio.to_thread(self._is_current, kb, source_hash):
                return BuildResult(kb.id, "up-to-date")  # another process built it
            await asyncio.to_thread(self._register, kb)
            try:
                result = await self._build_locked(kb, source_hash, progress)
            except Exception as exc:
                log.exception("building knowledge base %s failed", kb.id)
                await asyncio.to_thread(self._mark_failed, kb.id)
                return BuildResult(kb.id, "failed", error=f"{type(exc).__name__}: {exc}")
        built = BuildResult(kb.id, "built", result[0], result[1], result[2],
                            round(loop.time() - started, 2))
        log.info("knowledge base %s: %d documents, %d chunks (%d embedded) in %.1fs",
                 kb.id, built.documents, built.chunks, built.embedded, built.seconds)
        return built

    def _mark_failed(self, kb_id: str) -> None:
        with self.service.db.session() as s:
            row = s.get(KnowledgeBase, kb_id)
            if row is not None and current_version(self.service.root / kb_id) is None:
                row.status = "failed"
                s.add(row)

    async def _build_locked(self, kb: PlatformKnowledgeBase, source_hash: str,
                            progress: bool) -> tuple[int, int, int]:
        m = kb.manifest
        embedder = self.service.embedder_for(m.embedding_model)
        cache = self._cache_dir(kb.id)
        chunks: list[StoredChunk] = []
        vectors: list[np.ndarray] = []
        windows: list[tuple[Windows, int]] = []
        documents: list[KnowledgeDocument] = []
        used: set[str] = set()
        embedded = 0
        for path in kb.documents():
            name = kb.name_of(path)
            data = await asyncio.to_thread(path.read_bytes)
            upload = check_upload(path.name, data, MAX_PLATFORM_DOCUMENT_BYTES)
            digest = hashlib.sha256(data).hexdigest()
            doc_id = platform_doc_id(kb.id, name)
            key = hashlib.sha256(
                f"{CHUNK_FORMAT}|{m.embedding_model}|{m.splitter.model_dump_json()}|{name}|"
                f"{digest}".encode()).hexdigest()[:32]
            used.add(key)
            if (cache / f"{key}.npy").exists():
                doc_chunks, doc_vectors = await asyncio.to_thread(read_chunk_files, cache, key)
                doc_windows = await asyncio.to_thread(read_windows, cache, key,
                                                      doc_vectors.shape[1])
            else:
                if progress:
                    log.info("%s: indexing %s", kb.id, name)
                ingested = await ingest(upload, doc_id, embedder, m.splitter.chunk_size,
                                        m.splitter.chunk_overlap, progress)
                # Chunks carry the document's path name, not only its file name.
                doc_chunks = [replace(c, doc_name=name) for c in ingested.chunks]
                doc_vectors, doc_windows = ingested.vectors, ingested.windows
                await asyncio.to_thread(write_chunk_files, cache, key, doc_chunks, doc_vectors,
                                        doc_windows)
                embedded += 1
            if doc_windows is not None:
                windows.append((doc_windows, len(chunks)))
            chunks.extend(doc_chunks)
            vectors.append(doc_vectors)
            documents.append(KnowledgeDocument(
                id=doc_id, kb_id=kb.id, tenant_id=None, name=name, kind=upload.kind,
                size=len(data), sha256=digest, chunks=len(doc_chunks),
                pages=page_count(doc_chunks)))
        matrix = stack(vectors)
        glossary = kb.glossary()
        if glossary is not None:
            Glossary.parse(glossary)  # a broken term base fails the build, not the searches
        version = await asyncio.to_thread(
            write_version, self.service.root / kb.id, chunks, matrix,
            {"embedding_model": m.embedding_model, "dimensions": int(matrix.shape[1]),
             "source_hash": source_hash}, glossary,
            Windows.concat(windows, int(matrix.shape[1])))
        await asyncio.to_thread(self._commit, kb.id, version, source_hash, documents,
                                len(chunks))
        for stale in cache.glob("*"):
            if stale.name.split(".")[0] not in used:
                stale.unlink(missing_ok=True)
        return len(documents), len(chunks), embedded

    def _commit(self, kb_id: str, version: str, source_hash: str,
                documents: list[KnowledgeDocument], total: int) -> None:
        """Catalogue the new version: the base's row and its documents, in one transaction."""
        with self.service.db.session() as s:
            for old in s.exec(select(KnowledgeDocument).where(KnowledgeDocument.kb_id == kb_id)):
                s.delete(old)
            s.flush()
            for doc in documents:
                s.add(doc)
            row = s.get(KnowledgeBase, kb_id)
            row.documents, row.chunks, row.version = len(documents), total, version
            row.source_hash, row.updated_at = source_hash, utcnow()
            row.status = "ready" if total else "empty"
            s.add(row)
        self.service.forget(kb_id)

    async def build_all(self, kbs: list[PlatformKnowledgeBase], force: bool = False,
                        progress: bool = False) -> list[BuildResult]:
        """Build every base that needs it, one at a time (embedding is the bottleneck)."""
        return [await self.build(kb, force, progress) for kb in kbs]
