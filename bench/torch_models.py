"""The PyTorch side of fisherlab's benchmarks: the same networks as
models/ (SimpleCNN with "same" 3x3 convolutions, MLPs, the ResNet-8 of
models/resnet.ts) and a median timer, shared by the reference scripts in
this folder."""

import os
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


STEADY_WARMUP_MS = 250
STEADY_TIMED_MS = 250
STEADY_MAX_CALLS = 50


def steady_times(calls, repeats):
    """Milliseconds of each of `calls`, called in turn, round after round,
    by the rule of steadyTimes in bench/_measure.ts: rounds until 250 ms
    have passed, then at least `repeats` timed rounds and more until 250 ms
    have passed, at most 50 rounds in each phase."""
    start = time.perf_counter()
    for _ in range(STEADY_MAX_CALLS):
        for call in calls:
            call()
        if (time.perf_counter() - start) * 1e3 >= STEADY_WARMUP_MS:
            break
    times = [[] for _ in calls]
    spent = 0.0
    while len(times[0]) < STEADY_MAX_CALLS and (
        len(times[0]) < repeats or spent < STEADY_TIMED_MS
    ):
        for call, out in zip(calls, times):
            begin = time.perf_counter()
            call()
            ms = (time.perf_counter() - begin) * 1e3
            out.append(ms)
            spent += ms
    return times


def steady_median_ms(work, repeats):
    """The median of steady_times of one workload."""
    return statistics.median(steady_times([work], repeats)[0])


def _bn(channels):
    """tfjs-layers' batchNormalization defaults: epsilon 1e-3, moving
    averages kept with momentum 0.99 (PyTorch counts it as 0.01)."""
    return torch.nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


class BasicBlock(torch.nn.Module):
    """conv 3x3 (stride s), BN, ReLU, conv 3x3, BN, plus the input, or a
    1x1 conv (stride s) and BN of it when s is 2; then ReLU."""

    def __init__(self, inputs, filters, stride):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(inputs, filters, 3, stride, 1, bias=False)
        self.bn1 = _bn(filters)
        self.conv2 = torch.nn.Conv2d(filters, filters, 3, 1, 1, bias=False)
        self.bn2 = _bn(filters)
        self.shortcut = None
        if stride != 1:
            self.shortcut = torch.nn.Sequential(
                torch.nn.Conv2d(inputs, filters, 1, stride, bias=False),
                _bn(filters),
            )

    def forward(self, x):
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        shortcut = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(y + shortcut)


def resnet8(width=16, classes=10):
    """models/resnet.ts with its defaults (ResNet-8 on 32x32x3): a 3x3 stem
    of `width` filters, BN, ReLU; three stages of one basic block of width,
    2 width and 4 width filters, the later two with stride 2 and a 1x1
    projection shortcut; global average pooling; dense `classes`. No conv
    has a bias. 78,042 trainable weights, as in fisherlab.

    One difference in arithmetic order only: a stride-2 3x3 conv pads one
    pixel on each side here, while "same" in tfjs pads the bottom and right
    edges only; the output shapes and the work are the same."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, width, 3, 1, 1, bias=False),
        _bn(width),
        torch.nn.ReLU(),
        BasicBlock(width, width, 1),
        BasicBlock(width, 2 * width, 2),
        BasicBlock(2 * width, 4 * width, 2),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * width, classes),
    )


def trainable_weights(model):
    """The number of trainable weights, to compare with fisherlab's."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def thread_counts(text=None):
    """The thread counts to choose from: "N,M" parsed, by default all CPUs
    and then one (on a loaded machine one thread can be the faster)."""
    text = text or f"{os.cpu_count()},1"
    return list(dict.fromkeys(int(t) for t in text.split(",")))


def faster_threads(work, counts, repeats=3):
    """The thread count of `counts` under which `repeats` calls of `work()`,
    after one more, take the least time; the count is left set."""
    times = {}
    for count in counts:
        torch.set_num_threads(count)
        work()
        start = time.perf_counter()
        for _ in range(repeats):
            work()
        times[count] = time.perf_counter() - start
    best = min(times, key=times.get)
    torch.set_num_threads(best)
    return best
