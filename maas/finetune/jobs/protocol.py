"""What the training subprocess tells its runner: one JSON object per line on its stdout.

Lines, not a database connection: the subprocess needs no credentials and no schema, the
runner (the one gateway that owns the job) is the only writer of the job's rows, and a
line the runner cannot parse is logged, never trusted. Kinds:

- `{"kind": "event", "level", "type", "message", "data"}`: one line of the job's log
  (`type` "metrics" for step/loss lines, whose data carries step and total_steps);
- `{"kind": "result", "trained_tokens", "eval"}`: the run finished and its adapter is in
  the output directory;
- `{"kind": "error", "code", "message"}`: the run failed for a reason the user can fix.
"""

from __future__ import annotations

import json
from typing import Any, TextIO


class Emitter:
    """Writes protocol lines (flushed at once: the runner reads them as they come)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def _write(self, line: dict[str, Any]) -> None:
        self.out.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.out.flush()

    def event(self, message: str, level: str = "info", type_: str = "message",
              data: dict[str, Any] | None = None) -> None:
        self._write({"kind": "event", "level": level, "type": type_, "message": message,
                     "data": data})

    def result(self, trained_tokens: int, evaluation: dict[str, Any]) -> None:
        self._write({"kind": "result", "trained_tokens": trained_tokens, "eval": evaluation})

    def error(self, code: str, message: str) -> None:
        self._write({"kind": "error", "code": code, "message": message})


def parse(line: str) -> dict[str, Any] | None:
    """A protocol line, or None for anything else (a library that printed to stdout)."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    if not isinstance(value, dict) or value.get("kind") not in ("event", "result", "error"):
        return None
    return value
