"""Streaming text: never half a UTF-8 character, stop sequences across token boundaries."""

from __future__ import annotations

import pytest

from maas.worker.text import IncrementalDetokenizer, StopMatcher, TextStream


class ByteTokenizer:
    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


def _stream_bytes(text: str, stops: list[str] | None = None) -> tuple[list[str], str]:
    stream = TextStream(ByteTokenizer(), list(b"prompt: "), stops or [])
    deltas = []
    for byte in text.encode("utf-8"):
        deltas.append(stream.push(byte))
        if stream.stopped:
            break
    else:
        deltas.append(stream.finish())
    return deltas, "".join(deltas)


def test_chinese_is_streamed_whole_characters_only() -> None:
    deltas, joined = _stream_bytes("你好，世界! ok")
    assert joined == "你好，世界! ok"
    assert all("\ufffd" not in d for d in deltas)
    assert [d for d in deltas if d][:3] == ["你", "好", "，"]


def test_detokenizer_flush_releases_a_trailing_partial_character() -> None:
    detok = IncrementalDetokenizer(ByteTokenizer())
    assert detok.push(0xE4) == ""
    assert detok.flush() == "\ufffd"


@pytest.mark.parametrize("stop", ["\n\n", "END", "好，世"])
def test_stop_sequence_spanning_tokens_is_cut(stop: str) -> None:
    text = "你好，世界 line one\n\nline two END more"
    deltas, joined = _stream_bytes(text, [stop])
    assert joined == text[:text.index(stop)]
    assert stop not in joined


def test_earliest_of_several_stops_wins_and_partial_matches_are_released() -> None:
    matcher = StopMatcher(["abcd", "xyz"])
    assert matcher.feed("hello ab") == "hello "
    assert matcher.feed("c!") == "abc!"  # "abc" then "!" breaks the partial match
    assert matcher.feed(" x") == " "
    assert matcher.feed("yzabcd") == ""
    assert matcher.stopped
    assert matcher.flush() == ""


def test_held_back_tail_is_released_at_the_end() -> None:
    stream = TextStream(ByteTokenizer(), [], ["###"])
    out = "".join(stream.push(b) for b in b"answer #")
    assert out == "answer "
    assert stream.finish() == "#"
    assert not stream.stopped


def test_sentencepiece_spacing_survives_incremental_decoding() -> None:
    """A tokenizer that strips the leading space of the first decoded piece (like
    SentencePiece) must still yield " world" for the second word."""

    vocab = {1: "▁Hello", 2: "▁world", 3: "!"}

    class PieceTokenizer:
        def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
            return "".join(vocab[i] for i in ids).replace("▁", " ").lstrip(" ")

    detok = IncrementalDetokenizer(PieceTokenizer(), [1])
    assert detok.push(2) == " world"
    assert detok.push(3) == "!"
