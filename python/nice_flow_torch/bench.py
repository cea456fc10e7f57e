"""Training speed of the twin on one model variant, for `npm run bench` (the PyTorch baseline beside nice-flow).

    PYTHONPATH=python python3 -m nice_flow_torch.bench CONFIG_JSON SECONDS THREADS [BATCH]

Builds the model of a nice-flow config (the twin's own code: the same architecture nice-flow trains), then times
training steps (forward, backward, Adam with the paper's settings) on random data in the model's range, in three
equal windows, then evaluation (log-likelihood, no gradients) and sampling the same way, and prints one JSON line
{"trainSamplesPerSec", "evalSamplesPerSec", "sampleSamplesPerSec", "torch", "threads"} with the best window's
rates, as bench/bench.ts measures nice-flow.
"""
import json
import sys
import time

import torch

from .model import NiceConfig, NiceFlow


def main() -> int:
    config = NiceConfig.from_dict(json.loads(sys.argv[1]))
    seconds = float(sys.argv[2])
    threads = int(sys.argv[3])
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = NiceFlow(config)
    if config.flow is not None:
        model.reset_parameters()  # a described flow's own init (1×1 convolutions at a random rotation, zero-init convs)
    lo, hi = config.range
    x = lo + (hi - lo) * torch.rand(batch, config.dim)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-4)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = -model.log_prob(x).mean()
        loss.backward()
        opt.step()

    def rate(f) -> float:
        f()
        best = 0.0
        for _ in range(3):
            n, t0 = 0, time.perf_counter()
            while n < 1 or time.perf_counter() - t0 < seconds / 3:
                f()
                n += 1
            best = max(best, n / (time.perf_counter() - t0))
        return best * batch

    train = rate(step)
    with torch.no_grad():
        evaluate = rate(lambda: model.log_prob(x))
        sample = rate(lambda: model.sample(batch))
    print(json.dumps({"trainSamplesPerSec": train, "evalSamplesPerSec": evaluate, "sampleSamplesPerSec": sample,
                      "torch": torch.__version__, "threads": threads}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
