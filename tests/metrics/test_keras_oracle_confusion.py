"""Confusion-count metrics against Keras 3.15.1 (torch backend): TruePositives...,
Precision / Recall (thresholds, top_k with ties, class_id), the at-threshold family and AUC.

Each case feeds both libraries the same three batches (the last two weighted) and compares the
result and every state variable (names, shapes, dtypes, values) to rtol 1e-5.
"""

import zlib

import numpy as np
import pytest

from danlu import metrics
from tests.metrics.keras_cases import (
    assert_same_state_and_result,
    binary,
    edged_probabilities,
    feed,
    keras_metric,
    normal,
    probabilities,
    random_batches,
    tied,
    zero_weights,
)

pytestmark = pytest.mark.oracle

COUNTS = ["TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives"]
THRESHOLDS = [{}, {"thresholds": 0.3}, {"thresholds": [0.3, 0.7]}, {"thresholds": [0.0, 0.5, 1.0]},
              {"thresholds": [0.0, 1.0]}, {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]}]
CASES = [(name, kwargs, binary, edged_probabilities) for name in COUNTS for kwargs in THRESHOLDS]
CASES += [(name, kwargs, binary, tied) for name in ("TruePositives", "FalseNegatives") for kwargs in THRESHOLDS[3:]]
for _name in ("Precision", "Recall"):
    CASES += [(_name, kwargs, binary, edged_probabilities) for kwargs in THRESHOLDS]
    CASES += [
        (_name, {"top_k": 1}, binary, tied),
        (_name, {"top_k": 2}, binary, tied),
        (_name, {"top_k": 3, "thresholds": [0.0, 0.4]}, binary, tied),
        (_name, {"class_id": 1}, binary, probabilities),
        (_name, {"class_id": 3, "thresholds": [0.0, 0.5, 1.0]}, binary, tied),
        (_name, {"top_k": 2, "class_id": 2}, binary, tied),
        (_name, {"top_k": 1, "class_id": 0, "thresholds": [0.2, 0.6]}, binary, probabilities),
    ]
AT_THRESHOLD = [("PrecisionAtRecall", "recall"), ("RecallAtPrecision", "precision"),
                ("SensitivityAtSpecificity", "specificity"), ("SpecificityAtSensitivity", "sensitivity")]
for _name, _argument in AT_THRESHOLD:
    CASES += [
        (_name, {_argument: 0.5}, binary, probabilities),
        (_name, {_argument: 0.8, "num_thresholds": 1}, binary, probabilities),
        (_name, {_argument: 0.3, "num_thresholds": 7, "class_id": 1}, binary, tied),
        (_name, {_argument: 0.0, "num_thresholds": 20}, binary, edged_probabilities),
        (_name, {_argument: 1.0}, binary, edged_probabilities),
    ]
AUC_KWARGS = [
    {}, {"num_thresholds": 3}, {"num_thresholds": 50, "summation_method": "minoring"},
    {"summation_method": "majoring"}, {"curve": "PR"}, {"curve": "PR", "summation_method": "minoring"},
    {"curve": "PRGAIN"}, {"thresholds": [0.1, 0.5, 0.9]}, {"thresholds": [0.75, 0.25, 0.5]},
    {"label_weights": [0.1, 0.5, 1.0, 2.0]}, {"multi_label": True}, {"multi_label": True, "curve": "PR"},
    {"multi_label": True, "label_weights": [0.1, 0.5, 1.0, 2.0]},
    {"multi_label": True, "num_labels": 4, "curve": "PR", "label_weights": [1.0, 0.0, 2.0, 0.5]},
    {"multi_label": True, "thresholds": [0.2, 0.4], "summation_method": "majoring"},
]
CASES += [("AUC", kwargs, binary, kind) for kwargs in AUC_KWARGS for kind in (edged_probabilities, tied)]
CASES += [("AUC", {"from_logits": True}, binary, normal),
          ("AUC", {"from_logits": True, "curve": "PR", "multi_label": True}, binary, normal)]


def case_id(case):
    return f"{case[0]}-{case[1]}-{case[3].__name__}"


@pytest.mark.parametrize("name,kwargs,true_kind,pred_kind", CASES, ids=[case_id(c) for c in CASES])
def test_matches_keras_over_weighted_batches(name, kwargs, true_kind, pred_kind):
    rng = np.random.default_rng(zlib.crc32(case_id((name, kwargs, true_kind, pred_kind)).encode()))
    ours, theirs = getattr(metrics, name)(**kwargs), keras_metric(name, kwargs)
    feed(ours, theirs, random_batches(rng, true_kind, pred_kind))
    assert_same_state_and_result(ours, theirs)


EDGE_NAMES = ["TruePositives", "Precision", "Recall", "PrecisionAtRecall", "SpecificityAtSensitivity", "AUC"]
EDGE_KWARGS = {"PrecisionAtRecall": {"recall": 0.5}, "SpecificityAtSensitivity": {"sensitivity": 0.5}}


@pytest.mark.parametrize("name", EDGE_NAMES)
@pytest.mark.parametrize("edge", ["zero_weights", "all_negative", "all_positive", "rank_1", "column"])
def test_edge_cases_match_keras(name, edge):
    rng = np.random.default_rng(zlib.crc32(f"{name}{edge}".encode()))
    kwargs = EDGE_KWARGS.get(name, {})
    ours, theirs = getattr(metrics, name)(**kwargs), keras_metric(name, kwargs)
    shape = (8, 4)
    if edge == "zero_weights":
        batches = random_batches(rng, binary, probabilities, weight_kind=zero_weights)
    elif edge in ("all_negative", "all_positive"):
        fill = 0.0 if edge == "all_negative" else 1.0
        weights = (None, rng.uniform(0, 2, 8).astype(np.float32))
        batches = [(np.full(shape, fill, np.float32), probabilities(rng, shape), w) for w in weights]
    elif edge == "rank_1":
        batches = random_batches(rng, binary, edged_probabilities, shape=(9,))
    else:  # labels and predictions of shape (N, 1), weights (N, 1)
        batches = [(binary(rng, (8, 1)), probabilities(rng, (8, 1)), rng.uniform(0, 2, (8, 1)).astype(np.float32))
                   for _ in range(2)]
    feed(ours, theirs, batches)
    assert_same_state_and_result(ours, theirs)


def test_top_k_keeps_exactly_k_predictions_among_ties():
    # Row [0.5, 0.5, 0.5, 0.0] with top_k=1 keeps one of the three tied 0.5s, as Keras:
    # keeping every value tied with the k-th (danlu before) gave 0.826 where Keras gives 0.565.
    y_true = np.array([[1, 0, 0, 1], [0, 1, 1, 0], [1, 1, 0, 0]], np.float32)
    y_pred = np.array([[0.5, 0.5, 0.5, 0.0], [0.5, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]], np.float32)
    weight = np.array([0.3, 1.7, 2.0], np.float32)
    for name in ("Precision", "Recall"):
        ours, theirs = getattr(metrics, name)(top_k=1), keras_metric(name, {"top_k": 1})
        feed(ours, theirs, [(y_true, y_pred, weight), (y_true, y_pred, None)])
        assert_same_state_and_result(ours, theirs)
    precision = metrics.Precision(top_k=1)
    precision.update_state(y_true, y_pred, sample_weight=weight)
    precision.update_state(y_true, y_pred)
    # one positive prediction per row: TP + FP is the total row weight, (0.3 + 1.7 + 2) + 3
    assert float(precision.true_positives[0] + precision.false_positives[0]) == pytest.approx(7.0)


def test_invalid_arguments_raise_as_keras():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.Precision(thresholds=1.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.TruePositives(thresholds=[0.5, -0.1])
    with pytest.raises(ValueError, match="class_id"):
        metrics.Recall(class_id=1).update_state([0, 1, 1], [0.2, 0.8, 0.4])
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="ROCK")
    with pytest.raises(ValueError, match="summation"):
        metrics.AUC(summation_method="trapezoid")
    with pytest.raises(ValueError, match="num_labels"):
        metrics.AUC(num_labels=3)
    with pytest.raises(ValueError, match="rank 2"):
        metrics.AUC(multi_label=True).update_state(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="recall"):
        metrics.PrecisionAtRecall(recall=1.2)
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.SensitivityAtSpecificity(0.5, num_thresholds=0)
    with pytest.raises(ValueError, match="top_k"):
        metrics.Precision(top_k=5).update_state(np.zeros((2, 3)), np.zeros((2, 3)))
