"""The Layer protocol: add_weight, Keras' weights order and layout, training, masks, losses."""

import numpy as np
import pytest
import torch

import danlu
from danlu import constraints, layers
from tests.oracle import keras


class Scale(layers.Layer):
    def build(self, input_shape):
        self.alpha = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="alpha")
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")

    def call(self, inputs, training=None):
        self.seen_training = training
        return inputs * self.alpha


def test_add_weight_keras_signature_names_and_variables():
    layer = Scale()
    layer(torch.ones(2, 3))
    assert isinstance(layer.alpha, danlu.Variable) and layer.alpha.name == "alpha" and layer.alpha.path == f"{layer.name}/alpha"
    assert layer.alpha.requires_grad and not layer.count.requires_grad
    assert [w.name for w in layer.weights] == ["alpha", "count"]
    assert layer.trainable_weights == [layer.alpha] and layer.non_trainable_weights == [layer.count]
    auto = layers.Layer()
    first, second = auto.add_weight((2,)), auto.add_weight((2,))
    assert (first.name, second.name) == ("variable", "variable_1")
    legacy = auto.add_weight("kernel", (3, 2), "zeros")
    assert legacy.name == "kernel" and torch.equal(legacy, torch.zeros(3, 2))
    with pytest.raises(ValueError, match="already has a weight named 'kernel'"):
        auto.add_weight(shape=(1,), name="kernel")


def test_training_argument_follows_mode_and_keras_calls():
    layer = Scale()
    x = torch.ones(1, 2)
    layer(x)
    assert layer.seen_training is False  # created in inference mode: a direct call is inference
    layer(x, training=True)
    assert layer.seen_training is True and layer.training is False  # for that call only
    layer.train()
    layer(x)
    assert layer.seen_training is True


def test_dropout_inside_a_model_sees_fit_training_and_inference_elsewhere():
    seen = []

    class Recorder(layers.Layer):
        def call(self, inputs, training=None):
            seen.append(training)
            return inputs

    model = danlu.Sequential([layers.Dense(2), Recorder()])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    seen.clear()
    model.fit(x, y, batch_size=4, verbose=0)
    assert True in seen
    seen.clear()
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    model(torch.as_tensor(x))
    assert seen and not any(seen)


def test_trainable_toggle_keeps_non_trainable_weights_fixed():
    layer = Scale()
    layer(torch.ones(1, 2))
    layer.trainable = False
    assert layer.trainable_weights == [] and not layer.alpha.requires_grad
    layer.trainable = True
    assert layer.alpha.requires_grad and not layer.count.requires_grad


def test_add_loss_terms_are_per_call():
    class Penalized(layers.Layer):
        def call(self, inputs):
            self.add_loss(inputs.sum())
            return inputs

    layer = Penalized()
    for _ in range(3):
        layer(torch.ones(2))
    assert len(layer.losses) == 1
    model = danlu.Sequential([Penalized(), Penalized()])
    model(torch.ones(2))
    model(torch.ones(2))
    assert len(model.losses) == 2


def test_set_weights_checks_everything_before_changing_anything():
    model = danlu.Sequential([danlu.Input((3,)), layers.Dense(2), layers.Dense(1)])
    before = [w.detach().clone() for w in model.weights]
    arrays = model.get_weights()
    assert [a.shape for a in arrays] == [(3, 2), (2,), (2, 1), (1,)]
    bad = [a + 1 for a in arrays[:-1]] + [np.zeros((2,))]
    with pytest.raises(ValueError, match=r"weight 3 has shape \(2,\); expected \(1,\)"):
        model.set_weights(bad)
    with pytest.raises(ValueError, match="received 3 arrays; the layer has 4 weights"):
        model.set_weights(arrays[:3])
    assert all(torch.equal(a, b) for a, b in zip(before, model.weights))
    model.set_weights([a + 1 for a in arrays])
    assert np.allclose(model.get_weights()[0], arrays[0] + 1)
    assert model.count_params() == 3 * 2 + 2 + 2 + 1


def test_plain_torch_modules_report_their_tensors_as_they_are():
    bn = torch.nn.BatchNorm1d(3)
    model = danlu.Sequential([danlu.Input((4,)), layers.Dense(3), bn])
    shapes = [a.shape for a in model.get_weights()]
    assert shapes == [(4, 3), (3,), (3,), (3,), (3,), (3,), ()]  # weight, bias, running stats, count


def test_constraints_apply_after_each_update_in_keras_layout():
    dense = layers.Dense(2, kernel_constraint=constraints.MaxNorm(0.5), input_shape=(3,))
    opt = danlu.optimizers.SGD(dense.parameters(), learning_rate=10.0)
    (dense(torch.ones(4, 3)) ** 2).sum().backward()
    opt.step()
    norms = np.linalg.norm(dense.get_weights()[0], axis=0)  # Keras' axis 0 of the (in, out) kernel
    assert (norms <= 0.5 + 1e-6).all()


@pytest.mark.oracle
def test_keras_weights_bring_dense_conv_and_batchnorm_models_over():
    k = keras()
    km = k.Sequential([
        k.Input((6, 6, 2)), k.layers.Conv2D(3, 3, padding="same"), k.layers.BatchNormalization(),
        k.layers.Flatten(), k.layers.Dense(4),
    ])
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=w.shape).astype("float32") for w in km.get_weights()]
    weights[3] = np.abs(weights[3]) + 0.5  # a positive moving variance
    km.set_weights(weights)
    model = danlu.Sequential([
        danlu.Input((2, 6, 6)), layers.Conv2D(3, 3, padding="same"), layers.BatchNormalization(),
        layers.Permute((2, 3, 1)) if hasattr(layers, "Permute") else layers.Lambda(lambda t: t.permute(0, 2, 3, 1)),
        layers.Flatten(), layers.Dense(4),
    ])
    model.set_weights(km.get_weights())
    x = rng.normal(size=(5, 6, 6, 2)).astype("float32")
    ours = model(torch.as_tensor(x).permute(0, 3, 1, 2)).detach().numpy()
    np.testing.assert_allclose(ours, km(x, training=False).detach().numpy(), rtol=1e-5, atol=1e-5)
    for a, b in zip(model.get_weights(), km.get_weights()):
        np.testing.assert_array_equal(a, b)
