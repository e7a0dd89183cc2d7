"""Time forward + backward of danlu's recurrent layers against bare ``torch.nn`` modules.

Each danlu layer (``LSTM`` / ``GRU`` / ``SimpleRNN`` with ``return_sequences=True``, Keras'
defaults) runs against the ``torch.nn.LSTM`` / ``GRU`` / ``RNN`` of the same size holding the
same weights (Keras' gate order mapped to torch's), on the same input; a step is
``layer(x).sum().backward()`` (gradients for the input and every weight). Both sides run in one
process, single-threaded, interleaved in blocks whose order alternates; the table gives the
median wall time of each side and the medians of the per-round ratios of wall time and of the
thread's CPU time (the steady measure on a shared machine). Budget: danlu / torch <= 1.10 for
LSTM and GRU. Extra rows: a right-padded mask (against torch's packed sequences) and
Bidirectional(LSTM) (against ``nn.LSTM(bidirectional=True)``).

    python benchmarks/recurrent.py [--device cuda] [--rounds 30] [--block 3]
           [--batch 64] [--steps 50] [--features 128] [--units 128]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from danlu.layers.recurrent import GRU, LSTM, Bidirectional, SimpleRNN


def torch_twin(layer, features, units, bidirectional=False):
    """The torch.nn module computing ``layer`` (a danlu LSTM / GRU / SimpleRNN or a
    Bidirectional of one), with its weights."""
    directions = [layer.forward_layer, layer.backward_layer] if bidirectional else [layer]
    kind = type(directions[0]).__name__
    module = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "SimpleRNN": torch.nn.RNN}[kind](
        features, units, batch_first=True, bidirectional=bidirectional)
    with torch.no_grad():
        for suffix, direction in zip(("", "_reverse"), directions):
            params = direction.cell.fused_parameters()[1]
            for name, value in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), params):
                getattr(module, f"{name}_l0{suffix}").copy_(value)
    return module


def time_block(fn, block, device):
    """Seconds per step of ``block`` steps: (wall clock, this thread's CPU time)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter(), time.thread_time()
    for _ in range(block):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - wall) / block, (time.thread_time() - cpu) / block


def compare(ours, theirs, rounds, block, device):
    """Medians of each side's wall time and of the per-round wall and CPU-time ratios."""
    for _ in range(3):  # warm up
        ours()
        theirs()
    times = {"ours": [], "theirs": []}
    wall_ratios, cpu_ratios = [], []
    for r in range(rounds):
        order = ("ours", "theirs") if r % 2 == 0 else ("theirs", "ours")
        for side in order:
            times[side].append(time_block(ours if side == "ours" else theirs, block, device))
        (ours_wall, ours_cpu), (theirs_wall, theirs_cpu) = times["ours"][-1], times["theirs"][-1]
        wall_ratios.append(ours_wall / theirs_wall)
        cpu_ratios.append(ours_cpu / theirs_cpu if theirs_cpu else float("nan"))
    medians = [statistics.median(t for t, _ in times[side]) for side in ("ours", "theirs")]
    return (*medians, statistics.median(wall_ratios), statistics.median(cpu_ratios))


def cases(args, device):
    """(name, danlu step, torch step, counts toward the budget)."""
    batch, steps, features, units = args.batch, args.steps, args.features, args.units
    x = torch.randn(batch, steps, features, device=device, requires_grad=True)
    lengths = torch.randint(steps // 2, steps + 1, (batch,))
    lengths[0] = steps
    mask = (torch.arange(steps)[None] < lengths[:, None]).to(device)

    def backward(y):
        y.sum().backward()
        x.grad = None

    for name, layer_class, budget in (("LSTM", LSTM, True), ("GRU", GRU, True), ("SimpleRNN", SimpleRNN, False)):
        layer = layer_class(units, return_sequences=True)
        layer.build_from_shape((batch, steps, features))
        layer.to(device)
        module = torch_twin(layer, features, units).to(device)
        torch.testing.assert_close(layer(x), module(x)[0], rtol=1e-5, atol=1e-5)
        yield name, (lambda layer=layer: backward(layer(x))), (lambda module=module: backward(module(x)[0])), budget

    lstm = LSTM(units, return_sequences=True)
    lstm.build_from_shape((batch, steps, features))
    lstm.to(device)
    module = torch_twin(lstm, features, units).to(device)

    def packed():
        packed_x = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        return pad_packed_sequence(module(packed_x)[0], batch_first=True, total_length=steps)[0]

    yield "LSTM, right-padded mask", lambda: backward(lstm(x, mask=mask)), lambda: backward(packed()), False

    bidirectional = Bidirectional(LSTM(units, return_sequences=True))
    bidirectional.build_from_shape((batch, steps, features))
    bidirectional.to(device)
    module_2 = torch_twin(bidirectional, features, units, bidirectional=True).to(device)
    torch.testing.assert_close(bidirectional(x), module_2(x)[0], rtol=1e-5, atol=1e-5)
    yield "Bidirectional(LSTM)", lambda: backward(bidirectional(x)), lambda: backward(module_2(x)[0]), False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--block", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--budget", type=float, default=1.10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, device {device}; batch {args.batch}, "
          f"{args.steps} steps, {args.features} features, {args.units} units; {args.rounds} rounds of {args.block} "
          "forward + backward steps per side")
    print(f"{'layer':<28}{'danlu (ms)':>12}{'torch (ms)':>12}{'ratio':>8}{'cpu ratio':>11}")
    worst = 0.0
    for name, ours, theirs, budget in cases(args, device):
        a, b, ratio, cpu_ratio = compare(ours, theirs, args.rounds, args.block, device)
        measured = cpu_ratio if device.type == "cpu" else ratio
        if budget:
            worst = max(worst, measured)
        flag = "" if measured <= args.budget or not budget else "  over budget"
        print(f"{name:<28}{a * 1e3:>12.2f}{b * 1e3:>12.2f}{ratio:>8.3f}{cpu_ratio:>11.3f}{flag}")
    print(f"worst LSTM / GRU ratio {worst:.3f} (budget {args.budget:.2f}; CPU time on the CPU, wall time on accelerators)")


if __name__ == "__main__":
    main()
