#!/usr/bin/env bash
# Quick start: set up (first run only) and run the gateway with its embedded CPU models.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/maas serve "$@"
