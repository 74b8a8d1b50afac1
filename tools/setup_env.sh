#!/usr/bin/env bash
# Create (or bring up to date) the virtual environment mrovseg_mmseg runs in.
#
#   bash tools/setup_env.sh            # sets up ./.venv
#
# Environment variables:
#   MROVSEG_VENV        virtual environment folder (default: <repo>/.venv)
#   MROVSEG_CACHE_DIR   cache for built wheels (default: ~/.cache/mrovseg_mmseg)
#   MROVSEG_PYTHON      interpreter that creates the venv (default: python3.11,
#                       else python3)
#   MROVSEG_TORCH       pip requirement(s) for torch
#                       (default: "torch==2.14.1 torchvision==0.29.1")
#   MROVSEG_PIP_ARGS    extra pip arguments for the torch install, e.g.
#                       "--index-url https://download.pytorch.org/whl/cu128"
#   FORCE_CUDA=1        build mmcv's CUDA ops even when no GPU is visible
#
# mmcv 2.1.0 with compiled ops is built from source once per machine (about 13
# minutes on 2 CPU cores) and cached; later set-ups reuse the cached wheel.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MROVSEG_VENV:-$REPO/.venv}"
CACHE_DIR="${MROVSEG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mrovseg_mmseg}"
TORCH_SPEC="${MROVSEG_TORCH:-torch==2.14.1 torchvision==0.29.1}"
MMCV_VERSION="2.1.0"

step() { echo "[setup] $*" >&2; }

pick_python() {
    if [[ -n "${MROVSEG_PYTHON:-}" ]]; then
        echo "$MROVSEG_PYTHON"
    elif command -v python3.11 >/dev/null 2>&1; then
        echo python3.11
    else
        echo python3
    fi
}

# Everything the environment depends on; a change to any of it re-runs pip.
fingerprint() {
    {
        cat "$REPO"/requirements/*.txt "$REPO/setup.py" "$REPO/setup.cfg" \
            "$REPO/tools/setup_env.sh" "$REPO/tools/install/build_mmcv.py"
        echo "$TORCH_SPEC ${MROVSEG_PIP_ARGS:-} $MMCV_VERSION ${FORCE_CUDA:-}"
    } | sha256sum | cut -d' ' -f1
}

START=$(date +%s)
STAMP="$VENV/.mrovseg_setup_stamp"
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
CHECK_IMPORTS="import mrovseg_mmseg, mmseg.models, mmcv.ops, open_clip, mmpretrain"

if [[ ! -x "$PY" ]]; then
    step "creating virtual environment $VENV"
    "$(pick_python)" -m venv "$VENV"
fi

WANT="$(fingerprint)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]] \
        && "$PY" -c "$CHECK_IMPORTS" >/dev/null 2>&1; then
    step "environment $VENV is up to date ($(( $(date +%s) - START )) s)"
    exit 0
fi

step "installing build tools"
"${PIP[@]}" install -q --upgrade pip
"${PIP[@]}" install -q -r "$REPO/requirements/build.txt"

step "installing $TORCH_SPEC"
# shellcheck disable=SC2086
"${PIP[@]}" install -q $TORCH_SPEC ${MROVSEG_PIP_ARGS:-}

if "$PY" - "$MMCV_VERSION" <<'EOF' >/dev/null 2>&1
import sys
import mmcv
import mmcv.ops  # noqa: F401  (fails for mmcv-lite or a wheel built for another torch)
sys.exit(0 if mmcv.__version__ == sys.argv[1] else 1)
EOF
then
    step "mmcv $MMCV_VERSION with compiled ops is already installed"
else
    step "looking for an mmcv $MMCV_VERSION wheel built for this torch in $CACHE_DIR/wheels"
    WHEEL="$("$PY" "$REPO/tools/install/build_mmcv.py" \
        --version "$MMCV_VERSION" --cache-dir "$CACHE_DIR/wheels" | tail -n 1)"
    "${PIP[@]}" uninstall -q -y mmcv-lite >/dev/null 2>&1 || true
    "${PIP[@]}" install -q --no-deps --force-reinstall "$WHEEL"
fi

step "installing OpenMMLab packages, open_clip and test tools"
# mmcv is pinned to the installed wheel so pip never tries to rebuild it.
MMCV_PIN="mmcv==$("$PY" -c 'from importlib.metadata import version; print(version("mmcv"))')"
"${PIP[@]}" install -q -r "$REPO/requirements/mminstall.txt" \
    -r "$REPO/requirements/runtime.txt" -r "$REPO/requirements/tests.txt" \
    "$MMCV_PIN"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$REPO"

step "checking imports"
"$PY" -c "$CHECK_IMPORTS"
echo "$WANT" > "$STAMP"
step "environment $VENV ready ($(( $(date +%s) - START )) s)"
