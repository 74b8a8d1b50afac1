#!/usr/bin/env bash
# The whole MROVSeg pipeline on CPU in minutes, with nothing to download:
# set up, train the tiny config on synthetic shapes, report per-class IoU on
# held-out images, and write prediction overlays with a legend.
#   bash tools/run_demo.sh [work_dir [options]]   (default: work_dirs/demo)
# Options after the work dir go to both tools/train.py and tools/test.py,
# e.g. --cfg-options train_cfg.max_iters=20 for a shorter run.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MROVSEG_VENV:-$REPO/.venv}"
WORK_DIR="${1:-work_dirs/demo}"
shift $(( $# > 0 ? 1 : 0 ))
CONFIG=configs/mrovseg_tiny_shapes64.py
bash "$REPO/tools/setup_env.sh"
cd "$REPO"
PY="$VENV/bin/python"
START=$(date +%s)
echo "[demo] training $CONFIG on CPU (synthetic data is generated under data/synthetic_shapes on first use)"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
CKPT="$(cat "$WORK_DIR/last_checkpoint")"
echo "[demo] evaluating $CKPT on the held-out images"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR" --show-dir vis "$@"
VIS_DIR="$WORK_DIR/vis/vis_data/vis_image"
echo "[demo] done in $(( $(date +%s) - START )) s"
echo "[demo] prediction overlays (ground truth left, prediction right): $VIS_DIR"
