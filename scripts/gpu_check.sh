#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one call: the GPU tests (tests/test_gpu.py: batches sliced on
# the device, CPU-vs-CUDA agreement with and without --amp, a cuDNN GRU, the course API's device
# contract, the parallel-in-time cells' scans on CUDA), then seconds per epoch of every preset and the
# parallel-in-time presets trained with 3 seeds (benchmarks/gpu_presets.py, issue 20: accuracy labelled GPU),
# then sequential and permuted sequential MNIST (issue 28: `rowrnn compare --presets smnist,psmnist`, MNIST carried
# in .gpu-data/mnist/; SEQUENTIAL_MINUTES, 0 skips), then, if SEARCH_MINUTES > 0, the recipe search of issue 13
# (benchmarks/recipe_search.py: validation only).
# Needs torch, torchmetrics, safetensors, matplotlib, pillow, tqdm, filelock and pytest (the lent GPU
# machines have them; rowrnn itself runs from src/, no install) and the data in $ROWRNN_DATA,
# .gpu-data/ (git-ignored; copy /usr/share/datasets/fashion-mnist there and carry it) or the Debian path.
# Usage: [SEQUENTIAL_MINUTES=6] bash scripts/gpu_check.sh OUT_DIR [SEARCH_MINUTES (default 0)] [TRAIN_MINUTES (default 6)]
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-check}
minutes=${2:-0}
train_minutes=${3:-6}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
data=${ROWRNN_DATA:-}
for candidate in .gpu-data /usr/share/datasets/fashion-mnist; do
  [ -z "$data" ] && [ -d "$candidate" ] && data=$candidate
done
[ -n "$data" ] || { echo "gpu_check: no Fashion-MNIST directory (set ROWRNN_DATA or fill .gpu-data/)" >&2; exit 2; }
python -c "import torch, filelock, torchmetrics; assert torch.cuda.is_available(), 'no CUDA GPU visible'; print('torch', torch.__version__, torch.cuda.get_device_name(0), 'filelock', filelock.__version__, 'torchmetrics', torchmetrics.__version__)" | tee "$out/device.txt"
timeout 150 python -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu.py tests/test_parallel_cells.py \
  tests/test_unrolling.py 2>&1 | tee "$out/gpu-tests.txt"
python benchmarks/gpu_presets.py --data-dir "$data" --out "$out/presets" --budget-minutes "$train_minutes" 2>&1 \
  | tee "$out/presets-log.txt"
# The sequential benchmarks (issue 28): sequential and permuted sequential MNIST by their one command, full epochs,
# one seed each, the two runs side by side on the GPU, within SEQUENTIAL_MINUTES (default 6; 0 skips). MNIST is
# read from .gpu-data/mnist/ (the four IDX files of MNIST, .gz or not: the lent machine reaches no network, so
# carry them), else $ROWRNN_DATA/mnist, rowrnn's cache or /usr/share/datasets/mnist, else downloaded where a
# network is reachable. Its table (these runs beside the published rows) is $out/sequential-mnist/sequential-mnist.md;
# copy it and its runs' metrics.json into results/ to publish the numbers.
sequential_minutes=${SEQUENTIAL_MINUTES:-6}
if [ "$sequential_minutes" != 0 ]; then
  mnist_flag=()
  [ -d .gpu-data/mnist ] && mnist_flag=(--data-dir .gpu-data/mnist)
  timeout --signal=TERM $((sequential_minutes * 60)) python -m rowrnn compare --presets smnist,psmnist --seeds 0 \
    --parallel 2 --out "$out/sequential-mnist" "${mnist_flag[@]}" 2>&1 | tail -25 | tee "$out/sequential-log.txt"
  [ -f "$out/sequential-mnist/sequential-mnist.md" ] \
    || echo "sequential MNIST: not measured (no MNIST files, or past SEQUENTIAL_MINUTES): see sequential-log.txt" \
    | tee -a "$out/sequential-log.txt"
fi
[ "$minutes" = 0 ] && exit 0
python benchmarks/recipe_search.py --device cuda --workers 14 --minutes "$minutes" --data-dir "$data" \
  --out "$out/search.jsonl" ${SEARCH_ONLY:+--only "$SEARCH_ONLY"} 2>&1 | tail -40 | tee "$out/search-log.txt"
