#!/usr/bin/env bash
# A class-conditional NICE on MNIST and its likelihood classifier: trains the paper's model with the mnist-ema recipe
# (4 additive couplings of 5 × 1000 units, weight average 0.999, 50 epochs, 1,000 images held out) made
# class-conditional, the label moving and scaling the prior, with the classification term λ = 3 (docs/conditional.md),
# then classifies the full MNIST test set with Bayes' rule (uniform
# dequantization, a fixed noise seed). The last line printed is classify's JSON: accuracy, n, the marginal bitsPerDim.
#
#   scripts/reproduce-mnist-conditional.sh runs/cond
#   CLASS_WEIGHT=0 scripts/reproduce-mnist-conditional.sh runs/cond-ml             # likelihood only
#   CONDITIONING=couplings CLASS_WEIGHT=0 scripts/reproduce-mnist-conditional.sh runs/cond-couplings
#   DATA=fashion-mnist scripts/reproduce-mnist-conditional.sh runs/fashion-cond
#
# Run it again with the same folder after a crash or Ctrl-C: it resumes where the checkpoint left it.
set -euo pipefail
out=${1:?usage: [DATA=mnist|fashion-mnist] [CONDITIONING=prior|couplings|both] [CLASS_WEIGHT=λ] scripts/reproduce-mnist-conditional.sh OUT_DIR [extra train flags]}
shift
data=${DATA:-mnist}
conditioning=${CONDITIONING:-prior}
weight=${CLASS_WEIGHT:-3}
cd "$(dirname "$0")/.."
nf() { node --import tsx cli/main.ts "$@"; }
if [ -e "$out/checkpoint.safetensors" ]; then
  nf train --resume --out "$out" "$@"
else
  nf train --data "$data" --preset mnist-ema --conditional --conditioning "$conditioning" --class-weight "$weight" --out "$out" "$@"
fi
nf classify --model "$out/model.safetensors" --data "$data" --split test --dequantize uniform --seed 0 --out "$out/confusion.png" --json --quiet | tail -n 1
