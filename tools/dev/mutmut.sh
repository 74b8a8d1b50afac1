#!/usr/bin/env bash
# Every mutmut mutant of what setup.cfg [mutmut] names (the whole package and
# the library code under tools/) against the default suite. Not part of CI:
# a full run takes hours on 2 cores; tools/dev/mutation_sample.py measures
# the score on a random sample, and this runs the same set-up on all of it.
#
#   bash tools/dev/mutmut.sh                         # every mutant
#   bash tools/dev/mutmut.sh --scope models          # the model code only
#
# It works in a copy of the tree (--work DIR to choose it) and prints the
# counts and the mutants not killed.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
exec "$PYTHON" "$REPO/tools/dev/mutation_sample.py" --all "$@"
