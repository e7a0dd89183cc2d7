"""Keras' "Customizing what happens in fit() (PyTorch)" guide, with only the imports changed:
a Model subclass with its own train_step, built with the functional API, trained by fit.

    import keras            ->  import danlu as keras (and `from danlu import layers`)
"""

import numpy as np
import torch

import danlu as keras
from danlu import layers


class CustomModel(keras.Model):
    def train_step(self, data):
        # Unpack the data. Its structure depends on your model and on what you pass to fit().
        x, y = data
        # Call torch.nn.Module.zero_grad() to clear the leftover gradients for the weights.
        self.zero_grad()
        # Compute the loss
        y_pred = self(x, training=True)  # Forward pass
        loss = self.compute_loss(y=y, y_pred=y_pred)
        # Call torch.Tensor.backward() on the loss to compute gradients for the weights.
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        # Update weights
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        # Update metrics (includes the metric that tracks the loss)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        # Return a dict mapping metric names to current value.
        # Note that it will include the loss (tracked in self.metrics).
        return {m.name: m.result() for m in self.metrics}


def main(epochs=3, seed=0):
    keras.utils.set_random_seed(seed)
    # Construct and compile an instance of CustomModel
    inputs = keras.Input(shape=(32,))
    outputs = layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    # Just use `fit` as usual
    x = np.random.random((1000, 32))
    y = np.random.random((1000, 1))
    history = model.fit(x, y, epochs=epochs)
    return history.history


if __name__ == "__main__":
    main()
