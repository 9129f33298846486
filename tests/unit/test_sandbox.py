"""The sandbox: no network, one writable folder, nothing of the host's files, hard limits."""

from __future__ import annotations

import json
import socket
import sys
import textwrap
from pathlib import Path

import pytest

from maas.toolbox.sandbox import find_bwrap, run_sandboxed

needs_bwrap = pytest.mark.skipif(find_bwrap() is None, reason="bubblewrap (bwrap) not installed")


def run(code: str, workdir: Path, **limits):
    options = {"timeout": 20.0, "cpu_seconds": 10, "memory_mb": 512} | limits
    return run_sandboxed([sys.executable, "-c", textwrap.dedent(code)], workdir=workdir,
                         **options)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def test_passing_command_and_clean_env(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAAS_ADMIN_API_KEY", "sk-secret")
    result = run("""
        import os
        open("out.txt", "w").write("written")
        print(os.environ.get("MAAS_ADMIN_API_KEY"), os.environ["PYTHONHASHSEED"], os.getcwd())
    """, workdir)
    assert result.ok, result.stderr
    assert result.stdout.split() == ["None", "0", str(workdir)]
    assert (workdir / "out.txt").read_text() == "written"
    assert result.isolation == ("bubblewrap" if find_bwrap() else "rlimits")


def test_failing_command_reports_its_exit_code(workdir: Path) -> None:
    result = run("import sys; print('boom', file=sys.stderr); sys.exit(3)", workdir)
    assert (result.returncode, result.ok, result.stderr.strip()) == (3, False, "boom")


@needs_bwrap
def test_no_network_inside(workdir: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        port = listener.getsockname()[1]
        result = run(f"""
            import socket
            socket.create_connection(("127.0.0.1", {port}), timeout=3)
            print("connected")
        """, workdir)
    finally:
        listener.close()
    assert result.returncode != 0 and "connected" not in result.stdout
    assert "ConnectionRefusedError" in result.stderr or "OSError" in result.stderr


@needs_bwrap
def test_writing_outside_workdir_fails(workdir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    result = run(f"""
        import os
        for target in ({str(outside / "x.txt")!r}, "/usr/x.txt", {sys.prefix!r} + "/x.txt"):
            try:
                open(target, "w").write("x")
                print("wrote", target)
            except OSError:
                print("refused", target)
    """, workdir)
    assert result.ok, result.stderr
    assert "wrote" not in result.stdout and result.stdout.count("refused") == 3
    assert not (outside / "x.txt").exists()


@needs_bwrap
def test_host_files_and_home_are_invisible(workdir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "other-tenant" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("tenant data")
    home = Path.home()
    result = run(f"""
        import json, os
        try:
            print(open({str(secret)!r}).read())
        except OSError:
            print("secret hidden")
        visible = sorted(os.listdir({str(home)!r})) if os.path.isdir({str(home)!r}) else []
        print("home:", json.dumps(visible))
        print("maas data:", os.path.exists({str(home / ".maas")!r}))
    """, workdir)
    assert result.ok, result.stderr
    assert "tenant data" not in result.stdout and "secret hidden" in result.stdout
    # Only the path down to the interpreter's prefix can show in the home folder, no files.
    prefixes = {Path(sys.base_prefix).resolve(), Path(sys.prefix).absolute()}
    allowed = {p.relative_to(home).parts[0] for p in prefixes if p.is_relative_to(home)}
    listed = result.stdout.split("home:")[1].split("\n")[0]
    assert set(json.loads(listed)) <= allowed
    assert "maas data: False" in result.stdout


def test_cpu_loop_is_killed_by_the_limit(workdir: Path) -> None:
    result = run("while True: pass", workdir, cpu_seconds=1, timeout=30.0)
    assert result.returncode != 0 and not result.timed_out
    assert result.duration < 15


def test_sleep_is_killed_by_the_wall_clock(workdir: Path) -> None:
    result = run("import time; time.sleep(60)", workdir, timeout=1.0)
    assert result.timed_out and not result.ok
    assert result.duration < 10


def test_memory_limit(workdir: Path) -> None:
    result = run("data = bytearray(1024 * 1024 * 1024); print('allocated')", workdir,
                 memory_mb=256)
    assert result.returncode != 0 and "allocated" not in result.stdout
    assert "MemoryError" in result.stderr


def test_output_is_clipped(workdir: Path) -> None:
    result = run("print('x' * 1_000_000)", workdir)
    assert result.ok and len(result.stdout) < 70_000 and "[output clipped]" in result.stdout


def test_fallback_without_bwrap_is_reported(workdir: Path) -> None:
    result = run_sandboxed([sys.executable, "-c", "print('hi')"], workdir=workdir, timeout=10,
                           cpu_seconds=5, memory_mb=512, use_bwrap=False)
    assert result.ok and result.stdout.strip() == "hi" and result.isolation == "rlimits"
