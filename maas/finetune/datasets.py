"""The instruction datasets of industry models: `models/datasets/<id>/train.jsonl` and
`eval.jsonl`.

train.jsonl: one chat per line, `{"messages": [{"role": "user"|"assistant"|"system",
"content": "..."}, ...]}`, ending with an assistant turn (the text the adapter learns).
eval.jsonl: held-out questions, `{"question": "...", "facts": ["...", ...]}`; an answer
scores the share of its facts it contains. Bad lines are reported by number, because a
dataset someone edits by hand is only fixable if the error says where.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

ROLES = ("system", "user", "assistant")


class DatasetError(ValueError):
    """A dataset file that is missing or has a bad line; the message names file and line."""


@dataclass(frozen=True)
class EvalItem:
    question: str
    facts: list[str]


def dataset_dir(models_dir: Path, dataset: str) -> Path:
    return models_dir / "datasets" / dataset


def _lines(path: Path) -> list[tuple[int, object]]:
    if not path.is_file():
        raise DatasetError(f"{path}: no such dataset file")
    rows: list[tuple[int, object]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{number}: not JSON ({exc.msg})") from exc
    if not rows:
        raise DatasetError(f"{path}: the file has no lines")
    return rows


def check_chat(row: object) -> list[dict[str, str]]:
    """The messages of one training line, or ValueError saying what is wrong with it."""
    if not isinstance(row, dict) or not isinstance(row.get("messages"), list):
        raise ValueError('a line must be an object with a "messages" list')
    messages = row["messages"]
    if len(messages) < 2:
        raise ValueError("a chat needs at least a user and an assistant message")
    for message in messages:
        if (not isinstance(message, dict) or message.get("role") not in ROLES
                or not isinstance(message.get("content"), str)
                or not message["content"].strip() or set(message) - {"role", "content"}):
            raise ValueError("each message needs a role (system, user, assistant) and a "
                             "non-empty content, and nothing else")
    if messages[-1]["role"] != "assistant":
        raise ValueError("a chat must end with an assistant message")
    if not any(m["role"] == "user" for m in messages):
        raise ValueError("a chat needs a user message")
    return [dict(m) for m in messages]


def load_train(path: Path) -> list[list[dict[str, str]]]:
    chats = []
    for number, row in _lines(path):
        try:
            chats.append(check_chat(row))
        except ValueError as exc:
            raise DatasetError(f"{path}:{number}: {exc}") from exc
    return chats


def load_eval(path: Path) -> list[EvalItem]:
    items = []
    for number, row in _lines(path):
        ok = (isinstance(row, dict) and isinstance(row.get("question"), str)
              and row["question"].strip() and isinstance(row.get("facts"), list)
              and row["facts"] and all(isinstance(f, str) and f.strip() for f in row["facts"]))
        if not ok:
            raise DatasetError(f'{path}:{number}: needs "question" (text) and "facts" '
                               "(a non-empty list of texts)")
        items.append(EvalItem(row["question"], list(row["facts"])))
    return items


def normalise(text: str) -> str:
    """Lower case, one space for any whitespace run: how facts are matched in text."""
    return re.sub(r"\s+", " ", text).strip().lower()


def fact_score(answer: str, facts: list[str]) -> float:
    """Share of `facts` found in `answer` (case- and whitespace-insensitive)."""
    text = normalise(answer)
    return sum(normalise(f) in text for f in facts) / len(facts)
