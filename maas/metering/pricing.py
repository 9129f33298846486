"""What a request costs, in integer micro-credits, and how many tokens it may use.

Prices are credits per 1k tokens, from the model's manifest (where they are required: a
self-hosted model is free only if its manifest says 0 explicitly). Arithmetic is done
in `Decimal` and rounded half-up to the micro-credit once per request, so the same usage
always costs the same, and sums of stored costs are exact.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

MICRO = 1_000_000
MESSAGE_OVERHEAD = 4  # role markers and separators a chat template adds per message
REQUEST_OVERHEAD = 16


def credits_to_micro(amount: float | str | Decimal) -> int:
    value = (Decimal(str(amount)) * MICRO).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(value)


def micro_to_credits(micro: int) -> float:
    return float(Decimal(micro) / MICRO)


class Price:
    """A model's price; `cost(prompt, completion)` is monotonic in both counts."""

    def __init__(self, input_per_1k: float | Decimal, output_per_1k: float | Decimal) -> None:
        self.input_per_1k = Decimal(str(input_per_1k))
        self.output_per_1k = Decimal(str(output_per_1k))

    @classmethod
    def of(cls, pricing: Any) -> Price:
        return cls(pricing.input_per_1k, pricing.output_per_1k)

    @property
    def free(self) -> bool:
        return self.input_per_1k == 0 and self.output_per_1k == 0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> int:
        credits = (prompt_tokens * self.input_per_1k + completion_tokens * self.output_per_1k)
        return int((credits * MICRO / 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def affordable_completion(self, prompt_tokens: int, budget: int, wanted: int) -> int:
        """The most completion tokens (<= wanted) whose total cost stays within budget."""
        if self.output_per_1k == 0:  # -1: not even the prompt is affordable
            return wanted if self.cost(prompt_tokens, 0) <= budget else -1
        low, high = 0, wanted
        while low < high:  # cost is monotonic: binary search the largest affordable count
            mid = (low + high + 1) // 2
            if self.cost(prompt_tokens, mid) <= budget:
                low = mid
            else:
                high = mid - 1
        return low if self.cost(prompt_tokens, low) <= budget else -1


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict):
                out.extend(_texts(item.get("text")))
        return out
    return []


def prompt_token_bounds(endpoint: str, body: dict[str, Any]) -> tuple[int, int]:
    """(likely, upper bound) of a request's prompt tokens, before any tokenizer ran.

    The bound counts UTF-8 bytes: byte-level BPE and byte-fallback tokenizers never make
    more tokens than bytes, plus template overhead. Reservations use the bound so a
    settled cost never exceeds what was held; rate limits and quotas use the likely
    count (characters) and are corrected with the real count when the request settles.
    """
    if endpoint == "chat.completions":
        messages = body.get("messages") or []
        texts = [t for m in messages for t in _texts(m.get("content"))]
        extra = MESSAGE_OVERHEAD * len(messages) + REQUEST_OVERHEAD
    else:
        raw = body.get("prompt") if endpoint == "completions" else body.get("input")
        if isinstance(raw, list) and raw and isinstance(raw[0], int):
            return len(raw), len(raw)  # already token ids
        if isinstance(raw, list) and raw and isinstance(raw[0], list):
            count = sum(len(ids) for ids in raw)
            return count, count
        texts = _texts(raw)
        extra = REQUEST_OVERHEAD
    likely = sum(len(t) for t in texts) + extra
    upper = sum(len(t.encode("utf-8")) for t in texts) + extra
    return likely, upper
