"""danlu.losses: hand-derived values, reductions, weighting, configs and bad input."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import danlu
from danlu import losses

Y_TRUE = [[0, 1], [0, 0]]
Y_PRED = [[0.6, 0.4], [0.4, 0.6]]


def close(actual, expected, rtol=1e-6, atol=1e-7):
    np.testing.assert_allclose(np.asarray(torch.as_tensor(actual).detach()), expected, rtol=rtol, atol=atol)


# --- The DESIGN.md example, exactly ------------------------------------------------------


def test_binary_crossentropy_design_example():
    """DESIGN.md's numbers agree to float32 round-off (< 4e-7 relative).

    They were printed by Keras' TensorFlow backend, which takes log(p + 1e-7) after clipping;
    the declared reference, Keras on its torch backend, takes log(p) after clipping, and danlu
    reproduces that bit for bit: 0.8149244785308838 (Keras/torch) against 0.81492424 (TF).
    At p = 0 or 1 the two formulas differ by log(2) per term, so only one can be followed.
    """
    bce = losses.BinaryCrossentropy()
    assert bce(Y_TRUE, Y_PRED).item() == 0.8149244785308838  # Keras 3.15.1, torch backend
    close(bce(Y_TRUE, Y_PRED), 0.81492424, rtol=1e-6)
    close(bce(Y_TRUE, Y_PRED, sample_weight=[1, 0]), 0.45814526, rtol=1e-6)
    close(losses.BinaryCrossentropy(reduction="sum")(Y_TRUE, Y_PRED), 1.6298485, rtol=1e-6)
    close(losses.BinaryCrossentropy(reduction="none")(Y_TRUE, Y_PRED), [0.9162905, 0.71355796], rtol=1e-6)


# --- Hand-derived values --------------------------------------------------------------------


def test_binary_crossentropy_by_hand_with_smoothing_and_clipping():
    # label smoothing 0.2: labels 0 -> 0.1, 1 -> 0.9; p = 1.0 is clipped to 1 - 1e-7.
    y_true, y_pred = [[1.0, 0.0]], [[1.0, 0.25]]
    p1 = np.float32(1 - 1e-7)
    expected = (-(0.9 * math.log(p1) + 0.1 * math.log(1 - p1)) - (0.1 * math.log(0.25) + 0.9 * math.log(0.75))) / 2
    close(losses.binary_crossentropy(y_true, y_pred, label_smoothing=0.2), [expected], rtol=1e-5)


def test_binary_crossentropy_from_logits_is_log_sigmoid():
    logits = torch.tensor([[-3.0, 0.5, 20.0]])
    labels = torch.tensor([[0.0, 1.0, 1.0]])
    expected = -(labels * torch.nn.functional.logsigmoid(logits) + (1 - labels) * torch.nn.functional.logsigmoid(-logits)).mean()
    close(losses.BinaryCrossentropy(from_logits=True)(labels, logits), expected.item())


def test_categorical_crossentropy_normalizes_and_smooths():
    # y_pred [2, 6, 2] normalizes to [0.2, 0.6, 0.2]; smoothing 0.3 over 3 classes: [0.1, 0.8, 0.1].
    value = losses.categorical_crossentropy([[0, 1, 0]], [[2.0, 6.0, 2.0]], label_smoothing=0.3)
    close(value, [-(0.1 * math.log(0.2) + 0.8 * math.log(0.6) + 0.1 * math.log(0.2))], rtol=1e-6)


def test_sparse_crossentropy_is_minus_log_probability_of_the_label():
    y_pred = [[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]]
    close(losses.sparse_categorical_crossentropy([1, 0], y_pred), [-math.log(0.7), -math.log(0.5)], rtol=1e-6)


def test_sparse_crossentropy_ignore_class_masks_the_mean():
    y_pred = [[0.1, 0.9], [0.5, 0.5], [0.2, 0.8]]
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1)([1, -1, 1], y_pred)
    close(loss, (-math.log(0.9) - math.log(0.8)) / 2, rtol=1e-6)  # 2 valid of 3
    per_sample = losses.sparse_categorical_crossentropy([1, -1, 1], y_pred, ignore_class=-1)
    close(per_sample, [-math.log(0.9), 0.0, -math.log(0.8)], rtol=1e-6)


def test_binary_focal_crossentropy_by_hand():
    # p_t = 0.8 for a positive at p = 0.8: (1 - 0.8)^2 * -log(0.8), balanced by alpha 0.75.
    plain = losses.binary_focal_crossentropy([[1.0]], [[0.8]], gamma=2.0)
    close(plain, [0.04 * -math.log(0.8)], rtol=1e-5)
    balanced = losses.binary_focal_crossentropy([[1.0]], [[0.8]], apply_class_balancing=True, alpha=0.75)
    close(balanced, [0.75 * 0.04 * -math.log(0.8)], rtol=1e-5)


def test_categorical_focal_crossentropy_by_hand():
    value = losses.categorical_focal_crossentropy([[0, 1]], [[0.3, 0.7]], alpha=0.25, gamma=2.0)
    close(value, [0.25 * 0.3**2 * -math.log(0.7)], rtol=1e-5)


def test_huber_switches_from_quadratic_to_linear_at_delta():
    # errors 0.5 (quadratic: 0.125) and 3 (linear: 1 * 3 - 0.5 = 2.5)
    close(losses.huber([[0.0, 0.0]], [[0.5, 3.0]]), [(0.125 + 2.5) / 2])
    close(losses.huber([[0.0]], [[3.0]], delta=2.0), [2.0 * 3.0 - 0.5 * 4.0])


def test_cosine_similarity_sign_follows_keras():
    close(losses.cosine_similarity([[1.0, 0.0]], [[2.0, 0.0]]), [-1.0])
    close(losses.cosine_similarity([[1.0, 0.0]], [[0.0, 3.0]]), [0.0])
    close(losses.cosine_similarity([[1.0, 0.0]], [[-1.0, 0.0]]), [1.0])
    close(losses.cosine_similarity([[0.0, 0.0]], [[1.0, 0.0]]), [0.0])  # zero vector: no NaN


def test_kl_divergence_and_poisson_clip_by_hand():
    close(losses.kl_divergence([[0.5, 0.5]], [[0.25, 0.75]]), [0.5 * math.log(2) + 0.5 * math.log(2 / 3)], rtol=1e-6)
    # y_true 0 is clipped to 1e-7, y_pred 0 to 1e-7: the term vanishes.
    close(losses.kl_divergence([[0.0, 1.0]], [[0.0, 1.0]]), [0.0], atol=1e-6)
    close(losses.poisson([[2.0, 0.0]], [[1.0, 3.0]]), [((1 - 2 * math.log(1 + 1e-7)) + 3) / 2], rtol=1e-6)


def test_hinge_converts_zero_one_labels_only_when_all_are_binary():
    close(losses.hinge([[0.0, 1.0]], [[0.3, 0.3]]), [(1.3 + 0.7) / 2], rtol=1e-6)
    close(losses.hinge([[-1.0, 1.0]], [[0.3, 0.3]]), [(1.3 + 0.7) / 2], rtol=1e-6)
    close(losses.squared_hinge([[0.0, 1.0]], [[0.3, 0.3]]), [(1.3**2 + 0.7**2) / 2], rtol=1e-6)
    close(losses.categorical_hinge([[0, 1, 0]], [[0.2, 0.5, 0.4]]), [max(0.4 - 0.5 + 1, 0)], rtol=1e-6)


def test_regression_losses_by_hand():
    y_true, y_pred = [[1.0, 2.0]], [[2.0, 0.0]]
    close(losses.mean_squared_error(y_true, y_pred), [2.5])
    close(losses.mean_absolute_error(y_true, y_pred), [1.5])
    close(losses.mean_absolute_percentage_error(y_true, y_pred), [100 * (1.0 + 1.0) / 2])
    msle = ((math.log(3) - math.log(2)) ** 2 + (math.log(1 + 1e-7) - math.log(3)) ** 2) / 2
    close(losses.mean_squared_logarithmic_error(y_true, y_pred), [msle], rtol=1e-5)
    close(losses.log_cosh(y_true, y_pred), [(math.log(math.cosh(1)) + math.log(math.cosh(2))) / 2], rtol=1e-6)


def test_dice_and_tversky_by_hand():
    y_true, y_pred = [[1.0, 1.0, 0.0]], [[1.0, 0.5, 0.5]]
    close(losses.dice(y_true, y_pred), 1 - 2 * 1.5 / (2 + 2 + 1e-7), rtol=1e-6)
    # TP 1.5, FP = sum((1-p) y) = 0.5, FN = sum(p (1-y)) = 0.5
    close(losses.tversky(y_true, y_pred, alpha=0.7, beta=0.3), 1 - 1.5 / (1.5 + 0.35 + 0.15 + 1e-7), rtol=1e-6)
    per_row = losses.Dice(axis=1, reduction="none")([[1.0, 0.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 0.0]])
    close(per_row, [0.0, 1.0], atol=1e-6)


def test_ctc_matches_torch_ctc_on_log_softmax():
    torch.manual_seed(0)
    logits = torch.randn(2, 7, 5)
    labels = torch.tensor([[1, 2, 0], [3, 3, 4]])
    expected = torch.nn.functional.ctc_loss(
        logits.log_softmax(-1).transpose(0, 1), labels, torch.tensor([7, 7]), torch.tensor([2, 3]), reduction="none"
    )
    close(losses.ctc(labels, logits), expected.numpy(), rtol=1e-6)


# --- Reductions and sample weights ---------------------------------------------------------


def test_reductions_on_the_same_inputs():
    values = losses.MeanSquaredError(reduction="none")([[0.0], [1.0], [2.0]], [[1.0], [1.0], [0.0]])
    close(values, [1.0, 0.0, 4.0])
    for reduction, expected in [("sum", 5.0), ("sum_over_batch_size", 5 / 3), ("mean", 5 / 3), ("auto", 5 / 3)]:
        close(losses.MeanSquaredError(reduction=reduction)([[0.0], [1.0], [2.0]], [[1.0], [1.0], [0.0]]), expected)
    weighted = losses.MeanSquaredError(reduction="mean_with_sample_weight")
    close(weighted([[0.0], [1.0], [2.0]], [[1.0], [1.0], [0.0]], sample_weight=[1.0, 0.0, 3.0]), 13 / 4)


def test_mean_with_sample_weight_divides_by_the_broadcast_weights():
    # Keras would divide by the scalar 2 as given (giving twice the mean); danlu by 2 * 3.
    loss = losses.MeanAbsoluteError(reduction="mean_with_sample_weight")
    close(loss([[0.0], [0.0], [0.0]], [[1.0], [2.0], [3.0]], sample_weight=2.0), 2.0)


def test_all_zero_weights_and_empty_batches_give_zero_not_nan():
    for reduction in ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight"):
        loss = losses.BinaryCrossentropy(reduction=reduction)
        close(loss(Y_TRUE, Y_PRED, sample_weight=[0.0, 0.0]), 0.0)
        close(loss(np.zeros((0, 2)), np.zeros((0, 2))), 0.0)
    everything_ignored = losses.SparseCategoricalCrossentropy(ignore_class=0)([0, 0], [[0.5, 0.5], [0.2, 0.8]])
    close(everything_ignored, 0.0)


def test_per_sample_weight_aligns_to_the_batch_axis_of_3d_losses():
    y_true = np.zeros((2, 2, 3), np.float32)
    y_pred = np.ones((2, 2, 3), np.float32) * np.array([1.0, 2.0]).reshape(2, 1, 1)
    # per-sample MSE values [[1, 1], [4, 4]]; weights [1, 0] keep the first sample only.
    loss = losses.MeanSquaredError(reduction="sum")
    close(loss(y_true, y_pred, sample_weight=[1.0, 0.0]), 2.0)
    close(loss(y_true, y_pred, sample_weight=[[1.0, 0.0], [0.0, 1.0]]), 5.0)


def test_batch_size_one_and_scalar_weight():
    close(losses.BinaryCrossentropy()([[1.0]], [[0.5]], sample_weight=3.0), 3 * math.log(2), rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 4)), elements=st.floats(-3, 3, width=32)),
    st.data(),
)
def test_reduction_identities(y_pred, data):
    """sum = batch * sum_over_batch_size; weighted sum = sum of weighted 'none' values;
    mean_with_sample_weight of unit weights = sum_over_batch_size; scaling all weights by c
    leaves mean_with_sample_weight unchanged."""
    y_true = np.zeros_like(y_pred)
    batch = y_pred.shape[0]
    weights = data.draw(hnp.arrays(np.float32, (batch,), elements=st.floats(0.015625, 2, width=32)))
    mse = {r: losses.MeanSquaredError(reduction=r) for r in losses.base.REDUCTIONS if r}
    total = mse["sum"](y_true, y_pred).item()
    close(mse["sum_over_batch_size"](y_true, y_pred), total / batch, rtol=1e-5, atol=1e-5)
    close(mse["sum"](y_true, y_pred, weights), mse["none"](y_true, y_pred, weights).sum(), rtol=1e-5, atol=1e-5)
    close(mse["mean_with_sample_weight"](y_true, y_pred, np.ones(batch)), mse["mean"](y_true, y_pred), rtol=1e-5, atol=1e-5)
    close(
        mse["mean_with_sample_weight"](y_true, y_pred, 3 * weights),
        mse["mean_with_sample_weight"](y_true, y_pred, weights),
        rtol=1e-5,
        atol=1e-5,
    )


# --- Tensors, devices, dtypes, gradients ----------------------------------------------------


def test_inputs_may_be_numpy_lists_or_tensors_with_the_same_result():
    expected = losses.BinaryCrossentropy()(torch.tensor(Y_TRUE), torch.tensor(Y_PRED))
    close(losses.BinaryCrossentropy()(np.array(Y_TRUE), np.array(Y_PRED)), expected.item())
    close(losses.binary_crossentropy(Y_TRUE, Y_PRED).mean(), expected.item())


def test_losses_compute_in_their_dtype_whatever_the_inputs():
    """Keras' rule: float32 unless dtype= says otherwise (tests/losses/test_loss_interface.py)."""
    for y_pred in (torch.tensor(Y_PRED, dtype=torch.float16), torch.tensor(Y_PRED, dtype=torch.float64)):
        for loss in (losses.BinaryCrossentropy(), losses.CategoricalCrossentropy(), losses.MeanSquaredError()):
            assert loss(Y_TRUE, y_pred).dtype == torch.float32
    assert losses.binary_crossentropy(Y_TRUE, torch.tensor(Y_PRED).bfloat16()).dtype == torch.float32
    assert losses.MeanSquaredError(dtype="float64")(Y_TRUE, torch.tensor(Y_PRED)).dtype == torch.float64


def test_losses_are_modules_and_differentiable():
    y_pred = torch.tensor(Y_PRED, requires_grad=True)
    loss = losses.BinaryCrossentropy()
    assert isinstance(loss, torch.nn.Module)
    loss(Y_TRUE, y_pred).backward()
    # d/dp mean(-(y log p + (1-y) log(1-p))) = (p - y) / (p (1 - p)) / 4
    p, y = np.array(Y_PRED), np.array(Y_TRUE)
    close(y_pred.grad, (p - y) / (p * (1 - p)) / 4, rtol=1e-5)


def test_sparse_crossentropy_ignored_rows_get_no_nan_gradient():
    y_pred = torch.tensor([[0.0, 0.0], [0.3, 0.7]], requires_grad=True)
    losses.SparseCategoricalCrossentropy(ignore_class=-1)([-1, 1], y_pred).backward()
    assert torch.isfinite(y_pred.grad).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_losses_run_on_cuda():
    y_pred = torch.tensor(Y_PRED, device="cuda")
    value = losses.BinaryCrossentropy()(Y_TRUE, y_pred)
    assert value.device.type == "cuda"
    close(value.cpu(), 0.81492424, rtol=1e-6)
    sparse = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    assert sparse(torch.tensor([1, -1], device="cuda"), y_pred).device.type == "cuda"


# --- Configs, identifiers, serialization ----------------------------------------------------

ALL_CLASSES = [c for c in losses.LOSS_CLASSES if c not in (losses.Loss, losses.LossFunctionWrapper)]


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_config_round_trip(cls):
    loss = cls(reduction="sum", name="custom")
    config = loss.get_config()
    restored = cls.from_config(config)
    assert restored.get_config() == config
    assert danlu.losses.deserialize(danlu.losses.serialize(loss)).get_config() == config


def test_config_keeps_every_constructor_argument():
    assert losses.Huber(delta=2.5).get_config()["delta"] == 2.5
    assert losses.CosineSimilarity(axis=0).get_config()["axis"] == 0
    config = losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.6, gamma=1.0).get_config()
    assert (config["apply_class_balancing"], config["alpha"], config["gamma"]) == (True, 0.6, 1.0)


def test_get_resolves_keras_identifiers():
    assert losses.get("mse") is losses.mean_squared_error
    assert losses.get("bce") is losses.binary_crossentropy
    assert losses.get("kld") is losses.kl_divergence
    assert losses.get("msle") is losses.mean_squared_logarithmic_error
    assert isinstance(losses.get("BinaryCrossentropy"), losses.BinaryCrossentropy)
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    loss = losses.get({"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}})
    assert loss.fn_kwargs["from_logits"] is True
    assert losses.get(None) is None
    fn = lambda y_true, y_pred: (y_true - y_pred).abs()  # noqa: E731
    assert losses.get(fn) is fn


def test_deserialize_reads_keras_configs():
    keras_config = {
        "module": "keras.losses",
        "class_name": "Huber",
        "config": {"name": "huber_loss", "reduction": "sum_over_batch_size"},
        "registered_name": None,
    }
    assert isinstance(losses.deserialize(keras_config), losses.Huber)
    function_config = {"module": "builtins", "class_name": "function", "config": "mean_squared_error"}
    assert losses.deserialize(function_config) is losses.mean_squared_error


def test_function_wrapper_round_trips_built_in_functions():
    wrapper = losses.LossFunctionWrapper(losses.huber, delta=0.5)
    restored = losses.LossFunctionWrapper.from_config(wrapper.get_config())
    assert restored.fn is losses.huber and restored.fn_kwargs == {"delta": 0.5}


# --- Custom losses -------------------------------------------------------------------------


def test_custom_loss_subclass_gets_reduction_and_weights():
    class AbsoluteError(losses.Loss):
        def call(self, y_true, y_pred):
            return (y_true - y_pred).abs().sum(-1)

    loss = AbsoluteError()
    assert loss.name == "absolute_error"
    close(loss([[0.0, 0.0], [1.0, 1.0]], [[1.0, 2.0], [1.0, 1.0]]), 1.5)
    close(loss([[0.0, 0.0], [1.0, 1.0]], [[1.0, 2.0], [1.0, 1.0]], sample_weight=[2.0, 1.0]), 3.0)
    with pytest.raises(NotImplementedError, match="must implement call"):
        losses.Loss()([1.0], [1.0])


# --- Bad input -----------------------------------------------------------------------------


def test_unknown_identifier_names_the_closest():
    with pytest.raises(ValueError, match=r"Unknown loss identifier 'binary_crossentropi'.*Did you mean \"binary_crossentropy\""):
        losses.get("binary_crossentropi")
    with pytest.raises(ValueError, match="Did you mean \"MeanSquaredError\""):
        losses.get({"class_name": "MeanSquareError", "config": {}})
    with pytest.raises(TypeError, match="Could not interpret loss identifier 3"):
        losses.get(3)


def test_invalid_reduction():
    with pytest.raises(ValueError, match=r"Invalid reduction='summ'.*Did you mean \"sum\""):
        losses.MeanSquaredError(reduction="summ")


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), "0.1"])
def test_label_smoothing_outside_unit_interval(value):
    with pytest.raises(ValueError, match="label_smoothing must be a number in \\[0, 1\\]"):
        losses.BinaryCrossentropy(label_smoothing=value)
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.categorical_crossentropy([[0, 1]], [[0.5, 0.5]], label_smoothing=value)


def test_shapes_that_cannot_broadcast():
    with pytest.raises(ValueError, match=r"y_true.shape=\(2, 3\), y_pred.shape=\(2, 2\)"):
        losses.BinaryCrossentropy()(np.zeros((2, 3)), np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match=r"sample_weight of shape \(3,\) cannot be broadcast"):
        losses.BinaryCrossentropy()(Y_TRUE, Y_PRED, sample_weight=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"y_true.shape=\(3,\) should be \(2,\)"):
        losses.SparseCategoricalCrossentropy()([0, 1, 1], Y_PRED)


def test_sparse_labels_of_a_float_kind_or_out_of_range():
    with pytest.raises(ValueError, match="non-integer label 0.5"):
        losses.SparseCategoricalCrossentropy()([0.5, 1.0], Y_PRED)
    # whole-number floats are accepted, as Keras casts labels to float32 anyway
    close(losses.SparseCategoricalCrossentropy()([0.0, 1.0], Y_PRED), losses.SparseCategoricalCrossentropy()([0, 1], Y_PRED))
    with pytest.raises(ValueError, match=r"class index 2, outside \[0, 2\)"):
        losses.SparseCategoricalCrossentropy()([0, 2], Y_PRED)
    with pytest.raises(ValueError, match="class index -1"):
        losses.sparse_categorical_crossentropy([0, -1], Y_PRED)
    # ignore_class positions may hold any value
    losses.SparseCategoricalCrossentropy(ignore_class=255)([0, 255], Y_PRED)
    with pytest.raises(TypeError, match="integer class indices; received dtype torch.bool"):
        losses.SparseCategoricalCrossentropy()(torch.tensor([True, False]), Y_PRED)


def test_invalid_hyperparameters():
    with pytest.raises(ValueError, match="delta must be a non-negative number; received delta=-1"):
        losses.Huber(delta=-1)
    with pytest.raises(ValueError, match="alpha must be a number in \\[0, 1\\]; received alpha=2"):
        losses.BinaryFocalCrossentropy(alpha=2)
    with pytest.raises(ValueError, match="gamma must be a non-negative number"):
        losses.CategoricalFocalCrossentropy(gamma=-1.0)
    with pytest.raises(TypeError, match="axis must be an int; received axis=True"):
        losses.CategoricalCrossentropy(axis=True)
    with pytest.raises(ValueError, match="q must be a number in the open interval"):
        losses.CategoricalGeneralizedCrossEntropy(q=1.0)
    with pytest.raises(TypeError, match="ignore_class must be an int or None"):
        losses.SparseCategoricalCrossentropy(ignore_class=1.5)
    with pytest.raises(ValueError, match=r"ctc needs y_pred of shape \(batch_size, time_steps, num_classes\)"):
        losses.ctc([[1, 2]], [[0.1, 0.2]])
