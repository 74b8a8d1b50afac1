#!/usr/bin/env bash
# The resolution claim, measured on the detail-twin world (see
# docs/resolution_claim.md for the pre-registered endpoints and decision
# rule): pretrain a tiny CLIP on the world's captions (cached), run the world
# checks (model-free and a frozen-CLIP probe), train and test the paper
# model, multi-grained attention off and slice ratio p = 0 with four seeds
# each, print every seed's endpoints and the decision, and (exploratory)
# how often each model's own queries find and name small detail twins.
#   bash tools/run_resolution_claim.sh [work_dir]   (default: work_dirs/resolution_claim)
# Environment overrides, e.g. for a shorter run:
#   SEEDS="0 1 2 3"        segmentation training seeds
#   VARIANTS="paper global-attn p0"
#   ITERS=800              segmentation training iterations
#   PRETRAIN_ITERS=1500    CLIP pretraining steps (PRETRAIN_POOL pairs)
#   JOBS=$(nproc)          runs trained at the same time
#   DATA_ROOT=data/detail_twin_world   where the world is written
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK_DIR="${1:-work_dirs/resolution_claim}"
SEEDS="${SEEDS:-0 1 2 3}"
VARIANTS="${VARIANTS:-paper global-attn p0}"
ITERS="${ITERS:-800}"
PRETRAIN_ITERS="${PRETRAIN_ITERS:-1500}"
PRETRAIN_POOL="${PRETRAIN_POOL:-20000}"
JOBS="${JOBS:-$(nproc)}"
DATA_ROOT="${DATA_ROOT:-data/detail_twin_world}"
bash "$REPO/tools/setup_env.sh"
# shellcheck source=tools/find_python.sh
source "$REPO/tools/find_python.sh"
PY="$PYTHON"
cd "$REPO"
START=$(date +%s)
BASE_CONFIG=configs/resolution_claim/mrovseg_tiny_twins64.py
CLIP="$WORK_DIR/clip/tiny_clip_twins.pth"
CLIP_OPTIONS="model.backbone.pretrained=$CLIP model.text_encoder.pretrained=$CLIP"
DATA_OPTIONS="train_dataloader.dataset.data_root=$DATA_ROOT"
DATA_OPTIONS="$DATA_OPTIONS val_dataloader.dataset.data_root=$DATA_ROOT"
DATA_OPTIONS="$DATA_OPTIONS test_dataloader.dataset.data_root=$DATA_ROOT"
echo "[resolution claim] pretraining the tiny CLIP (kept in $CLIP once made)"
"$PY" tools/pretrain_clip.py "$BASE_CONFIG" \
    --out "$CLIP" --iters "$PRETRAIN_ITERS" --pool-size "$PRETRAIN_POOL"
echo "[resolution claim] world checks: what each view shows, what the frozen CLIP names from it"
"$PY" tools/analysis_tools/twin_world_checks.py "$BASE_CONFIG" --clip "$CLIP" \
    --out "$WORK_DIR/world_checks.json" | tee "$WORK_DIR/world_checks.md"
SUMMARY='object naming summary'
LOG_PREFIX='[resolution claim]'
variant_options() {
    echo "$CLIP_OPTIONS $DATA_OPTIONS"
}
# shellcheck source=tools/variant_runs.sh
source "$REPO/tools/variant_runs.sh"
run_variants
"$PY" tools/analysis_tools/resolution_claim.py "$WORK_DIR" \
    --json "$WORK_DIR/claim.json" | tee "$WORK_DIR/claim.md"
echo "[resolution claim] found versus named through each model's own queries (exploratory)"
"$PY" tools/analysis_tools/query_naming.py "$WORK_DIR" --clip "$CLIP" \
    --data-root "$DATA_ROOT" --json "$WORK_DIR/query_naming.json" \
    | tee "$WORK_DIR/query_naming.md"
echo "[resolution claim] done in $(( $(date +%s) - START )) s"
