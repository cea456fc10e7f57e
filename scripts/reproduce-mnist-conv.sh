#!/usr/bin/env bash
# A modern-density image flow on a laptop CPU: trains the multi-scale convolutional flow of the `mnist-conv` preset
# (logit, squeeze, 8 × (ActNorm, invertible 1×1 convolution, affine channel coupling) at 4×14×14, split, squeeze,
# 8 more at 8×7×7; batch 64, Adam 1e-3 with warm-up and a cosine decay over 17 epochs, weight average 0.999;
# docs/architectures.md), then evaluates the model it keeps (best validation on the 1,000 held-out images) on the full
# test set with uniform dequantization and a fixed noise seed. The eval JSON is the last line printed.
#
#   scripts/reproduce-mnist-conv.sh runs/mnist-conv
#   scripts/reproduce-mnist-conv.sh runs/mnist-conv --epochs 40           # a longer run (its cosine spans the 40)
#   DATA=fashion-mnist scripts/reproduce-mnist-conv.sh runs/fashion-conv  # the same recipe on Fashion-MNIST
#   PRESET=mnist-gated scripts/reproduce-mnist-conv.sh runs/mnist-gated   # gated residual coupling networks, 16 epochs
#
# Run it again with the same folder after a crash or Ctrl-C: it resumes the run where its checkpoint left it (extra
# flags then only change how long it runs). The curve is in OUT_DIR/log.jsonl (seconds of training per epoch);
# `npx tsx scripts/plot-curves.ts` draws it.
set -euo pipefail
out=${1:?usage: [DATA=mnist|fashion-mnist] [PRESET=mnist-conv|mnist-gated] scripts/reproduce-mnist-conv.sh OUT_DIR [extra train flags]}
shift
data=${DATA:-mnist}
preset=${PRESET:-mnist-conv}
cd "$(dirname "$0")/.."
nf() { node --import tsx cli/main.ts "$@"; }
if [ -e "$out/checkpoint.safetensors" ]; then
  nf train --resume --out "$out" "$@"
else
  nf train --data "$data" --preset "$preset" --out "$out" "$@"
fi
nf eval --model "$out/model.safetensors" --data "$data" --split test --dequantize uniform --seed 0 --json --quiet | tail -n 1
