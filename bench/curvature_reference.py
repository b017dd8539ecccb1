"""PyTorch reference timings for bench/curvature.ts, printed as one JSON object.

Times on the CPU, per example, the curvature workloads bench/curvature.ts
times in fisherlab, on the same networks and batch size:

- exact Tr(F): sum over classes c of p(c|x) ||grad log p(c|x)||^2, with
  per-example gradients from functorch (vmap of grad), one class at a time;
- mini-batch Tr(F): B ||mean_i grad log p(yhat_i|x_i)||^2, labels sampled
  from the model, one backward pass;
- one Hutchinson probe: v^T H v for a Rademacher v, H v by double backprop;
- one power-iteration step: H v, the Rayleigh quotient, v <- Hv / ||Hv||.

Networks: an MLP 784-256-10 (ReLU) and the SimpleCNN of models/simple_cnn.ts
(two blocks of 3x3 conv "same", ReLU, 2x2 max pool; dense 128; dense 10)
on 28x28x1 inputs, and the ResNet-8 of models/resnet.ts on 3x32x32 inputs
(torch_models.resnet8). Every model is in eval mode, so batch norm uses its
running statistics, as fisherlab's evaluators do with bn "running". Times
are steady-state medians (torch_models.steady_median_ms, the rule
bench/curvature.ts times fisherlab by), in ms per example, each under the
faster of the thread counts given (default: all CPUs, then one), which the
JSON names per workload.

Usage: python3 bench/curvature_reference.py [--quick] [--threads N[,M...]]
           [--cnn-exact-examples N] [--resnet-exact-examples N]
"""

import argparse
import json
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError as error:  # torch missing: say so in the JSON, exit 2
    print(json.dumps({"error": f"Cannot import torch: {error}"}))
    sys.exit(2)

from torch_models import (  # noqa: E402
    mlp,
    resnet8,
    simple_cnn,
    steady_median_ms,
    thread_counts,
    trainable_weights,
)

try:
    from functorch import grad, make_functional_with_buffers, vmap
except ImportError:  # older or newer torch: fall back to a loop
    grad = make_functional_with_buffers = vmap = None

BATCH = 128


def exact_fisher(model, x):
    with torch.no_grad():
        probs = F.softmax(model(x), dim=-1)
    classes = probs.shape[1]
    total = torch.zeros(x.shape[0])
    if vmap is not None:
        fmodel, params, buffers = make_functional_with_buffers(model)

        def log_prob(p, xi, c):
            logits = fmodel(p, buffers, xi.unsqueeze(0))
            return F.log_softmax(logits, dim=-1)[0, c]

        per_example = vmap(grad(log_prob), in_dims=(None, 0, None))
        for c in range(classes):
            grads = per_example(params, x, c)
            sq = sum(g.pow(2).flatten(1).sum(1) for g in grads)
            total += probs[:, c] * sq.detach()
    else:
        params = list(model.parameters())
        for i in range(x.shape[0]):
            for c in range(classes):
                logp = F.log_softmax(model(x[i:i + 1]), dim=-1)[0, c]
                grads = torch.autograd.grad(logp, params)
                total[i] += probs[i, c] * sum(g.pow(2).sum() for g in grads)
    return total.mean().item()


def minibatch_fisher(model, x):
    params = list(model.parameters())
    logits = model(x)
    with torch.no_grad():
        labels = torch.multinomial(F.softmax(logits, dim=-1), 1).squeeze(1)
    loss = F.cross_entropy(logits, labels)
    grads = torch.autograd.grad(loss, params)
    return x.shape[0] * sum(g.pow(2).sum() for g in grads).item()


def hvp(model, x, y, v):
    params = list(model.parameters())
    loss = F.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    dot = sum((g * u).sum() for g, u in zip(grads, v))
    return torch.autograd.grad(dot, params)


def hutchinson_probe(model, x, y):
    v = [torch.randint(0, 2, p.shape).float() * 2 - 1
         for p in model.parameters()]
    hv = hvp(model, x, y, v)
    return sum((a * b).sum() for a, b in zip(v, hv)).item()


def power_step(model, x, y, state):
    hv = hvp(model, x, y, state["v"])
    rayleigh = sum((a * b).sum() for a, b in zip(state["v"], hv)).item()
    size = torch.sqrt(sum(h.pow(2).sum() for h in hv))
    state["v"] = [h / size for h in hv]
    return rayleigh


def fastest_ms(work, counts, repeats):
    """The least of the steady-state medians of `work()` under each thread
    count of `counts`, and the count that gave it."""
    best = None
    for count in counts:
        torch.set_num_threads(count)
        ms = steady_median_ms(work, repeats)
        if best is None or ms < best[0]:
            best = (ms, count)
    return best


def measure(model, x, y, quick, exact_examples, counts):
    repeats = 2 if quick else 5
    model.eval()
    torch.manual_seed(0)
    state = {"v": [torch.randn(p.shape) for p in model.parameters()]}
    xe = x[:exact_examples]
    n = x.shape[0]
    workloads = {
        "exactMs": (lambda: exact_fisher(model, xe), exact_examples),
        "minibatchMs": (lambda: minibatch_fisher(model, x), n),
        "probeMs": (lambda: hutchinson_probe(model, x, y), n),
        "powerMs": (lambda: power_step(model, x, y, state), n),
    }
    out = {"exactExamples": exact_examples, "threads": {}}
    for key, (work, per) in workloads.items():
        ms, threads = fastest_ms(work, counts, repeats)
        out[key] = ms / per
        out["threads"][key] = threads
    out["weights"] = trainable_weights(model)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", default=None)
    parser.add_argument("--cnn-exact-examples", type=int, default=None)
    parser.add_argument("--resnet-exact-examples", type=int, default=None)
    args = parser.parse_args()
    counts = thread_counts(args.threads)
    torch.manual_seed(1)
    x = torch.randn(BATCH, 1, 28, 28)
    y = torch.randint(0, 10, (BATCH,))
    cnn_exact = args.cnn_exact_examples or (16 if args.quick else BATCH)
    resnet_exact = args.resnet_exact_examples or (8 if args.quick else 32)
    images = torch.randn(BATCH, 3, 32, 32)
    out = {
        "torch": torch.__version__,
        "threadCounts": counts,
        "perExample": "functorch vmap" if vmap is not None else "loop",
        "mlp": measure(mlp(256), x, y, args.quick, BATCH, counts),
        "cnn": measure(simple_cnn(), x, y, args.quick, cnn_exact, counts),
        "resnet": measure(resnet8(), images, y, args.quick, resnet_exact,
                          counts),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
