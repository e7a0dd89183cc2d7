"""`Model`: a ``torch.nn.Module`` with Keras' training API.

Subclass it (define ``forward``, or Keras-style ``call``, with an optional
``build(input_shape)`` run once on the first input), or wrap any module:
``danlu.Model(my_module)``. ``compile`` sets up the optimizer, loss and metrics; ``fit``,
``evaluate`` and ``predict`` run the loops in `danlu.trainer`; the per-batch work is
``train_step`` / ``test_step`` / ``predict_step``, which a subclass may replace.
"""

from __future__ import annotations

import torch

from danlu.distribute import scope as distribute_scope
from danlu.layers import symbolic
from danlu.layers.base import Layer
from danlu.saving import serialization
from danlu.saving import weights as weights_io
from danlu.trainer import loop
from danlu.trainer.data import InputSpec, adapt, class_weights_to_sample_weights, flatten, map_structure, num_samples, to_tensor, unpack
from danlu.trainer.strategy import SingleProcess
from danlu.trainer.trainer import Trainer


class Model(Layer):
    """A Keras model on PyTorch. See the module docstring; the training API:

    - ``compile(optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
      weighted_metrics=None, run_eagerly=False, steps_per_execution=1, jit_compile=False,
      device=None)``
    - ``fit(x, y, batch_size=32, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
      validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
      initial_epoch=0, steps_per_epoch=None, validation_steps=None, validation_batch_size=None,
      validation_freq=1)`` -> `History`
    - ``evaluate(...)``, ``predict(...)``, ``train_on_batch``, ``test_on_batch``,
      ``predict_on_batch``, ``summary()``, ``save_weights`` / ``load_weights``.

    The objective is the compiled loss plus `losses` (weight regularizers, activity
    regularizers and ``add_loss`` terms).
    """

    def __new__(cls, *args, **kwargs):
        # Keras: Model(inputs, outputs) is a functional model, and so is a subclass of Model
        # made with inputs and outputs (its own train_step and methods kept).
        if _functional_arguments(args, kwargs) and not getattr(cls, "_builds_its_own_graph", False):
            return super().__new__(_functional_class(cls))
        return super().__new__(cls)

    def __init__(self, module: torch.nn.Module | None = None, name=None, **kwargs):
        if _functional_arguments((module,), kwargs) and not getattr(self, "_functional_init", False) and not getattr(
            type(self), "_builds_its_own_graph", False
        ):
            # A subclass whose __init__ calls super().__init__(inputs, outputs): become functional.
            from danlu.models.functional import Functional

            self.__class__ = _functional_class(type(self))
            self._functional_init = True
            return Functional.__init__(self, module, name=name, **kwargs) if module is not None else Functional.__init__(self, name=name, **kwargs)
        super().__init__(name=name, **kwargs)
        if module is not None and not isinstance(module, torch.nn.Module):
            raise TypeError(f"Model wraps a torch.nn.Module; received {type(module).__name__}.")
        self.module = module
        self._trainer = None
        self._layer_cache = None
        self.stop_training = False
        self.history = None
        #: One sample of the inputs the model was built on (``summary`` and TensorBoard's
        #: graph run it); set by the first ``fit`` / ``evaluate`` / ``predict`` batch.
        self.example_input = None

    def forward(self, *args, **kwargs):
        if self.module is not None:
            return self.module(*args, **kwargs)
        if type(self).call is Layer.call:
            raise NotImplementedError(f"{type(self).__name__} must define forward (or call), or wrap a module.")
        return self.call(*args, **kwargs)

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        """A model from its config; a functional config (``layers`` with ``input_layers``)
        rebuilds the graph with new layers."""
        if cls is Model and "input_layers" in config and "layers" in config:
            from danlu.models.functional import Functional

            return Functional.from_config(config, custom_objects)
        return cls(**config)

    # --- Layers -------------------------------------------------------------------------------

    def get_layer(self, name=None, index=None):
        """A layer by ``name`` or by ``index`` in `layers` (Keras)."""
        children = list(self.layers) if isinstance(getattr(self, "layers", None), torch.nn.ModuleList) else [
            m for m in self.children() if isinstance(m, Layer)
        ]
        if (name is None) == (index is None):
            raise ValueError("get_layer takes a name or an index (one of them).")
        if index is not None:
            if not isinstance(index, int) or not -len(children) <= index < len(children):
                raise ValueError(f"get_layer(index={index!r}): the model has {len(children)} layers.")
            return children[index]
        for layer in children:
            if getattr(layer, "name", None) == name:
                return layer
        names = [getattr(layer, "name", "") for layer in children]
        from danlu._identifiers import closest_name_hint

        raise ValueError(f"No layer named {name!r} in model {self.name!r}.{closest_name_hint(name, names)} Layers: {names}.")

    # --- Losses -------------------------------------------------------------------------------

    def _layers(self):
        """The danlu layers inside (cached once every one of them is built: layers may create
        sublayers in ``build``)."""
        cache = self._layer_cache
        if cache is None:
            cache = [m for m in self.modules() if isinstance(m, Layer)]
            if all(layer.built for layer in cache if layer is not self):
                self._layer_cache = cache
                self._regularized = [m for m in cache if m._weight_regularizers]
        return cache

    @property
    def losses(self) -> list[torch.Tensor]:
        """Regularization penalties and ``add_loss`` terms of every danlu layer inside."""
        layers = self._layers()
        regularized = self._regularized if self._layer_cache is not None else [m for m in layers if m._weight_regularizers]
        penalties = [regularizer(getattr(layer, name)) for layer in regularized for name, regularizer in layer._weight_regularizers]
        return penalties + [loss for layer in layers if layer._call_losses for loss in layer._call_losses]

    # --- compile / fit / evaluate / predict -----------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile=False, device=None):
        """Set up training. ``optimizer``: a name, an optimizer (danlu or ``torch.optim``) or a
        config; ``loss``: a name, a loss, a function, or a list / dict per output;
        ``metrics``: names ("acc" resolves by the labels' shape), metrics or functions.
        ``run_eagerly`` is accepted for compatibility (PyTorch always runs eagerly);
        ``jit_compile=True`` compiles the train step with ``torch.compile`` (see
        `danlu.trainer.compiled`; ``"auto"``: on CUDA for large models); ``device``:
        where to train (default: the ``DANLU_DEVICE`` environment variable if set, else
        where the weights are, else CUDA, MPS, CPU). Inside a `danlu.distribute` strategy's
        scope the model trains with that strategy (it must have been created there)."""
        # --- strategy plumbing: the strategy whose scope is open (or the model was made in) ---
        strategy = distribute_scope.strategy_for_compile(self)
        self._trainer = Trainer(
            self, optimizer, loss, loss_weights, metrics, weighted_metrics, steps_per_execution, jit_compile, device,
            strategy=strategy,
        )
        self.run_eagerly = run_eagerly
        self._layer_cache = None

    def _require_compiled(self, method):
        if self._trainer is None:
            raise ValueError(f"Call compile() before {method}(): the model needs an optimizer and a loss.")
        return self._trainer

    @property
    def trainer(self) -> Trainer | None:
        """The compiled training run (None before ``compile``): its optimizer in danlu's
        interface, metrics, device, progress, and ``state_dict()`` / ``load_state_dict()``
        of the whole run (what BackupAndRestore saves)."""
        return self._trainer

    @property
    def optimizer(self):
        """The optimizer given to ``compile`` (the same object)."""
        return None if self._trainer is None else self._trainer.user_optimizer

    def get_compile_config(self) -> dict | None:
        """The arguments of ``compile`` as JSON-able configs (Keras 3), or None before
        ``compile``; `compile_from_config` is its inverse. Raises ``ValueError`` naming
        what cannot be saved (e.g. a plain function as a loss)."""
        if self._trainer is None:
            return None
        arguments = {**self._trainer.compile_arguments, "optimizer": self._trainer.optimizer}
        return {
            name: serialization.serialize(arguments[name], name)
            for name in ("optimizer", "loss", "loss_weights", "metrics", "weighted_metrics", "steps_per_execution", "jit_compile")
        }

    def compile_from_config(self, config: dict, custom_objects=None) -> None:
        """``compile`` with the arguments `get_compile_config` returned."""
        def load(name, module=None):
            return serialization.deserialize(config.get(name), custom_objects, module)

        self.compile(
            optimizer=load("optimizer", "danlu.optimizers") or "rmsprop", loss=load("loss", "danlu.losses"),
            loss_weights=config.get("loss_weights"), metrics=load("metrics", "danlu.metrics"),
            weighted_metrics=load("weighted_metrics", "danlu.metrics"),
            steps_per_execution=config.get("steps_per_execution", 1), jit_compile=config.get("jit_compile", False),
        )

    @property
    def metrics(self):
        """The metrics the logs show (Keras' order): the loss tracker, the compiled metrics,
        each output's loss (several outputs), then metrics assigned as attributes of the
        model or its layers. Override it to log your own trackers (they are reset each epoch)."""
        compiled = [] if self._trainer is None else self._trainer.metrics
        # The layers from `_layers`' cache (no module walk per read); their metrics are read
        # live, so one assigned after compile shows at once.
        own = [m for layer in self._layers() for m in layer.__dict__.get("_tracked_metrics", ())]
        if not own:
            return compiled
        return compiled + [m for m in own if all(m is not c for c in compiled)]

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        """Reset every metric in `metrics` (done at the start of each epoch and evaluation)."""
        for metric in self.metrics:
            metric.reset_state()

    @property
    def output_names(self):
        """The names of the outputs, when the model knows them (functional models)."""
        return None

    def input_expectations(self):
        """What the inputs should be, where the model knows (``InputSpec(dtype, ndim)`` per
        input, or None): the trainer casts integer inputs of float inputs and adds a trailing
        axis to inputs one short of their rank, as Keras standardizes inputs."""
        return first_layer_expectation(self.module) if self.module is not None else None

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns a `History` (also ``model.history``)."""
        return loop.fit(
            self._require_compiled("fit"), x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
            shuffle, class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps, validation_batch_size,
            validation_freq,
        )

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """The loss and metrics over the data: a scalar (loss only), a list, or a dict."""
        return loop.evaluate(self._require_compiled("evaluate"), x, y, batch_size, verbose, sample_weight, steps, callbacks, return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs as numpy arrays, concatenated over batches (no compile needed)."""
        trainer = self._trainer or Trainer.for_inference(self, strategy=distribute_scope.strategy_of(self))
        return loop.predict(trainer, x, batch_size, verbose, steps, callbacks)

    # --- Steps ---------------------------------------------------------------------------------

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The objective (Keras 3): the compiled loss plus `losses` (regularization,
        ``add_loss``). Override it to change the objective and keep the rest of the step."""
        trainer = self._trainer
        loss = trainer.loss(y, y_pred, sample_weight) if trainer is not None and trainer.loss is not None and y is not None else None
        extra = self.losses
        if extra:
            penalty = sum(extra[1:], extra[0])
            loss = penalty if loss is None else loss + penalty
        if loss is None:
            if trainer is not None and trainer.loss is not None and y is None:
                raise ValueError("The model was compiled with a loss, but the data has no targets: pass y (or batches of (x, y)).")
            raise ValueError("There is no loss to minimize: compile(loss=...), add_loss() in the model, or override train_step.")
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update the compiled metrics (Keras 3) and return the logs: a mapping from each
        metric name to its value, read from the device only when looked up."""
        trainer = self._trainer
        if y is not None and trainer is not None:
            detached = y_pred.detach() if isinstance(y_pred, torch.Tensor) and y_pred.requires_grad else y_pred
            trainer.compiled_metrics.update(y, detached, sample_weight)
        return self.step_logs()

    def step_logs(self):
        """The logs a step returns: `metrics` read lazily (the same mapping for a whole loop)."""
        trainer = self._trainer
        if trainer is None:
            return {}
        if trainer.logs is None:
            trainer.logs = loop.LazyLogs(self.metrics)
        return trainer.logs

    def train_step(self, data):
        """One optimization step on a batch (``(x, y, sample_weight)``, or what the data
        yields), in a hand-written loop's order: forward in training mode, loss, zero_grad,
        backward (on the optimizer's scaled loss), update, metrics. Returns the logs; a
        replacement may return its own dict (a GAN's ``{"d_loss": ..., "g_loss": ...}``),
        which is then what is logged."""
        x, y, sample_weight = unpack(data)
        trainer = self._trainer
        y_pred = trainer.forward(x)
        loss = self.compute_loss(x, y, y_pred, sample_weight, training=True)
        trainer.loss_tracker.update(loss, _batch_size(x))
        if loss.requires_grad:  # a model without trainable weights has nothing to update
            trainer.optimizer.zero_grad(set_to_none=True)
            trainer.backward(loss)
            trainer.optimizer.step()
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data):
        """The loss and metrics of a batch, without updates; returns the logs."""
        x, y, sample_weight = _unpack_batch(data)
        y_pred = self(x)
        trainer = self._trainer
        if (trainer.loss is not None and y is not None) or self.losses:
            trainer.loss_tracker.update(self.compute_loss(x, y, y_pred, sample_weight, training=False), _batch_size(x))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data):
        """The model's outputs for a batch."""
        return self(_unpack_batch(data)[0])

    @property
    def compiled_loss(self):
        """tf.keras 2's ``self.compiled_loss(y, y_pred, sample_weight=None,
        regularization_losses=None)`` for custom ``train_step``s written for it: the compiled
        objective, also recorded in the "loss" metric."""
        return _CompiledLossView(self)

    @property
    def compiled_metrics(self):
        """tf.keras 2's ``self.compiled_metrics.update_state(y, y_pred, sample_weight=None)``."""
        return _CompiledMetricsView(self)

    # --- Single batches ------------------------------------------------------------------------

    def _single_batch(self, x, y, sample_weight, method):
        """All of ``x`` as one batch, on the training device, with the model prepared."""
        trainer = self._require_compiled(method)
        data = trainer.conform(adapt(x, y, sample_weight, batch_size=_num_samples(x), device=trainer.device))
        batch = next(data.batches())
        trainer.prepare(*unpack(batch), data=data)
        return trainer, trainer.move(batch)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False, *, reset_metrics=True):
        """One ``train_step`` on all of ``x`` as one batch; returns the loss and metrics of
        this batch alone, as Keras 3 (its torch trainer resets the metrics at the start of
        every call): a scalar when only the loss is logged, else a list in `metrics_names`
        order, or a dict with ``return_dict=True``. A custom ``train_step``'s own dict is
        what is returned.

        ``class_weight`` ``{class index: weight}`` becomes per-sample weights (one-hot labels
        by argmax, others rounded; classes not named weigh 1). Given together with
        ``sample_weight`` the two multiply (tf.keras 2; Keras 3 raises). ``reset_metrics``
        (keyword only, from tf.keras 2): False accumulates the metrics across calls."""
        if class_weight is not None:
            if y is None:
                raise ValueError("train_on_batch(class_weight=...) needs the labels y.")
            sample_weight = class_weights_to_sample_weights(class_weight, y, sample_weight)
        trainer, batch = self._single_batch(x, y, sample_weight, "train_on_batch")
        if reset_metrics:
            trainer.begin_loop()
        self.train()
        returned = self.train_step(batch)
        return self._batch_logs(trainer, returned, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False, *, reset_metrics=True):
        """One ``test_step`` on all of ``x`` as one batch: the loss and metrics of this batch
        alone (metrics reset first, as Keras 3); a scalar, a list or a dict as
        `train_on_batch`. ``reset_metrics=False`` (tf.keras 2) accumulates across calls."""
        trainer, batch = self._single_batch(x, y, sample_weight, "test_on_batch")
        if reset_metrics:
            trainer.begin_loop()
        self.eval()
        with torch.no_grad():
            returned = self.test_step(batch)
        return self._batch_logs(trainer, returned, return_dict)

    def predict_on_batch(self, x):
        self.eval()
        trainer = self._trainer or Trainer.for_inference(self)
        data = trainer.conform(adapt(x, batch_size=_num_samples(x), device=trainer.device))
        with torch.no_grad():
            return loop.concatenate_outputs([self.predict_step(trainer.move(next(data.batches())))])

    @staticmethod
    def _batch_logs(trainer, returned, return_dict):
        """The logs of a single-batch call as Python floats, sorted (Keras), in the form asked."""
        logs = loop.loop_logs(trainer.model, returned)
        return logs if return_dict else loop.ordered_values(trainer.model, logs)

    # --- Weights and summary -------------------------------------------------------------------

    def save_weights(self, filepath):
        """Write the weights (parameters and buffers) to ``filepath``, atomically, in danlu's
        safetensors-based format whatever the suffix (``.weights.h5`` from a Keras program
        works too). Under a `danlu.distribute` strategy every process calls it, rank 0 writes
        the full weights and every process returns once the file is complete."""
        self._require_built("save_weights")
        self._strategy().write_weights(self, filepath, weights_io.save_weights)

    def load_weights(self, filepath):
        """Load weights saved by `save_weights`; names and shapes are checked first and a
        mismatch changes nothing."""
        self._require_built("load_weights")
        self._strategy().read_weights(self, filepath, weights_io.load_weights)

    def _strategy(self):
        """The run's strategy (`danlu.trainer.strategy.SingleProcess` for one process)."""
        if self._trainer is not None:
            return self._trainer.strategy
        return distribute_scope.strategy_of(self) or SingleProcess()

    def save(self, filepath):
        """Write the architecture, weights, optimizer state and compile settings to one file
        (atomically, danlu's format whatever the suffix: ``.keras`` works);
        `danlu.models.load_model` restores a model that trains on exactly as this one would."""
        from danlu.models.model_io import save_model

        self._require_built("save")
        save_model(self, filepath)

    def _require_built(self, method):
        unbuilt = [m.name for m in self.modules() if isinstance(m, Layer) and not m.built and m is not self]
        if unbuilt:
            raise ValueError(
                f"{method}() needs a built model, but layer(s) {unbuilt} have not seen an input yet: "
                "call the model on a batch (or give the first layer input_shape=) first."
            )

    def summary(self, print_fn=None, show_trainable=False, **kwargs):
        """Print each layer with its output shape and parameter count, like Keras
        (``show_trainable=True`` adds a column saying which layers train)."""
        from danlu.models.summary import summary

        return summary(self, print_fn, show_trainable)


def _num_samples(x) -> int:
    return max(num_samples(map_structure(to_tensor, x), "x"), 1)


def _batch_size(x) -> int:
    if type(x) is torch.Tensor and x.ndim:
        return x.shape[0]
    if isinstance(x, torch.Tensor):
        return int(x.shape[0]) if x.ndim else 1
    leaves = flatten(x)
    return int(leaves[0].shape[0]) if leaves and leaves[0].ndim else 1


def _unpack_batch(data):
    """`unpack` for ``test_step`` / ``predict_step``: the loops' usual batch, ``(x, y)`` with
    a tensor ``x``, taken apart directly."""
    if type(data) is tuple and len(data) == 2 and type(data[0]) is torch.Tensor:
        return data[0], data[1], None
    return unpack(data)


class _CompiledLossView:
    """``model.compiled_loss`` (tf.keras 2)."""

    def __init__(self, model):
        self.model = model

    def __call__(self, y_true, y_pred, sample_weight=None, regularization_losses=None):
        model = self.model
        trainer = model._require_compiled("compiled_loss")
        loss = trainer.loss(y_true, y_pred, sample_weight) if trainer.loss is not None else None
        for term in regularization_losses or []:
            loss = term if loss is None else loss + term
        if loss is None:
            raise ValueError("compiled_loss: the model was compiled without a loss.")
        trainer.loss_tracker.update(loss, _leading_size(y_pred))
        return loss


class _CompiledMetricsView:
    """``model.compiled_metrics`` (tf.keras 2)."""

    def __init__(self, model):
        self.model = model

    def update_state(self, y_true, y_pred, sample_weight=None):
        trainer = self.model._require_compiled("compiled_metrics")
        trainer.compiled_metrics.update(y_true, y_pred.detach() if isinstance(y_pred, torch.Tensor) else y_pred, sample_weight)

    @property
    def metrics(self):
        return self.model._require_compiled("compiled_metrics").compiled_metrics.metrics


def _leading_size(value) -> int:
    leaves = flatten(value)
    return int(leaves[0].shape[0]) if leaves and leaves[0].ndim else 1


def symbolic_expectation(tensor) -> InputSpec:
    """The expectation of a symbolic input: its dtype (when a torch dtype) and rank."""
    return InputSpec(tensor.dtype if isinstance(tensor.dtype, torch.dtype) else None, len(tensor.shape))


def first_layer_expectation(layer):
    """The expectation of a model whose inputs go to ``layer`` first (None when unknown)."""
    if isinstance(layer, Layer):
        if layer.input_dtype_kind == "float":
            return InputSpec(torch.float32, layer.input_rank_hint)
        return None
    if isinstance(layer, torch.nn.Linear):
        return InputSpec(torch.float32, 2)
    if isinstance(layer, (torch.nn.modules.conv._ConvNd, torch.nn.modules.batchnorm._BatchNorm, torch.nn.LayerNorm)):
        return InputSpec(torch.float32, None)
    if isinstance(layer, torch.nn.Sequential) and len(layer):
        return first_layer_expectation(layer[0])
    return None


def _functional_arguments(args, kwargs) -> bool:
    return bool((args and symbolic.is_symbolic(args[0])) or symbolic.is_symbolic(kwargs.get("inputs")))


_FUNCTIONAL_CLASSES: dict = {}


def _functional_class(cls):
    """``cls`` made functional: Functional itself for Model, else a subclass of ``cls`` and
    Functional (the user's methods first), made once per class."""
    from danlu.models.functional import Functional

    if cls is Model or issubclass(cls, Functional):
        return Functional if cls is Model else cls
    if cls not in _FUNCTIONAL_CLASSES:
        _FUNCTIONAL_CLASSES[cls] = type(cls.__name__, (cls, Functional), {"__module__": cls.__module__, "__qualname__": cls.__qualname__})
    return _FUNCTIONAL_CLASSES[cls]
