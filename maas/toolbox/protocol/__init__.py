"""Protocol-parser code generation: Modbus register maps and custom binary frames -> a tested,
stdlib-only Python parser package."""

from maas.toolbox.protocol.build import build_parser
from maas.toolbox.protocol.codegen import generate_package
from maas.toolbox.protocol.errors import (
    CodegenError,
    FieldError,
    FrameSpecError,
    RegisterMapError,
    RowError,
)
from maas.toolbox.protocol.frames import FrameSpec, parse_frame_spec
from maas.toolbox.protocol.registers import Register, RegisterMap, parse_register_map
from maas.toolbox.protocol.thing_model import (
    properties_from_register_map,
    register_map_from_thing_model,
)

__all__ = [
    "CodegenError", "FieldError", "FrameSpec", "FrameSpecError", "Register",
    "RegisterMap", "RegisterMapError", "RowError", "build_parser", "generate_package",
    "parse_frame_spec", "parse_register_map", "properties_from_register_map",
    "register_map_from_thing_model",
]
