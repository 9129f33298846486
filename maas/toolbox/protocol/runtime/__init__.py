"""Source files copied verbatim into generated parser packages (never imported from here).

They are real Python so ruff checks them with the repo. In a generated package they are renamed:
registers_model.py / frame_model.py -> model.py, registers_codec.py / frame_codec.py -> codec.py,
crc.py, modbus.py, client.py keep their names, check_registers.py / check_frames.py -> tests/
test_golden.py (where the token `generated_package` is replaced by the package name). The data
modules they import (registermap.py, framespec.py, tests/golden.py) are rendered by codegen.
This codec is deliberately independent of maas.toolbox.protocol.reference (int.from_bytes and a
table CRC here, struct and a bitwise CRC there) so that the golden tests compare two paths.
"""
