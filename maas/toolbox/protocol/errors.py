"""Errors for bad protocol specs: every problem names the row (register map) or field (frame)."""

from __future__ import annotations

from dataclasses import dataclass

from maas.errors import InvalidRequest

MAX_REPORTED = 50


@dataclass(frozen=True)
class RowError:
    """One problem in a register map; `row` is the number the user sees in their file."""

    row: int | None
    message: str
    column: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}" if self.row is not None else self.message


@dataclass(frozen=True)
class FieldError:
    """One problem in a frame spec; `where` is e.g. 'field 3 "temperature"' or 'checksum'."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def _summary(kind: str, errors: list) -> str:
    shown = errors[:MAX_REPORTED]
    lines = [f"{kind} has {len(errors)} problem{'s' if len(errors) != 1 else ''}:"]
    lines += [f"- {error}" for error in shown]
    if len(errors) > len(shown):
        lines.append(f"- ... and {len(errors) - len(shown)} more")
    return "\n".join(lines)


class RegisterMapError(InvalidRequest):
    """A register map that cannot be used; `errors` lists every problem found (all rows)."""

    def __init__(self, errors: list[RowError], source: str = "register map") -> None:
        self.errors = list(errors)
        super().__init__(_summary(source, self.errors), param="register_map")


class FrameSpecError(InvalidRequest):
    """A binary frame spec that cannot be used; `errors` names each field at fault."""

    def __init__(self, errors: list[FieldError], source: str = "frame spec") -> None:
        self.errors = list(errors)
        super().__init__(_summary(source, self.errors), param="frame_spec")


class CodegenError(InvalidRequest):
    """The generator was asked for something it cannot produce (a bad package name...)."""
