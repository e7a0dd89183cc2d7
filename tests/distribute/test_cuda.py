"""On a CUDA GPU: mixed precision (bfloat16, and float16 with loss scaling), the compiled step
(inductor), and DataParallel on the GPU (two processes sharing one GPU over Gloo, which
carries CUDA tensors; NCCL needs one GPU per process). Skipped without CUDA."""

import time

import numpy as np
import pytest
import torch

import danlu
from danlu import layers, losses, mixed_precision, optimizers
from danlu.distribute import launch
from tests.distribute import workloads

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture(autouse=True)
def float32_afterwards():
    yield
    mixed_precision.set_global_policy("float32")


def data(n=256):
    x = np.random.default_rng(0).normal(size=(n, 16)).astype("float32")
    return x, x[:, :4].argmax(axis=1).astype("int64")


def classifier(jit_compile=False, optimizer=None):
    torch.manual_seed(0)
    model = danlu.Sequential([layers.Dense(64, activation="relu"), layers.Dense(4)])
    model.compile(optimizer=optimizer or optimizers.Adam(1e-2), loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["acc"], jit_compile=jit_compile, device="cuda")
    return model


@pytest.mark.parametrize("policy, dtype", [("mixed_bfloat16", torch.bfloat16), ("mixed_float16", torch.float16)])
def test_mixed_precision_on_cuda_computes_in_half_and_trains_float32_weights(policy, dtype):
    mixed_precision.set_global_policy(policy)
    model = classifier()
    seen = []
    model.layers[0].register_forward_hook(lambda m, i, o: seen.append((i[0].dtype, o.dtype)))
    x, y = data()
    history = model.fit(x, y, batch_size=32, epochs=5, verbose=0)
    assert seen[-1] == (dtype, dtype)
    assert all(w.dtype == torch.float32 and w.device.type == "cuda" for w in model.weights)
    assert history.history["acc"][-1] > 0.7
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, optimizers.LossScaleOptimizer)


def test_the_compiled_step_on_cuda_matches_eager_and_compiles_once():
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    x, y = data(200)  # a short last batch
    compiled, eager = classifier(jit_compile=True), classifier()
    for model in (compiled, eager):
        torch.manual_seed(3)
        model.fit(x, y, batch_size=32, epochs=3, verbose=0)
    assert counters["frames"]["ok"] == 1
    for a, b in zip(compiled.weights, eager.weights):
        np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().cpu().numpy(), rtol=1e-4, atol=1e-5)


def test_auto_compiles_large_models_on_cuda_only():
    small = classifier(jit_compile="auto")
    assert small.trainer.jit_compile is False
    big = danlu.Sequential([layers.Dense(1024, input_shape=(1024,)), layers.Dense(4)])
    big.compile(optimizer="sgd", loss="mse", jit_compile="auto", device="cuda")
    assert big.trainer.jit_compile is True


def test_compiled_mixed_bfloat16_step_trains():
    mixed_precision.set_global_policy("mixed_bfloat16")
    x, y = data()
    model = classifier(jit_compile=True)
    history = model.fit(x, y, batch_size=32, epochs=5, verbose=0)
    assert history.history["acc"][-1] > 0.7


@pytest.mark.parametrize("strategy", ["ddp"])  # FSDP's reduce-scatter needs NCCL: one GPU per process
def test_data_parallel_on_the_gpu_matches_one_process(tmp_path, strategy):
    config = {"strategy": strategy, "samples": 101, "optimizer": "adam", "devices": ["cuda:0", "cuda:0"], "backend": "gloo"}
    started = time.monotonic()
    launch(workloads.run, num_processes=2, args=({**config, "out": str(tmp_path)},))
    assert time.monotonic() - started < 300
    expected = workloads.run({**config, "strategy": "single"})
    for rank in range(2):
        arrays = np.load(tmp_path / f"rank{rank}.npz")
        for i, theirs in enumerate(expected["weights"]):
            np.testing.assert_allclose(arrays[f"arr_{i}"], theirs, rtol=1e-4, atol=1e-5)
