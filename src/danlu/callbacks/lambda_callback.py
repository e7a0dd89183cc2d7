"""`LambdaCallback`: a callback from plain functions."""

from __future__ import annotations

from danlu.callbacks.base import Callback


class LambdaCallback(Callback):
    """Keras' ``LambdaCallback``: ``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)``,
    ``on_train_begin(logs)``, ``on_train_end(logs)``, ``on_train_batch_begin(batch, logs)``,
    ``on_train_batch_end(batch, logs)`` (and any other hook, by its name) as functions."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **other_hooks):
        super().__init__()
        hooks = dict(
            on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
            on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
            on_train_batch_end=on_train_batch_end, **other_hooks,
        )
        # A class of its own, so that only the hooks given count as overridden.
        overrides = {name: _as_method(fn) for name, fn in hooks.items() if fn is not None}
        unknown = [name for name in overrides if not hasattr(Callback, name)]
        if unknown:
            raise TypeError(f"LambdaCallback got unknown hook(s): {', '.join(unknown)}.")
        self.__class__ = type("LambdaCallback", (LambdaCallback,), overrides)


def _as_method(fn):
    def method(self, *args):
        return fn(*args)

    return method
