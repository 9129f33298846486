"""The text-generation backend: a transformers model behind the continuous-batching engine.

The server talks to this (or to a fake with the same methods in tests): it turns chat
messages or a prompt into token ids, applies the manifest's defaults and the context
limit, and starts generations whose events arrive through a callback from the engine
thread. It also compiles `response_format` grammars (in the caller's thread: request
handlers call `compile_grammar` through `asyncio.to_thread`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from maas.catalog.models import ModelManifest
from maas.protocol import with_system_prompt
from maas.settings import Settings
from maas.worker.errors import PromptTooLong, WorkerError
from maas.worker.generation import GenerationEngine, GenerationRequest, SeqEvent, build_request
from maas.worker.sampling import SamplingParams
from maas.worker.structured import Grammar, GrammarCache, OutputFormat

__all__ = ["PromptTooLong", "TransformersBackend"]

log = logging.getLogger(__name__)


class LockedDecoder:
    """The tokenizer's `decode` behind a lock shared with prompt encoding.

    The engine thread decodes while request handlers encode prompts; a Rust tokenizer
    used from two threads at once can fail with "Already borrowed". A lock is far
    cheaper than a second tokenizer (2.4 s to load Gemma's 262k vocabulary).
    """

    def __init__(self, tokenizer: Any, lock: threading.Lock) -> None:
        self._tokenizer, self._lock = tokenizer, lock

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        with self._lock:
            return self._tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)


class TransformersBackend:
    """Loads the converted weights and owns the generation engine."""

    kind = "text"

    def __init__(self, manifest: ModelManifest, settings: Settings) -> None:
        self.manifest = manifest
        self.settings = settings
        self.tokenizer: Any = None
        self.decode_tokenizer: Any = None
        self._tokenizer_lock = threading.Lock()
        self.model: Any = None
        self.engine: GenerationEngine | None = None
        self.context_length = manifest.context_length
        self._grammars: GrammarCache | None = None
        self._grammars_missing = "the model is not loaded"

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from maas.worker.convert import ensure_converted

        started = time.monotonic()
        path = ensure_converted(self._weights_manifest(), self.settings.cache_dir)
        spec = next((e for e in self.manifest.engines if e.kind == "transformers"), None)
        dtype_name = str((spec.args if spec else {}).get("dtype", "bfloat16"))
        dtype = getattr(torch, dtype_name)
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.decode_tokenizer = LockedDecoder(self.tokenizer, self._tokenizer_lock)
        if self.manifest.chat_template:
            self.tokenizer.chat_template = self.manifest.chat_template
        self.model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype).eval()
        if self.manifest.is_industry:
            self.model = self._merge_adapter(self.model)
        model_limit = getattr(self.model.config, "max_position_embeddings", None)
        if model_limit:
            self.context_length = min(self.context_length, int(model_limit))
        self.load_grammars()
        self.engine = GenerationEngine(self.model, self.eos_ids(),
                                       self.settings.max_batch_size)
        self.engine.start()
        log.info("loaded %s (%s, context %d) in %.1f s", self.manifest.id, dtype_name,
                 self.context_length, time.monotonic() - started)

    def _weights_manifest(self) -> ModelManifest:
        """The manifest whose weights load: an industry model's base (one converted copy
        of the base serves the base and all its adapters)."""
        if not self.manifest.is_industry:
            return self.manifest
        from maas.catalog.models import load_model_manifest

        return load_model_manifest(self.settings.models_dir / f"{self.manifest.base}.yaml")

    def _merge_adapter(self, model: Any) -> Any:
        """Fold the industry model's ready LoRA adapter into the base weights.

        One worker per industry model, adapter merged: the batching engine then runs a
        plain transformers model at the base's speed, and no request can ever get another
        model's adapter. An adapter that is not built, or did not beat its base, is
        refused (the registry does not list such a model either).
        """
        from peft import PeftModel

        from maas.finetune.store import adapter_state

        state = adapter_state(self.manifest, self.settings)
        if not state.ready:
            raise RuntimeError(f"{self.manifest.id}: {state.reason}")
        merged = PeftModel.from_pretrained(model, str(state.path)).merge_and_unload()
        log.info("merged adapter %s into %s", state.path, self.manifest.base)
        return merged.eval()

    def eos_ids(self) -> set[int]:
        """Tokenizer EOS plus generation-config EOS ids (e.g. `<|im_end|>` for chat models)."""
        ids: set[int] = set()
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        if isinstance(configured, int):
            ids.add(configured)
        elif configured:
            ids.update(int(i) for i in configured)
        return ids

    def vocab_size(self) -> int:
        """Width of the model's logits (what a token mask must cover; may exceed the
        tokenizer's vocabulary when the embedding matrix is padded)."""
        head = self.model.get_output_embeddings() if hasattr(
            self.model, "get_output_embeddings") else None
        width = getattr(head, "out_features", None)
        return int(width or self.model.config.vocab_size)

    def load_grammars(self) -> None:
        """Build the grammar compiler from the tokenizer, before the engine starts.

        At load, not on first use: reading the vocabulary needs the tokenizer (0.2 s for
        SmolLM2, 1.4 s for Gemma's 262k tokens), and later that would hold the tokenizer
        lock, and so the engine's detokenising, for that long. Without xgrammar (or with
        a tokenizer it cannot read) the worker still serves text; response_format is a 400.
        """
        started = time.monotonic()
        try:
            self._grammars = GrammarCache.from_tokenizer(self.tokenizer, self.vocab_size(),
                                                         self.eos_ids())
            log.info("structured output ready in %.1f s", time.monotonic() - started)
        except Exception as exc:  # WorkerError when xgrammar is missing, anything else
            self._grammars_missing = getattr(exc, "message", None) or repr(exc)
            log.warning("structured output unavailable: %s", self._grammars_missing)

    def compile_grammar(self, fmt: OutputFormat) -> Grammar:
        """The xgrammar grammar for a response_format (cached; raises WorkerError).

        Slow on a cache miss (about a second for a schema with long strings): call it
        off the event loop and off the engine thread.
        """
        if self._grammars is None:
            raise WorkerError(f"'response_format' is not available on this model server: "
                              f"{self._grammars_missing}", param="response_format",
                              code="unsupported_parameter")
        return self._grammars.compile(fmt)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.stop()

    def stats(self) -> dict[str, int]:
        return self.engine.stats() if self.engine else {"active_sequences": 0}

    def healthy(self) -> bool:
        """False once the engine thread is gone: /health then fails and the supervisor
        restarts the worker instead of routing requests into a dead queue."""
        return self.engine is not None and self.engine.alive

    # ------------------------------------------------------------------ prompts
    def chat_prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        messages = with_system_prompt(self.manifest.system_prompt, messages)
        with self._tokenizer_lock:
            encoded = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        return [int(i) for i in encoded["input_ids"][0]]

    def text_prompt_ids(self, prompt: str) -> list[int]:
        with self._tokenizer_lock:
            return [int(i) for i in self.tokenizer(prompt)["input_ids"]]

    # ------------------------------------------------------------------ generation
    def sampling_params(self, prompt_len: int, max_tokens: int | None,
                        temperature: float | None, top_p: float | None,
                        stop: list[str] | None, seed: int | None,
                        ignore_eos: bool = False, presence_penalty: float | None = None,
                        frequency_penalty: float | None = None) -> SamplingParams:
        """Apply manifest defaults and cap max_tokens by the room left in the context.

        `stop=None` (not sent) takes the manifest's stop sequences; an explicit empty
        list means "no stop sequences".
        """
        room = self.context_length - prompt_len
        if room < 1:
            raise PromptTooLong(
                f"the prompt has {prompt_len} tokens; this model's context is "
                f"{self.context_length} tokens")
        defaults = self.manifest.defaults
        return SamplingParams(
            max_tokens=min(max_tokens or defaults.max_tokens, room),
            temperature=defaults.temperature if temperature is None else temperature,
            top_p=defaults.top_p if top_p is None else top_p,
            stop=list(defaults.stop) if stop is None else list(stop),  # [] = no stops
            seed=seed, ignore_eos=ignore_eos, presence_penalty=presence_penalty or 0.0,
            frequency_penalty=frequency_penalty or 0.0,
        )

    def generate(self, prompt_ids: list[int], params: SamplingParams, n: int,
                 on_event: Callable[[SeqEvent], None], first_index: int = 0
                 ) -> GenerationRequest:
        """Queue a generation of `n` choices; events are delivered from the engine thread."""
        assert self.engine is not None, "load() first"
        request = build_request(prompt_ids, params, n, self.decode_tokenizer or self.tokenizer,
                                on_event, first_index)
        self.engine.submit(request)
        return request
