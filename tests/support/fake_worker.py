"""`python -m tests.support.fake_worker --port P`: the fake engine as a real process,
so supervisor tests exercise spawning, health checks, crashes and restarts for real."""

from __future__ import annotations

import argparse

import uvicorn

from tests.support.fake_engine import create_fake_engine

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(create_fake_engine(), host=args.host, port=args.port, log_level="warning")
