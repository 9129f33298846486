"""Spec -> project files -> the project's own tests, run in the sandbox -> a zip.

The tests run with the platform's interpreter (which has FastAPI, SQLModel, httpx and pytest)
mounted read-only; the project folder is the only writable place, there is no network, and
CPU time, memory and wall clock are limited (see `maas.toolbox.sandbox`).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

from maas.factory.render import render_project
from maas.factory.spec import Spec
from maas.toolbox.protocol.build import write_files, zip_files
from maas.toolbox.sandbox import SandboxResult, TestedBuild, run_sandboxed

TEST_TIMEOUT = 240.0
TEST_CPU_SECONDS = 240
TEST_MEMORY_MB = 2048


def run_project_tests(workdir: Path, *, use_bwrap: bool = True) -> SandboxResult:
    """The project's pytest suite, in the sandbox, with the project as its only writable place."""
    return run_sandboxed(
        [sys.executable, "-m", "pytest", "-q", "--tb=short", "-p", "no:cacheprovider", "--rootdir",
         str(workdir), "tests"],
        workdir=workdir, timeout=TEST_TIMEOUT, cpu_seconds=TEST_CPU_SECONDS,
        memory_mb=TEST_MEMORY_MB, use_bwrap=use_bwrap,
        env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONPATH": str(workdir)})


def build_project(spec: Spec, version: int, workdir: Path, *, run_tests: bool = True,
                  today: date | None = None,
                  extra_files: dict[str, str] | None = None) -> TestedBuild:
    """Render into `workdir` (a fresh folder the caller owns), test it there, zip it.

    `extra_files` are written over the rendered ones before the tests run (how the tests
    check that the sandbox holds a hostile test file in).
    """
    files = render_project(spec, version, today)
    workdir.mkdir(parents=True, exist_ok=True)
    write_files({**files, **(extra_files or {})}, workdir)
    result = run_project_tests(workdir) if run_tests else None
    return TestedBuild(files=files, test=result, zip_bytes=zip_files(files, spec.name))
