"""Structured output in the engine: xgrammar masks on some rows of a continuous batch.

The model is the tiny random Llama of the batching tests (its "natural" output is byte
noise, so anything JSON-shaped comes from the grammar), and the tokenizer is a real
Hugging Face byte-level BPE tokenizer built in memory (token i < 256 is byte i, 256 is
EOS), so xgrammar's `TokenizerInfo.from_huggingface` runs exactly as on a real model.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch

from maas.worker.errors import WorkerError
from maas.worker.generation import GenerationEngine, build_request
from maas.worker.sampling import SamplingParams, mask_logits
from maas.worker.structured import (
    GrammarCache,
    OutputFormat,
    new_matcher,
    parse_response_format,
)
from tests.unit.test_worker_batching import EOS, Collector, _drain, _llama, _prompt

xgrammar = pytest.importorskip("xgrammar")

VOCAB = 260  # the tiny model's logits width: 256 bytes, EOS, 3 unused ids
ACTIONS = ["kb_search", "calculator", "answer"]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ACTIONS},
        "input": {"type": "string", "maxLength": 12},
        "count": {"type": "integer", "minimum": 0, "maximum": 99},
        "ok": {"type": "boolean"},
    },
    "required": ["action", "input", "count", "ok"],
}


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map (what byte-level BPE vocabularies store)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def byte_tokenizer() -> Any:
    """A PreTrainedTokenizerFast whose token i < 256 is byte i and 256 is `<eos>`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {char: b for b, char in _bytes_to_unicode().items()} | {"<eos>": EOS}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<eos>")
    tokenizer.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n"
                               "{% endfor %}assistant: ")
    return tokenizer


def schema_format(schema: dict[str, Any] | None = None) -> OutputFormat:
    fmt = parse_response_format({"type": "json_schema",
                                 "json_schema": {"name": "t", "schema": schema or SCHEMA}})
    assert fmt is not None
    return fmt


def check_against_schema(text: str) -> dict[str, Any]:
    """SCHEMA validated by hand (jsonschema is not a dependency of this project)."""
    value = json.loads(text)
    assert set(value) == {"action", "input", "count", "ok"}, value
    assert value["action"] in ACTIONS
    assert isinstance(value["input"], str) and len(value["input"]) <= 12
    assert type(value["count"]) is int and 0 <= value["count"] <= 99
    assert isinstance(value["ok"], bool)
    return value


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return byte_tokenizer()


@pytest.fixture(scope="module")
def grammars(tokenizer: Any) -> GrammarCache:
    return GrammarCache.from_tokenizer(tokenizer, VOCAB, {EOS})


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return _llama()


def _run(model: torch.nn.Module, tokenizer: Any, prompt: list[int], grammar: Any = None,
         n: int = 1, **params: Any) -> Collector:
    engine = GenerationEngine(model, {EOS}, max_batch_size=8)
    out = Collector()
    engine.submit(build_request(prompt, SamplingParams(grammar=grammar, **params), n,
                                tokenizer, out))
    with torch.inference_mode():
        _drain(engine)
    return out


def test_schema_output_parses_and_validates(model, tokenizer, grammars) -> None:
    grammar = grammars.compile(schema_format())
    for seed in range(4):
        greedy = _run(model, tokenizer, _prompt(seed, 8), grammar, max_tokens=200)
        assert greedy.finish() == "stop", greedy.text()
        value = check_against_schema(greedy.text())
        # any_whitespace=False: one space after ":" and ",", none anywhere else.
        assert greedy.text() == json.dumps(value, ensure_ascii=False)
        sampled = _run(model, tokenizer, _prompt(seed, 8), grammar, max_tokens=200,
                       temperature=1.0, top_p=0.9, seed=seed)
        check_against_schema(sampled.text())


def test_enum_field_only_ever_yields_its_values(model, tokenizer, grammars) -> None:
    grammar = grammars.compile(schema_format(
        {"type": "object", "properties": {"action": {"type": "string", "enum": ACTIONS}},
         "required": ["action"]}))
    seen = set()
    for seed in range(6):
        out = _run(model, tokenizer, _prompt(seed, 5), grammar, n=4, max_tokens=40,
                   temperature=1.5, seed=seed)
        for i in range(4):
            assert out.finish(i) == "stop"
            value = json.loads(out.text(i))
            assert list(value) == ["action"] and value["action"] in ACTIONS
            seen.add(value["action"])
    assert len(seen) > 1  # sampling really chose among the values


def test_mixed_batch_keeps_every_row_as_it_is_alone(model, tokenizer, grammars) -> None:
    """Constrained and unconstrained rows joining a running batch at different steps:
    each produces exactly what it produces alone, and only constrained rows are JSON."""
    grammar = grammars.compile(schema_format())
    specs = [(1, None), (2, grammar), (3, None), (4, grammar), (5, None)]
    limit = {None: 60, grammar: 200}
    alone = {seed: _run(model, tokenizer, _prompt(seed, 4 + seed), g, max_tokens=limit[g],
                        ignore_eos=g is None).text() for seed, g in specs}
    engine = GenerationEngine(model, {EOS}, max_batch_size=8, prefill_chunk=6)
    batched: dict[int, Collector] = {}
    with torch.inference_mode():
        for seed, g in specs:
            batched[seed] = Collector()
            engine.submit(build_request(_prompt(seed, 4 + seed),
                                        SamplingParams(max_tokens=limit[g], grammar=g,
                                                       ignore_eos=g is None),
                                        1, tokenizer, batched[seed]))
            for _ in range(seed):
                engine.step()
        _drain(engine)
    for seed, g in specs:
        assert batched[seed].text() == alone[seed], f"request {seed} diverged"
        if g is None:
            assert batched[seed].finish() == "length"
        else:
            assert batched[seed].finish() == "stop"
            check_against_schema(batched[seed].text())


def test_json_object_gives_an_object(model, tokenizer, grammars) -> None:
    grammar = grammars.compile(parse_response_format({"type": "json_object"}))
    for seed in range(3):
        out = _run(model, tokenizer, _prompt(seed, 6), grammar, max_tokens=300)
        assert out.finish() == "stop"
        assert isinstance(json.loads(out.text()), dict)


def test_constrained_rows_ignore_stop_sequences_and_stop_at_length(model, tokenizer,
                                                                   grammars) -> None:
    grammar = grammars.compile(schema_format())
    full = _run(model, tokenizer, _prompt(1, 8), grammar, max_tokens=200).text()
    stopped = _run(model, tokenizer, _prompt(1, 8), grammar, max_tokens=200, stop=['"', ","])
    assert stopped.text() == full and stopped.finish() == "stop"
    short = _run(model, tokenizer, _prompt(1, 8), grammar, max_tokens=5)
    assert short.finish() == "length" and full.startswith(short.text())
    eos_ignored = _run(model, tokenizer, _prompt(1, 8), grammar, max_tokens=200,
                       ignore_eos=True)
    assert eos_ignored.text() == full and eos_ignored.finish() == "stop"


def _allowed(logits: torch.Tensor, matcher: Any) -> list[int]:
    masked = mask_logits(logits.unsqueeze(0), [matcher])[0]
    return torch.isfinite(masked).nonzero().flatten().tolist()


def test_mask_touches_only_constrained_rows(grammars) -> None:
    grammar = grammars.compile(schema_format())
    logits = torch.randn(3, VOCAB, dtype=torch.bfloat16)
    masked = mask_logits(logits, [None, new_matcher(grammar), None])
    assert masked.dtype == torch.float32
    assert torch.equal(masked[0], logits[0].float()) and torch.equal(masked[2], logits[2].float())
    assert torch.isfinite(masked[1]).nonzero().flatten().tolist() == [ord("{")]
    shared = torch.randn(1, VOCAB).expand(2, -1)  # n choices share one prefill row
    masked = mask_logits(shared, [new_matcher(grammar), None])
    assert torch.isfinite(shared).all() and torch.equal(masked[1], shared[1])


def test_bounded_strings_take_no_raw_control_characters(tokenizer, grammars) -> None:
    """xgrammar 0.2's maxLength strings admit bytes < 0x20 (invalid JSON): masked here."""
    matcher = new_matcher(grammars.compile(schema_format()))
    prefix = tokenizer('{"action": "answer", "input": "', add_special_tokens=False)
    for token in prefix["input_ids"]:
        assert matcher.accept_token(token)
    allowed = _allowed(torch.zeros(VOCAB), matcher)
    assert ord("a") in allowed and ord('"') in allowed and "é".encode()[0] in allowed
    assert not [t for t in allowed if t < 0x20]
    raw = xgrammar.GrammarMatcher(grammars.compile(schema_format()).compiled)
    for token in prefix["input_ids"]:
        raw.accept_token(token)
    assert 0x09 in _allowed(torch.zeros(VOCAB), raw)  # the upstream bug this works around


def test_grammar_cache_is_keyed_by_schema_and_bounded(tokenizer) -> None:
    cache = GrammarCache.from_tokenizer(tokenizer, VOCAB, {EOS}, size=2)
    first = cache.compile(schema_format())
    assert cache.compile(schema_format(json.loads(json.dumps(SCHEMA)))) is first
    cache.compile(schema_format({"type": "object", "properties": {"a": {"type": "integer"}}}))
    cache.compile(parse_response_format({"type": "json_object"}))
    assert len(cache) == 2
    assert cache.compile(schema_format()) is not first  # evicted, compiled again


@pytest.mark.parametrize(("schema", "reason"), [
    ({"type": "objectx"}, "Unsupported type"),
    ({"type": "string", "minLength": 5, "maxLength": 2}, "minLength 5 is greater"),
    ({"type": "array", "items": {"$ref": "#/missing"}}, "missing"),
])
def test_uncompilable_schema_is_a_400_naming_response_format(grammars, schema: dict,
                                                             reason: str) -> None:
    with pytest.raises(WorkerError) as exc:
        grammars.compile(schema_format(schema))
    assert exc.value.status == 400 and exc.value.param == "response_format"
    assert reason in exc.value.message and "/project/" not in exc.value.message


@pytest.mark.parametrize(("value", "code"), [
    ({"type": "regex"}, "unsupported_parameter"),
    ({"type": "json_schema"}, None),
    ({"type": "json_schema", "json_schema": {"name": "x", "schema": "{}"}}, None),
    ("json", None),
])
def test_malformed_response_format_is_a_400(value: Any, code: str | None) -> None:
    with pytest.raises(WorkerError) as exc:
        parse_response_format(value)
    assert exc.value.param == "response_format" and exc.value.code == code


def test_text_means_no_constraint() -> None:
    assert parse_response_format(None) is None
    assert parse_response_format({"type": "text"}) is None


def test_matchers_are_per_choice(tokenizer, grammars) -> None:
    grammar = grammars.compile(schema_format())
    request = build_request([65], SamplingParams(max_tokens=5, grammar=grammar, stop=["x"]), 3,
                            tokenizer, lambda event: None)
    matchers = [s.matcher for s in request.sequences]
    assert len({id(m) for m in matchers}) == 3
    plain = build_request([65], SamplingParams(max_tokens=5), 2, tokenizer, lambda e: None)
    assert all(s.matcher is None for s in plain.sequences)
