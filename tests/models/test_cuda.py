"""Training on a CUDA device: data and state stay there, and a train step never waits for
the GPU (PyTorch's sync debug mode turns any host synchronization into an error)."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import danlu
from danlu import layers, losses

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def data(n=512):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 16)).astype("float32")
    return x, x[:, :4].argmax(axis=1).astype("int64")


def compiled(metrics=("acc",), **kwargs):
    torch.manual_seed(0)
    model = danlu.Sequential([layers.Dense(32, activation="relu"), layers.BatchNormalization(), layers.Dense(4)])
    model.compile(optimizer=danlu.optimizers.Adam(1e-2), loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=list(metrics), **{"device": "cuda", **kwargs})
    return model


def test_fit_on_cuda_learns_with_state_on_the_device():
    x, y = data()
    model = compiled(metrics=["acc", "sparse_top_k_categorical_accuracy"])
    history = model.fit(x, y, epochs=10, batch_size=64, validation_split=0.2, verbose=0)
    assert history.history["acc"][-1] > 0.8
    assert all(p.device.type == "cuda" for p in model.parameters())
    assert all(m.result().device.type == "cuda" for m in model.metrics)
    assert model.predict(x[:8], verbose=0).shape == (8, 4)


def test_train_and_test_steps_never_synchronize_with_the_host():
    x, y = data()
    model = compiled(metrics=["acc"])
    model.fit(x, y, epochs=1, verbose=0)  # builds, binds, resolves metrics
    batch = (torch.as_tensor(x[:64], device="cuda"), torch.as_tensor(y[:64], device="cuda"), None)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            model.train_step(batch)
        with torch.no_grad():
            model.test_step(batch)
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_dataloader_batches_move_to_the_device():
    x, y = data(256)
    loader = DataLoader(TensorDataset(torch.as_tensor(x), torch.as_tensor(y)), batch_size=32, pin_memory=True)
    model = compiled()
    model.fit(loader, epochs=10, verbose=0)
    assert model.evaluate(loader, verbose=0)[1] > 0.8


def test_compile_device_cpu_keeps_training_on_the_cpu():
    x, y = data(64)
    model = compiled(device="cpu")
    model.fit(x, y, epochs=1, verbose=0)
    assert all(p.device.type == "cpu" for p in model.parameters())
