"""Text cleaning for extracted documents, with Chinese in mind.

PDF extraction breaks lines where the page did, not where sentences end: Chinese needs
those lines joined with no space, Western text with one space (or none after a
hyphenated word break). Page furniture (page numbers, running headers and footers) is
dropped so it does not end up inside chunks and skew retrieval.
"""

from __future__ import annotations

import re
from collections import Counter

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
CJK_CHAR = re.compile(f"[{_CJK}]")
#: Sentence-ending punctuation, Chinese and Western.
SENTENCE_END = "。！？；!?;…"
CLOSERS = "”’」』）)】》"
PAGE_NUMBER = re.compile(
    r"^\s*(?:[-–—]\s*\d+\s*[-–—]|第\s*\d+\s*页(?:\s*/?\s*共\s*\d+\s*页)?|"
    r"(?:page|p\.)\s*\d+(?:\s*(?:of|/)\s*\d+)?|\d+\s*/\s*\d+|\d{1,4})\s*$", re.IGNORECASE)
BULLET = re.compile(r"^\s*(?:[-*•·●▪]|\d+[.)、]|[（(]?\d+[）)]|[一二三四五六七八九十]+[、.．])\s*")
SPACES = re.compile(r"[ \t\u00a0\u3000]+")


def normalise_spaces(text: str) -> str:
    return "\n".join(SPACES.sub(" ", line).strip() for line in text.splitlines())


def _is_cjk(ch: str) -> bool:
    return bool(CJK_CHAR.match(ch))


def join_broken_lines(text: str) -> str:
    """Join lines a layout broke mid-sentence; keep paragraph breaks (blank lines),
    list items and lines that end a sentence."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            if out and out[-1] != "":
                out.append("")
            continue
        if not out or out[-1] == "" or BULLET.match(line):
            out.append(line)
            continue
        prev = out[-1]
        last, first = prev[-1], line[0]
        if last in SENTENCE_END or last in CLOSERS or last == ":" or last == "：":
            out.append(line)
        elif _is_cjk(last) and first.isascii() and first.isupper():
            out.append(line)  # Chinese, then a capitalised Western line: a new item
        elif _is_cjk(last) or _is_cjk(first) or last in "，、（《“":
            out[-1] = prev + line  # Chinese: no space between the halves
        elif last == "-" and len(prev) > 1 and prev[-2].isalpha() and first.islower():
            out[-1] = prev[:-1] + line  # hyphenated word split across lines
        elif last == "." or first.isupper() and last.isalnum() and len(prev) < 40:
            out.append(line)  # a short title-like line or a finished sentence
        else:
            out[-1] = prev + " " + line
    return "\n".join(out).strip()


def strip_page_furniture(pages: list[str]) -> list[str]:
    """Drop page numbers and the running header/footer lines repeated across pages."""
    first_last = Counter()
    for page in pages:
        lines = [ln.strip() for ln in page.splitlines() if ln.strip()]
        for ln in {*lines[:2], *lines[-2:]}:
            first_last[ln] += 1
    repeated = {ln for ln, n in first_last.items() if len(pages) >= 3 and n >= 0.6 * len(pages)}
    cleaned = []
    for page in pages:
        lines = [ln for ln in page.splitlines()
                 if ln.strip() not in repeated and not PAGE_NUMBER.match(ln)]
        cleaned.append("\n".join(lines))
    return cleaned


def clean(text: str) -> str:
    return join_broken_lines(normalise_spaces(text))


def text_language(text: str) -> str:
    """'zh' when the text's letters are mostly Chinese, 'en' otherwise."""
    letters = [ch for ch in text if ch.isalpha()]
    cjk = sum(1 for ch in letters if CJK_CHAR.match(ch))
    return "zh" if letters and cjk * 3 >= len(letters) else "en"
