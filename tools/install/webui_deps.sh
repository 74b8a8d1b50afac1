#!/usr/bin/env bash
# Install the web demo's extra (gradio, requirements/webui.txt) into the
# project environment and, for its browser test, Debian's chromium and
# chromium-driver when they are missing (apt-get; root or sudo).
#
#   bash tools/install/webui_deps.sh              # gradio + browser
#   bash tools/install/webui_deps.sh --no-browser # gradio only
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${MROVSEG_VENV:-$REPO/.venv}"
PY="$VENV/bin/python"

step() { echo "[webui deps] $*" >&2; }

if [[ ! -x "$PY" ]]; then
    step "no environment at $VENV: run bash tools/setup_env.sh first"
    exit 1
fi
step "installing requirements/webui.txt into $VENV"
# torch and mmcv are pinned to the installed builds so pip never replaces them
PINS="$("$PY" - <<'PYEOF'
from importlib.metadata import version
print(f"torch=={version('torch')} mmcv=={version('mmcv')}")
PYEOF
)"
# shellcheck disable=SC2086
"$PY" -m pip install -q --disable-pip-version-check \
    -r "$REPO/requirements/webui.txt" -r "$REPO/requirements/tests.txt" $PINS
"$PY" -c "import gradio, selenium"

if [[ "${1:-}" == "--no-browser" ]]; then
    exit 0
fi
if command -v chromium >/dev/null 2>&1 \
        && command -v chromedriver >/dev/null 2>&1; then
    step "found $(chromium --version 2>/dev/null | head -n 1)"
    exit 0
fi
SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
    SUDO=(sudo)
fi
step "installing Debian's chromium and chromium-driver"
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    chromium chromium-driver
step "installed $(chromium --version 2>/dev/null | head -n 1)"
