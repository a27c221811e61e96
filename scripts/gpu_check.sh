#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one go (< 8 minutes on one H100): the GPU tests, then the
# benchmark on CUDA. Usage on a GPU machine with the repo checked out: bash scripts/gpu_check.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-check}
mkdir -p "$out"
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU visible'; print(torch.__version__, torch.cuda.get_device_name(0))" | tee "$out/device.txt"
python -m pytest -q -m gpu tests/test_gpu.py 2>&1 | tee "$out/gpu-tests.txt"
timeout 360 python -m rowrnn bench --device cuda --epochs 3 --json "$out/bench-cuda.json" 2>&1 | tee "$out/bench-cuda.md"
