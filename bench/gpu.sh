#!/usr/bin/env bash
# The GPU part of bench/engine.py for both engines (eager trainer; stacked engine eager, with
# CUDA graphs, compiled with the fused Triton kernels, unrolled and tiled, and with Inductor's
# alone), then the fused kernels' check and block-size sweep, as one prepared script for a
# machine with an NVIDIA GPU (several minutes: each kernel configuration compiles once).
#
#   bash bench/gpu.sh               # M = 100000 models (MODELS=..., EPOCHS=... to change)
#   bash bench/gpu.sh --cpu-smoke   # the same script on CPU with tiny sizes (tests, CI)
#   INDUCTOR=0 bash bench/gpu.sh    # without Inductor alone (its first compilation of 10⁵ models took 110 s on an H100)
#
# Python: $PYTHON, else the project's .venv, else python3; it needs torch (with CUDA for
# the real run). src/ is put on PYTHONPATH, so the package need not be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ] && .venv/bin/python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() or '${1:-}' == '--cpu-smoke' else 1)" 2>/dev/null; then
    PY=.venv/bin/python
  else
    PY=python3
  fi
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
NO_INDUCTOR=()
[ "${INDUCTOR:-1}" = "0" ] && NO_INDUCTOR=(--no-inductor)
if [ "${1:-}" = "--cpu-smoke" ]; then
  exec "$PY" bench/engine.py --part gpu --device cpu --models "${MODELS:-64}" --epochs "${EPOCHS:-2}" "${NO_INDUCTOR[@]}"
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
"$PY" bench/engine.py --part gpu --device cuda --models "${MODELS:-100000}" --epochs "${EPOCHS:-20}" "${NO_INDUCTOR[@]}"
# The fused Triton steps on their own: agreement with the eager steps, then every block size
# and warp count against Inductor's steps (bench/fused_triton.py).
"$PY" bench/fused_triton.py --check
exec "$PY" bench/fused_triton.py --models "${MODELS:-100000}" --sweep "${NO_INDUCTOR[@]}"
