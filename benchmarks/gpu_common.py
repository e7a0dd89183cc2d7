"""What the GPU benchmarks share: danlu ``fit`` (mixed_bfloat16, ``jit_compile=True``) against a
hand-written compiled bf16 loop on the same model, data and optimizer, run interleaved in one
process; medians of the step time, throughput, the ratio, and peak memory.

The hand-written loop is the nanoGPT-style step: ``torch.compile`` of forward + loss under
``torch.autocast(bfloat16)``, the loss in float32, ``zero_grad(set_to_none=True)``,
backward, the optimizer step (the same danlu optimizer class as ``fit`` uses, so the ratio
is the cost of ``fit`` itself), a running loss kept on the device, one read per epoch.
Budget: ``fit`` step time <= 1.05x the loop's.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

BUDGET = 1.05


def arguments(description, steps=50, batch=128):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=steps, help="steps per timed epoch")
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tiny", action="store_true", help="a small model (a smoke run on a CPU)")
    parser.add_argument("--no-compile", action="store_true")
    return parser.parse_args()


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device):
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def peak_memory(fn, device):
    if device.type != "cuda":
        fn()
        return float("nan")
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**30


class HandWritten:
    """The reference loop on ``module`` (see the module docstring)."""

    def __init__(self, module, optimizer, x, y, batch, device, compile_step=True, float32_loss=True):
        self.module, self.optimizer, self.x, self.y, self.batch, self.device = module, optimizer, x, y, batch, device
        autocast = device.type if device.type in ("cuda", "cpu") else "cuda"

        def objective(xb, yb):
            with torch.autocast(autocast, dtype=torch.bfloat16):
                logits = module(xb)
            logits = logits.float() if float32_loss else logits
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1))

        self.objective = torch.compile(objective) if compile_step else objective

    def epoch(self, steps):
        n = self.x.shape[0]
        order = torch.randperm(n, device=self.device)
        running = torch.zeros((), device=self.device)
        self.module.train()
        for step in range(steps):
            index = order[step * self.batch : (step + 1) * self.batch]
            xb, yb = self.x[index], self.y[index]
            loss = self.objective(xb, yb)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            running += loss.detach()
        return float(running / steps)  # the epoch's one read


def compare(name, unit_name, units_per_sample, danlu_model, reference, x, y, batch, steps, repeats, device):
    """Warm both up (compilation), then interleave timed epochs; print the medians."""
    fit = lambda: danlu_model.fit(x, y, batch_size=batch, epochs=1, steps_per_epoch=steps, verbose=0)
    loop = lambda: reference.epoch(steps)
    for _ in range(2):
        fit()
        loop()
    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(timed(fit, device) / steps)
        theirs.append(timed(loop, device) / steps)
    memory_ours, memory_theirs = peak_memory(fit, device), peak_memory(loop, device)
    a, b = statistics.median(ours), statistics.median(theirs)
    rate = batch * units_per_sample
    params = sum(p.numel() for p in reference.module.parameters()) / 1e6
    print(f"{name}: {params:.1f} M parameters, batch {batch}, {steps} steps per epoch, {repeats} repeats, device {device}")
    print(f"{'':<24}{'ms/step':>10}{unit_name + '/s':>16}{'peak GiB':>10}")
    print(f"{'danlu fit':<24}{a * 1e3:>10.2f}{rate / a:>16.0f}{memory_ours:>10.2f}")
    print(f"{'hand-written loop':<24}{b * 1e3:>10.2f}{rate / b:>16.0f}{memory_theirs:>10.2f}")
    verdict = "within" if a / b <= BUDGET else "OVER"
    print(f"ratio fit / loop: {a / b:.3f} ({verdict} the {BUDGET:.2f}x budget)")
    return a / b


def fit_against_loop(name, unit_name, units_per_sample, module, optimizer_class, optimizer_kwargs, x, y, args, device):
    """Build danlu's side (``danlu.Model(module())`` compiled under ``mixed_bfloat16``,
    sparse crossentropy from logits) and the hand-written loop on a second ``module()``,
    each with ``optimizer_class(**optimizer_kwargs)``, then `compare` them."""
    import danlu
    from danlu import losses, mixed_precision

    mixed_precision.set_global_policy("mixed_bfloat16")
    model = danlu.Model(module())
    model.compile(optimizer=optimizer_class(**optimizer_kwargs), loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=not args.no_compile, device=device)
    mixed_precision.set_global_policy("float32")
    reference_module = module()
    reference = HandWritten(reference_module, optimizer_class(reference_module.parameters(), **optimizer_kwargs), x, y,
                            args.batch, device, compile_step=not args.no_compile)
    compare(name, unit_name, units_per_sample, model, reference, x, y, args.batch, args.steps, args.repeats, device)
