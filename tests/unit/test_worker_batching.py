"""Continuous batching: a request's greedy output must not depend on its batch-mates.

Uses tiny randomly initialised float32 models (no weights to download or convert) and a
byte-level tokenizer, and drives the engine step by step so requests join the running
batch at chosen moments. The Gemma 3 variant has a sliding window shorter than the
prompts, which checks that left padding keeps sliding-window layers exact.
"""

from __future__ import annotations

import pytest
import torch
from transformers import Gemma3ForCausalLM, Gemma3TextConfig, LlamaConfig, LlamaForCausalLM

from maas.worker.generation import GenerationEngine, SeqEvent, build_request
from maas.worker.sampling import SamplingParams

EOS = 256


class ByteTokenizer:
    """Token i < 256 is byte i; 256 is EOS. Decodes like HF (U+FFFD for partial UTF-8)."""

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


def _llama() -> torch.nn.Module:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=260, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, initializer_range=0.3)
    return LlamaForCausalLM(config).eval()


def _gemma() -> torch.nn.Module:
    torch.manual_seed(0)
    config = Gemma3TextConfig(vocab_size=260, hidden_size=64, intermediate_size=128,
                              num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                              head_dim=16, max_position_embeddings=512, sliding_window=6,
                              layer_types=["sliding_attention", "full_attention"],
                              initializer_range=0.3)
    return Gemma3ForCausalLM(config).eval()


MODELS = {"llama": _llama, "gemma3-sliding": _gemma}


class Collector:
    def __init__(self) -> None:
        self.events: list[SeqEvent] = []

    def __call__(self, event: SeqEvent) -> None:
        self.events.append(event)

    def text(self, index: int = 0) -> str:
        return "".join(e.text for e in self.events if e.index == index)

    def finish(self, index: int = 0) -> str | None:
        return next((e.finish_reason for e in self.events
                     if e.index == index and e.finish_reason), None)


def _prompt(seed: int, length: int) -> list[int]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(32, 127, (length,), generator=g).tolist()


def _submit(engine: GenerationEngine, prompt: list[int], max_tokens: int, n: int = 1,
            temperature: float = 0.0, seed: int | None = None) -> tuple[Collector, object]:
    out = Collector()
    params = SamplingParams(max_tokens=max_tokens, temperature=temperature, seed=seed,
                            ignore_eos=True)
    request = build_request(prompt, params, n, ByteTokenizer(), out)
    engine.submit(request)
    return out, request


def _drain(engine: GenerationEngine, steps: int = 10_000) -> None:
    for _ in range(steps):
        if not engine.stats()["active_sequences"] and not engine.stats()["queued_requests"]:
            return
        engine.step()


@pytest.mark.parametrize("chunk", [512, 4], ids=["whole-prefill", "chunked-prefill"])
@pytest.mark.parametrize("make_model", MODELS.values(), ids=MODELS.keys())
@torch.inference_mode()
def test_greedy_output_is_the_same_alone_and_in_a_batch(make_model, chunk: int) -> None:
    model = make_model()
    specs = [(1, 5, 24), (2, 17, 30), (3, 9, 12), (4, 3, 40), (5, 26, 20)]  # seed, len, max
    alone = {}
    for seed, length, max_tokens in specs:
        engine = GenerationEngine(model, {EOS}, max_batch_size=8)
        out, _ = _submit(engine, _prompt(seed, length), max_tokens)
        _drain(engine)
        alone[seed] = out
    engine = GenerationEngine(model, {EOS}, max_batch_size=8, prefill_chunk=chunk)
    batched = {}
    join_after = {1: 0, 2: 0, 3: 4, 4: 7, 5: 15}  # steps to run before each request joins
    steps_done = 0
    for seed, length, max_tokens in specs:
        while steps_done < join_after[seed]:
            engine.step()
            steps_done += 1
        batched[seed], _ = _submit(engine, _prompt(seed, length), max_tokens)
    _drain(engine)
    for seed, _, max_tokens in specs:
        assert batched[seed].finish() == "length"
        assert batched[seed].events[-1].completion_tokens == max_tokens
        assert batched[seed].text() == alone[seed].text(), f"request {seed} diverged"


@torch.inference_mode()
def test_batch_is_capped_and_freed_slots_are_reused() -> None:
    engine = GenerationEngine(_llama(), {EOS}, max_batch_size=2)
    outs = [_submit(engine, _prompt(i, 4 + i), max_tokens=3 + i)[0] for i in range(4)]
    engine.step()
    assert engine.stats()["active_sequences"] == 2
    assert engine.stats()["queued_requests"] == 2
    _drain(engine)
    assert all(o.finish() == "length" for o in outs)
    assert engine.stats()["requests_done"] == 4


@torch.inference_mode()
def test_long_prompts_are_prefilled_in_chunks_between_decode_steps() -> None:
    engine = GenerationEngine(_llama(), {EOS}, max_batch_size=4, prefill_chunk=8)
    running, request = _submit(engine, _prompt(1, 5), max_tokens=50)
    engine.step()
    produced = len(request.sequences[0].output_ids)
    late, _ = _submit(engine, _prompt(2, 30), max_tokens=3)  # needs 4 chunks of 8
    for _ in range(3):
        engine.step()
        assert engine.stats()["prefilling_sequences"] == 1
    assert len(request.sequences[0].output_ids) == produced + 3  # it kept decoding
    engine.step()
    assert engine.stats()["prefilling_sequences"] == 0
    _drain(engine)
    assert late.finish() == "length" and running.finish() == "length"


@torch.inference_mode()
def test_cancelled_request_leaves_the_batch_at_the_next_step() -> None:
    engine = GenerationEngine(_llama(), {EOS}, max_batch_size=4)
    long_out, long_request = _submit(engine, _prompt(1, 8), max_tokens=500)
    short_out, _ = _submit(engine, _prompt(2, 5), max_tokens=6)
    engine.step()
    engine.step()
    long_request.cancel()
    engine.step()
    assert long_out.finish() == "cancelled"
    assert engine.stats()["active_sequences"] == 1
    _drain(engine)
    assert short_out.finish() == "length"
    assert engine.stats()["active_sequences"] == 0


@torch.inference_mode()
def test_seeded_sampling_repeats_and_n_choices_differ() -> None:
    model = _llama()

    def run(seed: int) -> Collector:
        engine = GenerationEngine(model, {EOS}, max_batch_size=8)
        out, _ = _submit(engine, _prompt(7, 6), max_tokens=20, n=3, temperature=1.0, seed=seed)
        _submit(engine, _prompt(8, 9), max_tokens=15, temperature=1.0)  # unseeded batch-mate
        _drain(engine)
        return out

    first, second = run(42), run(42)
    texts = [first.text(i) for i in range(3)]
    assert texts == [second.text(i) for i in range(3)]
    assert len(set(texts)) == 3
    assert [first.finish(i) for i in range(3)] == ["length"] * 3


@torch.inference_mode()
def test_eos_finishes_with_stop_and_counts_the_token() -> None:
    model = _llama()
    engine = GenerationEngine(model, {EOS}, max_batch_size=2)
    _, request = _submit(engine, _prompt(3, 6), max_tokens=8)
    _drain(engine)
    first_token = request.sequences[0].output_ids[0]
    engine = GenerationEngine(model, {first_token}, max_batch_size=2)  # that token is now EOS
    out = Collector()
    engine.submit(build_request(_prompt(3, 6), SamplingParams(max_tokens=8), 1,
                                ByteTokenizer(), out))
    _drain(engine)
    assert out.finish() == "stop"
    assert out.text() == ""
    assert out.events[-1].completion_tokens == 1
