#!/bin/bash
# The CPU parts of bench/engine.py for two source trees, alternating, in one run: a refactor
# must not slow the engine. Each tree runs its own bench/engine.py on its own src/.
#   bench/engine_ab.sh BEFORE_TREE AFTER_TREE [ROUNDS] [engine.py arguments...]
# e.g. git worktree add /tmp/base f156642 && bench/engine_ab.sh /tmp/base . 2 --part one,many
set -euo pipefail
before=$(cd "$1" && pwd); after=$(cd "$2" && pwd); rounds=${3:-2}; shift 3 || shift $#
python=${PYTHON:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python}
for round in $(seq 1 "$rounds"); do
  for tree in "$before" "$after"; do
    echo "=== round $round: $tree ($(git -C "$tree" rev-parse --short HEAD)$(git -C "$tree" diff --quiet HEAD -- src || echo '+changes'))"
    (cd "$tree/bench" && PYTHONPATH="$tree/src:$tree/bench" "$python" engine.py "$@")
  done
done
