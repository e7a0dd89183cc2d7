"""Merging layers against Keras 3.15: values, broadcasting, masks, functional forms, errors."""

import numpy as np
import pytest
import torch

import danlu
from danlu.layers import merging
from danlu.layers.core import Dense, Embedding
from tests.oracle import keras

ELEMENTWISE = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]


def _x(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _np(t):
    return t.detach().numpy()


def _with_mask(array, mask):
    """A torch tensor carrying a Keras mask (how both libraries pass masks between layers)."""
    t = torch.tensor(array)
    t._keras_mask = torch.as_tensor(mask)
    return t


@pytest.mark.oracle
@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("shapes", [[(2, 3, 4), (2, 3, 4)], [(2, 3, 4), (2, 1, 4), (2, 3, 1)], [(2, 4), (2, 3, 4)]])
def test_elementwise_merges_match_keras_with_broadcasting(name, shapes):
    if name == "Subtract" and len(shapes) != 2:
        shapes = shapes[:2]
    k = keras()
    arrays = [_x(*s, seed=i) for i, s in enumerate(shapes)]
    ours_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours, theirs = getattr(merging, name)()(ours_in), getattr(k.layers, name)()(theirs_in)
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-6)
    r = torch.as_tensor(_x(*ours.shape, seed=9))
    for a, b in zip(torch.autograd.grad((ours * r).sum(), ours_in), torch.autograd.grad((theirs * r).sum(), theirs_in)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    layer = getattr(merging, name)()
    assert layer.compute_output_shape([(None, *s[1:]) for s in shapes]) == getattr(k.layers, name)().compute_output_shape(
        [(None, *s[1:]) for s in shapes])


@pytest.mark.oracle
@pytest.mark.parametrize("name", ELEMENTWISE + ["Concatenate"])
def test_masks_merge_as_in_keras(name):
    k = keras()
    arrays = [_x(2, 4, 3, seed=i) for i in range(2 if name == "Subtract" else 3)]
    rng = np.random.default_rng(4)
    for present in ([True] * len(arrays), [True] + [False] * (len(arrays) - 1)):
        masks = [rng.random((2, 4)) > 0.5 if p else None for p in present]
        ours_in = [_with_mask(a, m) if m is not None else torch.tensor(a) for a, m in zip(arrays, masks)]
        theirs_in = [_with_mask(a, m) if m is not None else torch.tensor(a) for a, m in zip(arrays, masks)]
        ours, theirs = getattr(merging, name)()(ours_in), getattr(k.layers, name)()(theirs_in)
        np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-6)
        expected = getattr(theirs, "_keras_mask", None)
        if expected is None:
            assert getattr(ours, "_keras_mask", None) is None
        else:
            np.testing.assert_array_equal(ours._keras_mask.numpy(), expected.numpy())
    explicit = [torch.as_tensor(rng.random((2, 4)) > 0.5) for _ in arrays]
    theirs_mask = getattr(k.layers, name)().compute_mask([torch.tensor(a) for a in arrays], explicit)
    np.testing.assert_array_equal(getattr(merging, name)().compute_mask([torch.tensor(a) for a in arrays], explicit).numpy(),
                                  theirs_mask.numpy())


@pytest.mark.oracle
@pytest.mark.parametrize("axis, shapes", [(-1, [(2, 3, 4), (2, 3, 5)]), (1, [(2, 3, 4), (2, 1, 4), (2, 2, 4)]),
                                          (1, [(2, 3, 5, 5), (2, 4, 5, 5)])])
def test_concatenate_matches_keras(axis, shapes):
    k = keras()
    arrays = [_x(*s, seed=i) for i, s in enumerate(shapes)]
    np.testing.assert_array_equal(_np(merging.Concatenate(axis)([torch.tensor(a) for a in arrays])),
                                  _np(k.layers.Concatenate(axis)([torch.tensor(a) for a in arrays])))
    symbolic = [(None, *s[1:]) for s in shapes]
    assert merging.Concatenate(axis).compute_output_shape(symbolic) == k.layers.Concatenate(axis).compute_output_shape(symbolic)
    masks = [np.random.default_rng(i).random(s[:2]) > 0.5 for i, s in enumerate(shapes)]
    if len(shapes[0]) == 3:
        ours = merging.Concatenate(axis)([_with_mask(a, m) for a, m in zip(arrays, masks)])
        theirs = k.layers.Concatenate(axis)([_with_mask(a, m) for a, m in zip(arrays, masks)])
        np.testing.assert_array_equal(ours._keras_mask.numpy(), theirs._keras_mask.numpy())


@pytest.mark.oracle
@pytest.mark.parametrize("axes, shapes", [
    (-1, [(3, 4), (3, 4)]), (1, [(3, 4), (3, 4)]), ((2, 2), [(3, 5, 4), (3, 6, 4)]), ((1, 2), [(3, 4, 5), (3, 2, 4)]),
    ((2, 1), [(3, 5, 4), (3, 4, 6)]), ((2, 1), [(3, 5, 4), (3, 4)]), ((1, 1), [(3, 4), (3, 4, 2)]),
    ((3, 1), [(2, 3, 5, 4), (2, 4, 6)]),
])
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_matches_keras_values_gradients_and_shapes(axes, shapes, normalize):
    k = keras()
    arrays = [_x(*s, seed=i) for i, s in enumerate(shapes)]
    ours_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours = merging.Dot(axes, normalize=normalize)(ours_in)
    theirs = k.layers.Dot(axes, normalize=normalize)(theirs_in)
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-5, atol=1e-6)
    r = torch.as_tensor(_x(*ours.shape, seed=9))
    for a, b in zip(torch.autograd.grad((ours * r).sum(), ours_in), torch.autograd.grad((theirs * r).sum(), theirs_in)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    symbolic = [(None, *s[1:]) for s in shapes]
    assert merging.Dot(axes).compute_output_shape(symbolic) == k.layers.Dot(axes).compute_output_shape(symbolic) == (None, *ours.shape[1:])


def test_functional_forms_in_a_model_and_eagerly():
    a, b = danlu.Input((4,)), danlu.Input((4,))
    outputs = [
        merging.add([a, b]), merging.subtract([a, b]), merging.multiply([a, b]), merging.average([a, b]),
        merging.maximum([a, b]), merging.minimum([a, b]), merging.concatenate([a, b]), merging.dot([a, b], axes=1),
    ]
    assert [o.shape for o in outputs] == [(None, 4)] * 6 + [(None, 8), (None, 1)]
    model = danlu.Model([a, b], merging.concatenate([Dense(3)(merging.add([a, b])), merging.dot([a, b], axes=1)]))
    x, y = torch.randn(5, 4), torch.randn(5, 4)
    assert model([x, y]).shape == (5, 4)
    torch.testing.assert_close(merging.average([x, y]), (x + y) / 2)
    torch.testing.assert_close(merging.dot([x, y]), (x * y).sum(-1, keepdim=True))
    for cls in (merging.Add, merging.Concatenate, merging.Dot):
        layer = cls(axes=1) if cls is merging.Dot else cls()
        assert cls.from_config(layer.get_config()).get_config() == layer.get_config()


def test_mask_of_an_embedding_survives_a_merge_in_a_model():
    tokens = danlu.Input((4,), dtype="int64")
    embedded = Embedding(6, 3, mask_zero=True)(tokens)
    model = danlu.Model(tokens, merging.add([embedded, Dense(3)(embedded)]))
    ids = torch.tensor([[1, 2, 0, 0]])
    assert torch.equal(model(ids)._keras_mask, ids != 0)


def test_merge_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"Add: inputs have incompatible shapes; received shapes \[\(2, 3\), \(2, 4\)\]"):
        merging.Add()([torch.zeros(2, 3), torch.zeros(2, 4)])
    with pytest.raises(ValueError, match="different batch sizes"):
        merging.Multiply()([torch.zeros(2, 3), torch.zeros(3, 3)])
    with pytest.raises(ValueError, match="must be called on a list of tensors"):
        merging.Add()(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        merging.Subtract()([torch.zeros(2, 3)] * 3)
    with pytest.raises(ValueError, match=r"Concatenate\(axis=-1\) needs inputs of one rank.*\[\(2, 3, 4\), \(2, 5, 4\)\]"):
        merging.Concatenate()([torch.zeros(2, 3, 4), torch.zeros(2, 5, 4)])
    with pytest.raises(ValueError, match=r"Concatenate\(axis=1\) needs inputs of one rank"):
        merging.Concatenate(axis=1)([torch.zeros(2, 3), torch.zeros(2, 3, 1)])
    with pytest.raises(ValueError, match="axis 1 of the first input has size 3, axis 1 of the second 4"):
        merging.Dot(axes=1)([torch.zeros(2, 3), torch.zeros(2, 4)])
    with pytest.raises(ValueError, match="must name a non-batch axis"):
        merging.Dot(axes=0)([torch.zeros(2, 3), torch.zeros(2, 3)])
    with pytest.raises(ValueError, match="axes must be an int or a list of two ints"):
        merging.Dot(axes=(1, 2, 3))
    with pytest.raises(ValueError, match=r"cannot be built.*Add: inputs have incompatible shapes"):
        merging.add([danlu.Input((3,)), danlu.Input((5,))])
    layer = merging.Add()
    layer([torch.zeros(2, 3), torch.zeros(2, 3)])
    with pytest.raises(ValueError, match=r"Add cannot merge inputs of shapes \[\(2, 3\), \(2, 5\)\]"):
        layer([torch.zeros(2, 3), torch.zeros(2, 5)])  # later calls too
