"""`Limits`: the one shape of every limit a plan or a key can set.

Plans and keys both carry a `Limits` value (stored as JSON). Enforcement reads them
through `scopes_for`, so there is exactly one definition of what a limit is and one
place that applies it (unlike gateways that copy budget columns onto five tables).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Limits(BaseModel):
    """Unset (None) means "no limit at this level"."""

    model_config = ConfigDict(extra="forbid")

    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    concurrent: int | None = Field(default=None, ge=1)
    monthly_tokens: int | None = Field(default=None, ge=1)
    model_tags: list[str] | None = Field(
        default=None, description="Models usable only if they carry one of these tags.")
    # Fine-tuning (enforced from the tenant's plan when a job is created; not key limits).
    fine_tuning_active_jobs: int | None = Field(
        default=None, ge=0, description="Fine-tuning jobs queued or running at once.")
    fine_tuning_jobs_per_month: int | None = Field(
        default=None, ge=0, description="Fine-tuning jobs created per calendar month (UTC).")
    fine_tuning_examples: int | None = Field(
        default=None, ge=1, description="Training examples in one job's training file.")
    fine_tuning_tokens: int | None = Field(
        default=None, ge=1, description="Tokens one job may train on (examples x epochs).")
    fine_tuned_models: int | None = Field(
        default=None, ge=0, description="Private fine-tuned models a tenant may keep.")

    def narrows(self, other: Limits) -> bool:
        """True if `self` is at least as strict as `other` in every dimension.

        Used to stop a caller from minting a key that is looser than its own.
        """
        for name in ("requests_per_minute", "tokens_per_minute", "concurrent", "monthly_tokens"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if theirs is not None and (mine is None or mine > theirs):
                return False
        return other.model_tags is None or (
            self.model_tags is not None and set(self.model_tags) <= set(other.model_tags))

    def allows_tags(self, tags: list[str]) -> bool:
        return self.model_tags is None or bool(set(tags) & set(self.model_tags))
