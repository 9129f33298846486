"""The real CPU worker as a subprocess, driven with the official openai SDK.

One data dir per test session (or `MAAS_TEST_DATA_DIR` to reuse converted weights across
sessions), so each GGUF is converted at most once per session.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

pytestmark = pytest.mark.slow

openai = pytest.importorskip("openai")
pytest.importorskip("transformers")

START_TIMEOUT = 240.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def worker_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reuse = os.environ.get("MAAS_TEST_DATA_DIR")
    return Path(reuse) if reuse else tmp_path_factory.mktemp("worker-data")


def _start_worker(model: str, data_dir: Path, log_dir: Path) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "MAAS_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "MAAS_LOG_LEVEL": "info", "MAAS_MAX_BATCH_SIZE": "8"}
    log_path = log_dir / f"{model}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "maas.worker.server", "--model", model, "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"{model} worker exited:\n{log_path.read_text()[-3000:]}")
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{model} worker not healthy:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def smollm(worker_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _start_worker("smollm2-135m-instruct", worker_data_dir,
                             tmp_path_factory.mktemp("logs"))


@pytest.fixture(scope="module")
def gemma(worker_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _start_worker("gemma-3-270m", worker_data_dir, tmp_path_factory.mktemp("logs"))


@pytest.fixture(scope="module")
def e5(worker_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _start_worker("multilingual-e5-small", worker_data_dir,
                             tmp_path_factory.mktemp("logs"))


def _client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)


def _active(url: str) -> int:
    return httpx.get(f"{url}/stats", timeout=5).json()["active_sequences"]


def _wait_idle(url: str, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while (active := _active(url)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return active


QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def test_chat_answers_paris(smollm: str) -> None:
    reply = _client(smollm).chat.completions.create(
        model="smollm2-135m-instruct", messages=QUESTION, temperature=0)
    assert "Paris" in reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model == "smollm2-135m-instruct"
    assert reply.usage.prompt_tokens > 10 and reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_chat_streams_deltas_and_usage(smollm: str) -> None:
    stream = _client(smollm).chat.completions.create(
        model="smollm2-135m-instruct", messages=QUESTION, temperature=0, stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Paris" in text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


TOOL_CALL_SCHEMA = {
    "type": "object",
    "properties": {"action": {"type": "string", "enum": ["kb_search", "calculator", "answer"]},
                   "input": {"type": "string", "maxLength": 200}},
    "required": ["action", "input"],
}


def test_chat_json_schema_is_followed(smollm: str) -> None:
    """xgrammar-constrained decoding on the real model: greedy, sampled and streamed
    replies all parse as JSON matching the schema and end with "stop", not "length"."""
    import json

    client = _client(smollm)
    messages = [{"role": "user", "content": "What is 17 times 23? Reply in JSON with the "
                                            "tool to use (action) and its input."}]
    fmt = {"type": "json_schema",
           "json_schema": {"name": "tool_call", "schema": TOOL_CALL_SCHEMA, "strict": True}}
    greedy = client.chat.completions.create(model="smollm2-135m-instruct", messages=messages,
                                            temperature=0, max_tokens=300, response_format=fmt)
    sampled = client.chat.completions.create(model="smollm2-135m-instruct", messages=messages,
                                             temperature=1.0, seed=3, n=3, max_tokens=300,
                                             response_format=fmt, stop=['"'])
    stream = client.chat.completions.create(model="smollm2-135m-instruct", messages=messages,
                                            temperature=0, max_tokens=300, response_format=fmt,
                                            stream=True)
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert streamed == greedy.choices[0].message.content
    for choice in [*greedy.choices, *sampled.choices]:
        assert choice.finish_reason == "stop"
        value = json.loads(choice.message.content)
        assert set(value) == {"action", "input"}
        assert value["action"] in {"kb_search", "calculator", "answer"}
        assert isinstance(value["input"], str) and len(value["input"]) <= 200
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(
            model="smollm2-135m-instruct", messages=messages,
            response_format={"type": "json_schema",
                             "json_schema": {"name": "bad", "schema": {"type": "objectx"}}})
    assert "response_format" in str(exc.value)


def test_seeded_sampling_is_reproducible(smollm: str) -> None:
    client = _client(smollm)

    def ask() -> str:
        return client.chat.completions.create(
            model="smollm2-135m-instruct", messages=QUESTION, temperature=1.0, seed=7,
            max_tokens=20).choices[0].message.content

    assert ask() == ask()


def test_streaming_disconnect_frees_the_slot(smollm: str) -> None:
    body = {"model": "smollm2-135m-instruct", "messages": QUESTION, "stream": True,
            "max_tokens": 2000, "ignore_eos": True}
    with httpx.Client(timeout=30) as http, \
            http.stream("POST", f"{smollm}/v1/chat/completions", json=body) as response:
        lines = response.iter_lines()
        for _ in range(6):
            next(lines)
        assert _active(smollm) == 1
    assert _wait_idle(smollm) == 0


def test_non_streaming_disconnect_frees_the_slot(smollm: str) -> None:
    body = {"model": "smollm2-135m-instruct", "messages": QUESTION, "max_tokens": 2000,
            "ignore_eos": True}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{smollm}/v1/chat/completions", json=body, timeout=1.5)
    assert _wait_idle(smollm) == 0


def test_completions_on_gemma_stop_at_the_stop_sequence(gemma: str) -> None:
    client = _client(gemma)
    reply = client.completions.create(
        model="gemma-3-270m", prompt="The capital of France is", max_tokens=40, temperature=0,
        stop=["."])
    choice = reply.choices[0]
    assert "." not in choice.text
    assert choice.finish_reason == "stop"
    assert reply.usage.completion_tokens <= 40
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="gemma-3-270m", messages=QUESTION)
    assert "/v1/completions" in str(exc.value)


def test_embeddings_chinese_and_english(e5: str) -> None:
    client = _client(e5)
    texts = ["北京是中国的首都。", "Beijing is the capital of China."]
    default = client.embeddings.create(model="multilingual-e5-small", input=texts)  # base64
    floats = client.embeddings.create(model="multilingual-e5-small", input=texts,
                                      encoding_format="float")
    a = np.array([d.embedding for d in default.data])
    b = np.array([d.embedding for d in floats.data])
    assert a.shape == (2, 384)
    np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-3)
    assert float(a[0] @ a[1]) > 0.8  # same meaning across languages
    assert default.usage.prompt_tokens > 0
    raw = httpx.post(f"{e5}/v1/embeddings", json={"model": "m", "input": "x",
                                                  "encoding_format": "base64"}).json()
    assert np.frombuffer(base64.b64decode(raw["data"][0]["embedding"]), "<f4").shape == (384,)
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="multilingual-e5-small", input="x", dimensions=128)


def test_smollm2_greedy_is_the_same_alone_and_batched(smollm: str, worker_data_dir: Path) -> None:
    """The batching proof on real weights (float32: bf16 rounding may flip near-ties)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from maas.worker.generation import GenerationEngine, build_request
    from maas.worker.sampling import SamplingParams

    path = worker_data_dir / "cache" / "converted" / "smollm2-135m-instruct-1.0"
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()
    eos = {tokenizer.eos_token_id}
    questions = ["What is the capital of France?", "Write a haiku about rain.",
                 "Explain photosynthesis in two sentences.", "List three primary colours."]
    prompts = [tokenizer.apply_chat_template([{"role": "user", "content": q}],
                                             add_generation_prompt=True, return_dict=True,
                                             return_tensors="pt")["input_ids"][0].tolist()
               for q in questions]

    def run(engine: GenerationEngine, prompt: list[int], out: dict, key: int) -> None:
        out[key] = ""

        def collect(event) -> None:  # noqa: ANN001
            out[key] += event.text

        engine.submit(build_request(prompt, SamplingParams(max_tokens=30), 1, tokenizer,
                                    collect))

    with torch.inference_mode():
        alone: dict[int, str] = {}
        for i, prompt in enumerate(prompts):
            engine = GenerationEngine(model, eos, 8)
            run(engine, prompt, alone, i)
            while engine.stats()["active_sequences"] or engine.stats()["queued_requests"]:
                engine.step()
        engine = GenerationEngine(model, eos, 8, prefill_chunk=16)  # chunked prefill too
        batched: dict[int, str] = {}
        for i, prompt in enumerate(prompts):
            run(engine, prompt, batched, i)
            for _ in range(3 * i + 1):  # later requests join a batch already decoding
                engine.step()
        while engine.stats()["active_sequences"] or engine.stats()["queued_requests"]:
            engine.step()
    assert batched == alone
    assert "Paris" in alone[0]


@pytest.fixture(scope="module")
def minilm(worker_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _start_worker("all-minilm-l6-v2", worker_data_dir, tmp_path_factory.mktemp("logs"))


def test_sentence_transformers_embeddings(minilm: str) -> None:
    client = _client(minilm)
    out = client.embeddings.create(model="all-minilm-l6-v2",
                                   input=["A cat sits on the mat.", "A kitten is on a rug.",
                                          "Quarterly revenue grew by 4%."])
    vectors = np.array([d.embedding for d in out.data])
    assert vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert out.usage.prompt_tokens > 10


@pytest.mark.parametrize("converted", ["gemma-3-270m-1.0", "smollm2-135m-instruct-1.0"])
def test_incremental_detokenizer_matches_full_decode(converted: str, worker_data_dir: Path,
                                                     gemma: str, smollm: str) -> None:
    """Real SentencePiece (Gemma) and byte-level BPE (SmolLM2) tokenizers: streaming
    text joins to exactly what a full decode gives, Chinese and emoji included."""
    from transformers import AutoTokenizer

    from maas.worker.text import REPLACEMENT_CHAR, IncrementalDetokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(worker_data_dir / "cache" / "converted"
                                                  / converted))
    prompt = tokenizer("The answer:")["input_ids"]
    text = " Hello  world,\n 你好，世界！ émoji 👍🏽 tabs\tand   spaces. 北京是中国的首都。"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    detok = IncrementalDetokenizer(tokenizer, prompt)
    deltas = [detok.push(i) for i in ids] + [detok.flush()]
    assert all(REPLACEMENT_CHAR not in d for d in deltas)
    full = tokenizer.decode(prompt + ids, skip_special_tokens=True)
    assert "".join(deltas) == full[len(tokenizer.decode(prompt, skip_special_tokens=True)):]


def test_gemma_streams_chinese_like_the_non_streamed_answer(gemma: str) -> None:
    client = _client(gemma)
    args = {"model": "gemma-3-270m", "prompt": "中国的首都是", "max_tokens": 24,
            "temperature": 0, "stop": ["\n"]}
    whole = client.completions.create(**args).choices[0].text
    chunks = list(client.completions.create(**args, stream=True))
    streamed = "".join(c.choices[0].text for c in chunks if c.choices)
    assert streamed == whole
    assert "\ufffd" not in streamed
