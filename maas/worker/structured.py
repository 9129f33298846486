"""Structured output: OpenAI's `response_format` as xgrammar grammars and token masks.

`json_object` and `json_schema` become a grammar compiled once per distinct schema and
kept in a small LRU (a schema with long `maxLength` strings takes about a second to
compile on a 2-core CPU, so a repeated agent schema must not pay that per request).
Compilation runs in the request handler's thread pool, never on the engine thread; the
engine only holds one cheap `GrammarMatcher` per constrained sequence and masks that
row's logits before sampling (`sampling.mask_logits`).

Grammars are compiled with `any_whitespace=False`: JSON gets single spaces after `:` and
`,` and nowhere else, so a small model cannot loop on whitespace until max_tokens. Such
JSON never contains a raw byte below 0x20, so tokens holding one are masked too: xgrammar
0.2 lets length-bounded strings (`maxLength`) take raw control characters, which strict
JSON parsers reject (upstream issue mlc-ai/xgrammar#800).

xgrammar is imported lazily (it takes a second, and this module is imported by the HTTP
routes, which must import without torch): a worker without it still serves plain text
and says so with a 400 when a request asks for a response_format.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from maas.worker.errors import WorkerError, unsupported

#: Compiled grammars kept per model (distinct schemas; least recently used goes first).
GRAMMAR_CACHE_SIZE = 32
#: Threads xgrammar may use to compile one grammar (the machine has 2 cores).
COMPILER_THREADS = 2
#: `json_object` means "any JSON object": no properties are required or forbidden.
JSON_OBJECT_SCHEMA: dict[str, Any] = {"type": "object"}
_CONTROL_BYTE = re.compile(rb"[\x00-\x1f]")
_CPP_PREFIX = re.compile(r"^\[[\d:]+\]\s+\S+:\d+:\s*(Check failed: .*? is false:\s*)?")


@dataclass(frozen=True)
class OutputFormat:
    """A parsed `response_format`; hashable, so it is also the grammar cache key."""

    kind: str  # "json_object" | "json_schema"
    schema: str  # the schema as JSON text


def parse_response_format(value: Any) -> OutputFormat | None:
    """Validate OpenAI's `response_format`; None means plain text (no constraint).

    `json_schema.strict` is accepted and changes nothing: the output always follows the
    schema, and objects get no properties beyond those it lists (xgrammar's strict mode).
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise WorkerError("'response_format' must be an object such as "
                          '{"type": "json_object"}', param="response_format")
    kind = value.get("type", "text")
    if kind == "text":
        return None
    if kind == "json_object":
        return OutputFormat("json_object", json.dumps(JSON_OBJECT_SCHEMA))
    if kind != "json_schema":
        raise unsupported("response_format", "type must be 'text', 'json_object' or "
                                             f"'json_schema', not {kind!r}")
    spec = value.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict | bool):
        raise WorkerError("'response_format' of type 'json_schema' needs "
                          '{"json_schema": {"name": ..., "schema": {...}}}',
                          param="response_format")
    # Not sort_keys: property order is the order the model writes them in.
    return OutputFormat("json_schema", json.dumps(schema, ensure_ascii=False))


def _xgrammar() -> Any:
    try:
        import xgrammar
    except ImportError as exc:  # an optional dependency (see scripts/setup.sh)
        raise WorkerError("the xgrammar package is not installed (pip install --no-deps "
                          "xgrammar apache-tvm-ffi)", param="response_format",
                          code="unsupported_parameter") from exc
    return xgrammar


def _compile_error(exc: Exception) -> WorkerError:
    """xgrammar's C++ errors start with a timestamp and a source path: keep the reason."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    reason = _CPP_PREFIX.sub("", lines[0]) if lines else type(exc).__name__
    return WorkerError(f"'response_format' has a JSON schema that cannot be used for "
                       f"constrained decoding: {reason}", param="response_format",
                       code="invalid_json_schema")


@dataclass(frozen=True, eq=False)  # identity: one object per compiled schema
class Grammar:
    """A compiled grammar and the model's tokens that JSON output may contain at all."""

    compiled: Any  # xgrammar.CompiledGrammar
    json_tokens: Any  # int32 token bitmask row [ceil(V / 32)]: 0 bits = never in JSON


def json_token_row(tokenizer_info: Any) -> Any:
    """Bitmask row clearing every token whose bytes include a control character (< 0x20);
    stop and special tokens stay allowed (the grammar decides about those)."""
    import torch

    keep = set(tokenizer_info.stop_token_ids) | set(tokenizer_info.special_token_ids)
    words = [0xFFFFFFFF] * ((tokenizer_info.vocab_size + 31) // 32)
    for token, text in enumerate(tokenizer_info.decoded_vocab):
        if _CONTROL_BYTE.search(text) and token not in keep:
            words[token >> 5] &= ~(1 << (token & 31))
    return torch.tensor([w - (1 << 32) if w >= 1 << 31 else w for w in words],
                        dtype=torch.int32)


class JsonMatcher:
    """One sequence's xgrammar `GrammarMatcher`, its mask narrowed to JSON-safe tokens.

    Duck-types the matcher methods the engine uses (`fill_next_token_bitmask`,
    `accept_token`, `is_terminated`).
    """

    def __init__(self, grammar: Grammar) -> None:
        self._matcher = _xgrammar().GrammarMatcher(grammar.compiled)
        self._json_tokens = grammar.json_tokens

    def fill_next_token_bitmask(self, bitmask: Any, index: int) -> None:
        self._matcher.fill_next_token_bitmask(bitmask, index)
        bitmask[index] &= self._json_tokens

    def accept_token(self, token: int) -> bool:
        return bool(self._matcher.accept_token(token))

    def is_terminated(self) -> bool:
        return bool(self._matcher.is_terminated())


class GrammarCache:
    """One model's `GrammarCompiler` and an LRU of the grammars it compiled.

    Thread-safe: request threads compile concurrently. Two requests compiling the same
    new schema at once both compile it (harmless); holding a lock during a compile
    would make cached schemas wait behind a slow new one.
    """

    def __init__(self, tokenizer_info: Any, size: int = GRAMMAR_CACHE_SIZE) -> None:
        xgr = _xgrammar()
        # xgrammar's own cache is unbounded by default; clients choose the schemas, so
        # memory stays bounded by our LRU instead.
        self._compiler = xgr.GrammarCompiler(tokenizer_info, max_threads=COMPILER_THREADS,
                                             cache_enabled=False)
        self._grammars: OrderedDict[OutputFormat, Grammar] = OrderedDict()
        self._lock = threading.Lock()
        self._json_tokens = json_token_row(tokenizer_info)
        self.size = max(1, size)

    @classmethod
    def from_tokenizer(cls, tokenizer: Any, vocab_size: int, stop_ids: set[int],
                       size: int = GRAMMAR_CACHE_SIZE) -> GrammarCache:
        """`vocab_size` is the model's logits width (it may exceed the tokenizer's); the
        stop ids are the engine's EOS ids, so a finished JSON value ends the sequence."""
        info = _xgrammar().TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=vocab_size, stop_token_ids=sorted(stop_ids))
        return cls(info, size)

    def compile(self, fmt: OutputFormat) -> Grammar:
        """The compiled grammar for `fmt`; a WorkerError (400) if xgrammar rejects it."""
        with self._lock:
            if fmt in self._grammars:
                self._grammars.move_to_end(fmt)
                return self._grammars[fmt]
        try:
            compiled = self._compiler.compile_json_schema(
                fmt.schema, any_whitespace=False, strict_mode=fmt.kind == "json_schema")
        except Exception as exc:  # xgrammar raises RuntimeError for every schema problem
            raise _compile_error(exc) from exc
        grammar = Grammar(compiled, self._json_tokens)
        with self._lock:
            self._grammars[fmt] = grammar
            while len(self._grammars) > self.size:
                self._grammars.popitem(last=False)
        return grammar

    def __len__(self) -> int:
        return len(self._grammars)


def new_matcher(grammar: Grammar) -> JsonMatcher:
    """A fresh matcher (one per sequence: n choices each follow the grammar alone)."""
    return JsonMatcher(grammar)
