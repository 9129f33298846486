"""Per-row sampling for a batch whose rows each carry their own parameters.

Rows in one decode step belong to different requests, so temperature, top_p and the
random generator are per row. Each sequence owns a `torch.Generator`: seeded from the
request's `seed` it makes the same seed give the same text regardless of what else shares
the batch.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import torch


@dataclass
class SamplingParams:
    """What a request asked for, after defaults and the context-length cap were applied."""

    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    ignore_eos: bool = False  # vLLM's extension; benchmarks use it for fixed-length output


def make_generator(seed: int | None, offset: int = 0) -> torch.Generator:
    """A private RNG; choice `offset` of an n>1 request gets `seed + offset`, so choices differ."""
    generator = torch.Generator()
    base = secrets.randbits(63) if seed is None else seed
    generator.manual_seed((base + offset) % (2**63))
    return generator


def sample_row(logits: torch.Tensor, params: SamplingParams,
               generator: torch.Generator) -> int:
    """Next token id from one row of logits [V] (float32)."""
    if params.temperature <= 0.0:
        return int(torch.argmax(logits).item())
    probs = torch.softmax(logits / params.temperature, dim=-1)
    if params.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        cumulative = torch.cumsum(sorted_probs, dim=-1)
        # Keep the smallest prefix whose mass reaches top_p (always at least one token).
        drop = cumulative - sorted_probs >= params.top_p
        sorted_probs = sorted_probs.masked_fill(drop, 0.0)
        choice = torch.multinomial(sorted_probs, 1, generator=generator)
        return int(order[choice].item())
    return int(torch.multinomial(probs, 1, generator=generator).item())


def sample_batch(logits: torch.Tensor, params: list[SamplingParams],
                 generators: list[torch.Generator]) -> list[int]:
    """Next token per row of `logits` [B, V]; greedy rows are done in one argmax."""
    logits = logits.float()
    greedy = torch.argmax(logits, dim=-1).tolist()
    return [
        greedy[i] if p.temperature <= 0.0 else sample_row(logits[i], p, generators[i])
        for i, p in enumerate(params)
    ]
