"""Keras' model protocols: train_step returning logs, the metrics property, compile without
a loss, tf.keras 2's compiled_loss / compiled_metrics, and the callback hooks."""

import numpy as np
import pytest
import torch

import danlu
from danlu import callbacks, layers, losses, metrics, optimizers


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x.sum(axis=1, keepdims=True) > 0).astype("float32")


class GAN(danlu.Model):
    """A toy GAN written as the Keras guide writes it: its own step, trackers and metrics."""

    def __init__(self):
        super().__init__()
        self.generator = danlu.Sequential([layers.Dense(4, input_shape=(2,))])
        self.discriminator = danlu.Sequential([layers.Dense(1, input_shape=(4,))])
        self.d_loss_tracker = metrics.Mean(name="d_loss")
        self.g_loss_tracker = metrics.Mean(name="g_loss")

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def train_step(self, data):
        real = data[0] if isinstance(data, tuple) else data
        batch = real.shape[0]
        fake = self.generator(torch.randn(batch, 2))
        both = torch.cat([fake.detach(), real])
        labels = torch.cat([torch.ones(batch, 1), torch.zeros(batch, 1)])
        d_loss = self.loss_fn(labels, self.discriminator(both))
        grads = torch.autograd.grad(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        g_loss = self.loss_fn(torch.zeros(batch, 1), self.discriminator(self.generator(torch.randn(batch, 2))))
        grads = torch.autograd.grad(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def test_a_gan_with_its_own_train_step_logs_its_own_losses_reset_each_epoch():
    torch.manual_seed(0)
    gan = GAN()
    gan.compile(optimizers.Adam(1e-3), optimizers.Adam(1e-3), losses.BinaryCrossentropy(from_logits=True))
    seen = []
    history = gan.fit(data()[0], batch_size=16, epochs=2, verbose=0,
                      callbacks=[callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(dict(logs)))])
    assert list(history.history) == ["d_loss", "g_loss"]
    assert seen[0].keys() == {"d_loss", "g_loss"} and isinstance(seen[0]["d_loss"], float)
    # reset each epoch: the second epoch's first batch is a mean over one batch again
    assert int(gan.d_loss_tracker.count) == 4 or float(gan.d_loss_tracker.count) == 4.0


def test_compile_without_a_loss_when_the_model_adds_its_own():
    class Autoencoder(danlu.Model):
        def __init__(self):
            super().__init__()
            self.net = layers.Dense(4)

        def call(self, x):
            out = self.net(x)
            self.add_loss(((out - x) ** 2).mean())
            return out

    model = Autoencoder()
    model.compile(optimizer=optimizers.SGD(0.1))
    x, _ = data()
    history = model.fit(x, epochs=5, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert list(history.history) == ["loss"]


def test_fit_without_y_needs_a_loss_that_needs_no_targets():
    model = danlu.Sequential([layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="compiled with a loss, but the data has no targets"):
        model.fit(data()[0], verbose=0)


def test_tf_keras_2_custom_train_step_with_compiled_loss_and_metrics():
    class Classic(danlu.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            x, y = data
            y_pred = self(x, training=True)
            loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.compiled_metrics.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    torch.manual_seed(0)
    model = Classic()
    model.compile(optimizer=optimizers.Adam(0.05), loss=losses.BinaryCrossentropy(from_logits=True), metrics=["acc"])
    x, y = data(256)
    history = model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    assert list(history.history) == ["acc", "loss"]
    assert history.history["loss"][-1] < history.history["loss"][0] and history.history["acc"][-1] > 0.8


def test_a_model_without_trainable_weights_can_fit():
    model = danlu.Sequential([layers.Lambda(lambda t: t * 2)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(*data(), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def record(name):  # noqa: N805
        def hook(self, *args):
            logs = args[-1]
            assert isinstance(logs, dict) or hasattr(logs, "keys"), (name, logs)
            self.calls.append(name)

        return hook

    for _name in (
        "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
        "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
        "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
    ):
        locals()[_name] = record(_name)
    del _name, record


def test_every_hook_is_called_with_dict_logs():
    model = danlu.Sequential([layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = data(32)
    recorder = Recorder()
    model.fit(x, y, batch_size=16, epochs=1, validation_data=(x, y), callbacks=[recorder], verbose=0)
    model.evaluate(x, y, batch_size=16, callbacks=[recorder], verbose=0)
    model.predict(x, batch_size=16, callbacks=[recorder], verbose=0)
    for hook in ("on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
                 "on_test_batch_end", "on_test_end", "on_epoch_end", "on_train_end", "on_predict_begin",
                 "on_predict_batch_begin", "on_predict_batch_end", "on_predict_end"):
        assert hook in recorder.calls, hook
    assert recorder.calls.count("on_train_batch_end") == 2


def test_tf_keras_batch_hook_aliases():
    seen = []

    class Old(callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append((batch, logs["loss"]))

    model = danlu.Sequential([layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(*data(32), batch_size=16, epochs=1, callbacks=[Old()], verbose=0)
    assert [b for b, _ in seen] == [0, 1] and all(isinstance(v, float) for _, v in seen)


def test_evaluate_lists_values_in_keras_order():
    a = danlu.Input((4,))
    h = layers.Dense(8)(a)
    model = danlu.Model(a, [layers.Dense(1, name="score")(h), layers.Dense(3, name="label")(h)])
    model.compile("adam", loss=["mse", losses.SparseCategoricalCrossentropy(from_logits=True)],
                  metrics=[["mae"], ["acc"]], loss_weights=[1.0, 0.5])
    x = np.random.rand(16, 4).astype("float32")
    y = [np.random.rand(16, 1).astype("float32"), np.random.randint(0, 3, 16)]
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(logs) == ["label_acc", "label_loss", "loss", "score_loss", "score_mae"]
    values = model.evaluate(x, y, verbose=0)
    assert values == [logs[k] for k in ("loss", "score_loss", "label_loss", "label_acc", "score_mae")]
