"""The classic tf.keras first program in danlu form: a Sequential Dense classifier trained
with SparseCategoricalCrossentropy(from_logits=True) and metrics=["acc"], on the 8x8 digits."""

import numpy as np

import danlu
from danlu import layers
from danlu.datasets import load_digits


def main(epochs=10):
    images, labels = load_digits()
    x = images.reshape(len(images), -1).astype("float32") / 16.0
    y = labels.astype("int64")
    x_train, y_train, x_test, y_test = x[:1500], y[:1500], x[1500:], y[1500:]

    model = danlu.Sequential([
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10),
    ])
    model.compile(
        optimizer="adam",
        loss=danlu.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["acc"],
    )
    model.fit(x_train, y_train, epochs=epochs, verbose=2)
    loss, acc = model.evaluate(x_test, y_test, verbose=2)
    probabilities = np.exp(model.predict(x_test[:3], verbose=0))
    print("first predictions:", probabilities.argmax(axis=1), "labels:", y_test[:3])
    return acc


if __name__ == "__main__":
    main()
