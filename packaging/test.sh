#!/usr/bin/env bash
# Set up everything (first time), then run the whole test suite headless:
# lint (ruff), layering contracts (import-linter), and pytest under Xvfb.
# Extra arguments go to pytest, e.g. -k store or tests/core.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh" dev
cd "$CS_ROOT"

echo "== ruff check"
ruff check .
echo "== import contracts (app > ui > core; core headless)"
lint-imports --no-cache

artifacts="$CS_ROOT/test-artifacts"
mkdir -p "$artifacts"
scratch="$(mktemp -d)"
source "$CS_ROOT/packaging/pg_test_server.sh" "$scratch"
trap 'cs_pg_stop; rm -rf "$scratch"' EXIT
export CORRSTUDIO_DATA_DIR="$scratch/data"
export CORRSTUDIO_SETTINGS_DIR="$scratch/settings"
export CORRSTUDIO_TEST_ARTIFACTS="$artifacts"
export QT_QPA_PLATFORM=xcb

echo "== pytest (under Xvfb; screenshots in test-artifacts/)"
xvfb-run -a -s "-screen 0 1600x1000x24" python -m pytest "$@"
