#!/usr/bin/env bash
# README command 2 (and CI): set up, check that notebooks/modules/README are in sync, run every test.
#   TEST_FLAGS="slow" bash tools/test.sh   also runs the real-model tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
. .venv/bin/activate
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then     # for tests/test_browser.py
  echo "installing Debian's chromium for the browser test..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "could not install chromium: the browser test will be skipped" >&2
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
bash tools/llama_cpp.sh                                           # llama.cpp as a peer for the GGUF tests
export BACKPROP_NB_REQUIRE_LLAMA_CPP=1
python tools/check_sync.py
python -c 'from backprop_nb.models import embedded_model_dir; embedded_model_dir()'   # convert the embedded model once
nbdev_test --n_workers 2 --flags "${TEST_FLAGS:-}"
python -m pytest -q tests ${PYTEST_ARGS:-}
# the unsloth backend, for real, in a second venv with unsloth's own pins (its CPU fallback: no GPU needed)
bash tools/unsloth_venv.sh
BACKPROP_NB_REQUIRE_UNSLOTH=1 .venv-unsloth/bin/python -m pytest -q tests/test_unsloth.py
