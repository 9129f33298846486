"""Group commit: requests that arrive while one batch is in the database form the next.

Metering writes to rows that every request of a tenant shares (its quota counter, its
credit lots). One transaction per request serialises them on those rows and spends the
gateway's CPU on per-statement overhead; one transaction per batch does neither. The
batch is processed in a worker thread; each submitter gets its own result or exception.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio

T = TypeVar("T")
R = TypeVar("R")

MAX_BATCH = 256


@dataclass
class _Pending(Generic[T, R]):
    item: T
    done: asyncio.Future[R] = field(repr=False)


class GroupCommit(Generic[T, R]):
    """Subclasses implement `process(batch)` (runs in a thread): one result per item, or
    the exception that item should raise."""

    def __init__(self, max_batch: int = MAX_BATCH) -> None:
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Pending[T, R]] | None = None
        self._task: asyncio.Task[None] | None = None

    def process(self, batch: list[T]) -> list[R | BaseException]:
        raise NotImplementedError

    async def submit(self, item: T) -> R:
        """Queue `item` and wait (shielded from cancellation) for its batch."""
        if self._queue is None or self._task is None or self._task.done():
            self._queue = self._queue or asyncio.Queue()
            self._task = asyncio.create_task(self._run())
        pending: _Pending[T, R] = _Pending(item, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(pending)
        with anyio.CancelScope(shield=True):
            return await pending.done

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                results = await asyncio.to_thread(self.process, [p.item for p in batch])
            except Exception as exc:  # process() should not raise; fail the batch if it does
                results = [exc] * len(batch)
            for pending, result in zip(batch, results, strict=True):
                if pending.done.done():
                    continue
                if isinstance(result, BaseException):
                    pending.done.set_exception(result)
                else:
                    pending.done.set_result(result)

    async def close(self) -> None:
        """Let queued items land, then stop."""
        if self._task is None:
            return
        while self._queue is not None and not self._queue.empty():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)
        self._task.cancel()
