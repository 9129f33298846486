"""Run untrusted commands (generated code's tests) in a sandbox.

Generated code is user-influenced, so it never runs with the platform's privileges: with
bubblewrap (`bwrap`) the command gets no network, a fresh /tmp, read-only views of only what the
interpreter needs and a single writable folder (the workdir); the platform's data directory and
other tenants' files are simply not mounted. Resource limits (CPU seconds, address space, file
size, processes) and a wall clock that kills the whole process group apply in both modes.

Without bwrap the fallback is weaker - rlimits, a clean environment and a private temp dir - and
says so in `SandboxResult.isolation` so a caller can refuse it or warn.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MAX_OUTPUT_BYTES = 64_000
FILE_SIZE_LIMIT_MB = 64
PROCESS_LIMIT = 256
# /etc entries a Python process may want (dynamic loader, user names, time zone, the
# alternatives symlinks that some /usr/bin tools point through); nothing else of /etc.
ETC_ENTRIES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "nsswitch.conf", "passwd", "group",
               "localtime", "alternatives", "hosts", "mime.types")
SYSTEM_DIRS = ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin")

Isolation = Literal["bubblewrap", "rlimits"]


@dataclass(frozen=True)
class SandboxResult:
    """What a sandboxed command did; stdout/stderr are clipped to MAX_OUTPUT_BYTES each."""

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    isolation: Isolation
    duration: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


@dataclass(frozen=True)
class TestedBuild:
    """Generated files, their sandboxed test run (None if skipped) and the files as a zip."""

    files: dict[str, str]
    test: SandboxResult | None
    zip_bytes: bytes

    @property
    def passed(self) -> bool:
        return self.test is not None and self.test.ok

    @property
    def test_output(self) -> str:
        if self.test is None:
            return ""
        return (self.test.stdout + ("\n" + self.test.stderr if self.test.stderr else "")).strip()


def find_bwrap() -> str | None:
    """The bubblewrap binary, if installed (Debian package `bubblewrap`)."""
    return shutil.which("bwrap")


def interpreter_prefixes() -> list[Path]:
    """The current interpreter's install and virtualenv roots (read-only inside the sandbox)."""
    return sorted({Path(sys.base_prefix).resolve(), Path(sys.prefix).absolute()})


def clean_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: nothing of the platform's (keys, URLs, data dir) leaks in."""
    path_dirs = [str(Path(sys.prefix) / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]
    env = {
        "PATH": os.pathsep.join(path_dirs),
        "HOME": str(home),
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONNOUSERSITE": "1",
    }
    env.update(extra or {})
    return env


def _limit_setter(cpu_seconds: int, memory_mb: int, limit_processes: bool):
    """A preexec_fn: runs in the child after fork, before exec, so limits bind the command."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        memory = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        size = FILE_SIZE_LIMIT_MB * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if limit_processes:
            resource.setrlimit(resource.RLIMIT_NPROC, (PROCESS_LIMIT, PROCESS_LIMIT))

    return apply


def _mount_system_dir(path: str) -> list[str]:
    """Debian's /bin, /lib... are often symlinks into /usr: recreate the link, don't bind."""
    if os.path.islink(path):
        return ["--symlink", os.readlink(path), path]
    if os.path.isdir(path):
        return ["--ro-bind", path, path]
    return []


def bwrap_args(bwrap: str, workdir: Path, ro_paths: Sequence[Path]) -> list[str]:
    """The bubblewrap command line up to (not including) the sandboxed argv."""
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session",
            "--hostname", "sandbox"]
    for system_dir in SYSTEM_DIRS:
        args += _mount_system_dir(system_dir)
    for entry in ETC_ENTRIES:
        args += ["--ro-bind-try", f"/etc/{entry}", f"/etc/{entry}"]
    # tmpfs /tmp first: later binds (a workdir or a prefix under /tmp) are mounted inside it.
    args += ["--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev"]
    for path in ro_paths:
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    # The root itself (a tmpfs holding the mount points) becomes read-only too, so a write
    # anywhere but the workdir and the fresh /tmp fails instead of landing in a throwaway.
    args += ["--remount-ro", "/"]
    return args


def _read_clipped(handle) -> str:
    handle.seek(0)
    data = handle.read(MAX_OUTPUT_BYTES + 1)
    text = data[:MAX_OUTPUT_BYTES].decode("utf-8", errors="replace")
    if len(data) > MAX_OUTPUT_BYTES:
        text += "\n[output clipped]"
    return text


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def run_sandboxed(argv: list[str], *, workdir: Path, timeout: float, cpu_seconds: int,
                  memory_mb: int, env: dict[str, str] | None = None,
                  ro_paths: Sequence[Path] | None = None,
                  use_bwrap: bool = True) -> SandboxResult:
    """Run `argv` in `workdir` (the only writable place) under limits; never raises on failure.

    `env` adds to the clean environment. `ro_paths` are extra read-only mounts (defaults to the
    current interpreter's prefixes, so `sys.executable -m pytest` works). `use_bwrap=False`
    forces the rlimits fallback (tests, or hosts where user namespaces are disabled).
    """
    workdir = Path(workdir).absolute()
    if not workdir.is_dir():
        raise ValueError(f"sandbox workdir {workdir} is not a directory")
    mounts = list(ro_paths) if ro_paths is not None else interpreter_prefixes()
    bwrap = find_bwrap() if use_bwrap else None
    with tempfile.TemporaryDirectory(prefix="maas-sandbox-") as private_tmp, \
            tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        if bwrap:
            isolation: Isolation = "bubblewrap"
            command = bwrap_args(bwrap, workdir, mounts) + list(argv)
            environment = clean_env(workdir, env)
        else:
            isolation = "rlimits"
            command = list(argv)
            environment = clean_env(workdir, {"TMPDIR": private_tmp, **(env or {})})
        started = time.monotonic()
        process = subprocess.Popen(
            command, cwd=workdir, env=environment, stdin=subprocess.DEVNULL, stdout=out,
            stderr=err, start_new_session=True,
            preexec_fn=_limit_setter(cpu_seconds, memory_mb, limit_processes=bool(bwrap)))
        timed_out = False
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process)
            returncode = process.wait()
        finally:
            _kill_group(process)  # stray children of a finished command go too
        return SandboxResult(returncode=returncode, stdout=_read_clipped(out),
                             stderr=_read_clipped(err), timed_out=timed_out,
                             isolation=isolation, duration=time.monotonic() - started)
