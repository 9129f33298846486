"""Platform knowledge base manifests (`knowledge_bases/<id>/kb.yaml`) and their sources.

A platform knowledge base is a folder: `kb.yaml` says what it is and how to index it,
`docs/` (or whatever `sources` names) holds the documents. The content hash covers every
source file and the settings that shape the index, so a change to either - and only
that - triggers a rebuild.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from maas.catalog.models import ManifestError

KB_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,63}$"
#: Bump when loading, cleaning or chunking changes: documents are chunked and embedded
#: again. `INDEX_FORMAT`: when the index files change: indexes are rebuilt (from cache).
CHUNK_FORMAT = "2"
INDEX_FORMAT = "2"
GLOSSARY_FILE = "glossary.tsv"
DOCUMENT_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".csv",
                     ".xlsx"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Localised(_Strict):
    zh: str = Field(min_length=1, max_length=200)
    en: str = Field(min_length=1, max_length=200)


class LocalisedText(_Strict):
    zh: str = Field(default="", max_length=2000)
    en: str = Field(default="", max_length=2000)


class Splitter(_Strict):
    chunk_size: int = Field(default=500, ge=100, le=4000)
    chunk_overlap: int = Field(default=80, ge=0, le=1000)

    @model_validator(mode="after")
    def _overlap_smaller(self) -> Splitter:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self


class KnowledgeBaseManifest(_Strict):
    id: str = Field(pattern=KB_ID_PATTERN)
    industry: str = Field(min_length=1, max_length=64)
    title: Localised
    description: LocalisedText = Field(default_factory=LocalisedText)
    languages: list[str] = Field(default_factory=lambda: ["zh", "en"])
    sources: list[str] = Field(default_factory=lambda: ["docs/"], min_length=1)
    splitter: Splitter = Field(default_factory=Splitter)
    embedding_model: str = "multilingual-e5-small"

    @model_validator(mode="after")
    def _relative_sources(self) -> KnowledgeBaseManifest:
        for source in self.sources:
            path = Path(source)
            if path.is_absolute() or ".." in path.parts:
                raise ValueError(f"source {source!r} must be a path inside the folder")
        return self


@dataclass(frozen=True)
class PlatformKnowledgeBase:
    """A manifest with the folder it came from."""

    manifest: KnowledgeBaseManifest
    folder: Path

    @property
    def id(self) -> str:
        return self.manifest.id

    def documents(self) -> list[Path]:
        """Every document under the sources, sorted by path (hidden files skipped)."""
        found: set[Path] = set()
        folder = self.folder.resolve()
        for source in self.manifest.sources:
            root = (folder / source).resolve()
            if not root.is_relative_to(folder):
                raise ManifestError(f"{self.folder}: source {source!r} leaves the folder")
            paths = [root] if root.is_file() else root.rglob("*") if root.is_dir() else []
            found.update(p for p in paths if p.is_file() and p.suffix.lower() in
                         DOCUMENT_SUFFIXES and not any(part.startswith(".") for part in
                                                       p.relative_to(folder).parts))
        return sorted(found)

    def glossary(self) -> str | None:
        """The bilingual term base (`glossary.tsv`) if the folder has one."""
        path = self.folder / GLOSSARY_FILE
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def name_of(self, path: Path) -> str:
        """A document's name: its path relative to the first source folder holding it."""
        for source in self.manifest.sources:
            root = (self.folder.resolve() / source).resolve()
            if root.is_dir() and path.is_relative_to(root):
                return path.relative_to(root).as_posix()
        return path.name

    def content_hash(self) -> str:
        """Hash of the index settings and every source file's name and bytes."""
        digest = hashlib.sha256()
        digest.update(f"format={CHUNK_FORMAT}.{INDEX_FORMAT};model={self.manifest.embedding_model};"
                      f"splitter={self.manifest.splitter.model_dump_json()}".encode())
        for path in self.documents():
            digest.update(b"\0" + self.name_of(path).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        glossary = self.glossary()
        if glossary is not None:
            digest.update(b"\0glossary\0" + hashlib.sha256(glossary.encode()).digest())
        return digest.hexdigest()


def load_kb_manifest(folder: Path) -> PlatformKnowledgeBase:
    path = folder / "kb.yaml"
    try:
        manifest = KnowledgeBaseManifest.model_validate(
            yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError, OSError) as exc:
        raise ManifestError(f"{path}: {exc}") from exc
    if manifest.id != folder.name:
        raise ManifestError(f"{path}: id {manifest.id!r} must match the folder name")
    return PlatformKnowledgeBase(manifest, folder)


def load_kb_manifests(directory: Path) -> list[PlatformKnowledgeBase]:
    """Every `<id>/kb.yaml` under `directory`, sorted by id; fails loudly on a bad one."""
    if not directory.is_dir():
        return []
    return [load_kb_manifest(p.parent) for p in sorted(directory.glob("*/kb.yaml"))]
