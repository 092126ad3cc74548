#!/usr/bin/env bash
# README command 1: set up, then fine-tune the embedded model on the bundled data and compare base vs tuned.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec backprop-nb demo "$@"
