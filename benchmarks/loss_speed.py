"""Time forward + backward of danlu's fused losses against the PyTorch function each one uses.

Each loss is called as a class, ``loss(y_true, y_pred)`` (default reduction), and the
reference is the PyTorch expression a hand-written loop would use for Keras' numbers (Keras'
clipping of probabilities at 1e-7 included). Both run on the same inputs in one process,
single-threaded, interleaved in blocks whose order alternates; the table gives the median wall
time of each side, the medians of the per-round ratios of wall time and of the thread's CPU
time (the steadier measure on a shared machine), and the ratio of the fastest CPU times.
Budget: danlu / torch <= 1.10 (the median CPU-time ratio; wall time on an accelerator).

    python benchmarks/loss_speed.py [--device cuda] [--rounds 100] [--block 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import danlu

EPS = 1e-7
losses = danlu.losses


def rows(x):
    return x if x.ndim == 2 else x.reshape(-1, x.shape[-1])


def clipped_log_probabilities(p):
    return (p / p.sum(-1, keepdim=True)).clamp(EPS, 1 - EPS).log()


def inputs(kind, shape, generator, device):
    """(y_true, y_pred) of one kind; y_pred is the leaf that gets the gradient."""
    def randn(s):
        return torch.randn(s, generator=generator).to(device)

    def rand(s):
        return torch.rand(s, generator=generator).to(device)

    classes = shape[-1]
    if kind == "regression":
        return randn(shape), randn(shape).requires_grad_()
    if kind == "counts":
        return torch.poisson(2 * rand(shape)), (rand(shape) + 0.1).requires_grad_()
    if kind == "binary-logits":
        return (rand(shape) > 0.5).float(), (3 * randn(shape)).requires_grad_()
    if kind == "binary-probabilities":
        return (rand(shape) > 0.5).float(), rand(shape).requires_grad_()
    labels = torch.randint(0, classes, shape[:-1], generator=generator).to(device)
    if kind == "sparse-logits":
        return labels, randn(shape).requires_grad_()
    if kind == "sparse-probabilities":
        return labels, rand(shape).requires_grad_()
    if kind == "one-hot-logits":
        return F.one_hot(labels, classes).float(), randn(shape).requires_grad_()
    if kind == "distributions":
        return torch.softmax(randn(shape), -1), rand(shape).requires_grad_()
    raise ValueError(kind)


# (name, danlu loss, reference(y_true, y_pred), kind of inputs)
CASES = [
    ("MeanSquaredError", losses.MeanSquaredError(), lambda t, p: F.mse_loss(p, t), "regression"),
    ("MeanAbsoluteError", losses.MeanAbsoluteError(), lambda t, p: F.l1_loss(p, t), "regression"),
    ("Huber", losses.Huber(), lambda t, p: F.huber_loss(p, t, delta=1.0), "regression"),
    ("Poisson", losses.Poisson(), lambda t, p: F.poisson_nll_loss(p, t, log_input=False, eps=EPS), "counts"),
    ("BinaryCrossentropy(from_logits)", losses.BinaryCrossentropy(from_logits=True),
     lambda t, p: F.binary_cross_entropy_with_logits(p, t), "binary-logits"),
    ("BinaryCrossentropy", losses.BinaryCrossentropy(),
     lambda t, p: F.binary_cross_entropy(p.clamp(EPS, 1 - EPS), t), "binary-probabilities"),
    ("CategoricalCrossentropy(from_logits)", losses.CategoricalCrossentropy(from_logits=True),
     lambda t, p: F.cross_entropy(rows(p), rows(t)), "one-hot-logits"),
    ("CategoricalCrossentropy(from_logits, ls=0.1)",
     losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
     lambda t, p: F.cross_entropy(rows(p), rows(t), label_smoothing=0.1), "one-hot-logits"),
    ("SparseCategoricalCrossentropy(from_logits)", losses.SparseCategoricalCrossentropy(from_logits=True),
     lambda t, p: F.cross_entropy(rows(p), t.reshape(-1)), "sparse-logits"),
    ("SparseCategoricalCrossentropy", losses.SparseCategoricalCrossentropy(),
     lambda t, p: F.nll_loss(clipped_log_probabilities(rows(p)), t.reshape(-1)), "sparse-probabilities"),
    ("KLDivergence", losses.KLDivergence(),
     lambda t, p: F.kl_div(rows(p).clamp(EPS, 1).log(), rows(t).clamp(EPS, 1), reduction="batchmean"), "distributions"),
]
SHAPES = {"2-D": (4096, 64), "3-D": (32, 128, 64)}
LANGUAGE_MODEL_SHAPE = (4, 16, 8192)  # (batch, time, vocabulary) logits


def step(fn, y_true, y_pred):
    fn(y_true, y_pred).backward()
    y_pred.grad = None


def time_block(fn, y_true, y_pred, block, device):
    """Seconds per step of ``block`` steps: (wall clock, this thread's CPU time)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter(), time.thread_time()
    for _ in range(block):
        step(fn, y_true, y_pred)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - wall) / block, (time.thread_time() - cpu) / block


def compare(loss, reference, y_true, y_pred, rounds, block, device):
    """Medians of each side's wall time; the medians of the per-round ratios of wall time and
    of CPU time (single-threaded, the CPU time of a step does not count the moments other
    processes of a shared machine take the core); the ratio of the fastest CPU times."""
    ours, theirs = loss(y_true, y_pred), reference(y_true, y_pred)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    for _ in range(20):  # warm up: kernels, the allocator's cache, the clock
        step(loss, y_true, y_pred)
        step(reference, y_true, y_pred)
    times = {"ours": [], "theirs": []}
    wall_ratios, cpu_ratios = [], []
    for r in range(rounds):
        order = ("ours", "theirs") if r % 2 == 0 else ("theirs", "ours")
        for side in order:
            fn = loss if side == "ours" else reference
            times[side].append(time_block(fn, y_true, y_pred, block, device))
        (ours_wall, ours_cpu), (theirs_wall, theirs_cpu) = times["ours"][-1], times["theirs"][-1]
        wall_ratios.append(ours_wall / theirs_wall)
        cpu_ratios.append(ours_cpu / theirs_cpu if theirs_cpu else float("nan"))
    median_wall = [statistics.median(t for t, _ in times[side]) for side in ("ours", "theirs")]
    fastest = min(c for _, c in times["ours"]) / min(c for _, c in times["theirs"])
    return (*median_wall, statistics.median(wall_ratios), statistics.median(cpu_ratios), fastest)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--block", type=int, default=5)
    parser.add_argument("--budget", type=float, default=1.10)
    parser.add_argument("--only", default="", help="run only the losses whose name contains this")
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, device {device}; "
          f"{args.rounds} rounds of {args.block} forward + backward steps per side")
    print(f"{'loss':<46}{'shape':>16}{'danlu (us)':>12}{'torch (us)':>12}{'ratio':>8}{'cpu ratio':>11}{'fastest':>9}")
    runs = [(name, loss, ref, kind, shape) for name, loss, ref, kind in CASES for shape in SHAPES.values()]
    runs.append(("SparseCategoricalCrossentropy(from_logits)", CASES[8][1], CASES[8][2], "sparse-logits",
                 LANGUAGE_MODEL_SHAPE))
    runs = [run for run in runs if args.only in run[0]]
    worst = 0.0
    for name, loss, reference, kind, shape in runs:
        y_true, y_pred = inputs(kind, shape, generator, device)
        a, b, ratio, cpu_ratio, fastest = compare(loss, reference, y_true, y_pred, args.rounds, args.block, device)
        measured = cpu_ratio if device.type == "cpu" else ratio
        worst = max(worst, measured)
        flag = "" if measured <= args.budget else "  over budget"
        print(f"{name:<46}{str(shape):>16}{a * 1e6:>12.1f}{b * 1e6:>12.1f}{ratio:>8.3f}{cpu_ratio:>11.3f}"
              f"{fastest:>9.3f}{flag}")
    print(f"worst ratio {worst:.3f} (budget {args.budget:.2f}; CPU time on the CPU, wall time on accelerators)")


if __name__ == "__main__":
    main()
