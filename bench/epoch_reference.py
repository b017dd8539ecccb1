"""PyTorch reference timings for bench/epoch.ts, printed as one JSON object.

Trains each net for one epoch with a plain PyTorch loop (shuffle, gather a
batch, forward, cross-entropy, backward, SGD step), on the CPU, and reports
examples per second, as bench/epoch.ts does for fisherlab's train():
batch 128, SGD with lr 0.01, no augmentation, the last incomplete batch
dropped, models in training mode.

- MLP 784-256-10 and SimpleCNN on MNIST's 60,000 training images, read
  from the IDX files in --mnist-dir (the ones fisherlab loads), pixels
  scaled to [0, 1]; random tensors of the same shape when the files cannot
  be read (the JSON's "mnist" says which);
- ResNet-8 (torch_models.resnet8) on 50,000 synthetic 3x32x32 examples,
  uniform in [0, 1), random labels.

--<net>-steps N stops that net's epoch after N steps: bench/epoch.ts passes
them with --quick, which by itself changes nothing here. The clock runs
from the shuffle to the last step.

Each net trains with the faster of the thread counts given (default: all
CPUs, then one), chosen by a few untimed steps of a copy of the model with
each: on a loaded machine one thread can be several times the faster.

Usage: python3 bench/epoch_reference.py [--quick] [--mnist-dir DIR]
           [--threads N[,M...]] [--mlp-steps N] [--cnn-steps N]
           [--resnet-steps N]
"""

import argparse
import copy
import gzip
import json
import math
import os
import struct
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as error:  # torch missing: say so in the JSON, exit 2
    print(json.dumps({"error": f"Cannot import torch: {error}"}))
    sys.exit(2)

from torch_models import (  # noqa: E402
    faster_threads,
    mlp,
    resnet8,
    simple_cnn,
    thread_counts,
    trainable_weights,
)

BATCH = 128
LR = 0.01
MNIST_EXAMPLES = 60_000
CIFAR_EXAMPLES = 50_000


def read_idx(path):
    """The values of an unsigned-byte IDX file (raw or .gz) as a tensor."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndims = data[3]
    dims = struct.unpack(f">{ndims}I", data[4:4 + 4 * ndims])
    values = torch.frombuffer(bytearray(data[4 + 4 * ndims:]),
                              dtype=torch.uint8)
    return values[:int(torch.tensor(dims).prod())].reshape(dims)


def mnist(folder):
    """MNIST's training split, or random tensors of its shape and why."""
    try:
        images = read_idx(os.path.join(folder, "train-images-idx3-ubyte"))
        labels = read_idx(os.path.join(folder, "train-labels-idx1-ubyte"))
        x = images.float().div_(255).unsqueeze(1)
        return x, labels.long(), "MNIST images from the same IDX files"
    except (OSError, ValueError, TypeError) as error:
        x = torch.rand(MNIST_EXAMPLES, 1, 28, 28)
        y = torch.randint(0, 10, (MNIST_EXAMPLES,))
        return x, y, f"random MNIST-shaped tensors (no IDX files: {error})"


def train_steps(model, x, y, steps):
    """`steps` SGD steps on shuffled batches of (x, y), the epoch loop."""
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    model.train()
    order = torch.randperm(x.shape[0])
    for step in range(steps):
        index = order[step * BATCH:(step + 1) * BATCH]
        loss = F.cross_entropy(model(x[index]), y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def epoch(model, x, y, max_steps, counts, epochs=1):
    """`epochs` epochs (or the first max_steps steps), each timed; the
    fastest one's examples per second."""
    trial = copy.deepcopy(model)
    threads = faster_threads(lambda: train_steps(trial, x, y, 1), counts)
    steps_per_epoch = x.shape[0] // BATCH
    steps = min(steps_per_epoch, max_steps or steps_per_epoch)
    seconds = math.inf
    for _ in range(epochs):
        start = time.perf_counter()
        train_steps(model, x, y, steps)
        seconds = min(seconds, time.perf_counter() - start)
    return {
        "threads": threads,
        "examplesPerSecond": steps * BATCH / seconds,
        "examples": steps * BATCH,
        "seconds": seconds,
        "steps": steps,
        "stepsPerEpoch": steps_per_epoch,
        "epochs": epochs,
        "weights": trainable_weights(model),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--mnist-dir", default="")
    parser.add_argument("--threads", default=None)
    for net in ("mlp", "cnn", "resnet"):
        parser.add_argument(f"--{net}-steps", type=int, default=None)
        parser.add_argument(f"--{net}-epochs", type=int, default=1)
    args = parser.parse_args()
    counts = thread_counts(args.threads)
    torch.manual_seed(1)
    x, y, source = mnist(args.mnist_dir)
    out = {
        "torch": torch.__version__,
        "threadCounts": counts,
        "mnist": source,
        "mlp": epoch(mlp(256), x, y, args.mlp_steps, counts,
                     args.mlp_epochs),
        "cnn": epoch(simple_cnn(), x, y, args.cnn_steps, counts,
                     args.cnn_epochs),
    }
    del x, y
    images = torch.rand(CIFAR_EXAMPLES, 3, 32, 32)
    labels = torch.randint(0, 10, (CIFAR_EXAMPLES,))
    out["resnet"] = epoch(resnet8(), images, labels, args.resnet_steps,
                          counts, args.resnet_epochs)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
