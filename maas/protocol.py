"""OpenAI wire protocol: request schemas and response builders shared by gateway and worker.

Both the gateway and every CPU worker validate requests with these models, so a bad
parameter gets the same 400 (naming the `param`) whether it reaches the edge or an engine.
Unknown fields are kept (`extra="allow"`): the gateway adds extension fields (e.g.
`knowledge_bases`) and clients send fields we pass through untouched.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_STOP_SEQUENCES = 4


class OpenAIRequest(BaseModel):
    model_config = ConfigDict(extra="allow")


class StreamOptions(BaseModel):
    include_usage: bool = False


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    def text(self) -> str:
        """Content flattened to plain text (text parts joined), as chat templates expect."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


def _normalise_stop(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    stops = [value] if isinstance(value, str) else list(value)
    if len(stops) > MAX_STOP_SEQUENCES:
        raise ValueError(f"at most {MAX_STOP_SEQUENCES} stop sequences are allowed")
    if any(s == "" for s in stops):
        raise ValueError("stop sequences must not be empty")
    return stops


class SamplingRequest(OpenAIRequest):
    """Parameters common to chat and text completions."""

    model: str = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    n: int = Field(default=1, ge=1, le=8)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    user: str | None = None

    @field_validator("stop")
    @classmethod
    def _check_stop(cls, value: str | list[str] | None) -> str | list[str] | None:
        _normalise_stop(value)
        return value

    def stop_list(self) -> list[str]:
        return _normalise_stop(self.stop)

    def include_usage_in_stream(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatCompletionRequest(SamplingRequest):
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    logprobs: bool | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None
    # Extensions (sent as `extra_body` by the openai SDK): ground the answer in these
    # knowledge bases and return `citations`.
    knowledge_bases: list[str] | None = Field(default=None, min_length=1, max_length=8)
    knowledge_top_k: int | None = Field(default=None, ge=1, le=20)

    @field_validator("knowledge_bases")
    @classmethod
    def _check_knowledge_bases(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not kb.strip() or len(kb) > 64 for kb in value):
            raise ValueError("knowledge base ids are 1 to 64 characters")
        return list(dict.fromkeys(value)) if value else value

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(SamplingRequest):
    prompt: str | list[str]
    max_tokens: int | None = Field(default=16, ge=1)
    echo: bool = False
    logprobs: int | None = None
    suffix: str | None = None

    @field_validator("prompt")
    @classmethod
    def _check_prompt(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("prompt must not be an empty list")
        return value

    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)

    def token_limit(self) -> int | None:
        return self.max_tokens


class EmbeddingRequest(OpenAIRequest):
    model: str = Field(min_length=1)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None

    @field_validator("input")
    @classmethod
    def _check_input(cls, value: Any) -> Any:
        if isinstance(value, list):
            if not value:
                raise ValueError("input must not be an empty list")
            if any(not isinstance(item, str) for item in value):
                raise ValueError(
                    "token-array input is not supported (this platform's models use their own "
                    "tokenizers); send strings. LangChain: OpenAIEmbeddings(..., "
                    "check_embedding_ctx_length=False)"
                )
            if any(item == "" for item in value):
                raise ValueError("input strings must not be empty")
        elif value == "":
            raise ValueError("input must not be empty")
        return value

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)  # type: ignore[arg-type]


def with_system_prompt(system_prompt: str | None, messages: list[dict[str, Any]]
                       ) -> list[dict[str, Any]]:
    """`system_prompt` in front of a chat that does not open with a system message.

    A model's default persona (an industry model's adapter was trained with it): the one
    rule the CPU worker, the gateway (for engines that do not know the prompt) and the
    adapter training all apply, so a model sees the same prompt on every path.
    """
    if system_prompt and messages and messages[0].get("role") != "system":
        return [{"role": "system", "content": system_prompt}, *messages]
    return messages


# --------------------------------------------------------------------------- responses


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def error_body(
    message: str, type_: str = "invalid_request_error", param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """OpenAI's error envelope."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _is_field_name(part: str) -> bool:
    """pydantic appends union members tried (`str`, `list[str]`, `function-after[...]`)."""
    return not ("[" in part or part in {"str", "int", "float", "bool"}
                or part.startswith("function-"))


def loc_to_param(loc: tuple[Any, ...] | list[Any]) -> str | None:
    """Turn a pydantic error location into OpenAI's `param` (e.g. `messages[0].content`)."""
    out = ""
    for part in loc:
        if part == "body":
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and _is_field_name(part):
            out += f".{part}" if out else part
    return out or None


def validation_error_message(errors: list[Any]) -> tuple[str, str | None]:
    """OpenAI-style message and `param` for the first of pydantic's validation errors."""
    first = errors[0] if errors else {}
    param = loc_to_param(first.get("loc", ()))
    if first.get("type") == "json_invalid":
        return "We could not parse the JSON body of your request.", None
    if first.get("type") == "missing":
        return f"Missing required parameter: '{param}'.", param
    return f"Invalid value for '{param}': {first.get('msg', 'invalid value')}.", param
