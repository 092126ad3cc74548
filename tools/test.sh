#!/usr/bin/env bash
# README command 2 (and CI): set up, check that notebooks/modules/README are in sync, run every test.
#   TEST_FLAGS="slow" bash tools/test.sh   also runs the real-model tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false MPLBACKEND=Agg
python tools/check_sync.py
python -c 'from backprop_nb.models import embedded_model_dir; embedded_model_dir()'   # convert the embedded model once
nbdev_test --n_workers 2 --flags "${TEST_FLAGS:-}"
python -m pytest -q tests ${PYTEST_ARGS:-}
