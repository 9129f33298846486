"""A knowledge base's bilingual term base (`glossary.tsv`: `zh<TAB>en`, synonyms joined
by ` | `), used to carry a question's terms into the other language.

The small multilingual embedding model matches an English question to a Chinese passage
far less reliably than to an English one, and BM25 cannot match across languages at all.
Industrial documents use a fixed terminology, so a term base (the tool translators use)
bridges the gap: the terms a question contains are looked up, and their equivalents in the
other language become a second lexical query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import snowballstemmer

from maas.knowledge.cleaning import CJK_CHAR

WORD = re.compile(r"[a-z0-9]+")
MAX_TERM = 60


class GlossaryError(ValueError):
    """A glossary file that does not parse; names the line."""


@dataclass(frozen=True)
class Entry:
    zh: tuple[str, ...]
    en: tuple[str, ...]


def _terms(cell: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in cell.split("|") if t.strip())


class Glossary:
    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        # English matches whole words after stemming ("mercerized" finds "mercerizing",
        # "shop-floor" finds "shop floor"); Chinese matches as a substring.
        self._stemmer = snowballstemmer.stemmer("english")
        self._en = [(self._stems(term), entry) for entry in entries for term in entry.en]
        self._zh = [(term, entry) for entry in entries for term in entry.zh]

    def _stems(self, text: str) -> str:
        words = WORD.findall(text.lower())
        return " " + " ".join(self._stemmer.stemWords(words)) + " "

    @classmethod
    def parse(cls, text: str) -> Glossary:
        entries = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or (number == 1 and line.strip().lower() == "zh\ten"):
                continue
            cells = line.split("\t")
            if len(cells) != 2 or not _terms(cells[0]) or not _terms(cells[1]):
                raise GlossaryError(f"line {number}: want 'zh<TAB>en', got {line!r}")
            zh, en = _terms(cells[0]), _terms(cells[1])
            if any(len(t) > MAX_TERM for t in zh + en):
                raise GlossaryError(f"line {number}: a term is longer than {MAX_TERM}")
            entries.append(Entry(zh, en))
        return cls(entries)

    def translate(self, query: str) -> list[str]:
        """The other language's terms (synonyms included: documents use any of them) for
        every entry the query names, in both directions (a mixed question gets both)."""
        out: list[str] = []
        stems = self._stems(query)
        seen: set[int] = set()
        if any(CJK_CHAR.match(ch) for ch in query):
            for term, entry in self._zh:
                if term in query and id(entry) not in seen:
                    seen.add(id(entry))
                    out.extend(entry.en)
        for term, entry in self._en:
            if id(entry) not in seen and term.strip() and term in stems:
                seen.add(id(entry))
                out.extend(entry.zh)
        return out
