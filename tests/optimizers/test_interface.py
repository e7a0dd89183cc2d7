"""One optimizer interface: danlu optimizers, wrappers and adapted torch.optim optimizers
answer the same methods; sparse gradients go only where a rule takes them."""

import copy

import pytest
import torch

from danlu import optimizers


def make(kind):
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))
    if kind == "adam":
        return w, optimizers.Adam([w], learning_rate=0.1)
    if kind == "lookahead":
        return w, optimizers.Lookahead(optimizers.SGD([w], learning_rate=0.1), sync_period=2)
    if kind == "loss_scale":
        return w, optimizers.LossScaleOptimizer(optimizers.SGD([w], learning_rate=0.1), initial_scale=4.0)
    if kind == "torch":
        return w, optimizers.as_optimizer(torch.optim.SGD([w], lr=0.1))
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["adam", "lookahead", "loss_scale", "torch"])
def test_every_optimizer_answers_the_same_interface(kind):
    w, opt = make(kind)
    assert isinstance(opt, optimizers.Optimizer) and opt.built and not opt.use_ema
    assert float(opt.learning_rate) == pytest.approx(0.1)
    opt.learning_rate = 0.05
    assert float(opt.learning_rate) == pytest.approx(0.05) and opt.param_groups[0]["lr"] == pytest.approx(0.05)
    before = w.detach().clone()
    loss = opt.scale_loss((w**2).sum())
    loss.backward()
    opt.step()
    opt.zero_grad()
    assert not torch.equal(before, w) and int(opt.iterations) == 1
    opt.apply([torch.ones(3)], [w])
    assert int(opt.iterations) == 2
    opt.finalize_variable_values(None)
    state = copy.deepcopy(opt.state_dict())  # torch's load_state_dict may share tensors
    w2, other = make(kind)
    with torch.no_grad():
        w2.copy_(w)
    other.load_state_dict(state)
    for o in (opt, other):
        o.apply([torch.ones(3)], None)
    assert torch.allclose(w, w2) and int(other.iterations) == int(opt.iterations)


def test_as_optimizer_adapts_torch_optimizers_once_and_keeps_danlu_ones():
    adam = optimizers.Adam()
    assert optimizers.as_optimizer(adam) is adam
    sgd = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    adapted = optimizers.as_optimizer(sgd)
    assert isinstance(adapted, optimizers.TorchOptimizer) and adapted.optimizer is sgd
    assert adapted.param_groups is sgd.param_groups
    with pytest.raises(ValueError, match="takes a float learning rate"):
        adapted.learning_rate = optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    with pytest.raises(ValueError, match="keeps no EMA"):
        adapted.swap_ema_weights()
    with pytest.raises(TypeError, match="Expected an optimizer"):
        optimizers.as_optimizer(42)


def sparse_grad_step(opt_factory, sparse):
    torch.manual_seed(0)
    emb = torch.nn.Embedding(6, 2, sparse=sparse)
    opt = opt_factory(emb.parameters())
    for indices in ([1, 2, 2], [0, 5]):
        opt.zero_grad()
        (emb(torch.tensor(indices)) ** 2).sum().backward()
        opt.step()
    return emb.weight.detach()


@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}, {"weight_decay": 0.1}])
def test_sgd_takes_sparse_gradients_with_the_dense_formulas(kwargs):
    factory = lambda params: optimizers.SGD(params, learning_rate=0.1, **kwargs)  # noqa: E731
    torch.testing.assert_close(sparse_grad_step(factory, True), sparse_grad_step(factory, False))


@pytest.mark.parametrize("name", ["Adam", "RMSprop", "Adagrad", "Nadam"])
def test_rules_without_sparse_support_refuse_sparse_gradients_before_any_change(name):
    emb = torch.nn.Embedding(4, 2, sparse=True)
    opt = getattr(optimizers, name)(emb.parameters())
    before = emb.weight.detach().clone()
    emb(torch.tensor([1])).sum().backward()
    with pytest.raises(ValueError, match=rf"{name} does not support sparse gradients.*Use LazyAdam or SGD"):
        opt.step()
    assert torch.equal(before, emb.weight) and int(opt.iterations) == 0
