"""Continuous batching on a transformers causal LM.

One engine thread owns the model. Requests arrive on a thread-safe queue; each new
request is prefilled alone (batch 1) and its cache rows are merged into the running batch
(see `BatchCache`), then every step decodes one token for all rows at once. Rows leave the
batch as soon as they finish (EOS, max_tokens, a stop sequence, or cancellation), so a
long request never holds short ones hostage and a freed slot is reused at the next step.
A sequence under a `response_format` owns an xgrammar matcher: its row is masked before
sampling, the matcher advances on every accepted token, and the sequence stops when the
grammar is complete (stop sequences do not apply to it: they could cut the JSON).
On a small CPU model a batched step costs little more than a single-row step, which is
where the aggregate throughput comes from.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import DynamicCache

from maas.worker.kvcache import BatchCache
from maas.worker.sampling import SamplingParams, make_generator, sample_batch
from maas.worker.structured import new_matcher
from maas.worker.text import TextStream

log = logging.getLogger(__name__)

#: Seconds the idle engine waits on the queue before checking whether it should stop.
IDLE_WAIT = 0.5
#: Prompt tokens prefilled per engine step. Long prompts are prefilled in chunks between
#: decode steps, so a long RAG prompt delays the running streams by one chunk at a time
#: (and attention scores stay chunk x context instead of context x context).
PREFILL_CHUNK = 512


@dataclass(frozen=True)
class SeqEvent:
    """Output of one sequence: new text, and on the last event the finish reason."""

    index: int
    text: str
    finish_reason: str | None = None  # "stop" | "length" | "cancelled" | "error"
    completion_tokens: int = 0


@dataclass
class Sequence:
    """One generated choice. Lives in one row of the running batch."""

    index: int
    params: SamplingParams
    stream: TextStream
    generator: torch.Generator
    output_ids: list[int] = field(default_factory=list)
    finish_reason: str | None = None
    matcher: Any = None  # xgrammar GrammarMatcher when the request has a response_format


class GenerationRequest:
    """A prompt and its n sequences; `cancel()` is safe from any thread."""

    def __init__(self, prompt_ids: list[int], sequences: list[Sequence],
                 on_event: Callable[[SeqEvent], None]) -> None:
        self.prompt_ids = prompt_ids
        self.sequences = sequences
        self.on_event = on_event
        self._cancelled = threading.Event()
        self.cache: DynamicCache | None = None  # while being prefilled
        self.prefilled = 0

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()


def build_request(prompt_ids: list[int], params: SamplingParams, n: int, tokenizer: Any,
                  on_event: Callable[[SeqEvent], None], first_index: int = 0) -> GenerationRequest:
    """A request of `n` sequences with independent RNGs (`seed + i` when seeded) and,
    under a grammar, independent matchers."""
    constrained = params.grammar is not None
    sequences = [
        Sequence(index=first_index + i, params=params,
                 stream=TextStream(tokenizer, prompt_ids, [] if constrained else params.stop),
                 generator=make_generator(params.seed, i),
                 matcher=new_matcher(params.grammar) if constrained else None)
        for i in range(n)
    ]
    return GenerationRequest(prompt_ids, sequences, on_event)


class GenerationEngine:
    """The engine thread: admits requests, prefills them, decodes the batch step by step."""

    def __init__(self, model: Any, eos_ids: set[int], max_batch_size: int,
                 prefill_chunk: int = PREFILL_CHUNK) -> None:
        self.model = model
        self.eos_ids = frozenset(eos_ids)
        self.max_batch_size = max(1, max_batch_size)
        self.prefill_chunk = max(1, prefill_chunk)
        self._pending: deque[GenerationRequest] = deque()
        self._prefilling: deque[GenerationRequest] = deque()
        self._wakeup = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._batch = BatchCache()
        self._rows: list[tuple[GenerationRequest, Sequence]] = []
        self.tokens_generated = 0
        self.requests_done = 0

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="generation-engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wakeup:
            self._stopping = True
            self._wakeup.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, request: GenerationRequest) -> None:
        with self._wakeup:
            self._pending.append(request)
            self._wakeup.notify()

    def stats(self) -> dict[str, int]:
        prefilling = sum(len(r.sequences) for r in list(self._prefilling))
        return {"active_sequences": len(self._rows) + prefilling,
                "prefilling_sequences": prefilling, "queued_requests": len(self._pending),
                "max_batch_size": self.max_batch_size, "tokens_generated": self.tokens_generated,
                "requests_done": self.requests_done}

    # ------------------------------------------------------------------ loop
    def _run(self) -> None:
        with torch.inference_mode():
            while self.step(block=True):
                pass

    def step(self, block: bool = False) -> bool:
        """Admit what fits, prefill up to one chunk, decode one token for every row.

        Returns False when the engine is stopping. The engine thread calls this in a loop;
        tests call it directly to control exactly when requests join the batch. Callers
        must hold `torch.inference_mode()`.
        """
        idle = not self._rows and not self._prefilling
        admitted = self._take_pending(block=block and idle)
        if admitted is None:
            return False
        self._prefilling.extend(admitted)
        try:
            self._prefill_step()
            if self._rows:
                self._decode_step()
        except Exception:  # a failed forward must not kill the engine
            log.exception("generation step failed; failing %d rows", len(self._rows))
            for request in self._prefilling:
                self._fail_request(request)
            for request, seq in self._rows:
                if seq.finish_reason is None:
                    self._finish(request, seq, "error")
            self._prefilling.clear()
            self._rows, self._batch = [], BatchCache()
        return True

    def _take_pending(self, block: bool) -> list[GenerationRequest] | None:
        """Requests that fit in the free slots; None when the engine is stopping."""
        with self._wakeup:
            while block and not self._pending and not self._stopping:
                self._wakeup.wait(IDLE_WAIT)
            if self._stopping:
                return None
            taken: list[GenerationRequest] = []
            busy = len(self._rows) + sum(len(r.sequences) for r in self._prefilling)
            free = self.max_batch_size - busy
            while self._pending:
                request = self._pending[0]
                size = len(request.sequences)
                if size > free and (busy or taken):
                    break  # an oversized request (n > max_batch_size) runs alone
                taken.append(self._pending.popleft())
                free -= size
            return taken

    def _prefill_step(self) -> None:
        """Spend up to `prefill_chunk` prompt tokens on the requests waiting to join."""
        budget = self.prefill_chunk
        while self._prefilling and budget > 0:
            request = self._prefilling[0]
            if request.cancelled:
                self._prefilling.popleft()
                self._fail_request(request, "cancelled")
                continue
            if request.cache is None:
                request.cache = DynamicCache()
            end = min(len(request.prompt_ids), request.prefilled + budget)
            ids = torch.tensor([request.prompt_ids[request.prefilled:end]], dtype=torch.long)
            out = self.model(input_ids=ids, past_key_values=request.cache, use_cache=True,
                             logits_to_keep=1)
            budget -= end - request.prefilled
            request.prefilled = end
            if end == len(request.prompt_ids):
                self._prefilling.popleft()
                self._join(request, out.logits[:, -1])

    def _join(self, request: GenerationRequest, logits: torch.Tensor) -> None:
        """A fully prefilled request: sample its first tokens and merge it into the batch."""
        assert request.cache is not None
        logits = logits.expand(len(request.sequences), -1)
        tokens = sample_batch(logits, [s.params for s in request.sequences],
                              [s.generator for s in request.sequences],
                              matchers=[s.matcher for s in request.sequences])
        self._batch.add(request.cache, len(request.prompt_ids), copies=len(request.sequences))
        request.cache = None
        self._rows += [(request, seq) for seq in request.sequences]
        for seq, token in zip(request.sequences, tokens, strict=True):
            self._accept(request, seq, token)
        log.debug("request of %d prompt tokens joined the batch (%d rows)",
                  len(request.prompt_ids), len(self._rows))
        self._drop_finished()

    def _decode_step(self) -> None:
        for request, seq in self._rows:
            if request.cancelled and seq.finish_reason is None:
                self._finish(request, seq, "cancelled")
        self._drop_finished()
        if not self._rows:
            return
        mask, positions, cache_position = self._batch.step_inputs()
        input_ids = torch.tensor([[seq.output_ids[-1]] for _, seq in self._rows],
                                 dtype=torch.long)
        out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                         cache_position=cache_position, past_key_values=self._batch.cache,
                         use_cache=True)
        self._batch.advance(mask)
        tokens = sample_batch(out.logits[:, -1], [s.params for _, s in self._rows],
                              [s.generator for _, s in self._rows],
                              [s.output_ids for _, s in self._rows],
                              [s.matcher for _, s in self._rows])
        for (request, seq), token in zip(self._rows, tokens, strict=True):
            self._accept(request, seq, token)
        self._drop_finished()

    # ------------------------------------------------------------------ per sequence
    def _accept(self, request: GenerationRequest, seq: Sequence, token: int) -> None:
        seq.output_ids.append(token)
        self.tokens_generated += 1
        if seq.matcher is not None and not seq.matcher.accept_token(token):  # cannot happen
            log.error("token %d is outside the grammar despite the mask", token)
            self._finish(request, seq, "error")
            return
        # A grammar terminates only on a stop token (EOS), even under ignore_eos.
        grammar_done = seq.matcher is not None and seq.matcher.is_terminated()
        if grammar_done or (token in self.eos_ids and not seq.params.ignore_eos):
            self._finish(request, seq, "stop")
            return
        text = seq.stream.push(token)
        if seq.stream.stopped:
            self._emit(request, seq, text, "stop")
        elif len(seq.output_ids) >= seq.params.max_tokens:
            self._finish(request, seq, "length", text)
        elif text:
            self._emit(request, seq, text, None)

    def _finish(self, request: GenerationRequest, seq: Sequence, reason: str,
                text: str = "") -> None:
        if reason in ("stop", "length"):
            text += seq.stream.finish()
        self._emit(request, seq, text, reason)

    def _emit(self, request: GenerationRequest, seq: Sequence, text: str,
              reason: str | None) -> None:
        if reason is not None:
            seq.finish_reason = reason
            if all(s.finish_reason is not None for s in request.sequences):
                self.requests_done += 1
        try:
            request.on_event(SeqEvent(seq.index, text, reason, len(seq.output_ids)))
        except Exception:  # the consumer's problem, not the batch's
            log.exception("event callback failed; cancelling its request")
            request.cancel()

    def _fail_request(self, request: GenerationRequest, reason: str = "error") -> None:
        for seq in request.sequences:
            if seq.finish_reason is None:
                self._emit(request, seq, "", reason)

    def _drop_finished(self) -> None:
        keep = [i for i, (_, seq) in enumerate(self._rows) if seq.finish_reason is None]
        if len(keep) == len(self._rows):
            return
        self._batch.keep(keep)
        self._rows = [self._rows[i] for i in keep]
