"""PyTorch reference timings for bench/regularizers.ts, as one JSON object.

Times, on the CPU, a plain SGD step and a Fisher-penalty step for the nets
bench/regularizers.ts times in fisherlab, at batch 128:

- SimpleCNN on MNIST shapes: conv 32 3x3 (padding 1) ReLU, max pool 2,
  conv 64 3x3 ReLU, max pool 2, dense 128 ReLU, dense 10;
- MLPs 784-256-256-10 and 784-256-10 with ReLU;
- the ResNet-8 of models/resnet.ts on CIFAR shapes (3x32x32), batch norm in
  training mode (torch_models.resnet8).

The Fisher-penalty step is L + alpha * ||grad_theta L_yhat||^2 on the whole
batch, yhat sampled from the model's softmax (no gradient through the
draw), differentiated by double backprop, then an SGD update.

Each net runs with the faster of the thread counts given (default: all
CPUs, then one), chosen by a few untimed plain steps with each.

Usage: python3 bench/regularizers_reference.py [--quick] [--threads N[,M]]
"""

import argparse
import json
import statistics
import sys

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
    steady_times,
    thread_counts,
    trainable_weights,
)

BATCH = 128
LR = 0.01
ALPHA = 0.1


def paired_ms(first, second, repeats):
    """Medians of two steps timed alternately, so both see the same load,
    in their steady state (torch_models.steady_times)."""
    a, b = steady_times([first, second], repeats)
    return statistics.median(a), statistics.median(b)


def update(params, grads):
    with torch.no_grad():
        for p, g in zip(params, grads):
            p.sub_(LR * g)


def sgd_step(model, x, y):
    params = list(model.parameters())
    loss = F.cross_entropy(model(x), y)
    update(params, torch.autograd.grad(loss, params))
    return loss.item()


def fisher_step(model, x, y):
    params = list(model.parameters())
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    with torch.no_grad():
        yhat = torch.multinomial(F.softmax(logits, dim=1), 1).squeeze(1)
    inner = torch.autograd.grad(
        F.cross_entropy(model(x), yhat), params, create_graph=True
    )
    total = loss + ALPHA * sum((g * g).sum() for g in inner)
    update(params, torch.autograd.grad(total, params))
    return total.item()


def time_net(model, shape, repeats, counts):
    x = torch.randn(BATCH, *shape)
    y = torch.randint(0, 10, (BATCH,))
    threads = faster_threads(lambda: sgd_step(model, x, y), counts)
    sgd, fisher = paired_ms(
        lambda: sgd_step(model, x, y), lambda: fisher_step(model, x, y), repeats
    )
    return {
        "threads": threads,
        "sgdStepMs": sgd,
        "fisherStepMs": fisher,
        "weights": trainable_weights(model),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", default=None)
    args = parser.parse_args()
    counts = thread_counts(args.threads)
    torch.manual_seed(0)
    repeats = 5 if args.quick else 20
    # The ResNet's steps take seconds: as many repeats as fisherlab's.
    resnet_repeats = 3 if args.quick else 7
    print(json.dumps({
        "torch": torch.__version__,
        "threadCounts": counts,
        "batch": BATCH,
        "repeats": repeats,
        "cnn": time_net(simple_cnn(), (1, 28, 28), repeats, counts),
        "mlp2": time_net(mlp(256, 256), (784,), repeats, counts),
        "mlp1": time_net(mlp(256), (784,), repeats, counts),
        "resnet": time_net(resnet8(), (3, 32, 32), resnet_repeats, counts),
    }))


if __name__ == "__main__":
    main()
