#!/usr/bin/env bash
# Open vocabulary on CPU with nothing downloaded: pretrain a tiny CLIP on
# generated image-caption pairs (cached), train MROVSeg and three variants on
# the material world's seen classes with two seeds each, test every run on
# held-out scenes with all classes, print the seen / unseen / small / large
# mIoU table and write overlays of the paper model's predictions.
#   bash tools/run_zero_shot_demo.sh [work_dir]   (default: work_dirs/zero_shot_demo)
# Environment overrides, e.g. for a shorter run:
#   SEEDS="0 1"            segmentation training seeds
#   VARIANTS="paper p0 global-attn random-clip"
#   ITERS=500              segmentation training iterations
#   PRETRAIN_ITERS=800     CLIP pretraining steps (PRETRAIN_POOL pairs)
#   JOBS=$(nproc)          runs trained at the same time
#   DATA_ROOT=data/material_world   where the world is written
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK_DIR="${1:-work_dirs/zero_shot_demo}"
SEEDS="${SEEDS:-0 1}"
VARIANTS="${VARIANTS:-paper p0 global-attn random-clip}"
ITERS="${ITERS:-500}"
PRETRAIN_ITERS="${PRETRAIN_ITERS:-800}"
PRETRAIN_POOL="${PRETRAIN_POOL:-20000}"
JOBS="${JOBS:-$(nproc)}"
DATA_ROOT="${DATA_ROOT:-data/material_world}"
bash "$REPO/tools/setup_env.sh"
# shellcheck source=tools/find_python.sh
source "$REPO/tools/find_python.sh"
PY="$PYTHON"
cd "$REPO"
START=$(date +%s)
CONFIG_DIR=configs/zero_shot_demo
CLIP="$WORK_DIR/clip/tiny_clip_materials.pth"
CLIP_OPTIONS="model.backbone.pretrained=$CLIP model.text_encoder.pretrained=$CLIP"
DATA_OPTIONS="train_dataloader.dataset.data_root=$DATA_ROOT"
DATA_OPTIONS="$DATA_OPTIONS val_dataloader.dataset.data_root=$DATA_ROOT"
DATA_OPTIONS="$DATA_OPTIONS test_dataloader.dataset.data_root=$DATA_ROOT"
echo "[zero-shot demo] pretraining the tiny CLIP (kept in $CLIP once made)"
"$PY" tools/pretrain_clip.py "$CONFIG_DIR/mrovseg_tiny_materials64.py" \
    --out "$CLIP" --iters "$PRETRAIN_ITERS" --pool-size "$PRETRAIN_POOL"
first_seed="${SEEDS%% *}"
BASE_CONFIG="$CONFIG_DIR/mrovseg_tiny_materials64.py"
SUMMARY='open-vocabulary summary'
LOG_PREFIX='[zero-shot demo]'
variant_options() {
    if [ "$1" != random-clip ]; then echo -n "$CLIP_OPTIONS "; fi
    echo "$DATA_OPTIONS"
}
# shellcheck source=tools/variant_runs.sh
source "$REPO/tools/variant_runs.sh"
run_variants
"$PY" tools/analysis_tools/zero_shot_table.py "$WORK_DIR" | tee "$WORK_DIR/table.md"
echo "[zero-shot demo] done in $(( $(date +%s) - START )) s"
echo "[zero-shot demo] overlays (ground truth left, prediction right): $WORK_DIR/paper/seed$first_seed/vis/vis_data/vis_image"
