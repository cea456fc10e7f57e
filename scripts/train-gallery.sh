#!/usr/bin/env bash
# Trains the studio's gallery: the models that ship with the studio (web/gallery/, built into dist/web/gallery/), so
# a first visitor has something to sample, complete, interpolate and edit at once. For each model: train (or resume
# after a crash), evaluate on the full test set (uniform dequantization, noise seed 0), store the weights as float16
# when that costs at most 0.01 bits/dim (else float32), evaluate the stored file again, and write its entry (test
# figures, parameters, download size) into web/gallery/gallery.json. The first entry is the one the studio opens with.
#
#   scripts/train-gallery.sh runs/gallery            # all of them (about 3 h 30 min on a 2-core laptop CPU)
#   scripts/train-gallery.sh runs/gallery mnist      # only the named ones
#
# Run it again with the same folder after a crash or Ctrl-C: finished runs are kept, a broken one resumes from its
# checkpoint.
set -euo pipefail
runs=${1:?usage: scripts/train-gallery.sh RUNS_DIR [name ...]}
shift
only=("$@")
cd "$(dirname "$0")/.."
mkdir -p "$runs" web/gallery
nf() { node --import tsx cli/main.ts "$@"; }

wanted() {
  [ ${#only[@]} -eq 0 ] && return 0
  local n
  for n in "${only[@]}"; do [ "$n" = "$1" ] && return 0; done
  return 1
}

# gallery NAME DATA "LABEL" "NOTE" train-flags...
gallery() {
  local name=$1 data=$2 label=$3 note=$4
  shift 4
  wanted "$name" || return 0
  local out="$runs/$name"
  if [ ! -e "$out/.trained" ]; then
    if [ -e "$out/checkpoint.safetensors" ]; then nf train --resume --out "$out"; else nf train --data "$data" "$@" --out "$out"; fi
    touch "$out/.trained"
  fi
  nf eval --model "$out/model.safetensors" --data "$data" --split test --dequantize uniform --seed 0 --json --quiet | tail -n 1 > "$out/eval-float32.json"
  node --import tsx scripts/to-float16.ts "$out/model.safetensors" "$out/model-f16.safetensors"
  nf eval --model "$out/model-f16.safetensors" --data "$data" --split test --dequantize uniform --seed 0 --json --quiet | tail -n 1 > "$out/eval-float16.json"
  node --import tsx scripts/gallery-entry.ts --name "$name" --data "$data" --label "$label" --note "$note" --run "$out" --gallery web/gallery
}

# MNIST, dense NICE (the paper's architecture at a size a page downloads in a moment: 4 couplings of 4 × 512
# instead of 5 × 1000, 4.7 M parameters, 9 MB as float16), with the measured recipe (mnist-ema: weight average
# 0.999, a constant learning rate) for 60 epochs. Its samples look like digits, so the studio opens with it.
gallery mnist mnist "MNIST · dense NICE, 4 couplings × 4 × 512" \
  "train --data mnist --preset mnist-ema --hidden 512 --depth 4 --epochs 60" \
  --preset mnist-ema --hidden 512 --depth 4 --epochs 60

# MNIST, class-conditional (issue 21's recipe at the same size): the label moves the prior; --class-weight 3 adds
# the classification term.
gallery mnist-conditional mnist "MNIST · class-conditional, 4 couplings × 4 × 512" \
  "train --data mnist --preset mnist-ema --hidden 512 --depth 4 --epochs 30 --conditional --class-weight 3" \
  --preset mnist-ema --hidden 512 --depth 4 --epochs 30 --conditional --class-weight 3

# The multi-scale convolutional image flow (--preset mnist-conv: docs/architectures.md), the best density here.
gallery mnist-conv mnist "MNIST · multi-scale conv flow (mnist-conv)" \
  "train --data mnist --preset mnist-conv (scripts/reproduce-mnist-conv.sh)" \
  --preset mnist-conv

# The same recipe on Fashion-MNIST.
gallery fashion-conv fashion-mnist "Fashion-MNIST · multi-scale conv flow (mnist-conv)" \
  "train --data fashion-mnist --preset mnist-conv" \
  --preset mnist-conv

du -ch web/gallery/*.safetensors | tail -n 1
