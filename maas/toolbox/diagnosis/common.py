"""Shared small types: bilingual text, exact numbers, identifiers, rounding.

Scores are `Decimal` so that a hand-computed example matches to the last digit (binary
floats turn 0.1 x 55 into 5.500000000000001). In JSON they travel as plain numbers; every
stored value has at most a few decimals, so `Decimal(str(float))` rebuilds it exactly.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
LANGUAGES = ("zh", "en")
Language = Literal["zh", "en"]
CENT = Decimal("0.01")
HUNDRED = Decimal(100)

#: An exact number that serialises to a JSON number (not a string).
Num = Annotated[Decimal, PlainSerializer(lambda d: float(d), return_type=float,
                                         when_used="json")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Text(Strict):
    """A text in both report languages."""

    zh: str = Field(min_length=1, max_length=4000)
    en: str = Field(min_length=1, max_length=4000)

    def get(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


def round2(value: Decimal) -> Decimal:
    """Round half up to two decimals, the way a person rounds a hand-computed score."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(value: Decimal) -> str:
    """A number as a person writes it: no exponent, no needless trailing zeros."""
    return format(value.normalize(), "f")


def fmt2(value: Decimal) -> str:
    """A score with exactly two decimals (the precision scores are kept at)."""
    return format(round2(value), "f")


def check_language(language: str) -> Language:
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    return language  # type: ignore[return-value]
