#!/usr/bin/env bash
# Distributed training on one or several machines with torch.distributed.run.
#   bash tools/dist_train.sh CONFIG GPUS [train.py options]
# Several machines: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on each.
# On machines without a GPU each process trains on the CPU (gloo backend,
# set env_cfg.dist_cfg.backend='gloo' in the config).
set -euo pipefail
if [[ $# -lt 2 ]]; then
    echo "usage: bash tools/dist_train.sh CONFIG GPUS [train.py options]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=tools/find_python.sh
source "$REPO/tools/find_python.sh"
PYTHONPATH="$REPO:${PYTHONPATH:-}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$REPO/tools/train.py" "$CONFIG" --launcher pytorch "$@"
