"""`danlu.Variable`: a torch Parameter with Keras' variable API."""

import copy
import pickle

import numpy as np
import pytest
import torch

from danlu._variables import Variable


def test_keras_methods_change_the_value_in_place():
    v = Variable([1.0, 2.0], name="kernel")
    assert v.dtype == torch.float32 and v.requires_grad and v.trainable
    assert v.assign([3.0, 4.0]) is v
    v.assign_add(np.array([1.0, 1.0]))
    v.assign_sub(torch.tensor([0.5, 0.5]))
    np.testing.assert_array_equal(v.numpy(), [3.5, 4.5])
    assert v.value is v and v.name == "kernel"


def test_it_is_a_parameter_for_autograd_and_modules():
    v = Variable(torch.ones(3))
    (v * 2).sum().backward()
    assert torch.equal(v.grad, torch.full((3,), 2.0))
    module = torch.nn.Module()
    module.register_parameter("w", v)
    module.to(torch.float64)
    assert module.w is v and v.dtype == torch.float64
    assert type(v + 1) is torch.Tensor  # operations give plain tensors


def test_integer_variables_are_not_trainable_and_trainable_toggles_grad():
    assert not Variable(torch.tensor(3)).requires_grad
    v = Variable([1.0])
    v.trainable = False
    assert not v.requires_grad


def test_copies_and_pickles_keep_class_and_name():
    v = Variable([1.0, 2.0], name="bias", aggregation="sum")
    for copied in (copy.deepcopy(v), pickle.loads(pickle.dumps(v))):
        assert type(copied) is Variable and copied.name == "bias" and copied.aggregation == "sum"
        assert torch.equal(copied, v) and copied is not v


def test_bad_assignments_and_aggregations_raise():
    v = Variable([1.0, 2.0], name="w")
    with pytest.raises(ValueError, match="shape"):
        v.assign([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="aggregation"):
        Variable([1.0], aggregation="average")
