"""danlu.metrics: hand-derived values, Keras 3.15 as the oracle, device-resident state."""

import numpy as np
import pytest
import torch

from danlu import metrics
from tests.oracle import keras, to_numpy


def test_accuracy_family_by_hand():
    m = metrics.SparseCategoricalAccuracy()
    m.update_state([0, 1, 2], [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1]])
    assert m.result().item() == pytest.approx(2 / 3)
    m.update_state([2], [[0.0, 0.0, 1.0]], sample_weight=[3.0])
    assert m.result().item() == pytest.approx(5 / 6)
    m.reset_state()
    assert m.result().item() == 0.0
    assert metrics.BinaryAccuracy()([[1], [0]], [[0.6], [0.7]]).item() == 0.5
    assert metrics.CategoricalAccuracy()([[0, 1], [1, 0]], [[0.2, 0.8], [0.3, 0.7]]).item() == 0.5
    assert metrics.SparseTopKCategoricalAccuracy(k=2)([2], [[0.5, 0.1, 0.4]]).item() == 1.0


def test_confusion_metrics_by_hand():
    assert metrics.Precision()([0, 1, 1, 1], [1, 0, 1, 1]).item() == pytest.approx(2 / 3)
    assert metrics.Recall()([0, 1, 1, 1], [1, 0, 1, 1]).item() == pytest.approx(2 / 3)
    assert metrics.AUC()([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]).item() == pytest.approx(0.75, abs=1e-3)
    f1 = metrics.F1Score(average="macro")
    assert f1([[1, 0], [0, 1]], [[0.9, 0.1], [0.2, 0.8]]).item() == pytest.approx(1.0, abs=1e-6)


def test_regression_metrics_by_hand():
    assert metrics.RootMeanSquaredError()([[0.0], [0.0]], [[3.0], [4.0]]).item() == pytest.approx(12.5**0.5)
    assert metrics.R2Score()([[1.0], [2.0], [3.0]], [[1.0], [2.0], [3.0]]).item() == pytest.approx(1.0)
    assert metrics.get("mse")([[1.0, 2.0]], [[1.0, 4.0]]).item() == 2.0


def test_get_and_resolve():
    assert isinstance(metrics.get("AUC"), metrics.AUC)
    assert isinstance(metrics.get("binary_accuracy"), metrics.MeanMetricWrapper)
    assert isinstance(metrics.resolve("acc", torch.zeros(4, 1), torch.zeros(4, 1)), metrics.BinaryAccuracy)
    assert isinstance(metrics.resolve("accuracy", torch.zeros(4), torch.zeros(4, 3)), metrics.SparseCategoricalAccuracy)
    assert isinstance(metrics.resolve("acc", torch.zeros(4, 3), torch.zeros(4, 3)), metrics.CategoricalAccuracy)
    sparse_ce = metrics.resolve("crossentropy", torch.zeros(4), torch.zeros(4, 3))
    assert isinstance(sparse_ce, metrics.SparseCategoricalCrossentropy)
    assert metrics.resolve("acc", torch.zeros(4), torch.zeros(4, 3)).name == "acc"
    with pytest.raises(ValueError, match='Did you mean "precision"'):
        metrics.get("precison")


def test_state_stays_on_the_device_of_the_updates():
    m = metrics.Mean()
    m.update_state(torch.tensor([1.0, 2.0]))
    assert isinstance(m.result(), torch.Tensor) and m.result().item() == 1.5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_metrics_accumulate_on_cuda():
    for m in (metrics.SparseCategoricalAccuracy(), metrics.AUC(), metrics.Precision(), metrics.Mean()):
        if isinstance(m, metrics.Mean) and not isinstance(m, metrics.MeanMetricWrapper):
            m.update_state(torch.ones(3, device="cuda"))
        elif isinstance(m, metrics.SparseCategoricalAccuracy):
            m.update_state(torch.tensor([1], device="cuda"), torch.tensor([[0.1, 0.9]], device="cuda"))
        else:
            m.update_state(torch.tensor([1.0, 0.0], device="cuda"), torch.tensor([0.8, 0.3], device="cuda"))
        assert m.result().device.type == "cuda"


ORACLE_CASES = [
    ("Accuracy", {}, "labels", "labels"),
    ("BinaryAccuracy", {}, "binary", "probabilities"),
    ("BinaryAccuracy", {"threshold": 0.7}, "binary", "probabilities"),
    ("CategoricalAccuracy", {}, "one_hot", "probabilities"),
    ("SparseCategoricalAccuracy", {}, "sparse", "probabilities"),
    ("TopKCategoricalAccuracy", {"k": 2}, "one_hot", "probabilities"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse", "probabilities"),
    ("MeanSquaredError", {}, "normal", "normal"),
    ("MeanAbsoluteError", {}, "normal", "normal"),
    ("RootMeanSquaredError", {}, "normal", "normal"),
    ("R2Score", {}, "normal", "normal"),
    ("CosineSimilarity", {}, "normal", "normal"),
    ("BinaryCrossentropy", {}, "binary", "probabilities"),
    ("CategoricalCrossentropy", {}, "one_hot", "probabilities"),
    ("SparseCategoricalCrossentropy", {}, "sparse", "probabilities"),
    ("KLDivergence", {}, "probabilities", "probabilities"),
    ("Poisson", {}, "probabilities", "probabilities"),
    ("Hinge", {}, "binary", "normal"),
    ("Precision", {}, "binary", "probabilities"),
    ("Recall", {}, "binary", "probabilities"),
    ("Precision", {"thresholds": [0.3, 0.6]}, "binary", "probabilities"),
    ("Precision", {"top_k": 2}, "binary", "probabilities"),
    ("Recall", {"class_id": 1}, "binary", "probabilities"),
    ("AUC", {}, "binary", "probabilities"),
    ("AUC", {"curve": "PR"}, "binary", "probabilities"),
    ("AUC", {"num_thresholds": 50, "summation_method": "minoring"}, "binary", "probabilities"),
    ("F1Score", {}, "one_hot", "probabilities"),
    ("F1Score", {"average": "macro", "threshold": 0.5}, "one_hot", "probabilities"),
    ("FBetaScore", {"average": "weighted", "beta": 2.0}, "one_hot", "probabilities"),
    ("TruePositives", {}, "binary", "probabilities"),
    ("FalseNegatives", {}, "binary", "probabilities"),
]


def make(kind, rng, shape):
    if kind == "labels":
        return rng.integers(0, 3, size=shape).astype("float32")
    if kind == "binary":
        return rng.integers(0, 2, size=shape).astype("float32")
    if kind == "probabilities":
        return rng.uniform(0, 1, size=shape).astype("float32")
    if kind == "normal":
        return rng.normal(size=shape).astype("float32")
    if kind == "one_hot":
        return np.eye(shape[-1], dtype="float32")[rng.integers(0, shape[-1], size=shape[:-1])]
    if kind == "sparse":
        return rng.integers(0, shape[-1], size=shape[:-1]).astype("int64")
    raise AssertionError(kind)


@pytest.mark.oracle
@pytest.mark.parametrize("name,kwargs,true_kind,pred_kind", ORACLE_CASES, ids=[f"{c[0]}-{c[1]}" for c in ORACLE_CASES])
def test_metric_matches_keras_over_several_weighted_batches(name, kwargs, true_kind, pred_kind):
    rng = np.random.default_rng(len(name))
    ours, theirs = getattr(metrics, name)(**kwargs), getattr(keras().metrics, name)(**kwargs)
    for batch in range(3):
        shape = (8, 4)
        y_true, y_pred = make(true_kind, rng, shape), make(pred_kind, rng, shape)
        weight = rng.uniform(0, 2, size=8).astype("float32") if batch else None
        ours.update_state(y_true, y_pred, sample_weight=weight)
        theirs.update_state(y_true, y_pred, sample_weight=weight)
    np.testing.assert_allclose(to_numpy(ours.result()), to_numpy(theirs.result()), rtol=1e-5, atol=1e-6)
