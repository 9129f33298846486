"""A knowledge base's index on disk: chunks, FAISS vectors and BM25, replaced atomically.

Layout under the knowledge base's directory:

    versions/<version>/chunks.jsonl  vectors.faiss  neutral.faiss  languages.npz
                       windows.npz  bm25.npz  bm25_vocab.json  meta.json
    CURRENT                          the name of the live version

Retrieval fuses three lists. BM25 and the vectors, by reciprocal rank, with BM25 weighted
by how much of the query its best hit covers, make the classic hybrid, which is strong
when question and passage share a language. Multilingual embeddings also carry the
language itself, so an English question ranks English passages above the Chinese one
that answers it; the third list searches "language-neutral" vectors (each passage minus
the mean of its language's passages, the query minus the mean of its language) that
find passages across languages. A passage in the other language than the question
scores the better of its hybrid score and its neutral rank on the same scale, so each
list contributes its top results; one in the question's language is left to the hybrid.

The vector lists are re-ranked by the chunks' sentence windows (`rescoring`), and with a
term base the neutral list is searched with a bilingual query: the question's vector plus
the vector of its terms in the other language (`translation`), which the caller embeds.

A new version is written in full into a temporary directory, renamed into `versions/`,
and only then does `CURRENT` switch to it (write-then-`os.replace`, atomic on POSIX).
Readers open whatever `CURRENT` names; a build that fails at any point leaves `CURRENT`
and the version it names exactly as they were. Nothing is pickled: JSON, numpy `.npz`
without pickle, and FAISS's own format.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from maas.knowledge.cleaning import text_language
from maas.knowledge.fusion import fuse
from maas.knowledge.glossary import Glossary
from maas.knowledge.lexical import BM25Index
from maas.knowledge.rescoring import WindowRescorer, ranks, unit
from maas.knowledge.windows import Windows

LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class StoredChunk:
    id: str
    doc_id: str
    doc_name: str
    index: int
    text: str
    kind: str
    page: int | None
    section: str
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    chunk: StoredChunk
    score: float  # reciprocal-rank fusion of the lexical and vector ranks
    lexical_rank: int | None
    vector_rank: int | None
    neutral_rank: int | None = None


def write_chunks(path: Path, chunks: Sequence[StoredChunk]) -> None:
    """Chunks as JSON lines (the one on-disk form, for index versions and documents)."""
    with path.open("w", encoding="utf-8") as out:
        for chunk in chunks:
            out.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")


def read_chunks(path: Path) -> list[StoredChunk]:
    with path.open(encoding="utf-8") as lines:
        return [StoredChunk(**json.loads(line)) for line in lines]


def stack(vectors: Sequence[np.ndarray]) -> np.ndarray:
    """Per-document vector matrices as one (an empty base: a 0 x 1 matrix)."""
    return np.vstack(vectors) if len(vectors) else np.zeros((0, 1), dtype=np.float32)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_version(kb_dir: Path, chunks: Sequence[StoredChunk], vectors: np.ndarray,
                  meta: dict[str, Any], glossary: str | None = None,
                  windows: Windows | None = None) -> str:
    """Write a complete new index version and make it current; returns its name.
    `windows`: the chunks' sentence windows (owners are positions in `chunks`)."""
    import faiss

    if len(chunks) != len(vectors):
        raise ValueError("one vector per chunk")
    versions = kb_dir / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    version = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    staging = versions / f".{version}.tmp"
    staging.mkdir()
    try:
        write_chunks(staging / "chunks.jsonl", chunks)
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        index = faiss.IndexFlatIP(matrix.shape[1] if matrix.ndim == 2 and len(matrix) else
                                  int(meta.get("dimensions", 1)))
        if len(matrix):
            index.add(matrix)
        faiss.write_index(index, str(staging / "vectors.faiss"))
        _write_neutral(staging, chunks, matrix, index.d)
        if windows is not None and len(windows):
            if int(windows.owners.max()) >= len(chunks) or windows.vectors.shape[1] != index.d:
                raise ValueError("windows must belong to the chunks and share their dims")
            windows.save(staging / "windows.npz")
        BM25Index.build([c.text for c in chunks]).save(staging)
        if glossary is not None:
            (staging / "glossary.tsv").write_text(glossary, encoding="utf-8")
        (staging / "meta.json").write_text(json.dumps(
            {**meta, "version": version, "chunks": len(chunks)}, ensure_ascii=False),
            encoding="utf-8")
        for file in staging.iterdir():
            with file.open("rb") as handle:
                os.fsync(handle.fileno())
        staging.rename(versions / version)
        _fsync_dir(versions)
        pointer = kb_dir / "CURRENT.tmp"
        pointer.write_text(version, encoding="utf-8")
        os.replace(pointer, kb_dir / "CURRENT")
        _fsync_dir(kb_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if current_version(kb_dir) != version:  # renamed into place but never made live
            shutil.rmtree(versions / version, ignore_errors=True)
        raise
    for old in versions.iterdir():  # keep only the live version
        if old.name != version:
            shutil.rmtree(old, ignore_errors=True)
    return version


def _write_neutral(staging: Path, chunks: Sequence[StoredChunk], matrix: np.ndarray,
                   dims: int) -> None:
    """Per-language centroids and the language-neutral vectors (see the module doc)."""
    import faiss

    langs = np.array([LANGUAGES.index(text_language(c.text)) for c in chunks], dtype=np.int8)
    centroids = np.zeros((len(LANGUAGES) + 1, dims), dtype=np.float32)  # last: all
    if len(matrix):
        centroids[-1] = matrix.mean(axis=0)
        for i in range(len(LANGUAGES)):
            centroids[i] = matrix[langs == i].mean(axis=0) if (langs == i).any() else \
                centroids[-1]
    neutral = faiss.IndexFlatIP(dims)
    if len(matrix):
        neutral.add(unit(matrix - centroids[langs]))
    faiss.write_index(neutral, str(staging / "neutral.faiss"))
    np.savez(staging / "languages.npz", langs=langs, centroids=centroids)


def current_version(kb_dir: Path) -> str | None:
    try:
        return (kb_dir / "CURRENT").read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


class Snapshot:
    """One version of a knowledge base's index, loaded for searching (read-only)."""

    def __init__(self, directory: Path) -> None:
        import faiss

        self.directory = directory
        self.meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        self.chunks = read_chunks(directory / "chunks.jsonl")
        self.vectors = faiss.read_index(str(directory / "vectors.faiss"))
        self.neutral = None
        self.rescorer: WindowRescorer | None = None
        if (directory / "neutral.faiss").exists():
            self.neutral = faiss.read_index(str(directory / "neutral.faiss"))
            languages = np.load(directory / "languages.npz", allow_pickle=False)
            self.centroids = languages["centroids"]
            self.languages = languages["langs"]
            if (directory / "windows.npz").exists():
                self.rescorer = WindowRescorer(
                    Windows.load(directory / "windows.npz", self.vectors.d),
                    languages["langs"], self.centroids, len(self.chunks))
        self.bm25 = BM25Index.load(directory)
        path = directory / "glossary.tsv"
        self.glossary = (Glossary.parse(path.read_text(encoding="utf-8")) if path.exists()
                         else None)

    def translation(self, query: str) -> str | None:
        """The query's terms in the other language (from the term base), to embed as the
        second half of the bilingual query; None without a term base or a known term."""
        terms = self.glossary.translate(query) if self.glossary else []
        return " ".join(terms) or None

    @classmethod
    def open(cls, kb_dir: Path) -> Snapshot | None:
        version = current_version(kb_dir)
        return cls(kb_dir / "versions" / version) if version else None

    def _mask(self, filters: dict[str, Any] | None) -> np.ndarray | None:
        if not filters:
            return None

        def keep(chunk: StoredChunk) -> bool:
            for key, wanted in filters.items():
                value = getattr(chunk, key, None)
                if key == "section":
                    if not str(value).startswith(str(wanted)):
                        return False
                elif isinstance(wanted, list):
                    if value not in wanted:
                        return False
                elif value != wanted:
                    return False
            return True
        return np.fromiter((keep(c) for c in self.chunks), dtype=bool, count=len(self.chunks))

    def _vector_ranks(self, index: Any, query_vector: np.ndarray, candidates: int,
                      mask: np.ndarray | None) -> dict[int, int]:
        wanted = candidates if mask is None else min(len(self.chunks), candidates * 20)
        _, ids = index.search(np.asarray(query_vector, dtype=np.float32).reshape(1, -1), wanted)
        kept = [int(i) for i in ids[0] if i >= 0 and (mask is None or mask[i])][:candidates]
        return {doc: rank for rank, doc in enumerate(kept, start=1)}

    def search(self, query: str, query_vector: np.ndarray | None, top_k: int = 5,
               filters: dict[str, Any] | None = None, candidates: int = 50,
               translation_vector: np.ndarray | None = None) -> list[Hit]:
        """Hybrid search: BM25 and vectors by weighted reciprocal rank, interleaved with
        the language-neutral vector ranking (see the module doc). `translation_vector`:
        the embedded `translation(query)`, if any."""
        if not self.chunks:
            return []
        mask = self._mask(filters)
        terms = self.bm25.query_terms(query)
        lexical = self.bm25.search(terms, candidates, mask)
        lex_rank = {doc: rank for rank, (doc, _) in enumerate(lexical, start=1)}
        # Weighted RRF: the lexical list counts as much as its best hit covers the query.
        lex_weight = (1.0 if query_vector is None or not lexical else
                      self.bm25.coverage(terms, lexical[0][0]))
        lists = [(lex_rank, lex_weight)]
        translated = self.glossary.translate(query) if self.glossary else []
        if translated:  # the question's terms in the other language: a second BM25 list
            other = self.bm25.query_terms(" ".join(translated))
            found = self.bm25.search(other, candidates, mask)
            if found:  # weighted like the first: by how much of it its best hit covers
                lists.append(({doc: rank for rank, (doc, _) in enumerate(found, start=1)},
                              self.bm25.coverage(other, found[0][0])))
        vec_rank: dict[int, int] = {}
        neutral_rank: dict[int, int] = {}
        if query_vector is not None:
            vec_rank, neutral_rank = self._vector_lists(
                np.asarray(query_vector, dtype=np.float32), translation_vector,
                text_language(query), candidates, mask, lists)
        lists.insert(1, (vec_rank, 1.0))
        other = (self.languages != LANGUAGES.index(text_language(query))
                 if self.neutral is not None else None)
        scores = fuse(lists, neutral_rank, lex_weight, other)
        best = sorted(scores, key=lambda doc: (-scores[doc], neutral_rank.get(doc, 10**9)))
        return [Hit(self.chunks[doc], round(scores[doc], 6), lex_rank.get(doc),
                    vec_rank.get(doc), neutral_rank.get(doc)) for doc in best[:top_k]]

    def _vector_lists(self, query: np.ndarray, translation: np.ndarray | None, language: str,
                      candidates: int, mask: np.ndarray | None,
                      lexical: list[tuple[dict[int, int], float]]
                      ) -> tuple[dict[int, int], dict[int, int]]:
        """The raw and the language-neutral vector rankings, re-scored by windows."""
        # Twice as deep as the fused lists when re-scoring: a chunk whose best window
        # answers the question can sit below the chunk-level cut.
        depth = candidates if self.rescorer is None else 2 * candidates
        vec_rank = self._vector_ranks(self.vectors, query, depth, mask)
        neutral_rank: dict[int, int] = {}
        neutral_query = None
        if self.neutral is not None:
            bilingual = query if translation is None else unit(
                query + np.asarray(translation, dtype=np.float32))
            neutral_query = unit(bilingual - self.centroids[LANGUAGES.index(language)])
            neutral_rank = self._vector_ranks(self.neutral, neutral_query, depth, mask)
        if self.rescorer is None or neutral_query is None:
            return ({d: r for d, r in vec_rank.items() if r <= candidates},
                    {d: r for d, r in neutral_rank.items() if r <= candidates})
        pool = set(vec_rank) | set(neutral_rank)  # and every lexical list's candidates
        for ranked, _ in lexical:
            pool |= set(ranked)
        ids = sorted(pool)
        return (ranks(ids, self.rescorer.similarities(self.vectors, ids, query, False),
                      candidates),
                ranks(ids, self.rescorer.similarities(self.neutral, ids, neutral_query, True),
                      candidates))
