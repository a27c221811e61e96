#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one go (well under 8 minutes on one H100): the GPU tests, then the
# benchmark on CUDA. Needs torch, torchmetrics, safetensors, matplotlib, pillow, tqdm and pytest (the lent
# GPU machines have them; rowrnn itself runs from src/, no install) and the data in $ROWRNN_DATA,
# .gpu-data/ (git-ignored; copy /usr/share/datasets/fashion-mnist there and carry it) or the Debian path.
# Usage: bash scripts/gpu_check.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-check}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
data=${ROWRNN_DATA:-}
for candidate in .gpu-data /usr/share/datasets/fashion-mnist; do
  [ -z "$data" ] && [ -d "$candidate" ] && data=$candidate
done
[ -n "$data" ] || { echo "gpu_check: no Fashion-MNIST directory (set ROWRNN_DATA or fill .gpu-data/)" >&2; exit 2; }
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU visible'; print(torch.__version__, torch.cuda.get_device_name(0))" | tee "$out/device.txt"
python -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu.py 2>&1 | tee "$out/gpu-tests.txt"
timeout 360 python -m rowrnn bench --device cuda --epochs 3 --data-dir "$data" --json "$out/bench-cuda.json" 2>&1 \
  | tee "$out/bench-cuda.md"
