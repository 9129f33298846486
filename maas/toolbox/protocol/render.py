"""Render Python literals and the golden-data modules of generated packages.

User text (names, units) only ever reaches generated code through `literal()` (repr), and
identifiers are validated against a strict pattern before they get here.
"""

from __future__ import annotations

import math

from maas.toolbox.protocol import reference as ref
from maas.toolbox.protocol.frames import FrameSpec
from maas.toolbox.protocol.registers import RegisterMap

WIDTH = 96
KNOWN_CRCS = ("01030000000a", "010300000001", "110300c80002")


def literal(value, indent: int = 0) -> str:
    """A Python literal for value; long strings split into implicit concatenation."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"cannot render non-finite float {value!r}")
    if isinstance(value, str) and len(repr(value)) + indent > WIDTH - 8:
        pad = " " * (indent + 4)
        chunks = [repr(value[i:i + 48]) for i in range(0, len(value), 48)]
        return "(\n" + "".join(f"{pad}{chunk}\n" for chunk in chunks) + " " * indent + ")"
    if isinstance(value, dict):
        pad = " " * (indent + 4)
        items = "".join(f"{pad}{literal(k)}: {literal(v, indent + 4)},\n"
                        for k, v in value.items())
        return "{\n" + items + " " * indent + "}"
    if isinstance(value, tuple):
        flat = "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
        if "\n" not in flat and len(flat) + indent <= WIDTH:
            return flat
        pad = " " * (indent + 4)
        return "(\n" + "".join(f"{pad}{literal(v, indent + 4)},\n" for v in value) \
            + " " * indent + ")"
    if isinstance(value, (str, int, float, bool)) or value is None:
        return repr(value)
    raise TypeError(f"cannot render {type(value).__name__}")


def assignment(name: str, items: list, comment: str = "") -> str:
    """`NAME = [` one item per line `]`."""
    lines = [f"# {comment}"] if comment else []
    lines.append(f"{name} = [")
    lines += [f"    {literal(item, 4)}," for item in items]
    lines.append("]")
    return "\n".join(lines) + "\n"


def _crcs() -> list[tuple[str, int]]:
    return [(data, ref.crc16_modbus(bytes.fromhex(data))) for data in KNOWN_CRCS]


def _words_hex(words: list[int]) -> str:
    return "".join(f"{w:04x}" for w in words)


def register_golden(register_map: RegisterMap) -> str:
    """tests/golden.py for a register map, computed by the struct-based reference."""
    values, writes = [], []
    for register in register_map.registers:
        value = ref.sample_register_value(register)
        values.append((register.identifier, value, _words_hex(ref.register_words(register, value))))
        if register.access in ("rw", "w"):
            # A second value, so a write is visible after a read-back.
            new = ref.sample_register_value(register, salt="2")
            if new == value and register.type == "bool":
                new = not value
            pdu = ref.write_pdu(register, new)
            writes.append((register.identifier, new, pdu.hex(), ref.rtu_adu(1, pdu).hex()))
    reads = []
    for number, (table, start, count) in enumerate(ref.read_blocks(register_map), start=1):
        pdu = ref.read_pdu(table, start, count)
        reads.append((table, start, count, ref.tcp_adu(number, 1, pdu).hex(),
                      ref.rtu_adu(1, pdu).hex()))
    return "\n\n".join([
        '"""Golden data computed by the Industry MaaS reference codec (struct-based)."""\n',
        assignment("CRCS", _crcs(), "(hex data, CRC-16/MODBUS)").rstrip(),
        assignment("VALUES", values, "(identifier, value, register words as hex)").rstrip(),
        assignment("READS", reads, "(table, start, count, TCP ADU (tid = index + 1, unit 1), "
                                   "RTU ADU (unit 1))").rstrip(),
        assignment("WRITES", writes, "(identifier, value, request PDU, RTU ADU (unit 1))"),
    ])


def frame_golden(spec: FrameSpec) -> str:
    frames = []
    for salt in ("", "2"):
        values = {field.identifier: ref.sample_field_value(field, salt) for field in spec.fields}
        frame = ref.encode_frame(spec, values)
        frames.append((ref.decode_frame(spec, frame), frame.hex()))
    return "\n\n".join([
        '"""Golden data computed by the Industry MaaS reference codec (struct-based)."""\n',
        assignment("CRCS", _crcs(), "(hex data, CRC-16/MODBUS)").rstrip(),
        assignment("FRAMES", frames, "(values, frame as hex)"),
    ])
