"""Time ``step()`` of danlu optimizers against ``torch.optim``'s foreach versions.

The model has ~200 parameter tensors (100 Linear layers). Both optimizers step on their own
copy of the same parameters and gradients; their steps are interleaved in one process and the
medians compared. Budget: danlu / torch.optim <= 1.15.

    python benchmarks/optimizer_step.py [--device cuda] [--repeats 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import danlu

PAIRS = {
    "Adam": (lambda p: danlu.optimizers.Adam(p, learning_rate=1e-3),
             lambda p: torch.optim.Adam(p, lr=1e-3, eps=1e-7, foreach=True)),
    "AdamW": (lambda p: danlu.optimizers.AdamW(p, learning_rate=1e-3, weight_decay=0.004),
              lambda p: torch.optim.AdamW(p, lr=1e-3, eps=1e-7, weight_decay=0.004, foreach=True)),
    "SGD momentum": (lambda p: danlu.optimizers.SGD(p, learning_rate=0.01, momentum=0.9),
                     lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, foreach=True)),
    "RMSprop": (lambda p: danlu.optimizers.RMSprop(p, learning_rate=1e-3),
                lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-7, foreach=True)),
    "Adagrad": (lambda p: danlu.optimizers.Adagrad(p, learning_rate=1e-3),
                lambda p: torch.optim.Adagrad(p, lr=1e-3, initial_accumulator_value=0.1, eps=1e-7, foreach=True)),
}


def make_params(device, layers=100, width=64):
    torch.manual_seed(0)
    model = torch.nn.Sequential(*[torch.nn.Linear(width, width) for _ in range(layers)]).to(device)
    params = [p.detach().clone().requires_grad_(True) for p in model.parameters()]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-2
    return params


def clone_params(params):
    copies = [p.detach().clone().requires_grad_(True) for p in params]
    for c, p in zip(copies, params):
        c.grad = p.grad.clone()
    return copies


def time_step(opt, device, inner=10):
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(inner):
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / inner


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()
    device = torch.device(args.device)
    base = make_params(device)
    print(f"{len(base)} parameter tensors, {sum(p.numel() for p in base):,} values, device {device}")
    print(f"{'optimizer':<14}{'danlu (us)':>12}{'torch (us)':>12}{'ratio':>8}")
    worst = 0.0
    for name, (make_ours, make_theirs) in PAIRS.items():
        ours, theirs = make_ours(clone_params(base)), make_theirs(clone_params(base))
        for _ in range(3):  # warm up: state creation, kernels
            ours.step()
            theirs.step()
        ours_times, theirs_times = [], []
        for _ in range(args.repeats):
            ours_times.append(time_step(ours, device))
            theirs_times.append(time_step(theirs, device))
        a, b = statistics.median(ours_times), statistics.median(theirs_times)
        worst = max(worst, a / b)
        print(f"{name:<14}{a * 1e6:>12.1f}{b * 1e6:>12.1f}{a / b:>8.3f}")
    print(f"worst ratio {worst:.3f} (budget 1.15)")


if __name__ == "__main__":
    main()
