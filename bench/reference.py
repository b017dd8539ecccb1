"""PyTorch reference timings for bench/native.ts, printed as one JSON object.

Times, on the CPU, the same workloads bench/native.ts times in fisherlab:

- a SimpleCNN SGD step at batch 128 on MNIST shapes (28x28x1, 10 classes),
  the net of models/simple_cnn.ts: two blocks of 3x3 conv with padding 1,
  ReLU, 2x2 max pool, then dense 128 ReLU and dense 10;
- a Fisher-penalty-like step: the gradient of L + alpha * ||grad_theta L||^2
  by double backprop, then an SGD update;
- a 1024^3 float32 matrix product (torch.mm), in GFLOP/s.

Usage: python3 bench/reference.py [--quick] [--threads N] [--batch N]
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


def simple_cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(7 * 7 * 64, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )


def median_ms(step, warmup, repeats):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    repeats = 5 if args.quick else 20

    model = simple_cnn()
    x = torch.randn(args.batch, 1, 28, 28)
    y = torch.randint(0, 10, (args.batch,))
    train = median_ms(lambda: sgd_step(model, x, y, 0.01), 3, repeats)
    fisher = median_ms(lambda: fisher_step(model, x, y, 0.01, 0.1), 3, repeats)
    gflops = matmul_gflops(1024, repeats)

    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "repeats": repeats,
        "sgdStepMs": train,
        "fisherStepMs": fisher,
        "matmul1024Gflops": gflops,
    }))


if __name__ == "__main__":
    main()
