#!/usr/bin/env bash
# Beyond the paper's MNIST number on a laptop CPU: trains the paper's architecture with the recipe measured in the
# README (an exponential moving average of the weights), then evaluates the best model (by validation) on the full
# test set with uniform dequantization and a fixed noise seed. The eval JSON is the last line printed.
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
  nf train --data mnist --preset mnist --ema 0.999 --epochs 40 --log-test --out "$out"
fi
nf eval --model "$out/model.safetensors" --data mnist --split test --dequantize uniform --seed 0 --json --quiet | tail -n 1
