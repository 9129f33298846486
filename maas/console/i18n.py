"""The console's two languages: a message catalogue per language (messages/<lang>.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "zh")


class Catalogue:
    """Messages by language; a missing message falls back to English, then to its key's
    last part (so a new industry or status still reads as its own name)."""

    def __init__(self, folder: Path) -> None:
        self.messages: dict[str, dict[str, str]] = {
            lang: json.loads((folder / f"{lang}.json").read_text(encoding="utf-8"))
            for lang in LANGUAGES}

    def translator(self, lang: str) -> Any:
        table, fallback = self.messages[lang], self.messages["en"]

        def t(key: str, **values: Any) -> str:
            # An unknown value of a known family ("industry.textile") shows the value.
            text = table.get(key) or fallback.get(key) or key.rsplit(".", 1)[-1]
            return text.format(**values) if values else text

        return t


def pick_language(cookie: str | None, accept: str | None) -> str:
    if cookie in LANGUAGES:
        return cookie
    return "zh" if (accept or "").lower().startswith("zh") else "en"


def localise(value: Any, lang: str) -> str:
    """A manifest's `{zh: ..., en: ...}` text in the page's language (or any it has)."""
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("en") or next(iter(value.values()), ""))
    return "" if value is None else str(value)
