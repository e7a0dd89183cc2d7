"""Per-step cost of ``evaluate`` and ``predict`` against bare ``no_grad`` loops.

Workload (the fit benchmark's): an MLP 32-64-64-10 with ReLU, 8192 samples, batch 64 (and
512). ``evaluate`` has a sparse crossentropy loss from logits and an accuracy metric; the
reference loop computes the same loss sum and the same accuracy count on the device and
reads them once at the end. ``predict`` is compared with a loop that concatenates the
outputs and converts them to numpy. Both sides run the same weights; calls are interleaved in
one process (one thread); medians are compared ("ratio"). "paired" is the median of the
ratios of each repeat's two back-to-back calls, which a shared machine's load drifts less.
Budget: <= 1.10x each.

    python benchmarks/evaluate_predict.py [--device cuda] [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import danlu
from danlu import layers


@torch.no_grad()
def bare_evaluate(model, x, y, batch_size):
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device)
    for start in range(0, x.shape[0], batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        logits = model(xb)
        loss_sum += F.cross_entropy(logits, yb, reduction="sum")
        correct += (logits.argmax(dim=-1) == yb).sum()
    return float(loss_sum) / x.shape[0], float(correct) / x.shape[0]


@torch.no_grad()
def bare_predict(model, x, batch_size):
    return torch.cat([model(x[s : s + batch_size]) for s in range(0, x.shape[0], batch_size)]).cpu().numpy()


def timed(fn, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = torch.device(args.device)
    torch.manual_seed(0)
    x = torch.randn(8192, 32, device=device)
    y = torch.randint(0, 10, (8192,), device=device)
    print(f"device {device}, 8192 samples, MLP 32-64-64-10; evaluate: sparse crossentropy + accuracy")
    print(f"{'batch':>6} {'what':<28}{'danlu ms':>10}{'bare ms':>10}{'ratio':>8}{'paired':>8}")
    for batch_size in (64, 512):
        steps = -(-8192 // batch_size)
        model = danlu.Sequential([layers.Dense(64, activation="relu"), layers.Dense(64, activation="relu"), layers.Dense(10)])
        model.compile(optimizer="adam", loss=danlu.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                      device=device)
        ours = model.evaluate(x, y, batch_size=batch_size, verbose=0)  # builds
        reference = bare_evaluate(model, x, y, batch_size)
        assert abs(ours[0] - reference[0]) < 1e-4 and abs(ours[1] - reference[1]) < 1e-6, (ours, reference)
        bare_predict(model, x, batch_size)
        times = {"evaluate": ([], []), "predict": ([], [])}
        for _ in range(args.repeats):
            times["evaluate"][0].append(timed(lambda: model.evaluate(x, y, batch_size=batch_size, verbose=0), device))
            times["evaluate"][1].append(timed(lambda: bare_evaluate(model, x, y, batch_size), device))
            times["predict"][0].append(timed(lambda: model.predict(x, batch_size=batch_size, verbose=0), device))
            times["predict"][1].append(timed(lambda: bare_predict(model, x, batch_size), device))
        for what, (danlu_times, bare_times) in times.items():
            a, b = statistics.median(danlu_times) / steps * 1e3, statistics.median(bare_times) / steps * 1e3
            paired = statistics.median(ours / bare for ours, bare in zip(danlu_times, bare_times))
            print(f"{batch_size:>6} {what + ' vs no_grad loop':<28}{a:>10.4f}{b:>10.4f}{a / b:>8.3f}{paired:>8.3f}")
    print("ms are per step (medians); budget: ratio <= 1.10")


if __name__ == "__main__":
    main()
