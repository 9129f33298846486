"""Write a generated parser package, run its own tests in the sandbox, and zip it."""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path, PurePosixPath

from maas.toolbox.protocol.codegen import generate_package
from maas.toolbox.protocol.frames import FrameSpec
from maas.toolbox.protocol.registers import RegisterMap
from maas.toolbox.sandbox import TestedBuild, run_sandboxed

TEST_TIMEOUT = 60.0
TEST_CPU_SECONDS = 60
TEST_MEMORY_MB = 1024


def write_files(files: dict[str, str], root: Path) -> None:
    """Write relative paths under root, refusing anything that would escape it."""
    for relative, content in files.items():
        path = PurePosixPath(relative)
        if path.is_absolute() or ".." in path.parts:
            raise ValueError(f"refusing to write {relative!r} outside the package folder")
        target = root.joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def zip_files(files: dict[str, str], folder: str) -> bytes:
    """A deterministic zip (fixed timestamps, sorted names) under `folder/`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative in sorted(files):
            info = zipfile.ZipInfo(f"{folder}/{relative}", date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[relative], compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def build_parser(spec: RegisterMap | FrameSpec, *, package: str, workdir: Path,
                 run_tests: bool = True, thing_model: dict | None = None,
                 python: str | None = None) -> TestedBuild:
    """Generate into `workdir` (a fresh, empty folder the caller owns) and test in the sandbox.

    `python` is the interpreter that runs pytest (default: this one, which has pytest); its
    prefixes are mounted read-only in the sandbox.
    """
    files = generate_package(spec, package=package, thing_model=thing_model)
    workdir.mkdir(parents=True, exist_ok=True)
    write_files(files, workdir)
    result = None
    if run_tests:
        result = run_sandboxed(
            [python or sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "--rootdir", str(workdir), "tests"],
            workdir=workdir, timeout=TEST_TIMEOUT, cpu_seconds=TEST_CPU_SECONDS,
            memory_mb=TEST_MEMORY_MB, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    return TestedBuild(files=files, test=result, zip_bytes=zip_files(files, package))
