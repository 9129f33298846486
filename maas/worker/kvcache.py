"""The running batch's KV cache: merging new rows in, dropping finished rows.

Continuous batching needs rows of different lengths in one `DynamicCache`. Rows are
LEFT-padded with zero keys/values so their real tokens are contiguous and end at the same
column; a 2-D attention mask (0 = padding) hides the padding and explicit position ids
keep each row's rotary positions its own. Left padding also keeps sliding-window layers
(Gemma 3) correct: the last W columns of a row are its last W real tokens.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache


def _pad_left(tensor: torch.Tensor, columns: int, dim: int) -> torch.Tensor:
    if columns == 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = columns
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)


class BatchCache:
    """A `DynamicCache` of B rows plus its [B, T] attention mask and per-row token counts."""

    def __init__(self) -> None:
        self.cache: DynamicCache | None = None
        self.mask: torch.Tensor | None = None  # [B, T], long, 1 = real token
        self.lengths: list[int] = []  # real tokens per row (= next position id)

    @property
    def rows(self) -> int:
        return len(self.lengths)

    @property
    def columns(self) -> int:
        return 0 if self.mask is None else int(self.mask.shape[1])

    def add(self, cache: DynamicCache, length: int, copies: int = 1) -> None:
        """Append the rows of a freshly prefilled batch-1 `cache` (`copies` times, for n>1)."""
        if copies > 1:
            cache.batch_repeat_interleave(copies)
        mask = torch.ones((copies, length), dtype=torch.long)
        if self.cache is None or self.mask is None:
            self.cache, self.mask, self.lengths = cache, mask, [length] * copies
            return
        width = max(self.columns, length)
        grow_old, grow_new = width - self.columns, width - length
        for old, new in zip(self.cache.layers, cache.layers, strict=True):
            old.keys = torch.cat(
                [_pad_left(old.keys, grow_old, 2), _pad_left(new.keys, grow_new, 2)], dim=0)
            old.values = torch.cat(
                [_pad_left(old.values, grow_old, 2), _pad_left(new.values, grow_new, 2)], dim=0)
        self.mask = torch.cat([_pad_left(self.mask, grow_old, 1), _pad_left(mask, grow_new, 1)])
        self.lengths += [length] * copies

    def step_inputs(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Attention mask, position ids and cache position for decoding one token per row."""
        assert self.mask is not None
        mask = torch.cat([self.mask, self.mask.new_ones((self.rows, 1))], dim=1)
        positions = torch.tensor(self.lengths, dtype=torch.long).unsqueeze(1)
        return mask, positions, torch.tensor([self.columns], dtype=torch.long)

    def advance(self, mask: torch.Tensor) -> None:
        """Record a decode step: the model appended one column to every layer."""
        self.mask = mask
        self.lengths = [n + 1 for n in self.lengths]

    def keep(self, rows: list[int]) -> None:
        """Keep only `rows` (in that order); trim leading columns that are padding everywhere."""
        if not rows:
            self.cache, self.mask, self.lengths = None, None, []
            return
        assert self.cache is not None and self.mask is not None
        if rows != list(range(self.rows)):
            index = torch.tensor(rows, dtype=torch.long)
            for layer in self.cache.layers:
                layer.keys = layer.keys.index_select(0, index)
                layer.values = layer.values.index_select(0, index)
            self.mask = self.mask.index_select(0, index)
            self.lengths = [self.lengths[i] for i in rows]
        trim = self.columns - max(self.lengths)
        if trim > 0:
            for layer in self.cache.layers:
                layer.keys = layer.keys[:, :, trim:, :]
                layer.values = layer.values[:, :, trim:, :]
            self.mask = self.mask[:, trim:]
