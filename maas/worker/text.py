"""Token ids -> text for streaming: incremental detokenisation and stop sequences.

Three things make this harder than `tokenizer.decode` per token:

- byte-level BPE splits one Chinese character over several tokens; decoding one of them
  alone gives U+FFFD, so text is only released once the decoded window no longer ends
  in a replacement character;
- SentencePiece tokenizers drop or merge leading spaces depending on the neighbours, so
  each new piece is the difference between decoding a small window with and without the
  new tokens (the approach vLLM uses), seeded with the prompt's last tokens;
- a stop sequence can span several tokens, so any tail that could still become a stop
  sequence is held back until it either completes (then it is cut) or cannot.
"""

from __future__ import annotations

from typing import Protocol

#: Prompt tokens used as decoding context so the first generated piece gets its spacing.
PROMPT_CONTEXT_TOKENS = 5
REPLACEMENT_CHAR = "\ufffd"


class Decoder(Protocol):
    def decode(self, ids: list[int], skip_special_tokens: bool = ...) -> str: ...


class IncrementalDetokenizer:
    """Turns a growing list of token ids into text deltas that never split a character."""

    def __init__(self, tokenizer: Decoder, prompt_ids: list[int] | None = None) -> None:
        self._tokenizer = tokenizer
        self._ids = list((prompt_ids or [])[-PROMPT_CONTEXT_TOKENS:])
        self._prefix_offset = 0
        self._read_offset = len(self._ids)

    def _decode(self, start: int, end: int | None = None) -> str:
        return self._tokenizer.decode(self._ids[start:end], skip_special_tokens=True)

    def push(self, token_id: int) -> str:
        """Add one token; return the newly completed text (possibly empty)."""
        self._ids.append(token_id)
        prefix = self._decode(self._prefix_offset, self._read_offset)
        full = self._decode(self._prefix_offset)
        if len(full) > len(prefix) and not full.endswith(REPLACEMENT_CHAR):
            self._prefix_offset, self._read_offset = self._read_offset, len(self._ids)
            return full[len(prefix):]
        return ""

    def flush(self) -> str:
        """Whatever is still pending at the end (may hold a lone replacement character)."""
        prefix = self._decode(self._prefix_offset, self._read_offset)
        full = self._decode(self._prefix_offset)
        self._prefix_offset = self._read_offset = len(self._ids)
        return full[len(prefix):] if len(full) > len(prefix) else ""


class StopMatcher:
    """Cuts text at the first stop sequence, holding back tails that may still become one."""

    def __init__(self, stops: list[str]) -> None:
        self._stops = [s for s in stops if s]
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """Add text; return what is safe to emit. Sets `stopped` when a stop sequence hit."""
        if self.stopped:
            return ""
        buffer = self._held + text
        hits = [i for i in (buffer.find(s) for s in self._stops) if i >= 0]
        if hits:
            self.stopped, self._held = True, ""
            return buffer[:min(hits)]
        hold = self._partial_stop_length(buffer)
        self._held = buffer[len(buffer) - hold:] if hold else ""
        return buffer[:len(buffer) - hold]

    def flush(self) -> str:
        """The held-back tail, released when generation ends for another reason."""
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _partial_stop_length(self, buffer: str) -> int:
        """Length of the longest suffix of `buffer` that is a proper prefix of a stop."""
        best = 0
        for stop in self._stops:
            for size in range(min(len(stop) - 1, len(buffer)), best, -1):
                if buffer.endswith(stop[:size]):
                    best = size
                    break
        return best


class TextStream:
    """Detokeniser + stop matcher for one generated sequence."""

    def __init__(self, tokenizer: Decoder, prompt_ids: list[int], stops: list[str]) -> None:
        self._detok = IncrementalDetokenizer(tokenizer, prompt_ids)
        self._stops = StopMatcher(stops)

    @property
    def stopped(self) -> bool:
        return self._stops.stopped

    def push(self, token_id: int) -> str:
        return self._stops.feed(self._detok.push(token_id))

    def finish(self) -> str:
        """Release everything still pending (call when generation ends without a stop)."""
        tail = self._stops.feed(self._detok.flush())
        return tail + self._stops.flush()
