"""The `Metric` base: Keras-style custom metrics (add_variable / add_weight, assign), state as
Variables, reset to the initializers, exact state_dict round trips, merge_state, devices."""

import copy

import numpy as np
import pytest
import torch

from danlu import metrics
from danlu._variables import Variable
from tests.metrics.keras_cases import binary, normal, one_hot, probabilities, sparse, tied


class BinaryTruePositives(metrics.Metric):
    """Keras' documented example, written the Keras way (torch ops in place of keras.ops)."""

    def __init__(self, name="binary_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), initializer="zeros", name="true_positives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = (torch.as_tensor(y_true) != 0) & (torch.as_tensor(y_pred) != 0)
        values = values.to(self.true_positives.dtype)
        if sample_weight is not None:
            values = values * torch.as_tensor(sample_weight, dtype=values.dtype)
        self.true_positives.assign(self.true_positives + values.sum())

    def result(self):
        return self.true_positives.value.clone()

    def reset_state(self):
        self.true_positives.assign(0)


class CountAndScale(metrics.Metric):
    """Several initializers, an `add_weight`, a non-sum aggregation and a sub-metric."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = self.add_weight(shape=(), initializer="zeros", name="seen")
        self.scale = self.add_variable((2,), initializer="ones", aggregation="mean", name="scale")
        half = lambda shape, dtype: torch.full(shape, 0.5, dtype=dtype)  # noqa: E731
        self.offset = self.add_variable(3, initializer=half, name="offset")
        self.steps = self.add_variable((), initializer=7, dtype="int64", aggregation="only_first_replica", name="steps")
        self.inner = metrics.Mean(name="inner")

    def update_state(self, values):
        values = torch.as_tensor(values, dtype=torch.float32)
        self.seen.assign_add(values.numel())
        self.scale.assign(self.scale * 2)
        self.offset.assign_add(torch.ones(3))
        self.steps.assign_add(1)
        self.inner.update_state(values)

    def result(self):
        return self.inner.result() * self.scale.mean()


def test_a_keras_style_custom_metric():
    m = BinaryTruePositives()
    m.update_state([1, 1, 0, 1], [1, 0, 1, 1])
    m.update_state([1, 1], [1, 1], sample_weight=[0.5, 2.0])
    assert m.result().item() == pytest.approx(4.5)
    assert m([1], [1]).item() == pytest.approx(5.5)
    variable = m.variables[0]
    assert isinstance(variable, Variable) and variable is m.true_positives
    assert (variable.name, variable.path, variable.aggregation, variable.trainable) == (
        "true_positives", "binary_true_positives/true_positives", "sum", False)
    m.reset_state()
    assert m.result().item() == 0.0


def test_variables_initializers_and_reset():
    m = CountAndScale(name="cs")
    assert [v.name for v in m.variables] == ["seen", "scale", "offset", "steps", "total", "count"]
    assert m.steps.dtype == torch.int64 and m.seen.dtype == torch.float32
    m.update_state([1.0, 3.0])
    m.update_state([5.0])
    assert m.result().item() == pytest.approx(3.0 * 4)
    assert m.offset.tolist() == [2.5] * 3 and m.steps.item() == 9
    m.reset_state()
    assert m.seen.item() == 0 and m.scale.tolist() == [1.0, 1.0] and m.offset.tolist() == [0.5] * 3
    assert m.steps.item() == 7 and m.inner.count.item() == 0


def test_add_variable_needs_super_init():
    class Forgetful(metrics.Metric):
        def __init__(self):
            self.v = self.add_variable((), "zeros", name="v")

    with pytest.raises(RuntimeError, match="super"):
        Forgetful()


def test_add_state_and_rebinding_keep_the_variable():
    class Legacy(metrics.Metric):
        def __init__(self):
            super().__init__(name="legacy")
            self.count = self.add_state("count", initial=1.0)

        def update_state(self, values):
            self.count = self.count + torch.as_tensor(values).sum()  # rebinds: written into the state

        def result(self):
            return self.count.clone()

    m = Legacy()
    state = m.count
    m.update_state([2.0, 3.0])
    assert m.count is state and m.variables == [state] and m.result().item() == 6.0
    m.reset_state()
    assert m.result().item() == 1.0


def test_the_loss_tracker_contract():
    mean = metrics.Mean()
    mean._to_device(torch.device("cpu"))
    mean.total.add_(torch.tensor(2.0), alpha=3)  # what the trainer's LossTracker does
    assert mean.total.item() == 6.0 and isinstance(mean.total, Variable) and mean.variables[0] is mean.total


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_moving_to_cuda_keeps_the_variable_objects():
    m = metrics.Precision(thresholds=[0.2, 0.7])
    before = list(m.variables)
    m.update_state(torch.tensor([1.0, 0.0], device="cuda"), torch.tensor([0.8, 0.3], device="cuda"))
    assert all(a is b for a, b in zip(before, m.variables)) and all(v.device.type == "cuda" for v in m.variables)
    assert m.result().device.type == "cuda" and m.result().tolist() == [0.5, 1.0]
    resumed = metrics.Precision(thresholds=[0.2, 0.7])
    resumed.load_state_dict(m.state_dict())  # CUDA state into a CPU metric: copied, then moved on use
    resumed.update_state(torch.tensor([1.0], device="cuda"), torch.tensor([0.9], device="cuda"))
    assert resumed.result().device.type == "cuda"


# --- every metric: exact resume, reset, merge -------------------------------------------------

# (factory, y_true maker (None: values only), y_pred maker, input shape)
FACTORIES = [
    (lambda: metrics.Mean(), None, normal, (6, 3)),
    (lambda: metrics.Sum(), None, normal, (6, 3)),
    (lambda: metrics.BinaryAccuracy(), binary, probabilities, (6, 3)),
    (lambda: metrics.SparseTopKCategoricalAccuracy(k=2), sparse, probabilities, (6, 4)),
    (lambda: metrics.RootMeanSquaredError(), normal, normal, (6, 3)),
    (lambda: metrics.R2Score(), normal, normal, (6, 3)),
    (lambda: metrics.CosineSimilarity(), normal, normal, (6, 3)),
    (lambda: metrics.PearsonCorrelation(), normal, normal, (6, 3)),
    (lambda: metrics.SparseCategoricalCrossentropy(ignore_class=0), sparse, probabilities, (6, 4)),
    (lambda: metrics.TruePositives(thresholds=[0.0, 0.5, 1.0]), binary, tied, (6, 3)),
    (lambda: metrics.Precision(top_k=2), binary, tied, (6, 4)),
    (lambda: metrics.Recall(class_id=1), binary, probabilities, (6, 4)),
    (lambda: metrics.RecallAtPrecision(0.4, num_thresholds=11), binary, probabilities, (6, 3)),
    (lambda: metrics.AUC(), binary, probabilities, (6, 3)),
    (lambda: metrics.AUC(multi_label=True, curve="PR"), binary, probabilities, (6, 3)),
    (lambda: metrics.F1Score(average="macro"), one_hot, probabilities, (6, 3)),
    (lambda: metrics.FBetaScore(average="micro", beta=2.0, threshold=0.5), one_hot, probabilities, (6, 3)),
    (lambda: metrics.MeanIoU(4), sparse, probabilities, (6, 4)),
    (lambda: metrics.OneHotMeanIoU(4, dtype="float32"), one_hot, probabilities, (6, 4)),
]
IDS = [type(f[0]()).__name__ + str(i) for i, f in enumerate(FACTORIES)]


def batches(true_kind, pred_kind, shape, count, seed):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        y_pred = pred_kind(rng, shape)
        weight = rng.uniform(0, 2, size=shape[0]).astype(np.float32) if i % 2 else None
        out.append(((y_pred,) if true_kind is None else (true_kind(rng, shape), y_pred), weight))
    return out


def update(metric, batch):
    args, weight = batch
    if isinstance(metric, metrics.MeanIoU):
        args = (args[0], np.argmax(args[1], -1)) if not isinstance(metric, metrics.OneHotMeanIoU) else args
        weight = None if weight is None else np.round(weight)  # the int32 state truncates fractions
    metric.update_state(*args, sample_weight=weight)


@pytest.mark.filterwarnings("ignore:You are passing weight as `float`")
@pytest.mark.parametrize("factory,true_kind,pred_kind,shape", FACTORIES, ids=IDS)
def test_state_dict_restores_a_metric_exactly_mid_accumulation(factory, true_kind, pred_kind, shape):
    data = batches(true_kind, pred_kind, shape, 4, seed=len(IDS))
    original = factory()
    for batch in data[:2]:
        update(original, batch)
    state = original.state_dict()
    assert list(state) == [v.name for v in original.variables]
    resumed = factory()
    resumed.load_state_dict(state)
    for batch in data[2:]:
        update(original, batch)
        update(resumed, batch)
    assert torch.equal(torch.as_tensor(original.result()), torch.as_tensor(resumed.result()))
    for a, b in zip(original.variables, resumed.variables):
        assert torch.equal(a, b)
    state["__extra"] = torch.zeros(())
    with pytest.raises(ValueError, match="unexpected"):
        factory().load_state_dict(state)


@pytest.mark.filterwarnings("ignore:You are passing weight as `float`")
@pytest.mark.parametrize("factory,true_kind,pred_kind,shape", FACTORIES, ids=IDS)
def test_merged_replica_states_give_the_result_over_all_data(factory, true_kind, pred_kind, shape):
    data = batches(true_kind, pred_kind, shape, 6, seed=7)
    whole, replicas = factory(), [factory() for _ in range(3)]
    for index, batch in enumerate(data):
        update(whole, batch)
        update(replicas[index % 3], batch)
    unbuilt = factory()  # a replica that saw nothing contributes nothing
    replicas[0].merge_state(replicas[1:] + [unbuilt])
    np.testing.assert_allclose(np.asarray(replicas[0].result()), np.asarray(whole.result()), rtol=1e-5, atol=1e-6)
    assert all(v.aggregation == "sum" for v in whole.variables)


@pytest.mark.filterwarnings("ignore:You are passing weight as `float`")
@pytest.mark.parametrize("factory,true_kind,pred_kind,shape", FACTORIES, ids=IDS)
def test_reset_state_returns_to_a_fresh_metric(factory, true_kind, pred_kind, shape):
    metric, fresh = factory(), factory()
    data = batches(true_kind, pred_kind, shape, 2, seed=3)
    for batch in data:
        update(metric, batch)
        update(fresh, batch)
    metric.reset_state()
    assert all(torch.count_nonzero(v) == 0 for v in metric.variables)
    update(metric, data[0])
    copy_of_fresh = copy.deepcopy(fresh)
    copy_of_fresh.reset_state()
    update(copy_of_fresh, data[0])
    assert torch.equal(torch.as_tensor(metric.result()), torch.as_tensor(copy_of_fresh.result()))


class _NoReadBack:
    """Make every tensor read-back (``.item()``, ``bool()``, ``float()``, ``.tolist()``,
    ``.numpy()``, ``.cpu()``) raise while active: a host synchronization on a GPU."""

    NAMES = ("item", "__bool__", "__float__", "__int__", "__index__", "tolist", "numpy", "cpu")

    def __enter__(self):
        self.saved = {name: getattr(torch.Tensor, name) for name in self.NAMES}

        def refuse(*args, **kwargs):
            raise AssertionError("a value was read back to the host during update_state")

        for name in self.NAMES:
            setattr(torch.Tensor, name, refuse)

    def __exit__(self, *exc):
        for name, method in self.saved.items():
            setattr(torch.Tensor, name, method)


# The sparse crossentropy's loss function checks label values, on CPU tensors only (no GPU sync).
NO_LABEL_CHECKS = [(f, i) for f, i in zip(FACTORIES, IDS) if not i.startswith("SparseCategoricalCrossentropy")]


@pytest.mark.filterwarnings("ignore:You are passing weight as `float`")
@pytest.mark.parametrize("factory,true_kind,pred_kind,shape", [f for f, _ in NO_LABEL_CHECKS],
                         ids=[i for _, i in NO_LABEL_CHECKS])
def test_updates_never_read_a_value_back(factory, true_kind, pred_kind, shape):
    metric = factory()
    data = batches(true_kind, pred_kind, shape, 2, seed=0)
    prepared = []
    for args, weight in data:
        if isinstance(metric, metrics.MeanIoU) and not isinstance(metric, metrics.OneHotMeanIoU):
            args = (args[0], np.argmax(args[1], -1))
        prepared.append(([torch.as_tensor(a) for a in args], torch.ones(shape[0])))
    with _NoReadBack():
        for args, weight in prepared:
            metric.update_state(*args, sample_weight=weight)
        metric.result()


def test_state_saved_before_the_first_batch_loads_into_an_unbuilt_metric():
    for factory in (metrics.R2Score, metrics.F1Score, lambda: metrics.AUC(multi_label=True)):
        saved = factory().state_dict()
        resumed = factory()
        resumed.load_state_dict(saved)
        assert not resumed.built and list(resumed.state_dict()) == list(saved)
    built = metrics.R2Score()
    built.update_state(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="missing"):
        built.load_state_dict(metrics.R2Score().state_dict())


def test_custom_aggregations_merge():
    a, b = CountAndScale(), CountAndScale()
    a.update_state([1.0, 2.0])
    b.update_state([4.0])
    b.update_state([5.0])
    a.merge_state([b])
    assert a.seen.item() == 4 and a.scale.tolist() == [3.0, 3.0]  # sum of 2 and 2; mean of 2 and 4
    assert a.steps.item() == 8  # only_first_replica keeps a's own
    assert a.inner.result().item() == pytest.approx(3.0)


def test_state_errors_name_the_problem():
    m = metrics.Precision(thresholds=[0.3, 0.6])
    with pytest.raises(ValueError, match=r"missing \['false_positives'\]"):
        m.load_state_dict({"true_positives": torch.zeros(2)})
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        m.load_state_dict({"true_positives": torch.zeros(3), "false_positives": torch.zeros(3)})
    with pytest.raises(TypeError, match="dict"):
        m.load_state_dict([torch.zeros(2)])
    with pytest.raises(TypeError, match="same class"):
        m.merge_state([metrics.Recall()])
    with pytest.raises(ValueError, match="layouts"):
        m.merge_state([metrics.Precision()])
    none = metrics.Metric()
    none.v = Variable(torch.zeros(()), trainable=False, name="v", aggregation="none")
    other = metrics.Metric()
    other.v = Variable(torch.zeros(()), trainable=False, name="v", aggregation="none")
    with pytest.raises(ValueError, match="aggregation='none'"):
        none.merge_state([other])
    m.load_state_dict({"true_positives": np.array([1.0, 2.0]), "false_positives": [1.0, 0.0]})
    assert m.result().tolist() == [0.5, 1.0]
