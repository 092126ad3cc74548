#!/usr/bin/env bash
# On the lent GPU machine (see bench/gpu_wheels.txt): `install a` puts the first set of carried wheels into
# /tmp/site; `run` adds the second set and runs bench/gpu_check.py (≤ 8 minutes), leaving $OUT/gpu.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
install() { python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$1"/*.whl; }
case "${1:-run}" in
  install) install ".whl-${2:-a}" ;;
  run)
    [ -d .whl-b ] && install .whl-b
    export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    timeout 500 python3 bench/gpu_check.py --out "${OUT:-/tmp}/gpu.txt" ;;
esac
