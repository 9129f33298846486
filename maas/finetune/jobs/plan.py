"""The pure decisions of a fine-tuning job, shared by the API (estimates, limits) and the
training subprocess (the real run), so both agree: hyperparameters, the held-out split,
the number of steps, the tokens trained and the private model's id. No torch, no DB.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from maas.catalog.models import ID_PATTERN, AdapterSpec

#: Tenants' jobs train the same adapter as the industry models' defaults (`AdapterSpec`):
#: rank, alpha, target modules, and the learning rate `learning_rate_multiplier` scales.
_INDUSTRY = AdapterSpec(dataset="defaults")
RANK, ALPHA = _INDUSTRY.rank, _INDUSTRY.alpha
TARGET_MODULES = tuple(_INDUSTRY.target_modules)
BASE_LEARNING_RATE = _INDUSTRY.learning_rate
#: "auto" epochs aim at about this many steps (2-3 s each at batch 8 on two idle cores).
TARGET_STEPS = 40
MAX_AUTO_EPOCHS = 10
DEFAULT_BATCH = 8
#: Held out for evaluation when no validation file is given: 10%, at least 1, at most 50.
EVAL_SHARE, EVAL_MIN, EVAL_CAP = 0.1, 1, 50
MIN_EXAMPLES = 10
SUFFIX = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")


class Hyperparameters(BaseModel):
    """OpenAI's hyperparameters ("auto" or a value), plus `steps` as an alternative to
    `n_epochs` (exactly one of them, or neither for auto)."""

    model_config = ConfigDict(extra="forbid")

    n_epochs: int | Literal["auto"] | None = Field(default=None)
    steps: int | None = Field(default=None, ge=1, le=2000)
    batch_size: int | Literal["auto"] | None = Field(default=None)
    learning_rate_multiplier: float | Literal["auto"] | None = Field(default=None)

    @model_validator(mode="after")
    def _ranges(self) -> Hyperparameters:
        if isinstance(self.n_epochs, int) and not 1 <= self.n_epochs <= 50:
            raise ValueError("n_epochs must be between 1 and 50")
        if isinstance(self.batch_size, int) and not 1 <= self.batch_size <= 64:
            raise ValueError("batch_size must be between 1 and 64")
        lr = self.learning_rate_multiplier
        if isinstance(lr, float | int) and not 0 < lr <= 10:
            raise ValueError("learning_rate_multiplier must be > 0 and <= 10")
        if isinstance(self.n_epochs, int) and self.steps is not None:
            raise ValueError("give n_epochs or steps, not both")
        return self


@dataclass(frozen=True)
class Resolved:
    """The hyperparameters a job actually trains with."""

    n_epochs: float
    steps: int
    batch_size: int
    learning_rate_multiplier: float
    learning_rate: float
    rank: int = RANK
    alpha: int = ALPHA

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve(hp: Hyperparameters, n_train: int) -> Resolved:
    """Fill "auto": batch 8 (or all examples), epochs aiming at ~40 steps (1-10)."""
    batch = hp.batch_size if isinstance(hp.batch_size, int) else DEFAULT_BATCH
    batch = max(1, min(batch, n_train))
    multiplier = float(hp.learning_rate_multiplier) \
        if isinstance(hp.learning_rate_multiplier, float | int) else 1.0
    if hp.steps is not None:
        steps = hp.steps
        epochs = round(steps * batch / n_train, 2)
    else:
        epochs = hp.n_epochs if isinstance(hp.n_epochs, int) else max(
            1, min(MAX_AUTO_EPOCHS, math.ceil(TARGET_STEPS * batch / n_train)))
        steps = math.ceil(epochs * n_train / batch)
    return Resolved(float(epochs), steps, batch, multiplier, BASE_LEARNING_RATE * multiplier)


def eval_count(n: int) -> int:
    """How many of `n` examples are held out when there is no validation file."""
    return max(EVAL_MIN, min(EVAL_CAP, round(n * EVAL_SHARE)))


def split(n: int, seed: int) -> tuple[list[int], list[int]]:
    """(train, held-out) indices of `n` examples: a seeded shuffle, so the same file and
    seed always hold out the same examples."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    k = eval_count(n)
    return sorted(order[k:]), sorted(order[:k])


def train_size(examples: int, has_validation: bool) -> int:
    return examples if has_validation else examples - eval_count(examples)


def estimated_trained_tokens(file_tokens: int, examples: int, resolved: Resolved) -> int:
    """Tokens the run will see, from the upload's estimate (an upper bound for byte-level
    tokenizers: it counts characters): the mean tokens of an example x examples seen."""
    per_example = file_tokens / max(1, examples)
    return math.ceil(per_example * resolved.steps * resolved.batch_size)


def model_id(base: str, suffix: str | None, job_id: str) -> str:
    """`ft-<base>-<suffix or the job's short id>` (a valid model id)."""
    tail = suffix or job_id.removeprefix("ftjob-")[:8]
    candidate = f"ft-{base}-{tail}"
    if not re.match(ID_PATTERN, candidate):
        raise ValueError(f"{candidate!r} is not a valid model id")
    return candidate
