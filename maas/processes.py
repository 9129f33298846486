"""Stopping a child process together with everything it started.

The supervisor's engines and the fine-tuning runner's trainers are started with
`start_new_session=True`, so each is the leader of its own process group: signalling the
group also reaches the children they fork (vLLM's engine core, tokenizer workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal


async def stop_process_group(process: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM the process group, SIGKILL it if the leader has not exited after `grace`
    seconds; returns once the leader has exited."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
