"""Per-step cost of ``fit`` / ``evaluate`` / ``predict`` against hand-written PyTorch loops.

Workload (the issue's): an MLP 32-64-64-10 with ReLU, Adam, sparse crossentropy from
logits, 8192 samples, batch 64 and 512, three epochs per ``fit`` call (the set-up of a call,
~0.2 ms, is paid once per call, not per step). The hand-written loop shuffles with ``randperm``,
slices by index, and keeps its running loss on the device (no per-step ``.item()``). Two
references: the loop with ``torch.optim.Adam(foreach=True)``, and the same loop with danlu's
Adam (the same optimizer as ``fit``, so the ratio is the loop's own overhead). Epochs of each
are interleaved in one process; medians are compared. Budget: <= 1.10x for fit (against torch.optim.Adam), evaluate and predict.

    python benchmarks/fit_overhead.py [--device cuda] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import danlu
from danlu import layers


def torch_mlp():
    return torch.nn.Sequential(
        torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)
    )


EPOCHS = 3


def hand_written_epochs(model, optimizer, x, y, batch_size):
    return [hand_written_epoch(model, optimizer, x, y, batch_size) for _ in range(EPOCHS)][-1]


def hand_written_epoch(model, optimizer, x, y, batch_size):
    n = x.shape[0]
    order = torch.randperm(n, device=x.device)
    running = torch.zeros((), device=x.device)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        xb, yb = x[index], y[index]
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running += loss.detach() * xb.shape[0]
    return running / n


@torch.no_grad()
def hand_written_evaluate(model, x, y, batch_size):
    total = torch.zeros((), device=x.device)
    for start in range(0, x.shape[0], batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        total += F.cross_entropy(model(xb), yb) * xb.shape[0]
    return total / x.shape[0]


@torch.no_grad()
def hand_written_predict(model, x, batch_size):
    return torch.cat([model(x[s : s + batch_size]) for s in range(0, x.shape[0], batch_size)]).cpu().numpy()


def timed(fn, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = fn()
    if isinstance(result, torch.Tensor):
        result.item()  # the epoch's one read, as a loop that logs its loss makes
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)  # per-step overhead, not kernel parallelism, is what is compared
    device = torch.device(args.device)
    torch.manual_seed(0)
    x = torch.randn(8192, 32, device=device)
    y = torch.randint(0, 10, (8192,), device=device)

    print(f"device {device}, 8192 samples, MLP 32-64-64-10, Adam, sparse crossentropy from logits")
    print(f"{'batch':>6} {'what':<34}{'danlu ms':>10}{'ref ms':>10}{'ratio':>8}")
    for batch_size in (64, 512):
        steps = -(-8192 // batch_size)
        model = danlu.Sequential([layers.Dense(64, activation="relu"), layers.Dense(64, activation="relu"), layers.Dense(10)])
        model.compile(optimizer="adam", loss=danlu.losses.SparseCategoricalCrossentropy(from_logits=True), device=device)
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)  # warm up, builds
        reference = torch_mlp().to(device)
        torch_adam = torch.optim.Adam(reference.parameters(), lr=1e-3, eps=1e-7, foreach=True)
        same_model = torch_mlp().to(device)
        same_adam = danlu.optimizers.Adam(same_model.parameters(), learning_rate=1e-3)
        hand_written_epoch(reference, torch_adam, x, y, batch_size)
        hand_written_epoch(same_model, same_adam, x, y, batch_size)
        fit_t, torch_t, same_t, eval_t, eval_ref, pred_t, pred_ref = ([] for _ in range(7))
        for _ in range(args.repeats):
            fit_t.append(timed(lambda: model.fit(x, y, batch_size=batch_size, epochs=EPOCHS, verbose=0), device) / EPOCHS)
            torch_t.append(timed(lambda: hand_written_epochs(reference, torch_adam, x, y, batch_size), device) / EPOCHS)
            same_t.append(timed(lambda: hand_written_epochs(same_model, same_adam, x, y, batch_size), device) / EPOCHS)
            eval_t.append(timed(lambda: model.evaluate(x, y, batch_size=batch_size, verbose=0), device))
            eval_ref.append(timed(lambda: hand_written_evaluate(reference, x, y, batch_size), device))
            pred_t.append(timed(lambda: model.predict(x, batch_size=batch_size, verbose=0), device))
            pred_ref.append(timed(lambda: hand_written_predict(reference, x, batch_size), device))
        rows = [
            ("fit vs loop + torch.optim.Adam", fit_t, torch_t),
            ("fit vs loop + danlu Adam", fit_t, same_t),
            ("evaluate vs no_grad loop", eval_t, eval_ref),
            ("predict vs no_grad loop", pred_t, pred_ref),
        ]
        for what, ours, ref in rows:
            a, b = statistics.median(ours) / steps * 1e3, statistics.median(ref) / steps * 1e3
            print(f"{batch_size:>6} {what:<34}{a:>10.4f}{b:>10.4f}{a / b:>8.3f}")
    print("ms are per step (medians); budget: ratio <= 1.10 (fit vs torch.optim.Adam, evaluate, predict)")


if __name__ == "__main__":
    main()
