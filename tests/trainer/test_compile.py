"""``compile(jit_compile=...)``: the compiled train step gives eager's weights, compiles once
whatever the size of the last batch, reports graph breaks once, and "auto" stays eager on
the CPU. The default suite uses the light ``aot_eager`` backend (the same graph capture,
AOTAutograd forward + backward, without inductor's code generation); the inductor runs are
marked slow."""

import warnings

import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters

import danlu
from danlu import layers, losses, optimizers
from danlu.layers.base import Layer
from danlu.trainer import compiled


@pytest.fixture
def backend(request, monkeypatch):
    monkeypatch.setattr(compiled, "BACKEND", getattr(request, "param", "aot_eager"))
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()


def data(n=100):
    x = np.random.default_rng(0).normal(size=(n, 6)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("int64")


def model_pair(optimizer, **extra):
    made = []
    for jit in (True, False):
        torch.manual_seed(0)
        model = danlu.Sequential([layers.Dense(16, activation="relu", input_shape=(6,)), layers.Dense(2)])
        model.compile(optimizer=optimizer(), loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["acc"],
                      jit_compile=jit, **extra)
        made.append(model)
    return made


def fit_both(pair, x, y, **kwargs):
    histories = []
    for model in pair:
        torch.manual_seed(5)  # the same shuffling for both
        histories.append(model.fit(x, y, verbose=0, **kwargs).history)
    return histories


def compilations():
    return counters["frames"]["ok"]


def test_compiled_step_gives_eager_weights_and_compiles_once_with_a_short_last_batch(backend):
    compiled_model, eager = model_pair(lambda: optimizers.Adam(0.01))
    x, y = data(100)  # 6 batches of 16 and one of 4, three epochs
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no graph break to report
        ours, theirs = fit_both((compiled_model, eager), x, y, batch_size=16, epochs=3)
    assert compiled_model.trainer.compiled_step is not None
    assert compilations() == 1 and not counters["graph_break"]
    for a, b in zip(compiled_model.weights, eager.weights):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-6)
    assert ours["acc"] == theirs["acc"]


def test_graph_breaks_are_reported_once_with_their_cause(backend):
    class Reads(Layer):
        def call(self, inputs):
            if float(inputs.sum()) > 1e9:  # a read back to Python: a graph break
                return inputs * 2
            return inputs

    torch.manual_seed(0)
    model = danlu.Sequential([layers.Dense(4), Reads(), layers.Dense(2)])
    model.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    x, y = data(64)
    with pytest.warns(UserWarning, match="graph break") as caught:
        model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    reports = [str(w.message) for w in caught if "graph break" in str(w.message)]
    assert len(reports) == 1  # once, not every step
    assert "item" in reports[0] or "scalar" in reports[0].lower()  # the cause: reading a tensor back


def test_a_model_with_its_own_train_step_gets_its_forward_compiled(backend):
    class Own(danlu.Sequential):
        def train_step(self, data):
            return super().train_step(data)

    model = Own([layers.Dense(2, input_shape=(6,))])
    model.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    x, y = data(32)
    model.fit(x, y, batch_size=16, verbose=0)
    assert model.trainer.compiled_step is None
    assert isinstance(model.trainer.forward, torch._dynamo.eval_frame.OptimizedModule)


def test_auto_is_eager_on_the_cpu_and_other_values_are_refused():
    model = danlu.Sequential([layers.Dense(2, input_shape=(6,))])
    model.compile(optimizer="sgd", loss="mse", jit_compile="auto", device="cpu")
    assert model.trainer.jit_compile is False
    with pytest.raises(ValueError, match="jit_compile must be True, False or 'auto'"):
        model.compile(optimizer="sgd", loss="mse", jit_compile="yes")


@pytest.mark.slow
@pytest.mark.parametrize("backend", [None], indirect=True, ids=["inductor"])
def test_inductor_compiled_step_matches_eager_and_a_batch_of_one_compiles_once_more(backend):
    compiled_model, eager = model_pair(lambda: optimizers.SGD(0.05, momentum=0.9))
    x, y = data(97)  # 6 batches of 16 and one of 1: sizes 0 and 1 are specialized, so one more graph, once
    fit_both((compiled_model, eager), x, y, batch_size=16, epochs=3)
    assert compilations() == 2
    for a, b in zip(compiled_model.weights, eager.weights):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
