"""The `Loss` interface around the math: dtype, Reduction constants, label checks, subclasses
that forget ``super().__init__()``, functions that forget ``return``, per-class focal alpha."""

import numpy as np
import pytest
import torch

from danlu import losses
from danlu.losses.crossentropy import class_indices, labels_prechecked

Y_TRUE = [[0, 1], [0, 0]]
Y_PRED = [[0.6, 0.4], [0.4, 0.6]]


# --- dtype ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, expected", [
    (None, torch.float32), ("float32", torch.float32), ("float64", torch.float64), ("bfloat16", torch.bfloat16),
    ("float16", torch.float16), (torch.float64, torch.float64), (np.float64, torch.float64),
    ("mixed_bfloat16", torch.bfloat16), ("mixed_float16", torch.float16), ("double", torch.float64),
])
def test_dtype_is_taken_as_keras_takes_it_and_read_back_as_its_name(dtype, expected):
    loss = losses.MeanSquaredError(dtype=dtype)
    assert loss.dtype == str(expected).removeprefix("torch.")
    for y_pred in (torch.tensor(Y_PRED), torch.tensor(Y_PRED, dtype=torch.float64), np.array(Y_PRED), Y_PRED):
        for reduction in ("sum_over_batch_size", "sum", "none"):
            assert losses.MeanSquaredError(dtype=dtype, reduction=reduction)(Y_TRUE, y_pred).dtype == expected


def test_float64_half_and_integer_inputs_give_the_loss_dtype():
    for y_pred in (torch.tensor(Y_PRED, dtype=torch.float64), torch.tensor(Y_PRED, dtype=torch.float16),
                   torch.tensor(Y_PRED).bfloat16(), torch.tensor([[1, 0], [0, 1]])):
        for loss in (losses.BinaryCrossentropy(), losses.CategoricalCrossentropy(), losses.MeanSquaredError(),
                     losses.Hinge(), losses.SparseCategoricalCrossentropy()):
            y_true = [1, 0] if loss.integer_labels else torch.tensor(Y_TRUE, dtype=torch.float64)
            assert loss(y_true, y_pred).dtype == torch.float32
    # the per-sample functions keep Keras' rule for functions: float64 stays float64
    assert losses.binary_crossentropy(Y_TRUE, torch.tensor(Y_PRED, dtype=torch.float64)).dtype == torch.float64
    assert losses.binary_crossentropy(Y_TRUE, torch.tensor(Y_PRED).bfloat16()).dtype == torch.float32


def test_float64_loss_keeps_float64_precision():
    y_pred = torch.tensor([[1e-9, 1.0 - 1e-12]], dtype=torch.float64)
    value = losses.MeanSquaredError(dtype="float64")(torch.zeros(1, 2, dtype=torch.float64), y_pred)
    assert value.dtype == torch.float64 and value.item() == ((1e-9) ** 2 + (1.0 - 1e-12) ** 2) / 2


@pytest.mark.parametrize("dtype, error, message", [
    ("int32", ValueError, "dtype must be a floating dtype"),
    ("floa32", ValueError, 'Unknown dtype=\'floa32\'. Did you mean "float32"'),
    (torch.int64, ValueError, "dtype must be a floating dtype"),
    (3.5, TypeError, "dtype must be a dtype name"),
])
def test_invalid_dtype(dtype, error, message):
    with pytest.raises(error, match=message):
        losses.BinaryCrossentropy(dtype=dtype)


def test_dtype_config_round_trip():
    config = losses.Huber(dtype=torch.bfloat16).get_config()
    assert config["dtype"] == "bfloat16"
    assert losses.Huber.from_config(config).dtype == "bfloat16"
    assert "dtype" not in losses.Huber().get_config()  # as Keras, unless one was given
    assert losses.deserialize(losses.serialize(losses.Huber(dtype="float64"))).dtype == "float64"


# --- Reduction -----------------------------------------------------------------------------


def test_reduction_constants_work_as_reductions():
    Reduction = losses.Reduction
    assert (Reduction.SUM, Reduction.NONE, Reduction.SUM_OVER_BATCH_SIZE, Reduction.AUTO) == (
        "sum", "none", "sum_over_batch_size", "auto")
    assert Reduction.all() == ("auto", "none", "sum", "sum_over_batch_size")
    Reduction.validate("sum")
    with pytest.raises(ValueError, match="Invalid Reduction key 'mean'"):
        Reduction.validate("mean")
    bce = losses.BinaryCrossentropy
    assert bce(reduction=Reduction.SUM)(Y_TRUE, Y_PRED).item() == pytest.approx(1.6298485, rel=1e-6)
    assert bce(reduction=Reduction.AUTO)(Y_TRUE, Y_PRED).item() == pytest.approx(0.81492424, rel=1e-6)
    assert bce(reduction=Reduction.AUTO).reduction == "sum_over_batch_size"
    assert bce(reduction=Reduction.NONE)(Y_TRUE, Y_PRED).shape == (2,)


# --- Subclasses and functions that forget something ---------------------------------------


def test_subclass_that_forgets_super_init_still_works():
    class FocalLoss(losses.Loss):  # as in a tf.keras tutorial
        def __init__(self, gamma=2.0, alpha=0.25):
            self.gamma = gamma
            self.alpha = alpha

        def call(self, y_true, y_pred):
            p = y_pred.clamp(1e-7, 1 - 1e-7)
            p_t = torch.where(y_true == 1, p, 1 - p)
            alpha_t = torch.where(y_true == 1, self.alpha, 1 - self.alpha)
            return (-alpha_t * (1 - p_t) ** self.gamma * p_t.log()).mean(-1)

    loss = FocalLoss(gamma=1.0)
    y_pred = torch.tensor(Y_PRED, requires_grad=True)
    value = loss(Y_TRUE, y_pred)
    value.backward()
    assert loss.gamma == 1.0 and loss.reduction == "sum_over_batch_size" and loss.name == "focal_loss"
    assert loss.dtype == "float32" and isinstance(loss, torch.nn.Module)
    p = np.clip(np.array(Y_PRED), 1e-7, 1 - 1e-7)
    y = np.array(Y_TRUE)
    p_t, a_t = np.where(y == 1, p, 1 - p), np.where(y == 1, 0.25, 0.75)
    assert value.item() == pytest.approx((-a_t * (1 - p_t) * np.log(p_t)).mean(-1).mean(), rel=1e-6)
    assert y_pred.grad is not None

    class SetsItsOwnReduction(losses.Loss):
        def __init__(self):
            self.reduction = "sum"

        def call(self, y_true, y_pred):
            return (y_true - y_pred).abs().sum(-1)

    assert SetsItsOwnReduction()([[0.0], [0.0]], [[1.0], [2.0]]).item() == 3.0
    assert SetsItsOwnReduction().get_config() == {"name": "sets_its_own_reduction", "reduction": "sum"}


def test_a_loss_returning_none_gets_a_clear_error():
    def forgot_return(y_true, y_pred):
        (y_true - y_pred) ** 2  # noqa: B018

    with pytest.raises(TypeError, match=r"got None from .*forgot_return\(y_true, y_pred\): a loss must return a tensor .*\(is a `return` missing\?\)"):
        losses.LossFunctionWrapper(forgot_return)(Y_TRUE, Y_PRED)

    class Forgot(losses.Loss):
        def call(self, y_true, y_pred):
            pass

    with pytest.raises(TypeError, match=r"The loss 'forgot' got None from Forgot.call\(y_true, y_pred\)"):
        Forgot()(Y_TRUE, Y_PRED)


def test_a_loss_returning_numbers_or_arrays_is_converted():
    class Constant(losses.Loss):
        def call(self, y_true, y_pred):
            return [1.0, 3.0]

    value = Constant()(Y_TRUE, torch.tensor(Y_PRED, dtype=torch.float64))
    assert value.dtype == torch.float32 and value.item() == 2.0


# --- check_labels / labels_checked ----------------------------------------------------------


def test_check_labels_validates_class_indices_naming_y():
    scce = losses.SparseCategoricalCrossentropy(from_logits=True)
    example = torch.zeros(1, 3)
    scce.check_labels(np.array([0, 1, 2, 2]), example)
    scce.check_labels(torch.tensor([[0.0], [2.0]]), example)  # a label column of whole floats
    with pytest.raises(ValueError, match=r"^y holds the class index 3, outside \[0, 3\)"):
        scce.check_labels(np.array([0, 3]), example)
    with pytest.raises(ValueError, match=r"^y must hold integer class indices .* non-integer label 1.5"):
        scce.check_labels([0.0, 1.5], example)
    with pytest.raises(TypeError, match="^y must hold integer class indices; received dtype torch.bool"):
        scce.check_labels(torch.tensor([True]), example)
    losses.SparseCategoricalCrossentropy(ignore_class=255).check_labels([0, 255, 2], example)
    with pytest.raises(ValueError, match=r"class index 4, outside \[0, 4\)"):  # classes on axis 1
        losses.SparseCategoricalCrossentropy(axis=1).check_labels(torch.tensor([[0, 4]]), torch.zeros(1, 4, 2))
    with pytest.raises(ValueError, match="^y holds the class index 5"):
        losses.LossFunctionWrapper(losses.sparse_categorical_crossentropy).check_labels([5], example)
    with pytest.raises(ValueError, match="^y holds the class index 3"):
        losses.CategoricalGeneralizedCrossEntropy().check_labels([3], example)
    with pytest.raises(ValueError, match="^y holds the class index 7"):
        losses.CTC().check_labels([[1, 7]], torch.zeros(1, 5, 3))


def test_check_labels_does_nothing_for_other_losses():
    for loss in (losses.MeanSquaredError(), losses.BinaryCrossentropy(), losses.Circle(), losses.Loss()):
        loss.check_labels(np.array([7.5, -3]), torch.zeros(1, 2))


@pytest.mark.parametrize("make_input", [torch.tensor, np.array], ids=["tensor", "numpy"])
def test_labels_checked_skips_this_losses_per_batch_checks_only(make_input):
    y_pred = make_input([[0.2, 0.8], [0.5, 0.5]])
    unchecked_labels = make_input([0.0, 1.5])  # would fail the whole-number check
    first, second = losses.SparseCategoricalCrossentropy(), losses.SparseCategoricalCrossentropy()
    with first.labels_checked() as loss:
        assert loss is first
        first(unchecked_labels, y_pred)
        with pytest.raises(ValueError, match="non-integer label 1.5"):
            second(unchecked_labels, y_pred)  # another instance still checks
        with first.labels_checked():
            pass
        first(unchecked_labels, y_pred)  # still inside the outer block
    with pytest.raises(ValueError, match="non-integer label 1.5"):
        first(unchecked_labels, y_pred)
    wrapper = losses.LossFunctionWrapper(losses.sparse_categorical_crossentropy)
    with wrapper.labels_checked():
        wrapper(unchecked_labels, y_pred)
    for loss, y, p in ((losses.CategoricalGeneralizedCrossEntropy(), [0.0, 1.5], y_pred),
                       (losses.CTC(), [[1.5, 1.0]], torch.zeros(1, 4, 3))):
        with pytest.raises(ValueError, match="non-integer label 1.5"):
            loss(y, p)
        with loss.labels_checked():
            loss(y, p)


def test_labels_checked_on_a_loss_without_label_checks_is_harmless():
    mse = losses.MeanSquaredError()
    with mse.labels_checked():
        assert mse([[1.0]], [[3.0]]).item() == 4.0


def test_transitional_module_switch_still_works():
    with labels_prechecked():
        losses.SparseCategoricalCrossentropy()([0.0, 1.5], Y_PRED)
        assert class_indices(torch.tensor([0, 9]), 2).tolist() == [0, 9]
    with pytest.raises(ValueError, match="class index 9"):
        class_indices(torch.tensor([0, 9]), 2, argument="y")


# --- Categorical focal crossentropy: per-class alpha ----------------------------------------


def test_categorical_focal_alpha_per_class_by_hand():
    y_true, y_pred = [[0, 1, 0], [1, 0, 0]], [[0.2, 0.7, 0.1], [0.5, 0.3, 0.2]]
    alpha = [0.5, 2.0, 1.0]
    values = losses.categorical_focal_crossentropy(y_true, y_pred, alpha=alpha, gamma=2.0)
    expected = [2.0 * 0.3**2 * -np.log(0.7), 0.5 * 0.5**2 * -np.log(0.5)]
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-6)
    loss = losses.CategoricalFocalCrossentropy(alpha=np.array(alpha), reduction="sum")
    assert loss.get_config()["alpha"] == alpha
    assert loss(y_true, y_pred).item() == pytest.approx(sum(expected), rel=1e-6)
    on_axis_1 = losses.CategoricalFocalCrossentropy(alpha=alpha, axis=1, reduction="none")
    two_steps = (torch.tensor(y_true, dtype=torch.float32)[..., None].expand(-1, -1, 2),
                 torch.tensor(y_pred)[..., None].expand(-1, -1, 2))
    np.testing.assert_allclose(on_axis_1(*two_steps).numpy(), np.stack([expected, expected], 1), rtol=1e-6)


@pytest.mark.parametrize("alpha", [[], [0.5, -1.0], ["a"], [0.5, float("nan")], {"a": 1}, 1.5])
def test_categorical_focal_alpha_invalid(alpha):
    with pytest.raises(ValueError, match="alpha must be a number in \\[0, 1\\] or a"):
        losses.CategoricalFocalCrossentropy(alpha=alpha)


def test_categorical_focal_alpha_length_must_match_the_classes():
    with pytest.raises(ValueError, match=r"alpha has 2 per-class weights but y_pred of shape \(2, 3\) has 3 classes"):
        losses.CategoricalFocalCrossentropy(alpha=[0.5, 0.5])([[0, 1, 0], [1, 0, 0]], [[0.2, 0.7, 0.1], [0.5, 0.3, 0.2]])


def test_binary_focal_alpha_stays_a_number():
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\]; received alpha=\[0.5\]"):
        losses.BinaryFocalCrossentropy(alpha=[0.5])
