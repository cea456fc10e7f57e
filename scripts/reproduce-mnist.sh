#!/usr/bin/env bash
# Beyond the paper's MNIST number on a laptop CPU: trains the paper's architecture with the recipe measured in
# docs/results.md (an exponential moving average of the weights, 59,000 training images), then evaluates the best model (by
# validation on the 1,000 held out) on the full test set with uniform dequantization and a fixed noise seed. The
# eval JSON is the last line printed.
# --log-test also logs the test split after each epoch, for the learning curves (never used to choose anything).
#
#   scripts/reproduce-mnist.sh runs/mnist-ema
#
# Run it again with the same folder after a crash or Ctrl-C: it resumes the run where its checkpoint left it.
set -euo pipefail
out=${1:?usage: scripts/reproduce-mnist.sh OUT_DIR}
cd "$(dirname "$0")/.."
nf() { node --import tsx cli/main.ts "$@"; }
if [ -e "$out/checkpoint.safetensors" ]; then
  nf train --resume --out "$out"
else
  # mnist-ema: the paper's architecture with --ema 0.999 --epochs 50 --valid-size 1000 (src/model/presets.ts).
  nf train --data mnist --preset mnist-ema --log-test --out "$out"
fi
nf eval --model "$out/model.safetensors" --data mnist --split test --dequantize uniform --seed 0 --json --quiet | tail -n 1
