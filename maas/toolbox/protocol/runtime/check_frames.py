"""Golden tests: this package's frame codec against frames computed by an independent reference."""

# ruff: noqa: I001  (repo-only line: in a generated package the import order is right)
from __future__ import annotations

import pytest
from golden import CRCS, FRAMES

from generated_package.codec import FrameError, crc16_modbus, decode_frame, encode_frame
from generated_package.framespec import FRAME


@pytest.mark.parametrize(("data", "expected"), CRCS)
def test_crc16_modbus(data: str, expected: int) -> None:
    assert crc16_modbus(bytes.fromhex(data)) == expected


@pytest.mark.parametrize(("values", "frame"), FRAMES)
def test_decode_golden(values: dict, frame: str) -> None:
    decoded = decode_frame(bytes.fromhex(frame))
    assert decoded == values
    assert {k: type(v) for k, v in decoded.items()} == {k: type(v) for k, v in values.items()}


@pytest.mark.parametrize(("values", "frame"), FRAMES)
def test_encode_golden(values: dict, frame: str) -> None:
    assert encode_frame(values).hex() == frame


def test_corrupted_frames_are_refused() -> None:
    frame = bytearray.fromhex(FRAMES[0][1])
    if FRAME.checksum is not None:
        header = range(FRAME.header_offset, FRAME.header_offset + len(FRAME.header))
        position = next(i for i in range(FRAME.checksum.start, FRAME.checksum.end)
                        if i not in header)
        corrupt = bytearray(frame)
        corrupt[position] ^= 0x01
        with pytest.raises(FrameError, match="checksum"):
            decode_frame(bytes(corrupt))
    if FRAME.header:
        corrupt = bytearray(frame)
        corrupt[FRAME.header_offset] ^= 0xFF
        with pytest.raises(FrameError, match="header"):
            decode_frame(bytes(corrupt))
    with pytest.raises(FrameError, match="bytes"):
        decode_frame(bytes(frame[:-1]))
