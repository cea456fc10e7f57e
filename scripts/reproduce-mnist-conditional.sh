#!/usr/bin/env bash
# A class-conditional flow on MNIST and its likelihood classifier. By default: the multi-scale convolutional flow of
# `--preset mnist-conv` (its recipe, 16 epochs: under an hour on a 2-core machine) made class-conditional, the label
# moving and scaling the prior of its last level, with the classification term λ = 100 (docs/conditional.md); then
# classifies the full MNIST test set with Bayes' rule (uniform dequantization, a fixed noise seed). The last line
# printed is classify's JSON: accuracy, n, the marginal bitsPerDim.
#
#   scripts/reproduce-mnist-conditional.sh runs/cond
#   PRESET=mnist-ema CLASS_WEIGHT=3 scripts/reproduce-mnist-conditional.sh runs/cond-dense   # the paper's dense model (50 epochs)
#   PRESET=mnist-ema CLASS_WEIGHT=0 CONDITIONING=couplings scripts/reproduce-mnist-conditional.sh runs/cond-couplings
#   DATA=fashion-mnist scripts/reproduce-mnist-conditional.sh runs/fashion-cond
#
# Run it again with the same folder after a crash or Ctrl-C: it resumes where the checkpoint left it.
set -euo pipefail
out=${1:?usage: [DATA=mnist|fashion-mnist] [PRESET=mnist-conv|mnist-ema] [CONDITIONING=prior|couplings|both] [CLASS_WEIGHT=λ] scripts/reproduce-mnist-conditional.sh OUT_DIR [extra train flags]}
shift
data=${DATA:-mnist}
preset=${PRESET:-mnist-conv}
if [ "$preset" = mnist-conv ]; then default_weight=100; epochs=(--epochs 16); else default_weight=3; epochs=(); fi
weight=${CLASS_WEIGHT:-$default_weight}
conditioning=()
if [ -n "${CONDITIONING:-}" ]; then conditioning=(--conditioning "$CONDITIONING"); fi
cd "$(dirname "$0")/.."
nf() { node --import tsx cli/main.ts "$@"; }
if [ -e "$out/checkpoint.safetensors" ]; then
  nf train --resume --out "$out" "$@"
else
  nf train --data "$data" --preset "$preset" "${epochs[@]}" --conditional "${conditioning[@]}" --class-weight "$weight" --out "$out" "$@"
fi
nf classify --model "$out/model.safetensors" --data "$data" --split test --dequantize uniform --seed 0 --out "$out/confusion.png" --json --quiet | tail -n 1
