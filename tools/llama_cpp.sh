#!/usr/bin/env bash
# Install llama-cpp-python (llama.cpp itself, built from source with this machine's cmake and compiler) into
# .venv, building its wheel only once per machine: the wheel is kept in $BACKPROP_NB_CACHE/wheels (default
# ~/.cache/backprop_nb/wheels). Measured on a 2-core AMD EPYC: 380 s to build; a second run takes a second.
# Portable build (GGML_NATIVE=OFF): a wheel cached on one CPU runs on another.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
VERSION=0.3.36
python -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$VERSION')" 2>/dev/null && exit 0
wheels="${BACKPROP_NB_CACHE:-$HOME/.cache/backprop_nb}/wheels"
mkdir -p "$wheels"
if ! ls "$wheels"/llama_cpp_python-$VERSION-*.whl >/dev/null 2>&1; then
  echo "building llama.cpp (llama-cpp-python $VERSION) once for this machine: about 6 minutes on 2 cores..." >&2
  start=$(date +%s)
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF" \
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" pip wheel -q --no-deps "llama-cpp-python==$VERSION" -w "$wheels"
  echo "llama.cpp built in $(( $(date +%s) - start )) s" >&2
fi
pip install -q "$wheels"/llama_cpp_python-$VERSION-*.whl
