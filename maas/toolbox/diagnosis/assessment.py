"""The result of scoring: every number of a report, and how each was reached.

An Assessment is plain data (pydantic), stored as JSON by the caller and rebuilt with
`Assessment.model_validate(stored)` to re-render a report later without the questionnaire
having to be unchanged: it carries the names, weights and actions it was scored with.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from maas.toolbox.diagnosis.common import Num, Strict, Text


class QuestionResult(Strict):
    id: str
    indicator: str
    type: str
    text: Text
    weight: Num
    answered: bool
    answer: Any = None  # the answer as given (option id(s), number or boolean)
    answer_text: Text | None = None  # the chosen option(s) in words
    evidence: str | None = None
    points: Num  # 0-100


class IndicatorResult(Strict):
    id: str
    dimension: str
    name: Text
    weight: Num  # within its dimension
    key: bool
    score: Num  # 0-100, two decimals
    level: int  # the band the indicator's own score falls in (0-4)
    next_action: Text | None = None  # what to do to reach the next level (None at level 4)


class DimensionResult(Strict):
    id: str
    name: Text
    weight: Num
    score: Num
    level: int


class LevelStep(Strict):
    """One step of the level decision: the band, then each rule that changed the level."""

    rule: str  # "band", "dimension_gap" or "key_indicator:<indicator id>"
    level_before: int | None = None
    level_after: int
    reason: Text


class Weakness(Strict):
    kind: Literal["indicator", "dimension"]
    id: str
    dimension: str
    name: Text
    score: Num
    level: int
    key: bool = False
    action: Text | None = None  # the next-level action (indicators)


class LevelInfo(Strict):
    level: int
    name: Text
    description: Text | None = None


class Assessment(Strict):
    questionnaire_id: str
    questionnaire_version: str
    questionnaire_title: Text
    framework: Text
    weakness_threshold: Num
    questions: list[QuestionResult]
    indicators: list[IndicatorResult]
    dimensions: list[DimensionResult]
    total: Num
    level: int = Field(ge=0, le=4)
    level_name: Text
    level_description: Text | None = None
    level_rule: str  # the step that set the final level
    level_steps: list[LevelStep]
    levels: list[LevelInfo]  # the scale, for the report's legend
    weaknesses: list[Weakness]
    explanation: list[Text]

    def indicator(self, indicator_id: str) -> IndicatorResult | None:
        return next((i for i in self.indicators if i.id == indicator_id), None)

    def dimension(self, dimension_id: str) -> DimensionResult | None:
        return next((d for d in self.dimensions if d.id == dimension_id), None)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Delta(Strict):
    id: str
    name: Text
    before: Num
    after: Num
    delta: Num


class Comparison(Strict):
    """How assessment `b` differs from assessment `a` (b minus a)."""

    questionnaire_id: str
    total_before: Num
    total_after: Num
    total_delta: Num
    level_before: int
    level_after: int
    level_change: int
    dimensions: list[Delta]
    improved: list[Delta]  # indicators, largest gain first
    regressed: list[Delta]  # indicators, largest loss first
    unchanged: list[str]
    summary: Text

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
