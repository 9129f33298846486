#!/usr/bin/env bash
# Set up (first run only) and run the whole test suite: unit, API, integration (real
# PostgreSQL, real CPU workers with SmolLM2 and the embedding models). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/services.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
