"""`Loss.forward`'s common case: the kernel resolved once per configuration gives the general
path's numbers bit for bit, and is resolved again whenever the configuration changes."""

import pytest
import torch
import torch.nn.functional as F

import danlu
from danlu.losses import base
from danlu.losses.sparse import sparse_categorical_crossentropy

SCCE = danlu.losses.SparseCategoricalCrossentropy


def inputs(rows=16, classes=5, seed=0):
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(rows, classes, generator=generator)
    labels = torch.randint(0, classes, (rows,), generator=generator)
    return labels, scores


def general_path(loss, y_true, y_pred, sample_weight=None):
    """What `forward` computed before the common case existed: `_forward`'s checks."""
    return loss._forward(y_true, y_pred, sample_weight)


def resolved(loss):
    return loss.__dict__.get(base._KERNEL, "unresolved")


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight"])
def test_the_common_case_equals_the_general_path_bit_for_bit(from_logits, reduction):
    labels, scores = inputs()
    if not from_logits:
        scores = scores.softmax(-1)
    loss = SCCE(from_logits=from_logits, reduction=reduction)
    value = loss(labels, scores)
    assert resolved(loss) is not None
    assert torch.equal(value, general_path(loss, labels, scores))


def test_the_common_case_is_the_kernel_call_a_hand_written_loop_makes():
    labels, scores = inputs()
    assert torch.equal(SCCE(from_logits=True)(labels, scores), F.cross_entropy(scores, labels))
    assert torch.equal(SCCE(from_logits=True, reduction="sum")(labels, scores), F.cross_entropy(scores, labels, reduction="sum"))


@pytest.mark.parametrize(
    "labels_of",
    [
        lambda y: y.int(),  # int32 labels
        lambda y: y[:, None],  # (batch, 1)
        lambda y: y.float(),  # float labels holding whole numbers
    ],
    ids=["int32", "column", "float"],
)
def test_other_label_forms_give_the_general_paths_numbers(labels_of):
    labels, scores = inputs()
    loss = SCCE(from_logits=True)
    assert torch.equal(loss(labels_of(labels), scores), general_path(loss, labels_of(labels), scores))


def test_other_ranks_axes_and_ignore_class_give_the_general_paths_numbers():
    generator = torch.Generator().manual_seed(1)
    scores = torch.randn(4, 3, 6, generator=generator)
    labels = torch.randint(0, 6, (4, 3), generator=generator)
    for loss in (SCCE(from_logits=True), SCCE(from_logits=True, ignore_class=2)):
        assert torch.equal(loss(labels, scores), general_path(loss, labels, scores))
    channels_first = scores.movedim(-1, 1)
    loss = SCCE(from_logits=True, axis=1)
    assert torch.equal(loss(labels, channels_first), general_path(loss, labels, channels_first))


def test_sample_weight_float64_and_numpy_inputs_take_the_general_path():
    labels, scores = inputs()
    weights = torch.rand(16)
    loss = SCCE(from_logits=True)
    assert torch.equal(loss(labels, scores, weights), general_path(loss, labels, scores, weights))
    assert torch.equal(loss(labels.numpy(), scores.numpy()), general_path(loss, labels, scores))
    wide = SCCE(from_logits=True, dtype="float64")
    value = wide(labels, scores)
    assert value.dtype == torch.float64 and torch.equal(value, general_path(wide, labels, scores))


def test_the_kernel_is_resolved_once(monkeypatch):
    labels, scores = inputs()
    loss = SCCE(from_logits=True)
    calls = []
    original = base.Loss._resolve_common_case_kernel
    monkeypatch.setattr(base.Loss, "_resolve_common_case_kernel", lambda self: calls.append(1) or original(self))
    for _ in range(3):
        loss(labels, scores)
    assert len(calls) == 1


def test_setting_the_reduction_resolves_the_kernel_again():
    labels, scores = inputs()
    loss = SCCE(from_logits=True)
    loss(labels, scores)
    loss.reduction = "sum"
    assert resolved(loss) == "unresolved"
    assert torch.equal(loss(labels, scores), SCCE(from_logits=True, reduction="sum")(labels, scores))
    loss.reduction = "none"  # no fused reduction: the general path
    assert loss(labels, scores).shape == (16,) and resolved(loss) is None


def test_replacing_or_mutating_fn_kwargs_is_seen():
    labels, scores = inputs()
    probabilities = scores.softmax(-1)
    loss = SCCE(from_logits=True)
    loss(labels, scores)
    loss.fn_kwargs = {**loss.fn_kwargs, "from_logits": False}
    assert torch.equal(loss(labels, probabilities), SCCE()(labels, probabilities))
    loss = SCCE(from_logits=True)
    loss(labels, scores)
    loss.fn_kwargs["from_logits"] = False  # changed in place: the general path reads it
    assert torch.equal(loss(labels, probabilities), SCCE()(labels, probabilities))


def test_labels_checked_resolves_for_its_block_and_back():
    labels, scores = inputs()
    fractional = labels.float() + 0.5
    loss = SCCE(from_logits=True)
    with pytest.raises(ValueError, match="y_true"):
        loss(fractional, scores)
    with loss.labels_checked():
        loss(fractional, scores)  # labels taken as validated: no value check
    with pytest.raises(ValueError, match="y_true"):
        loss(fractional, scores)


def test_out_of_range_labels_and_bad_shapes_raise_as_before():
    labels, scores = inputs()
    loss = SCCE(from_logits=True)
    with pytest.raises(ValueError, match="class index 7"):
        loss(torch.full((16,), 7), scores)
    with pytest.raises(ValueError):
        loss(labels[:8], scores)


def test_forward_hooks_on_a_loss_still_run():
    labels, scores = inputs()
    loss = SCCE(from_logits=True)
    seen = []
    loss.register_forward_hook(lambda module, args, output: seen.append(output))
    value = loss(labels, scores)
    assert len(seen) == 1 and seen[0] is value
    handle = torch.nn.modules.module.register_module_forward_pre_hook(lambda module, args: seen.append("pre"))
    try:
        SCCE(from_logits=True)(labels, scores)
    finally:
        handle.remove()
    assert seen[-1] == "pre"


def test_a_wrapper_of_the_function_and_a_subclass_fused_form_take_the_common_case():
    labels, scores = inputs()
    wrapper = danlu.losses.LossFunctionWrapper(sparse_categorical_crossentropy, from_logits=True)
    assert torch.equal(wrapper(labels, scores), F.cross_entropy(scores, labels))

    class Halved(SCCE):
        def fused(self, y_true, y_pred, reduction):
            return super().fused(y_true, y_pred, reduction) / 2

    assert torch.equal(Halved(from_logits=True)(labels, scores), F.cross_entropy(scores, labels) / 2)

    class OwnCall(SCCE):  # redefines call without fused: no fused form, no common-case kernel
        def call(self, y_true, y_pred):
            return super().call(y_true, y_pred) * 3

    own = OwnCall(from_logits=True)
    torch.testing.assert_close(own(labels, scores), F.cross_entropy(scores, labels) * 3)
    assert resolved(own) is None


def test_a_subclass_without_super_init_still_works():
    class Bare(danlu.losses.Loss):
        def __init__(self):  # no super().__init__()
            self.scale = 2.0

        def call(self, y_true, y_pred):
            return self.scale * (y_true - y_pred).abs().mean(-1)

    torch.testing.assert_close(Bare()(torch.zeros(4, 2), torch.ones(4, 2)), torch.tensor(2.0))


def test_a_called_loss_pickles_and_copies_with_a_kernel_of_its_own():
    import copy
    import pickle

    labels, scores = inputs()
    loss = SCCE(from_logits=True)
    expected = loss(labels, scores)
    restored = pickle.loads(pickle.dumps(loss))
    assert torch.equal(restored(labels, scores), expected)
    copied = copy.deepcopy(loss)
    assert resolved(copied) == "unresolved"
    copied.fn_kwargs["from_logits"] = False  # the copy's own mapping, seen by its own kernel
    probabilities = scores.softmax(-1)
    copied(labels, probabilities)
    assert torch.equal(copied(labels, probabilities), SCCE()(labels, probabilities))
    assert torch.equal(loss(labels, scores), expected)
