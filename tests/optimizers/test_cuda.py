"""Optimizers on a CUDA device: the same trajectories as on the CPU, sparse rows, float16
loss scaling. Skipped cleanly without CUDA."""

import pytest
import torch

from danlu import optimizers

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

NAMES = ["SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "AdamW", "Adamax", "Nadam", "Lion", "Ftrl",
         "Adafactor", "Lamb", "Muon", "LazyAdam", "RAdam", "Ranger"]


def trajectory(name, device, kwargs):
    generator = torch.Generator().manual_seed(0)
    shapes = [(16, 8), (8,), (4, 3, 2)]
    params = [torch.nn.Parameter(torch.randn(s, generator=generator).to(device)) for s in shapes]
    grads = [[torch.randn(s, generator=generator).to(device) for s in shapes] for _ in range(10)]
    opt = getattr(optimizers, name)(params, learning_rate=0.01, **kwargs)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g
        opt.step()
    return [p.detach().cpu() for p in params], opt


@pytest.mark.parametrize("name", NAMES)
def test_cuda_trajectory_matches_cpu(name):
    kwargs = {"global_clipnorm": 1.0} if name in ("Adam", "SGD") else {}
    cpu, _ = trajectory(name, "cpu", kwargs)
    cuda, opt = trajectory(name, "cuda", kwargs)
    for a, b in zip(cpu, cuda):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
    state = opt.optimizer.state if hasattr(opt, "optimizer") else opt.state
    assert all(t.device.type == "cuda" for s in state.values() for t in s.values() if isinstance(t, torch.Tensor))


def test_cuda_ema_and_accumulation_stay_on_device():
    w = torch.nn.Parameter(torch.zeros(4, device="cuda"))
    opt = optimizers.Adam([w], use_ema=True, gradient_accumulation_steps=2, clipnorm=1.0)
    for _ in range(4):
        w.grad = torch.ones(4, device="cuda")
        opt.step()
    assert int(opt.iterations) == 2
    assert opt.state[w]["ema_average"].device.type == "cuda"


def test_lazy_adam_sparse_rows_on_cuda():
    embedding = torch.nn.Embedding(50, 4, sparse=True).cuda()
    before = embedding.weight.detach().clone()
    opt = optimizers.LazyAdam(embedding.parameters(), learning_rate=0.1)
    embedding(torch.tensor([3, 7, 7], device="cuda")).sum().backward()
    opt.step()
    changed = (embedding.weight.detach() != before).any(dim=1).nonzero().flatten().tolist()
    assert changed == [3, 7]


def test_float16_training_with_loss_scaling_on_cuda():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1)).cuda()
    opt = optimizers.LossScaleOptimizer(optimizers.Adam(model.parameters(), learning_rate=1e-3))
    x, y = torch.randn(256, 32, device="cuda"), torch.randn(256, 1, device="cuda")
    losses = []
    for _ in range(50):
        opt.zero_grad()
        with torch.autocast("cuda", dtype=torch.float16):
            loss = torch.nn.functional.mse_loss(model(x).float(), y)
        opt.scale_loss(loss).backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert int(opt.iterations) >= 45  # at most a few skipped steps while the scale settles
