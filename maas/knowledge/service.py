"""Knowledge bases as a service: create, ingest, delete, search, tenant-scoped.

Ingesting a document: check the upload, parse and chunk it (in a thread), embed its
chunks through the library's embedding model, write the document's chunk and vector
files, then write a new index version from every document's files and switch to it.
Only after all of that does the database row commit. Any failure removes the new files
and leaves the knowledge base, on disk and in the database, exactly as it was.

A tenant sees platform knowledge bases and its own; anything else answers 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlmodel import col, func, or_, select

from maas.db.database import Database
from maas.db.tables import KnowledgeBase, KnowledgeDocument, utcnow
from maas.errors import Conflict, InvalidRequest, NotFound, PermissionDenied, ServiceUnavailable
from maas.knowledge.embedder import Embedder
from maas.knowledge.ingest import (
    WINDOWS_SUFFIX,
    ingest,
    read_chunk_files,
    read_windows,
    write_chunk_files,
)
from maas.knowledge.store import (
    Hit,
    Snapshot,
    StoredChunk,
    current_version,
    read_chunks,
    stack,
    write_version,
)
from maas.knowledge.uploads import check_upload
from maas.knowledge.windows import Windows
from maas.tenancy import audit
from maas.tenancy.principal import TENANT_ADMIN, Principal

#: Told (caller, embedding model, tokens) after a search embedded its query; the gateway
#: meters it like an embeddings request.
QueryMeter = Callable[[Principal, str, int], Awaitable[None]]
DEFAULT_EMBEDDING_MODEL = "multilingual-e5-small"
MAX_DOCUMENTS = 1000


def kb_view(kb: KnowledgeBase) -> dict[str, Any]:
    return {"id": kb.id, "object": "knowledge_base", "name": kb.name,
            "description": kb.description, "name_zh": kb.name_zh,
            "description_zh": kb.description_zh, "industry": kb.industry,
            "visibility": "platform" if kb.tenant_id is None else "tenant",
            "tenant_id": kb.tenant_id, "embedding_model": kb.embedding_model,
            "status": kb.status, "documents": kb.documents, "chunks": kb.chunks,
            "created_at": kb.created_at, "updated_at": kb.updated_at}


def document_view(doc: KnowledgeDocument) -> dict[str, Any]:
    return {"id": doc.id, "object": "knowledge_document", "kb_id": doc.kb_id,
            "name": doc.name, "kind": doc.kind, "size": doc.size, "sha256": doc.sha256,
            "chunks": doc.chunks, "pages": doc.pages, "created_at": doc.created_at,
            "updated_at": doc.updated_at}


def hit_view(hit: Hit) -> dict[str, Any]:
    chunk = hit.chunk
    return {"document_id": chunk.doc_id, "document": chunk.doc_name, "page": chunk.page,
            "section": chunk.section, "kind": chunk.kind, "chunk": chunk.index,
            "start": chunk.start, "end": chunk.end, "text": chunk.text, "score": hit.score,
            "lexical_rank": hit.lexical_rank, "vector_rank": hit.vector_rank,
            "neutral_rank": hit.neutral_rank}


def _document_count(session: Any, kb_id: str) -> int:
    return session.exec(select(func.count()).select_from(KnowledgeDocument).where(
        KnowledgeDocument.kb_id == kb_id)).one()


class KnowledgeService:
    def __init__(self, db: Database, root: Path, embedder_for: Callable[[str], Embedder],
                 max_upload_bytes: int) -> None:
        self.db = db
        self.root = root
        self.embedder_for = embedder_for
        self.max_upload_bytes = max_upload_bytes
        self._locks: dict[str, asyncio.Lock] = {}
        self._snapshots: dict[str, Snapshot] = {}
        #: Searches cost embedding tokens; None (the CLI, tests of the service) meters none.
        self.on_query_tokens: QueryMeter | None = None

    # --- catalogue ---------------------------------------------------------------

    def _visible(self, who: Principal, kb: KnowledgeBase | None, kb_id: str) -> KnowledgeBase:
        if kb is None or not (kb.tenant_id is None or kb.tenant_id == who.tenant_id
                              or who.is_platform_admin):
            raise NotFound(f"knowledge base {kb_id!r} not found")
        return kb

    def _writable(self, who: Principal, kb: KnowledgeBase) -> None:
        """Members may change their tenant's bases. The platform's are built from files
        (an API change would be undone by the next build), so nobody writes them here."""
        if kb.tenant_id is None:
            raise PermissionDenied(
                "platform knowledge bases are built from knowledge_bases/<id>/: change the "
                "files there and run `maas kb build`")

    def get(self, who: Principal, kb_id: str) -> KnowledgeBase:
        with self.db.session() as s:
            return self._visible(who, s.get(KnowledgeBase, kb_id), kb_id)

    def list(self, who: Principal) -> list[KnowledgeBase]:
        with self.db.session() as s:
            statement = select(KnowledgeBase).where(or_(
                col(KnowledgeBase.tenant_id).is_(None),
                KnowledgeBase.tenant_id == who.tenant_id))
            return list(s.exec(statement.order_by(col(KnowledgeBase.created_at))))

    def create(self, who: Principal, name: str, description: str = "",
               embedding_model: str = DEFAULT_EMBEDDING_MODEL,
               industry: str | None = None) -> KnowledgeBase:
        if not name.strip():
            raise InvalidRequest("a knowledge base needs a name", param="name")
        with self.db.session() as s:
            kb = KnowledgeBase(id="kb_" + secrets.token_hex(8), tenant_id=who.tenant_id,
                               name=name.strip(), description=description,
                               embedding_model=embedding_model, industry=industry)
            s.add(kb)
            s.flush()
            audit.record(s, who, "kb.create", "knowledge_base", kb.id, who.tenant_id,
                         name=kb.name)
            return kb

    def delete(self, who: Principal, kb_id: str) -> None:
        with self.db.session() as s:
            kb = self._visible(who, s.get(KnowledgeBase, kb_id), kb_id)
            self._writable(who, kb)
            if not who.outranks_or_equals(TENANT_ADMIN):
                raise PermissionDenied("deleting a knowledge base needs the tenant_admin role")
            for doc in s.exec(select(KnowledgeDocument).where(
                    KnowledgeDocument.kb_id == kb_id)):
                s.delete(doc)
            s.delete(kb)
            audit.record(s, who, "kb.delete", "knowledge_base", kb_id, kb.tenant_id)
        shutil.rmtree(self.root / kb_id, ignore_errors=True)
        self._snapshots.pop(kb_id, None)

    def documents(self, who: Principal, kb_id: str) -> list[KnowledgeDocument]:
        self.get(who, kb_id)
        with self.db.session() as s:
            return list(s.exec(select(KnowledgeDocument).where(
                KnowledgeDocument.kb_id == kb_id).order_by(col(KnowledgeDocument.created_at))))

    def document(self, who: Principal, kb_id: str, doc_id: str) -> KnowledgeDocument:
        self.get(who, kb_id)
        with self.db.session() as s:
            doc = s.get(KnowledgeDocument, doc_id)
            if doc is None or doc.kb_id != kb_id:
                raise NotFound(f"document {doc_id!r} not found")
            return doc

    def document_text(self, who: Principal, kb_id: str, doc_id: str) -> str:
        """A document's text as indexed, for tools that read a whole document (a datasheet
        for the thing-model generator). Rebuilt from its chunks: the overlap between
        consecutive text chunks is dropped by their offsets; a table chunk is kept whole
        (each carries the table's header, which readers of tables need)."""
        doc = self.document(who, kb_id, doc_id)
        path = self._docs_dir(kb_id) / f"{doc.id}.jsonl"
        if not path.exists():
            raise NotFound(f"document {doc_id!r} has no indexed text yet")
        parts: list[str] = []
        reached = 0
        for chunk in sorted(read_chunks(path), key=lambda c: c.index):
            if chunk.kind == "table" or chunk.end - chunk.start != len(chunk.text):
                parts.append(chunk.text)
            elif chunk.end > reached:
                parts.append(chunk.text[max(0, reached - chunk.start):])
            reached = max(reached, chunk.end)
        return "\n".join(p for p in parts if p)

    # --- ingestion -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def kb_lock(self, kb_id: str) -> AsyncIterator[None]:
        """One writer per knowledge base: across tasks (asyncio) and across gateway
        processes sharing the data dir (an advisory file lock)."""
        async with self._locks.setdefault(kb_id, asyncio.Lock()):
            path = self.root / ".locks" / f"{kb_id}.lock"
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing the descriptor releases the lock

    def _docs_dir(self, kb_id: str) -> Path:
        return self.root / kb_id / "docs"

    async def add_document(self, who: Principal, kb_id: str, filename: str, data: bytes
                           ) -> tuple[KnowledgeDocument, int]:
        """Ingest (or re-ingest, by name) one document; all or nothing. Returns the
        document and the embedding tokens it took (for metering)."""
        kb = self.get(who, kb_id)
        self._writable(who, kb)
        upload = check_upload(filename, data, self.max_upload_bytes)
        doc_id = "doc_" + secrets.token_hex(8)
        ingested = await ingest(upload, doc_id, self.embedder_for(kb.embedding_model))
        digest = hashlib.sha256(data).hexdigest()
        async with self.kb_lock(kb_id):
            with self.db.session() as s:
                existing = s.exec(select(KnowledgeDocument).where(
                    KnowledgeDocument.kb_id == kb_id,
                    KnowledgeDocument.name == upload.name)).first()
                count = _document_count(s, kb_id)
            if existing is None and count >= MAX_DOCUMENTS:
                raise Conflict(f"a knowledge base holds at most {MAX_DOCUMENTS} documents")
            written = await asyncio.to_thread(write_chunk_files, self._docs_dir(kb_id), doc_id,
                                              ingested.chunks, ingested.vectors,
                                              ingested.windows)
            replaced = [existing.id] if existing else []
            rebuilt = False
            try:
                version, total = await asyncio.to_thread(self._rebuild, kb, replaced)
                rebuilt = True
                with self.db.session() as s:
                    if existing is not None:
                        s.delete(s.get(KnowledgeDocument, existing.id))
                        s.flush()
                    doc = KnowledgeDocument(id=doc_id, kb_id=kb_id, tenant_id=kb.tenant_id,
                                            name=upload.name, kind=upload.kind, size=len(data),
                                            sha256=digest, chunks=len(ingested.chunks),
                                            pages=ingested.pages)
                    s.add(doc)
                    self._update_counts(s, kb_id, version, total)
                    audit.record(s, who, "kb.document.add", "knowledge_document", doc_id,
                                 kb.tenant_id, kb_id=kb_id, name=upload.name,
                                 replaced=replaced)
            except BaseException:
                for path in written:
                    path.unlink(missing_ok=True)
                if rebuilt:  # the catalogue did not take it: index the old set again
                    await asyncio.to_thread(self._rebuild, kb, [])
                raise
            for old in replaced:
                self._remove_doc_files(kb_id, old)
            return doc, ingested.tokens

    async def delete_document(self, who: Principal, kb_id: str, doc_id: str) -> None:
        kb = self.get(who, kb_id)
        self._writable(who, kb)
        if not who.outranks_or_equals(TENANT_ADMIN) and not who.is_platform_admin:
            raise PermissionDenied("deleting documents needs the tenant_admin role")
        self.document(who, kb_id, doc_id)
        async with self.kb_lock(kb_id):
            version, total = await asyncio.to_thread(self._rebuild, kb, [doc_id])
            with self.db.session() as s:
                doc = s.get(KnowledgeDocument, doc_id)
                if doc is not None:
                    s.delete(doc)
                self._update_counts(s, kb_id, version, total)
                audit.record(s, who, "kb.document.delete", "knowledge_document", doc_id,
                             kb.tenant_id, kb_id=kb_id)
            self._remove_doc_files(kb_id, doc_id)

    def _update_counts(self, s: Any, kb_id: str, version: str, total: int) -> None:
        kb = s.get(KnowledgeBase, kb_id)
        s.flush()
        kb.documents = _document_count(s, kb_id)
        kb.chunks, kb.version, kb.updated_at = total, version, utcnow()
        kb.status = "ready" if total else "empty"
        s.add(kb)

    def _remove_doc_files(self, kb_id: str, doc_id: str) -> None:
        for suffix in (".jsonl", ".npy", WINDOWS_SUFFIX):
            (self._docs_dir(kb_id) / f"{doc_id}{suffix}").unlink(missing_ok=True)

    def _rebuild(self, kb: KnowledgeBase, without: list[str]) -> tuple[str, int]:
        """A new index version from every document's files (minus `without`)."""
        directory = self._docs_dir(kb.id)
        chunks: list[StoredChunk] = []
        vectors: list[np.ndarray] = []
        windows: list[tuple[Windows, int]] = []
        for chunk_file in sorted(directory.glob("*.jsonl")):
            if chunk_file.stem in without:
                continue
            doc_chunks, doc_vectors = read_chunk_files(directory, chunk_file.stem)
            windows.append((read_windows(directory, chunk_file.stem, doc_vectors.shape[1]),
                            len(chunks)))
            chunks.extend(doc_chunks)
            vectors.append(doc_vectors)
        matrix = stack(vectors)
        version = write_version(self.root / kb.id, chunks, matrix,
                                {"embedding_model": kb.embedding_model,
                                 "dimensions": int(matrix.shape[1])},
                                windows=Windows.concat(windows, int(matrix.shape[1])))
        self._snapshots.pop(kb.id, None)
        return version, len(chunks)

    # --- retrieval -----------------------------------------------------------------

    def forget(self, kb_id: str) -> None:
        """Drop the cached snapshot (a new version went live)."""
        self._snapshots.pop(kb_id, None)

    def snapshot(self, kb_id: str) -> Snapshot | None:
        cached = self._snapshots.get(kb_id)
        version = current_version(self.root / kb_id)
        if cached is not None and cached.meta.get("version") == version:
            return cached
        snap = Snapshot.open(self.root / kb_id)
        if snap is not None:
            self._snapshots[kb_id] = snap
        return snap

    def _granted(self, kb_id: str) -> KnowledgeBase:
        with self.db.session() as s:
            kb = s.get(KnowledgeBase, kb_id)
        if kb is None:
            raise NotFound(f"knowledge base {kb_id!r} not found")
        return kb

    async def search(self, who: Principal, kb_ids: list[str], query: str, top_k: int = 5,
                     filters: dict[str, Any] | None = None,
                     grants: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
        """Hybrid search over one or more visible knowledge bases, best first.

        `grants` are bases read on another tenant's behalf: those an app's owner attached
        to the app this caller runs (the app store resolves them; nobody else passes any).
        """
        if not query.strip():
            raise InvalidRequest("the query is empty", param="query")
        results: list[dict[str, Any]] = []
        # One embedding per model and text, not per base: bases share the question's
        # vector; the translation (its terms through the base's term base) may differ.
        query_vectors: dict[tuple[str, str], np.ndarray] = {}
        tokens: dict[str, int] = {}
        for kb_id in kb_ids:
            kb = self._granted(kb_id) if kb_id in grants else self.get(who, kb_id)
            snap = await asyncio.to_thread(self.snapshot, kb_id)
            if snap is None and kb.status == "building":
                raise ServiceUnavailable(f"knowledge base {kb_id!r} is still being built; "
                                         "try again in a minute")
            if snap is None or not snap.chunks:
                continue
            model = kb.embedding_model
            translation = snap.translation(query)
            wanted = [t for t in dict.fromkeys([query, translation])
                      if t and (model, t) not in query_vectors]
            if wanted:
                vectors, used = await self.embedder_for(model).embed(wanted, "query")
                tokens[model] = tokens.get(model, 0) + used
                query_vectors.update({(model, t): v for t, v in zip(wanted, vectors,
                                                                     strict=True)})
            hits = await asyncio.to_thread(
                snap.search, query, query_vectors[(model, query)], top_k, filters,
                translation_vector=query_vectors.get((model, translation or "")))
            results.extend({**hit_view(h), "knowledge_base": kb_id} for h in hits)
        if self.on_query_tokens is not None:
            for model, used in tokens.items():
                await self.on_query_tokens(who, model, used)
        return sorted(results, key=lambda r: -r["score"])[:top_k]
