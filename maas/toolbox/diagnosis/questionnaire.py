"""Questionnaires as data: `questionnaires/<id>.yaml`, validated on load.

A questionnaire is a tree: dimensions (weighted) -> indicators (weighted within their
dimension, some marked `key`) -> questions (weighted within their indicator). Every question
yields 0-100 points; the weights at each level sum to exactly 1, so every score above is a
0-100 weighted mean. Level bands and the rules that cap a level are data too, so the scoring
code holds no framework-specific numbers. Loading refuses any inconsistency (a weight sum of
0.99, a duplicate id, an option list that cannot reach 100) with the path of the culprit,
because a silently wrong questionnaire produces plausible but wrong levels.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from maas.errors import MaasError, NotFound
from maas.toolbox.diagnosis.common import HUNDRED, ID_PATTERN, Num, Strict, Text

_PACKAGE = "maas.toolbox.diagnosis"
_FOLDER = "questionnaires"
_ID = re.compile(ID_PATTERN)
_FILE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
Score = Field(ge=0, le=100)


class QuestionnaireError(MaasError):
    """A questionnaire file is inconsistent (a platform bug, not the user's)."""

    code = "invalid_questionnaire"


class QuestionnaireNotFound(NotFound, LookupError):
    code = "questionnaire_not_found"


class QuestionType(StrEnum):
    single = "single"
    multi = "multi"
    number = "number"
    boolean = "boolean"


class Option(Strict):
    id: str = Field(pattern=ID_PATTERN)
    text: Text
    score: Num = Score
    #: The maturity level (0-4) the practice this option describes corresponds to.
    level: int | None = Field(default=None, ge=0, le=4)
    #: For multi-choice: "none of these", which cannot be combined with other options.
    exclusive: bool = False


class Band(Strict):
    """A number answer at or above `min` (and below the next band) earns `score`."""

    min: Num
    score: Num = Score


class Question(Strict):
    id: str = Field(pattern=ID_PATTERN)
    text: Text
    type: QuestionType
    weight: Num = Field(gt=0, le=1)
    required: bool = True
    hint: Text | None = None  # what evidence proves the answer
    options: list[Option] = Field(default_factory=list)
    # number questions
    unit: str = Field(default="", max_length=16)
    min: Num | None = None
    max: Num | None = None
    bands: list[Band] = Field(default_factory=list)
    # boolean questions
    score_true: Num | None = Field(default=None, ge=0, le=100)
    score_false: Num | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _complete(self) -> Question:
        where = f"question {self.id!r}"
        if self.type in (QuestionType.single, QuestionType.multi):
            _check_options(self, where)
        elif self.options:
            raise ValueError(f"{where}: a {self.type} question has no options")
        if self.type == QuestionType.number:
            _check_bands(self, where)
        if self.type == QuestionType.boolean:
            if self.score_true is None or self.score_false is None:
                raise ValueError(f"{where}: a boolean question needs score_true and score_false")
            if max(self.score_true, self.score_false) != HUNDRED:
                raise ValueError(f"{where}: one of score_true/score_false must be 100")
        return self

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


def _check_options(q: Question, where: str) -> None:
    if len(q.options) < 2:
        raise ValueError(f"{where}: needs at least two options")
    ids = [o.id for o in q.options]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{where}: duplicate option ids {sorted(_dupes(ids))}")
    if q.type == QuestionType.single:
        if max(o.score for o in q.options) != HUNDRED:
            raise ValueError(f"{where}: the best option must score 100")
        if any(o.exclusive for o in q.options):
            raise ValueError(f"{where}: `exclusive` applies to multi-choice options only")
        levels = [o.level for o in sorted(q.options, key=lambda o: o.score) if o.level is not None]
        if levels != sorted(levels):
            raise ValueError(f"{where}: option levels must rise with option scores")
    else:
        reachable = sum((o.score for o in q.options if not o.exclusive), Decimal(0))
        if reachable < HUNDRED:
            raise ValueError(f"{where}: the options add up to {reachable}; 100 must be reachable")
        if any(o.exclusive and o.score != 0 for o in q.options):
            raise ValueError(f"{where}: an exclusive ('none of these') option scores 0")


def _check_bands(q: Question, where: str) -> None:
    if q.min is None or q.max is None or q.min >= q.max:
        raise ValueError(f"{where}: a number question needs min < max")
    if not q.bands:
        raise ValueError(f"{where}: a number question needs bands")
    mins = [b.min for b in q.bands]
    if any(a >= b for a, b in zip(mins, mins[1:], strict=False)):
        raise ValueError(f"{where}: band minimums must be strictly increasing")
    if mins[0] != q.min or mins[-1] > q.max:
        raise ValueError(f"{where}: the first band must start at min and all within max")
    scores = [b.score for b in q.bands]
    if scores != sorted(scores) or scores[-1] != HUNDRED:
        raise ValueError(f"{where}: band scores must not fall and the last must be 100")


class Indicator(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: Text
    weight: Num = Field(gt=0, le=1)
    key: bool = False
    questions: list[Question] = Field(min_length=1)
    #: What to do to reach level N (keys 1-4), read from the indicator's current level.
    actions: dict[int, Text]

    @model_validator(mode="after")
    def _actions_complete(self) -> Indicator:
        if sorted(self.actions) != [1, 2, 3, 4]:
            raise ValueError(f"indicator {self.id!r}: actions needs exactly the keys 1, 2, 3, 4 "
                             f"(to reach each level), got {sorted(self.actions)}")
        _weights_sum(self.questions, f"indicator {self.id!r}: question weights")
        return self


class Dimension(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: Text
    weight: Num = Field(gt=0, le=1)
    description: Text | None = None
    indicators: list[Indicator] = Field(min_length=1)

    @model_validator(mode="after")
    def _weights(self) -> Dimension:
        _weights_sum(self.indicators, f"dimension {self.id!r}: indicator weights")
        return self


class Level(Strict):
    level: int = Field(ge=1, le=4)
    name: Text
    min_score: Num = Score  # the band is [min_score, next level's min_score)
    description: Text


class KeyIndicatorRule(Strict):
    """A key indicator scoring below `min_score` caps the level at `max_level`."""

    kind: Literal["key_indicator"]
    indicator: str = Field(pattern=ID_PATTERN)
    min_score: Num = Score
    max_level: int = Field(ge=0, le=3)
    reason: Text


class DimensionGapRule(Strict):
    """Any dimension more than `gap` points below the band's lower bound lowers the level
    by `downgrade` (the 'weakest plank' rule): a high average must not hide a hole."""

    kind: Literal["dimension_gap"]
    gap: Num = Field(ge=0, le=100)
    downgrade: int = Field(default=1, ge=1, le=4)
    reason: Text


Rule = KeyIndicatorRule | DimensionGapRule


class Questionnaire(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    version: str = Field(min_length=1, max_length=32)
    title: Text
    framework: Text  # which published framework it follows
    adaptations: Text  # what differs from it, said plainly
    weakness_threshold: Num = Score
    levels: list[Level]
    rules: list[Rule] = Field(default_factory=list)
    dimensions: list[Dimension] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Questionnaire:
        _weights_sum(self.dimensions, "dimension weights")
        ids = ([d.id for d in self.dimensions] + [i.id for i in self.indicators()]
               + [q.id for q in self.questions()])
        if len(set(ids)) != len(ids):
            raise ValueError(f"ids must be unique across dimensions, indicators and questions; "
                             f"repeated: {sorted(_dupes(ids))}")
        if [lv.level for lv in self.levels] != [1, 2, 3, 4]:
            raise ValueError("levels must list levels 1, 2, 3, 4 in order")
        mins = [lv.min_score for lv in self.levels]
        if any(a >= b for a, b in zip(mins, mins[1:], strict=False)) or mins[0] <= 0:
            raise ValueError("level thresholds must be positive and strictly increasing")
        known = {i.id: i for i in self.indicators()}
        for rule in self.rules:
            if isinstance(rule, KeyIndicatorRule):
                if rule.indicator not in known:
                    raise ValueError(f"rule names unknown indicator {rule.indicator!r}")
                if not known[rule.indicator].key:
                    raise ValueError(f"rule names {rule.indicator!r}, which is not a key "
                                     "indicator (set key: true)")
        return self

    def indicators(self) -> list[Indicator]:
        return [i for d in self.dimensions for i in d.indicators]

    def questions(self) -> list[Question]:
        return [q for i in self.indicators() for q in i.questions]

    def level_for(self, score: Decimal) -> int:
        """The band a 0-100 score falls in: 0 below level 1's threshold."""
        return max((lv.level for lv in self.levels if score >= lv.min_score), default=0)

    def level_info(self, level: int) -> Level | None:
        return next((lv for lv in self.levels if lv.level == level), None)


def _weights_sum(items: list[Any], what: str) -> None:
    total = sum((item.weight for item in items), Decimal(0))
    if total != 1:
        raise ValueError(f"{what} sum to {total}, not 1")


def _dupes(ids: list[str]) -> set[str]:
    return {i for i in ids if ids.count(i) > 1}


def parse_questionnaire(data: Any, source: str = "questionnaire") -> Questionnaire:
    """Validate a questionnaire from parsed YAML/JSON; errors name the offending path."""
    try:
        return Questionnaire.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"
                             for e in exc.errors())
        raise QuestionnaireError(f"{source} is invalid: {problems}") from exc


def load_questionnaire(questionnaire_id: str) -> Questionnaire:
    """The shipped questionnaire `questionnaire_id`, validated."""
    if not isinstance(questionnaire_id, str) or not _FILE_ID.match(questionnaire_id):
        raise QuestionnaireNotFound(f"questionnaire {questionnaire_id!r} not found",
                                    param="questionnaire")
    path = resources.files(_PACKAGE).joinpath(_FOLDER, f"{questionnaire_id}.yaml")
    if not path.is_file():
        raise QuestionnaireNotFound(f"questionnaire {questionnaire_id!r} not found; known: "
                                    f"{', '.join(questionnaire_ids())}", param="questionnaire")
    q = parse_questionnaire(yaml.safe_load(path.read_text(encoding="utf-8")),
                            f"questionnaires/{questionnaire_id}.yaml")
    if q.id != questionnaire_id:
        raise QuestionnaireError(f"questionnaires/{questionnaire_id}.yaml declares id {q.id!r}")
    return q


def questionnaire_ids() -> list[str]:
    folder = resources.files(_PACKAGE).joinpath(_FOLDER)
    return sorted(p.name[:-5] for p in folder.iterdir()
                  if p.name.endswith(".yaml") and _FILE_ID.match(p.name[:-5]))


def list_questionnaires() -> list[Questionnaire]:
    return [load_questionnaire(i) for i in questionnaire_ids()]
