#!/usr/bin/env bash
# Benchmarks on a machine with an NVIDIA GPU, in one go.
#
#   benchmarks/gpu.sh --prepare [DIR]      # here, with network: fetch the wheels
#   benchmarks/gpu.sh [--wheels DIR] [ARGS...]   # there: run `python -m benchmarks`
#
# On the GPU machine: with a GPU-enabled TensorFlow, runs the TensorFlow backend.
# Otherwise runs the JAX backend (KERAS_BACKEND=jax); Keras and whichever of its
# pure dependencies are missing are installed, without network, from the wheel
# folder (default benchmarks/wheels, git-ignored: carry it to the machine) into a
# private folder put on PYTHONPATH, so the machine's packages are left alone.
# Rows that need scikit-learn compare against it on the machine's CPU; without
# it they print "not available". ARGS go to `python -m benchmarks` (e.g. --quick).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
PYTHON="${PYTHON:-python3}"
WHEELS="$HERE/wheels"
KERAS_VERSION="3.15.1"
# import name:distribution name. keras and its pure deps, then scikit-learn's.
PACKAGES=(keras:keras==$KERAS_VERSION namex:namex optree:optree absl:absl-py
  rich:rich markdown_it:markdown-it-py mdurl:mdurl pygments:pygments h5py:h5py
  ml_dtypes:ml-dtypes packaging:packaging sklearn:scikit-learn joblib:joblib
  threadpoolctl:threadpoolctl)

if [[ "${1:-}" == "--prepare" ]]; then
  DEST="${2:-$WHEELS}"
  mkdir -p "$DEST"
  # The GPU machine runs CPython 3.12 on manylinux x86_64: ask for its wheels,
  # binary only (needed with --platform), without resolving our own platform.
  "$PYTHON" -m pip download --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp --abi cp312 \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 \
    --dest "$DEST" "${PACKAGES[@]#*:}"
  du -sh "$DEST"
  echo "carry $DEST to the GPU machine (the device tool limits carried files to 64 MiB)"
  exit 0
fi

if [[ "${1:-}" == "--wheels" ]]; then
  WHEELS="$2"
  shift 2
fi

cd "$ROOT"
export TF_CPP_MIN_LOG_LEVEL=2 TF_ENABLE_ONEDNN_OPTS=0
if command -v nvidia-smi >/dev/null; then
  echo "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader)"
else
  echo "GPU: nvidia-smi not found"
fi

if "$PYTHON" -c "import tensorflow as tf, sys; sys.exit(not tf.config.list_physical_devices('GPU'))" 2>/dev/null; then
  echo "backend: tensorflow (GPU)"
  export KERAS_BACKEND=tensorflow
else
  echo "backend: jax (TensorFlow with GPU not importable)"
  export KERAS_BACKEND=jax
  SITE="$(mktemp -d)/site"
  need=()
  for pair in "${PACKAGES[@]}"; do
    module="${pair%%:*}"
    requirement="${pair#*:}"
    if [[ "$module" == keras ]]; then
      # The exact Keras the project is pinned to, whatever the machine has.
      "$PYTHON" -c "import keras, sys; sys.exit(keras.__version__ != '$KERAS_VERSION')" \
        2>/dev/null || need+=("$requirement")
    elif ! "$PYTHON" -c "import $module" 2>/dev/null; then
      need+=("$requirement")
    fi
  done
  if ((${#need[@]})); then
    echo "installing from $WHEELS into $SITE: ${need[*]}"
    "$PYTHON" -m pip install --quiet --no-index --no-deps --find-links "$WHEELS" \
      --target "$SITE" "${need[@]}"
  fi
  export PYTHONPATH="$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
  "$PYTHON" -c "import jax; print('jax', jax.__version__, jax.devices())"
fi

"$PYTHON" -m benchmarks --device gpu "$@"
