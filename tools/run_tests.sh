#!/usr/bin/env bash
# Set up the environment if needed, then run the test suite.
#   bash tools/run_tests.sh              # default suite (tests not marked slow)
#   bash tools/run_tests.sh -m slow      # the slow checks; any pytest arguments work
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MROVSEG_VENV:-$REPO/.venv}"
bash "$REPO/tools/setup_env.sh"
cd "$REPO"
if [[ $# -eq 0 ]]; then
    set -- -m "not slow"
fi
set +e
"$VENV/bin/python" -m pytest "$@"
status=$?
set -e
if [[ $status -eq 5 ]]; then
    echo "[tests] pytest collected no tests: treating this as a failure" >&2
    exit 1
fi
exit $status
