"""The "FakeModel" from the tf.keras optimizer docs, through compile / fit: a model whose only
weight is x, trained with a custom loss to minimize f(x) = x^2 - 2x + 1 (minimum at x = 1)."""

import numpy as np
import torch

import danlu


class FakeModel(danlu.Model):
    def build(self, input_shape):
        self.x = self.add_weight("x", (), initializer="zeros")

    def call(self, inputs):
        return self.x * torch.ones(inputs.shape[0], 1)


def quadratic(y_true, y_pred):
    """The loss ignores the labels: it is f at the model's output."""
    return (y_pred**2 - 2 * y_pred + 1).mean(dim=-1)


def main(epochs=60):
    model = FakeModel()
    model.compile(optimizer=danlu.optimizers.SGD(learning_rate=0.1), loss=quadratic)
    dummy_x, dummy_y = np.zeros((8, 1), "float32"), np.zeros((8, 1), "float32")
    model.fit(dummy_x, dummy_y, batch_size=8, epochs=epochs, verbose=0)
    print(f"x = {model.x.item():.6f} (the minimum is at 1)")
    return model.x.item()


if __name__ == "__main__":
    main()
