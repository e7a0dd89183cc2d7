"""A custom training loop, tf.keras style: autograd computes the gradients, the optimizer's
apply_gradients applies them, metrics accumulate on the device."""

import torch

import danlu
from danlu import layers


def main(epochs=5, seed=0):
    torch.manual_seed(seed)
    x = torch.randn(512, 20)
    y = (x[:, :5].sum(dim=1) > 0).long()
    model = danlu.Sequential([layers.Dense(32, activation="relu"), layers.Dense(2)])
    loss_fn = danlu.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = danlu.optimizers.Adam(learning_rate=1e-2)
    accuracy = danlu.metrics.SparseCategoricalAccuracy()
    for epoch in range(epochs):
        accuracy.reset_state()
        for start in range(0, len(x), 64):
            xb, yb = x[start : start + 64], y[start : start + 64]
            logits = model(xb)
            loss = loss_fn(yb, logits)
            grads = torch.autograd.grad(loss, list(model.parameters()))
            optimizer.apply_gradients(zip(grads, model.parameters()))
            accuracy.update_state(yb, logits)
        print(f"epoch {epoch + 1}: loss {float(loss):.4f}, accuracy {float(accuracy.result()):.4f}")
    return float(accuracy.result())


if __name__ == "__main__":
    main()
