from __future__ import annotations

import pytest
from pydantic import ValidationError

from maas.protocol import ChatCompletionRequest, CompletionRequest, loc_to_param


def _param(exc: ValidationError) -> str | None:
    return loc_to_param(exc.errors()[0]["loc"])


def test_invalid_params_are_named() -> None:
    msgs = [{"role": "user", "content": "x"}]
    with pytest.raises(ValidationError) as info:
        ChatCompletionRequest(model="m", messages=msgs, max_tokens=-1)
    assert _param(info.value) == "max_tokens"
    with pytest.raises(ValidationError) as info:
        ChatCompletionRequest(model="m", messages=[{"role": "wizard", "content": "x"}])
    assert _param(info.value) == "messages[0].role"
    with pytest.raises(ValidationError) as info:
        ChatCompletionRequest(model="m", messages=msgs, stop=["a", "b", "c", "d", "e"])
    assert _param(info.value) == "stop"
    with pytest.raises(ValidationError) as info:
        CompletionRequest(model="m", prompt=[])
    assert _param(info.value) == "prompt"


def test_text_parts_and_extension_fields_survive() -> None:
    req = ChatCompletionRequest(
        model="m", knowledge_bases=["kb1"],
        messages=[{"role": "user", "content": [{"type": "text", "text": "a"},
                                               {"type": "text", "text": "b"}]}])
    assert req.messages[0].text() == "ab"
    assert req.model_dump(exclude_unset=True)["knowledge_bases"] == ["kb1"]
    assert CompletionRequest(model="m", prompt="p").max_tokens == 16
