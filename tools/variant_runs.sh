# Sourced by the experiment scripts (run_zero_shot_demo.sh,
# run_resolution_claim.sh): trains and tests every (variant, seed) of a
# config family, JOBS runs at a time with one CPU thread each (these small
# models use a second thread poorly, and two runs side by side finish
# sooner). Each run's work dir is WORK_DIR/<variant>/seed<k>, its logs
# WORK_DIR/<variant>/seed<k>.{train,test}.log.
# Needs: PY, WORK_DIR, BASE_CONFIG (the paper model's config; a variant v is
# BASE_CONFIG with _v before .py, the variant 'paper' BASE_CONFIG itself),
# VARIANTS, SEEDS, ITERS, JOBS, SUMMARY (the test log's summary prefix), and
# a function variant_options VARIANT that prints the run's extra
# --cfg-options. LOG_PREFIX starts its messages. SHOW_VARIANT's first seed also writes overlays (vis/).

# Train and test one (variant, seed) run.
run_one() {
    local variant="$1" seed="$2" config options run show=()
    case "$variant" in
        paper) config="$BASE_CONFIG" ;;
        *) config="${BASE_CONFIG%.py}_$variant.py" ;;
    esac
    options="train_cfg.max_iters=$ITERS train_cfg.val_interval=$ITERS"
    options="$options param_scheduler.0.end=$ITERS default_hooks.checkpoint.interval=$ITERS"
    options="$options $(variant_options "$variant")"
    run="$WORK_DIR/$variant/seed$seed"
    mkdir -p "$run"
    [ "$variant" = "${SHOW_VARIANT:-paper}" ] && [ "$seed" = "${SEEDS%% *}" ] && show=(--show-dir vis)
    # shellcheck disable=SC2086
    "$PY" tools/train.py "$config" --work-dir "$run" \
        --cfg-options randomness.seed="$seed" $options > "$run.train.log" 2>&1 &&
    # shellcheck disable=SC2086
    "$PY" tools/test.py "$config" "$(cat "$run/last_checkpoint")" \
        --work-dir "$run" "${show[@]}" --cfg-options $options \
        > "$run.test.log" 2>&1
}

declare -A RUNNING=()
finish_one() {
    local pid="$1" status="$2" name="${RUNNING[$1]}"
    unset "RUNNING[$pid]"
    if [ "$status" -ne 0 ]; then
        echo "${LOG_PREFIX:-[runs]} $name failed; the end of its log:" >&2
        tail -n 30 "$(ls -t "$WORK_DIR/${name% *}/seed${name#* }".*.log | head -n 1)" >&2
        exit 1
    fi
    echo "${LOG_PREFIX:-[runs]} $name: $(grep -o "$SUMMARY: .*" \
        "$WORK_DIR/${name% *}/seed${name#* }.test.log" | tail -n 1 | cut -d: -f2-)"
}

run_variants() {
    local variant seed status done_pid
    for variant in $VARIANTS; do
        for seed in $SEEDS; do
            while [ "${#RUNNING[@]}" -ge "$JOBS" ]; do
                status=0
                wait -n -p done_pid "${!RUNNING[@]}" || status=$?
                finish_one "$done_pid" "$status"
            done
            echo "${LOG_PREFIX:-[runs]} $variant, seed $seed: training ($ITERS iterations) and testing"
            OMP_NUM_THREADS=1 run_one "$variant" "$seed" &
            RUNNING[$!]="$variant $seed"
        done
    done
    while [ "${#RUNNING[@]}" -gt 0 ]; do
        status=0
        wait -n -p done_pid "${!RUNNING[@]}" || status=$?
        finish_one "$done_pid" "$status"
    done
}
