"""One HTTP request's generations, bridged from the engine thread into asyncio.

A completion may fan out into several engine requests (a list of prompts, each with n
choices); `Run` collects their events on one asyncio queue, tracks per-choice text,
finish reasons and token counts, and cancels everything still running when the client
goes away.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the server must import without torch (HF_HUB_OFFLINE is set first)
    from maas.worker.generation import SeqEvent
    from maas.worker.sampling import SamplingParams

#: How often a non-streaming request checks whether its client is still connected.
DISCONNECT_POLL = 0.25


@dataclass
class Choice:
    text: str = ""
    finish_reason: str | None = None
    completion_tokens: int = 0


@dataclass
class Run:
    """The choices of one request, filled from engine events."""

    choices: list[Choice]
    prompt_tokens: int = 0
    handles: list[Any] = field(default_factory=list)
    queue: asyncio.Queue[SeqEvent] = field(default_factory=asyncio.Queue)

    @classmethod
    def start(cls, backend: Any, prompts: list[list[int]], params: SamplingParams,
              n: int) -> Run:
        """Submit every prompt x n choices; events land on this run's queue."""
        loop = asyncio.get_running_loop()
        run = cls(choices=[Choice() for _ in range(len(prompts) * n)],
                  prompt_tokens=sum(len(p) for p in prompts))

        def deliver(event: SeqEvent) -> None:
            loop.call_soon_threadsafe(run.queue.put_nowait, event)

        for i, prompt in enumerate(prompts):
            run.handles.append(backend.generate(prompt, params, n, deliver, first_index=i * n))
        return run

    @property
    def done(self) -> bool:
        return all(c.finish_reason is not None for c in self.choices)

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.choices)

    def cancel(self) -> None:
        for handle in self.handles:
            handle.cancel()

    def _apply(self, event: SeqEvent) -> None:
        choice = self.choices[event.index]
        choice.text += event.text
        if event.finish_reason is not None:
            choice.finish_reason = event.finish_reason
            choice.completion_tokens = event.completion_tokens

    async def event_batches(self) -> AsyncIterator[list[SeqEvent]]:
        """Events in arrival order, grouped: whatever queued up while the consumer was busy.

        Under load a slow consumer then sends one chunk per choice for several tokens
        instead of one per token, which keeps the event loop from becoming the bottleneck.
        """
        while not self.done:
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            for event in batch:
                self._apply(event)
            yield batch

    async def wait(self, is_disconnected: Callable[[], Awaitable[bool]]) -> bool:
        """Collect everything; False (and everything cancelled) if the client left first.

        The client is checked every DISCONNECT_POLL seconds whether or not events keep
        arriving, so a busy generation notices a vanished client just as fast.
        """
        loop = asyncio.get_running_loop()
        next_check = loop.time() + DISCONNECT_POLL
        while not self.done:
            try:
                event = await asyncio.wait_for(self.queue.get(),
                                               max(0.0, next_check - loop.time()))
                self._apply(event)
            except TimeoutError:
                pass
            if loop.time() >= next_check:
                if await is_disconnected():
                    self.cancel()
                    return False
                next_check = loop.time() + DISCONNECT_POLL
        return True
