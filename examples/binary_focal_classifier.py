"""A binary classifier on imbalanced data trained with Keras' focal loss
(BinaryFocalCrossentropy, alpha 0.75 / gamma 2.0 with class balancing)."""

import numpy as np

import danlu
from danlu import layers


def main(epochs=20, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2000, 10)).astype("float32")
    score = x[:, 0] + 0.5 * x[:, 1] - 1.5  # about 10% positives
    y = (score + 0.3 * rng.normal(size=2000) > 0).astype("float32")[:, None]

    model = danlu.Sequential([layers.Dense(32, activation="relu"), layers.Dense(1, activation="sigmoid")])
    model.compile(
        optimizer=danlu.optimizers.Adam(1e-2),
        loss=danlu.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.75, gamma=2.0),
        metrics=["acc", danlu.metrics.AUC(name="auc")],
    )
    history = model.fit(x, y, batch_size=64, epochs=epochs, validation_split=0.2, verbose=2)
    print(f"positives: {y.mean():.2%}, validation AUC: {history.history['val_auc'][-1]:.3f}")
    return history.history["val_auc"][-1]


if __name__ == "__main__":
    main()
