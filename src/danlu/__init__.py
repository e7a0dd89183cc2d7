"""danlu: the Keras way to train native PyTorch models.

Keras 3 numerics (losses, optimizers, schedules) and training API (``compile`` / ``fit``)
on ``torch.nn.Module``s, at the speed of a hand-written PyTorch loop. Public names are
re-exported flat: ``danlu.losses.Huber``, ``danlu.optimizers.Adam``, ``danlu.layers.Dense``.
"""

__version__ = "0.1.0"

from danlu import (  # noqa: E402
    activations,
    callbacks,
    constraints,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    optimizers,
    regularizers,
    utils,
)
from danlu._variables import Variable  # noqa: E402
from danlu.layers import Input, KerasTensor  # noqa: E402
from danlu.models import Model, Sequential  # noqa: E402
from danlu.optimizers import schedules as _schedules  # noqa: E402
from danlu.saving import serialization as _serialization  # noqa: E402

# Each family's classes (and functions) are registered under the module users import them
# from, so that configs name them without ambiguity ("danlu.losses" vs "danlu.metrics").
for _module in (initializers, regularizers, constraints, mixed_precision, losses, metrics, optimizers, _schedules, layers, models):
    _serialization.register_module(_module.__name__, {
        name: value for name, value in vars(_module).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("danlu.")
    })
_serialization.register_functions(activations.ACTIVATIONS)
_serialization.register_functions(activations.TORCH_ALIASES)
_serialization.register_functions({fn.__name__: fn for fn in losses.LOSS_FUNCTIONS})


def plot_history(history, path=None):
    """Draw a `History`'s loss and metrics (training against validation), one panel each;
    save to ``path`` when given (needs matplotlib: ``pip install 'danlu[plot]'``)."""
    return history.plot(path)


__all__ = [
    "Input", "KerasTensor", "Model", "Sequential", "Variable", "__version__", "activations", "callbacks", "constraints",
    "datasets", "initializers", "layers", "losses", "metrics", "mixed_precision", "models", "optimizers", "plot_history",
    "regularizers", "utils",
]
