"""The `Callback` base (Keras' hooks) and `CallbackList`, which calls them in order."""

from __future__ import annotations

HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
    "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
    "on_predict_batch_begin", "on_predict_batch_end",
)


class Callback:
    """Base class for callbacks: override any of Keras' hooks.

    ``self.model`` is the model being trained, ``self.params`` holds ``verbose``, ``epochs``
    and ``steps``. ``logs`` is always a dict: epoch and test-end logs hold Python floats
    (keys sorted, as Keras); batch logs are read lazily (a value is computed, and read from
    the device, only when a callback asks for it); ``on_predict_batch_end`` gets
    ``{"outputs": ...}``. tf.keras 2's ``on_batch_begin`` / ``on_batch_end`` are the
    training-batch hooks.

    A callback with state that a resumed run needs (counters, a best value) exposes it with
    ``get_state() -> dict`` and ``set_state(state)``; `BackupAndRestore` saves the states of
    every callback of the run (numbers, strings, lists, dicts and tensors) and restores them
    after ``on_train_begin``. The built-in callbacks all do.

    A complete callback::

        class StopAtLoss(Callback):
            def __init__(self, target):
                super().__init__()
                self.target = target

            def on_epoch_end(self, epoch, logs=None):
                if logs["loss"] < self.target:
                    self.model.stop_training = True
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def get_state(self):
        """The state a resumed run needs (None: this callback has none)."""
        return None

    def set_state(self, state):
        """Restore what `get_state` returned."""

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)  # tf.keras 2's name

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


class CallbackList:
    """Calls each hook on every callback, skipping callbacks that do not override it (so an
    unused batch hook costs nothing per step)."""

    def __init__(self, callbacks=None, model=None, deferred=None, **params):
        self.callbacks = list(callbacks or [])
        #: Actions queued during a hook, run once every callback has handled it (``fit``
        #: passes its trainer's queue: see ``Trainer.defer``).
        self.deferred = [] if deferred is None else deferred
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks must be danlu.callbacks.Callback instances; received {callback!r}.")
        self._overrides = {hook: [c for c in self.callbacks if _overrides(c, hook)] for hook in HOOKS}
        if model is not None:
            self.set_model(model)
        self.set_params(params)

    def append(self, callback):
        self.__init__([*self.callbacks, callback], self.model if hasattr(self, "model") else None, self.deferred,
                      **getattr(self, "params", {}))

    def set_model(self, model):
        self.model = model
        for callback in self.callbacks:
            callback.set_model(model)

    def set_params(self, params):
        self.params = params
        for callback in self.callbacks:
            callback.set_params(params)

    def has(self, hook) -> bool:
        return bool(self._overrides[hook])

    def call(self, hook, *args):
        for callback in self._overrides[hook]:
            getattr(callback, hook)(*args)
        deferred = self.deferred
        while deferred:
            deferred.pop(0)()

    def __iter__(self):
        return iter(self.callbacks)


_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def _overrides(callback, hook) -> bool:
    """Whether ``callback`` does something in ``hook`` (directly or through its tf.keras
    alias), so that hooks nobody uses cost nothing per step."""
    cls = type(callback)
    if getattr(cls, hook) is not getattr(Callback, hook):
        return True
    alias = _ALIASES.get(hook)
    return alias is not None and getattr(cls, alias) is not getattr(Callback, alias)
