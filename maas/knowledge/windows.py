"""Sentence windows inside chunks: a finer-grained vector view of each chunk.

A 500-character chunk holds several facts, and its one vector is a blend of them: a
question about one fact matches it loosely, and across languages (an English question, a
Chinese passage), where the small e5 model's signal is weak to begin with, the blend is
often lost among the other chunks. So every chunk of more than one window is also embedded
as windows of a couple of sentences (a table chunk: its header with a few rows), and at
query time a candidate chunk is re-scored by a mix of its own similarity and its best
window's (`store.Snapshot`). A chunk that fits in one window is its own window: nothing
extra is embedded for it.

Windows are stored next to the chunk vectors: the chunk each belongs to (its position in
the chunk list, ascending) and the vectors, one row per window.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maas.knowledge.cleaning import CJK_CHAR

#: Characters per window: about two sentences, short enough to be about one fact.
WINDOW_SIZE = 160
#: After Chinese or Western sentence-ending punctuation, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=\.\s)|\n")


@dataclass(frozen=True)
class Windows:
    owners: np.ndarray  # int32 [W]: the chunk each window belongs to, ascending
    vectors: np.ndarray  # float32 [W, dims]

    def __len__(self) -> int:
        return len(self.owners)

    @classmethod
    def concat(cls, parts: Sequence[tuple[Windows, int]], dims: int) -> Windows:
        """One set from per-document sets, each shifted by its first chunk's position."""
        kept = [(w, offset) for w, offset in parts if len(w)]
        if not kept:
            return cls(np.zeros(0, dtype=np.int32), np.zeros((0, dims), dtype=np.float32))
        return cls(np.concatenate([w.owners + offset for w, offset in kept]).astype(np.int32),
                   np.vstack([w.vectors for w, _ in kept]).astype(np.float32))

    def save(self, path: Path) -> None:
        with path.open("wb") as out:
            np.savez(out, owners=self.owners, vectors=self.vectors)

    @classmethod
    def load(cls, path: Path, dims: int) -> Windows:
        """The windows saved at `path`; none if there is no file (a document indexed
        before windows existed: its chunks stand for themselves)."""
        if not path.exists():
            return cls.concat([], dims)
        arrays = np.load(path, allow_pickle=False)
        return cls(arrays["owners"].astype(np.int32), arrays["vectors"].astype(np.float32))


def _join(left: str, right: str) -> str:
    if not left:
        return right
    cjk = CJK_CHAR.match(left[-1]) or CJK_CHAR.match(right[0]) or not left[-1].isascii()
    return left + right if cjk else f"{left} {right}"


def _pack(pieces: list[str], size: int, prefix: str = "") -> list[str]:
    out: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + len(piece) > size:
            out.append(current)
            current = ""
        current = _join(current, piece)
    if current:
        out.append(current)
    return [prefix + w for w in out]


def split_windows(text: str, kind: str, size: int = WINDOW_SIZE) -> list[str]:
    """The windows of one chunk's text; empty when the chunk is a single window."""
    if kind == "table":
        header, *rows = text.split("\n")
        windows = _pack([r for r in rows if r.strip()], size, header + "\n")
    else:
        windows = _pack([p.strip() for p in _SENTENCE_END.split(text) if p and p.strip()],
                        size)
    return windows if len(windows) > 1 else []


def window_texts(chunks: Sequence[tuple[str, str, str]]) -> tuple[list[int], list[str]]:
    """(owner, text to embed) for the windows of (text, kind, section) chunks; the
    section heading goes in front, as it does for a chunk's own embedding."""
    owners: list[int] = []
    texts: list[str] = []
    for position, (text, kind, section) in enumerate(chunks):
        for window in split_windows(text, kind):
            owners.append(position)
            texts.append(f"{section}\n{window}" if section else window)
    return owners, texts
