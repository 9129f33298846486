"""Per-row sampling for a batch whose rows each carry their own parameters.

Rows in one decode step belong to different requests, so temperature, top_p and the
random generator are per row. Each sequence owns a `torch.Generator`: seeded from the
request's `seed` it makes the same seed give the same text regardless of what else shares
the batch. Rows under a `response_format` carry an xgrammar matcher: their logits are
masked to the tokens the grammar allows before anything else looks at them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import torch

#: Most likely tokens examined first by nucleus sampling (see `sample_batch`).
TOP_CANDIDATES = 256


@dataclass
class SamplingParams:
    """What a request asked for, after defaults and the context-length cap were applied."""

    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    ignore_eos: bool = False  # vLLM's extension; benchmarks use it for fixed-length output
    grammar: Any = None  # structured.Grammar from `response_format`


def make_generator(seed: int | None, offset: int = 0) -> torch.Generator:
    """A private RNG; choice `offset` of an n>1 request gets `seed + offset`, so choices differ."""
    generator = torch.Generator()
    base = secrets.randbits(63) if seed is None else seed
    generator.manual_seed((base + offset) % (2**63))
    return generator


def _race(weights: torch.Tensor, generator: torch.Generator) -> int:
    """Draw an index with probability proportional to `weights` [V] (inverse CDF).

    One uniform number from the row's own generator and a binary search: exact, and far
    cheaper on a CPU than `torch.multinomial` or per-token noise over a 50k vocabulary.
    """
    cumulative = torch.cumsum(weights, dim=-1)
    target = torch.rand((), generator=generator) * cumulative[-1]
    index = int(torch.searchsorted(cumulative, target.reshape(1), right=True).item())
    return min(index, weights.shape[-1] - 1)


def _nucleus(sorted_probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Zero all but the smallest prefix of descending probs whose mass reaches top_p."""
    cumulative = torch.cumsum(sorted_probs, dim=-1)
    return sorted_probs.masked_fill(cumulative - sorted_probs >= top_p, 0.0)


def sample_row(probs: torch.Tensor, top_p: float, generator: torch.Generator) -> int:
    """Exact nucleus sampling over a full row of probabilities [V] (the slow path)."""
    if top_p >= 1.0:
        return _race(probs, generator)
    sorted_probs, order = torch.sort(probs, descending=True)
    return int(order[_race(_nucleus(sorted_probs, top_p), generator)].item())


def apply_penalties(logits: torch.Tensor, params: list[SamplingParams],
                    history: list[list[int]]) -> torch.Tensor:
    """OpenAI's presence/frequency penalties over each row's generated tokens so far."""
    rows = [i for i, p in enumerate(params)
            if (p.presence_penalty or p.frequency_penalty) and history[i]]
    if not rows:
        return logits
    logits = logits.clone()
    vocab = logits.shape[-1]
    for i in rows:
        counts = torch.bincount(torch.tensor(history[i]), minlength=vocab)[:vocab].float()
        logits[i] -= (counts * params[i].frequency_penalty
                      + (counts > 0).float() * params[i].presence_penalty)
    return logits


def mask_logits(logits: torch.Tensor, matchers: list[Any | None]) -> torch.Tensor:
    """A float32 copy of `logits` [B, V] with disallowed tokens at -inf on constrained rows.

    Rows whose matcher is None are left exactly as they were. A copy, because the input
    may be an expanded view (n choices share one prefill row) or the model's own output.
    """
    import xgrammar as xgr  # only ever reached with a grammar, so it is installed

    rows = [i for i, m in enumerate(matchers) if m is not None]
    masked = logits.float().clone(memory_format=torch.contiguous_format)
    bitmask = xgr.allocate_token_bitmask(len(matchers), masked.shape[-1])
    for i in rows:
        matchers[i].fill_next_token_bitmask(bitmask, i)
    xgr.apply_token_bitmask_inplace(masked, bitmask, indices=rows)
    return masked


def sample_batch(logits: torch.Tensor, params: list[SamplingParams],
                 generators: list[torch.Generator],
                 history: list[list[int]] | None = None,
                 matchers: list[Any | None] | None = None) -> list[int]:
    """Next token per row of `logits` [B, V], each row with its own parameters.

    Vectorised where it matters on a CPU: one argmax for greedy rows, one softmax and one
    top-k for sampled rows. Nucleus sampling looks at the TOP_CANDIDATES most likely
    tokens only when they already hold top_p of the mass (then the result is exact);
    flat distributions fall back to a full sort of that row. `matchers` (one per row,
    None = unconstrained) restrict grammar-constrained rows to the tokens they allow.
    """
    if matchers is not None and any(m is not None for m in matchers):
        logits = mask_logits(logits, matchers)
    logits = logits.float()
    if history is not None:
        logits = apply_penalties(logits, params, history)
    tokens = torch.argmax(logits, dim=-1).tolist()
    rows = [i for i, p in enumerate(params) if p.temperature > 0.0]
    if not rows:
        return tokens
    temperatures = torch.tensor([params[i].temperature for i in rows]).unsqueeze(1)
    probs = torch.softmax(logits[rows] / temperatures, dim=-1)
    top_probs, top_ids = probs.topk(min(TOP_CANDIDATES, probs.shape[-1]), dim=-1)
    top_mass = top_probs.sum(dim=-1).tolist()
    for j, i in enumerate(rows):
        top_p = params[i].top_p
        if top_p < 1.0 and top_mass[j] >= top_p:
            pick = _race(_nucleus(top_probs[j], top_p), generators[i])
            tokens[i] = int(top_ids[j, pick].item())
        else:
            tokens[i] = sample_row(probs[j], top_p, generators[i])
    return tokens
