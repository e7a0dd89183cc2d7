"""danlu: the Keras way to train native PyTorch models.

Keras 3 numerics (losses, optimizers, schedules) on ``torch.nn.Module``s, at the speed of a
hand-written PyTorch loop. Public names are re-exported flat: ``danlu.losses.Huber``,
``danlu.optimizers.Adam``.
"""

__version__ = "0.1.0"

from danlu import losses, optimizers  # noqa: E402

__all__ = ["__version__", "losses", "optimizers"]
