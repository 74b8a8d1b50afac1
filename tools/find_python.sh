# Sourced by the launch scripts (dist_*.sh, slurm_*.sh): sets PYTHON to the
# interpreter that runs tools/*.py.
#   1. PYTHON, when set, is used as given;
#   2. else the project's environment, $MROVSEG_VENV or <repo>/.venv (made by
#      tools/setup_env.sh), whether or not it is activated;
#   3. else `python` from PATH (an environment set up some other way).
# Needs REPO (the repository root) to be set.
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "${MROVSEG_VENV:-$REPO/.venv}/bin/python" ]]; then
        PYTHON="${MROVSEG_VENV:-$REPO/.venv}/bin/python"
    elif command -v python >/dev/null 2>&1; then
        PYTHON=python
    else
        echo "no Python found: set up the environment with" \
            "'bash tools/setup_env.sh' (creates ${MROVSEG_VENV:-$REPO/.venv})" \
            "or set PYTHON=/path/to/python" >&2
        exit 1
    fi
fi
if ! PYTHONPATH="$REPO:${PYTHONPATH:-}" "$PYTHON" -c "import torch, mmseg" \
        >/dev/null 2>&1; then
    echo "$PYTHON cannot import torch and mmseg: set up the" \
        "environment with 'bash tools/setup_env.sh' (creates" \
        "${MROVSEG_VENV:-$REPO/.venv}) or set PYTHON to the interpreter of" \
        "an environment that has them" >&2
    exit 1
fi
