#!/usr/bin/env bash
# A second virtual environment, .venv-unsloth, with unsloth and the versions it pins, so that the unsloth
# backend runs for real (through unsloth's CPU fallback on a machine without a GPU) in tests/test_unsloth.py.
# Idempotent: a second run takes a second. About 2 minutes the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
V=.venv-unsloth
PY=${PYTHON:-python3}
UNSLOTH=2026.10.9
[ -x $V/bin/python ] || "$PY" -m venv $V
stamp="$V/.stamp-$(cat pyproject.toml tools/unsloth_venv.sh | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "setting up $V (unsloth $UNSLOTH and its pins; about 2 minutes)..." >&2
  pin=$(mktemp); printf 'torch==2.13.0\ntransformers==5.17.0\ntrl==1.15.0\ndatasets<5\n' > "$pin"
  $V/bin/pip install -q "${TORCH_SPEC:-torch==2.13.0}"
  # unsloth 2026.10.9 pins transformers <= 5.17.0, trl <= 1.15.0, datasets < 5; its xformers / triton /
  # torchvision requirements pull a CUDA torch, so unsloth itself goes in without dependencies
  $V/bin/pip install -q -c "$pin" transformers trl datasets peft==0.21.2 accelerate \
      bitsandbytes sentencepiece protobuf pytest
  $V/bin/pip install -q --no-deps unsloth==$UNSLOTH unsloth_zoo==$UNSLOTH
  $V/bin/pip install -q -c "$pin" -e .
  rm -f "$pin" $V/.stamp-*; touch "$stamp"
fi
