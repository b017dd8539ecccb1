"""The PyTorch side of fisherlab's benchmarks: the same networks as
models/ (SimpleCNN with "same" 3x3 convolutions, MLPs) and a median timer,
shared by the reference scripts in this folder."""

import statistics
import time

import torch


def simple_cnn():
    """models/simple_cnn.ts: two blocks of conv 3x3 same, ReLU, max pool 2,
    then dense 128 ReLU and dense 10."""
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


def mlp(*hidden):
    """models/mlp.ts on 28x28 inputs with the given hidden widths."""
    layers = [torch.nn.Flatten()]
    width = 784
    for units in hidden:
        layers += [torch.nn.Linear(width, units), torch.nn.ReLU()]
        width = units
    layers.append(torch.nn.Linear(width, 10))
    return torch.nn.Sequential(*layers)


def median_ms(work, warmup, repeats):
    """Median wall-clock milliseconds of `work()` after `warmup` calls."""
    for _ in range(warmup):
        work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)
