"""danlu: the Keras way to train native PyTorch models.

Keras 3 numerics (losses, optimizers, schedules) and training API (``compile`` / ``fit``)
on ``torch.nn.Module``s, at the speed of a hand-written PyTorch loop. Public names are
re-exported flat: ``danlu.losses.Huber``, ``danlu.optimizers.Adam``, ``danlu.layers.Dense``.
"""

__version__ = "0.1.0"

from danlu import (  # noqa: E402
    activations,
    callbacks,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    regularizers,
)
from danlu.models import Model, Sequential  # noqa: E402


def plot_history(history, path=None):
    """Draw a `History`'s loss and metrics (training against validation), one panel each;
    save to ``path`` when given (needs matplotlib: ``pip install 'danlu[plot]'``)."""
    return history.plot(path)


__all__ = [
    "Model", "Sequential", "__version__", "activations", "callbacks", "initializers", "layers", "losses",
    "metrics", "models", "optimizers", "plot_history", "regularizers",
]
