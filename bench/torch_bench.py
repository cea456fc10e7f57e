"""PyTorch baseline for `npm run bench`: the paper's MNIST NICE model, one training step = forward, backward, Adam.

Prints one JSON line: {"trainSamplesPerSec", "evalSamplesPerSec", "torch", "threads"}.
Usage: python3 bench/torch_bench.py SECONDS THREADS
"""
import json
import math
import sys
import time

import torch
from torch import nn

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
torch.set_num_threads(threads)
D, H, DEPTH, K, B = 784, 1000, 5, 4, 200


class Coupling(nn.Module):
    def __init__(self, parity):
        super().__init__()
        self.parity = parity
        dims = [D // 2] + [H] * DEPTH + [D // 2]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x):
        kept, upd = (x[:, 0::2], x[:, 1::2]) if self.parity == 0 else (x[:, 1::2], x[:, 0::2])
        h = kept
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1:
                h = torch.relu(h)
        upd = upd + h
        out = torch.empty_like(x)
        if self.parity == 0:
            out[:, 0::2], out[:, 1::2] = kept, upd
        else:
            out[:, 1::2], out[:, 0::2] = kept, upd
        return out


class Nice(nn.Module):
    def __init__(self):
        super().__init__()
        self.couplings = nn.ModuleList(Coupling(k % 2) for k in range(K))
        self.scale = nn.Parameter(torch.zeros(D))

    def log_prob(self, x):
        for c in self.couplings:
            x = c(x)
        h = x * torch.exp(self.scale)
        logp = -(nn.functional.softplus(h) + nn.functional.softplus(-h)).sum(1)
        return logp + self.scale.sum()


model = Nice()
opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-4)
x = torch.rand(B, D)


def rate(step, seconds):
    """Samples per second of the best of three equal windows (as bench.ts measures its own backends)."""
    step()
    best = 0.0
    for _ in range(3):
        n, t0 = 0, time.perf_counter()
        while n < 2 or time.perf_counter() - t0 < seconds / 3:
            step()
            n += 1
        best = max(best, n * B / (time.perf_counter() - t0))
    return best


def train_step():
    opt.zero_grad()
    loss = -model.log_prob(x).mean()
    loss.backward()
    opt.step()


def eval_step():
    with torch.no_grad():
        model.log_prob(x)


train = rate(train_step, seconds)
ev = rate(eval_step, seconds / 2)
print(json.dumps({"trainSamplesPerSec": train, "evalSamplesPerSec": ev, "torch": torch.__version__, "threads": threads}))
