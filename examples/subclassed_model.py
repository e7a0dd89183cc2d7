"""A model subclass in Keras style: weights created in build(input_shape) from the first
input, the computation in call(inputs), regularization through add_loss."""

import numpy as np
import torch

import danlu
from danlu import layers


class ResidualRegressor(danlu.Model):
    def __init__(self, hidden=32):
        super().__init__()
        self.hidden = layers.Dense(hidden, activation="relu", kernel_regularizer=danlu.regularizers.L2(1e-4))
        self.out = layers.Dense(1)

    def build(self, input_shape):
        # a learned skip connection, sized by the first input
        self.skip = self.add_weight("skip", (input_shape[-1], 1), initializer="zeros")

    def call(self, inputs):
        self.add_loss(1e-4 * self.skip.square().sum())
        return self.out(self.hidden(inputs)) + inputs @ self.skip


def main(epochs=40, seed=0):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1000, 5)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0], [3.0]], "float32") + np.sin(x[:, :1])).astype("float32")
    model = ResidualRegressor()
    model.compile(optimizer=danlu.optimizers.Adam(1e-2), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=32, epochs=epochs, validation_split=0.2, verbose=0)
    model.summary()
    print(f"validation mse {history.history['val_loss'][-1]:.4f}, mae {history.history['val_mae'][-1]:.4f}")
    return history.history["val_loss"][-1]


if __name__ == "__main__":
    main()
