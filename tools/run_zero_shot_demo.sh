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
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK_DIR="${1:-work_dirs/zero_shot_demo}"
SEEDS="${SEEDS:-0 1}"
VARIANTS="${VARIANTS:-paper p0 global-attn random-clip}"
ITERS="${ITERS:-500}"
PRETRAIN_ITERS="${PRETRAIN_ITERS:-800}"
PRETRAIN_POOL="${PRETRAIN_POOL:-20000}"
JOBS="${JOBS:-$(nproc)}"
bash "$REPO/tools/setup_env.sh"
# shellcheck source=tools/find_python.sh
source "$REPO/tools/find_python.sh"
PY="$PYTHON"
cd "$REPO"
START=$(date +%s)
CONFIG_DIR=configs/zero_shot_demo
CLIP="$WORK_DIR/clip/tiny_clip_materials.pth"
CLIP_OPTIONS="model.backbone.pretrained=$CLIP model.text_encoder.pretrained=$CLIP"
echo "[zero-shot demo] pretraining the tiny CLIP (kept in $CLIP once made)"
"$PY" tools/pretrain_clip.py "$CONFIG_DIR/mrovseg_tiny_materials64.py" \
    --out "$CLIP" --iters "$PRETRAIN_ITERS" --pool-size "$PRETRAIN_POOL"
first_seed="${SEEDS%% *}"
# Train and test one (variant, seed) run; its logs go next to its work dir.
run_one() {
    local variant="$1" seed="$2" config options run show=()
    case "$variant" in
        paper) config="$CONFIG_DIR/mrovseg_tiny_materials64.py" ;;
        *) config="$CONFIG_DIR/mrovseg_tiny_materials64_$variant.py" ;;
    esac
    options="train_cfg.max_iters=$ITERS train_cfg.val_interval=$ITERS"
    options="$options param_scheduler.0.end=$ITERS default_hooks.checkpoint.interval=$ITERS"
    [ "$variant" = random-clip ] || options="$options $CLIP_OPTIONS"
    run="$WORK_DIR/$variant/seed$seed"
    mkdir -p "$run"
    [ "$variant" = paper ] && [ "$seed" = "$first_seed" ] && show=(--show-dir vis)
    # shellcheck disable=SC2086
    "$PY" tools/train.py "$config" --work-dir "$run" \
        --cfg-options randomness.seed="$seed" $options > "$run.train.log" 2>&1 &&
    # shellcheck disable=SC2086
    "$PY" tools/test.py "$config" "$(cat "$run/last_checkpoint")" \
        --work-dir "$run" "${show[@]}" --cfg-options $options \
        > "$run.test.log" 2>&1
}
# Runs go JOBS at a time with one CPU thread each: these small models use a
# second thread poorly, and two runs side by side finish sooner.
declare -A RUNNING=()
finish_one() {
    local pid="$1" status="$2" name="${RUNNING[$1]}"
    unset "RUNNING[$pid]"
    if [ "$status" -ne 0 ]; then
        echo "[zero-shot demo] $name failed; the end of its log:" >&2
        tail -n 30 "$(ls -t "$WORK_DIR/${name% *}/seed${name#* }".*.log | head -n 1)" >&2
        exit 1
    fi
    echo "[zero-shot demo] $name: $(grep -o 'open-vocabulary summary: .*' \
        "$WORK_DIR/${name% *}/seed${name#* }.test.log" | tail -n 1 | cut -d: -f2-)"
}
for variant in $VARIANTS; do
    for seed in $SEEDS; do
        while [ "${#RUNNING[@]}" -ge "$JOBS" ]; do
            status=0
            wait -n -p done_pid "${!RUNNING[@]}" || status=$?
            finish_one "$done_pid" "$status"
        done
        echo "[zero-shot demo] $variant, seed $seed: training ($ITERS iterations) and testing"
        OMP_NUM_THREADS=1 run_one "$variant" "$seed" &
        RUNNING[$!]="$variant $seed"
    done
done
while [ "${#RUNNING[@]}" -gt 0 ]; do
    status=0
    wait -n -p done_pid "${!RUNNING[@]}" || status=$?
    finish_one "$done_pid" "$status"
done
"$PY" tools/analysis_tools/zero_shot_table.py "$WORK_DIR" | tee "$WORK_DIR/table.md"
echo "[zero-shot demo] done in $(( $(date +%s) - START )) s"
echo "[zero-shot demo] overlays (ground truth left, prediction right): $WORK_DIR/paper/seed$first_seed/vis/vis_data/vis_image"
