#!/usr/bin/env bash
# Mutation testing of the model code, label transforms and scoring with
# mutmut (requirements/dev.txt), against the fast test selection in
# setup.cfg [mutmut]. Not part of CI: a full run takes hours on 2 cores;
# tools/dev/mutation_sample.py measures the score on a random sample.
#
#   bash tools/dev/mutmut.sh                      # every mutant
#   bash tools/dev/mutmut.sh 'mrovseg_mmseg.models.necks.multi_res_fusion*'
#
# It works in a copy of the tree (mutmut writes mutants/ next to the
# sources) and leaves the copy's path and `mutmut results` output behind.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
WORK="${MUTMUT_WORK:-$(mktemp -d /tmp/mrovseg_mutmut.XXXXXX)}"
mkdir -p "$WORK"
# the tree as tracked by git plus untracked, unignored files
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard) |
    (cd "$REPO" && xargs -0 cp --parents -t "$WORK" 2>/dev/null || true)
cd "$WORK"
"$PYTHON" -m mutmut run "$@" || true
"$PYTHON" -m mutmut results > "$WORK/mutmut_results.txt" || true
echo "mutmut ran in $WORK; survivors listed in $WORK/mutmut_results.txt"
echo "show one with: (cd $WORK && $PYTHON -m mutmut show <name>)"
