"""PyTorch reference timings for bench/native.ts, printed as one JSON object.

Times, on the CPU, the same workloads bench/native.ts times in fisherlab:

- a SimpleCNN SGD step at batch 128 on MNIST shapes (28x28x1, 10 classes),
  the net of models/simple_cnn.ts: two blocks of 3x3 conv with padding 1,
  ReLU, 2x2 max pool, then dense 128 ReLU and dense 10;
- a Fisher-penalty-like step: the gradient of L + alpha * ||grad_theta L||^2
  by double backprop, then an SGD update;
- a 1024^3 float32 matrix product (torch.mm), in GFLOP/s.

Each workload runs with every thread count given (default: all CPUs, then
one: on a loaded machine one thread can be the faster); the JSON holds each
and, at the top level, the fastest.

Usage: python3 bench/reference.py [--quick] [--threads N[,M...]] [--batch N]
"""

import argparse
import json
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as error:  # torch missing: say so in the JSON, exit 2
    print(json.dumps({"error": f"Cannot import torch: {error}"}))
    sys.exit(2)

from torch_models import median_ms, simple_cnn  # noqa: E402


def sgd_step(model, x, y, lr):
    loss = F.cross_entropy(model(x), y)
    params = list(model.parameters())
    grads = torch.autograd.grad(loss, params)
    with torch.no_grad():
        for p, g in zip(params, grads):
            p.sub_(lr * g)
    return loss.item()


def fisher_step(model, x, y, lr, alpha):
    loss = F.cross_entropy(model(x), y)
    params = list(model.parameters())
    grads = torch.autograd.grad(loss, params, create_graph=True)
    penalty = sum((g * g).sum() for g in grads)
    total = loss + alpha * penalty
    outer = torch.autograd.grad(total, params)
    with torch.no_grad():
        for p, g in zip(params, outer):
            p.sub_(lr * g)
    return total.item()


def matmul_gflops(n, repeats):
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    ms = median_ms(lambda: torch.mm(a, b), 2, repeats)
    return 2 * n**3 / (ms * 1e6)


def measure(threads, batch, repeats):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = simple_cnn()
    x = torch.randn(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    return {
        "threads": torch.get_num_threads(),
        "sgdStepMs": median_ms(lambda: sgd_step(model, x, y, 0.01), 3, repeats),
        "fisherStepMs": median_ms(
            lambda: fisher_step(model, x, y, 0.01, 0.1), 3, repeats
        ),
        "matmul1024Gflops": matmul_gflops(1024, repeats),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", default=f"{os.cpu_count()},1")
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    counts = list(dict.fromkeys(int(t) for t in args.threads.split(",")))
    repeats = 5 if args.quick else 20
    runs = [measure(t, args.batch, repeats) for t in counts]

    def best(key, pick):
        run = pick(runs, key=lambda r: r[key])
        return run[key], run["threads"]

    sgd, sgd_threads = best("sgdStepMs", min)
    fisher, fisher_threads = best("fisherStepMs", min)
    gflops, gflops_threads = best("matmul1024Gflops", max)
    print(json.dumps({
        "torch": torch.__version__,
        "batch": args.batch,
        "repeats": repeats,
        "sgdStepMs": sgd,
        "sgdThreads": sgd_threads,
        "fisherStepMs": fisher,
        "fisherThreads": fisher_threads,
        "matmul1024Gflops": gflops,
        "matmulThreads": gflops_threads,
        "runs": runs,
    }))


if __name__ == "__main__":
    main()
