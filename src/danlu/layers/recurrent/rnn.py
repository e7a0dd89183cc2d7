"""`RNN`: a cell run over the time axis, with Keras 3.15's options; `CellRNN`: the base of
SimpleRNN, LSTM and GRU (a layer made of one built-in cell).

Inputs are ``(batch, timesteps, features)`` (Keras' layout; recurrent layers are not
channels-first). ``RNN(cell, return_sequences=False, return_state=False, go_backwards=False,
stateful=False, unroll=False, zero_output_for_mask=False)``; a list of cells is stacked
(`StackedRNNCells`). A cell is any object with ``state_size`` (an int or a list of them) and
``call(inputs, states)`` returning ``(output, new_states)`` (a danlu ``Layer`` normally, built
with the step's input shape ``(batch, features)``); ``output_size`` and
``get_initial_state(batch_size)`` are optional.

Call: ``layer(sequences, initial_state=None, mask=None, training=None)``. The result is the last
output ``(batch, output_size)``, or every output ``(batch, timesteps, output_size)`` with
``return_sequences``; with ``return_state`` a tuple ``(output, *final_states)``. Masks (an input's
``_keras_mask``, e.g. from ``Embedding(mask_zero=True)``, or ``mask=``) follow `loop.run_steps`;
the output mask is the input's with ``return_sequences``. ``stateful=True`` starts each call
from the previous call's final states (detached); `reset_states` zeroes them. ``unroll`` is
accepted (it changes nothing numerically). Built-in cells with torch-supported activations run
torch's fused kernels (`fused`), the others a loop over steps with the whole input sequence
projected at once (built-in cells) or the cell called at each step (user cells).
"""

from __future__ import annotations

import inspect

import numpy as np
import torch

from danlu._tensors import as_tensor
from danlu.layers.base import Layer
from danlu.layers.recurrent import fused, loop
from danlu.layers.recurrent.cells import RecurrentCell, reset_dropout_masks
from danlu.saving import serialization


def _check_bool(name, value) -> bool:
    if value not in (True, False) or not isinstance(value, (bool, int, np.bool_)):  # 0 / 1 and numpy bools too
        raise TypeError(f"{name} must be True or False; received {name}={value!r}.")
    return bool(value)


def pop_build_arguments(kwargs) -> tuple | None:
    """Remove Layer's build-now arguments (``input_shape``, ``input_dim``, ``batch_input_shape``,
    ``batch_size``) and return the shape to build for: layers holding sub-layers build after
    creating them."""
    input_shape, input_dim = kwargs.pop("input_shape", None), kwargs.pop("input_dim", None)
    batch_input_shape, batch_size = kwargs.pop("batch_input_shape", None), kwargs.pop("batch_size", None)
    if input_dim is not None:
        input_shape = (input_dim,)
    if batch_input_shape is not None:
        input_shape, batch_size = tuple(batch_input_shape)[1:], tuple(batch_input_shape)[0]
    return None if input_shape is None else (batch_size, *tuple(input_shape))


def fresh_copy(layer):
    """A new layer of the same configuration (fresh weights), or ``layer`` itself when it has no
    configuration to copy."""
    if isinstance(layer, Layer):
        return type(layer).from_config(layer.get_config())
    return layer


def layer_from(value, custom_objects=None):
    """A new layer from a configuration entry: a `serialize`d dict (danlu's recurrent classes
    are always known) or a layer object (copied with `fresh_copy`)."""
    if not isinstance(value, dict):
        return fresh_copy(value)
    from danlu.layers import recurrent

    known = {name: getattr(recurrent, name) for name in recurrent.__all__}
    return serialization.deserialize(value, {**known, **(custom_objects or {})})


class RNN(Layer):
    """Base class of recurrent layers; see the module docstring."""

    supports_masking = True
    #: The exact input rank (None: at least 3, for cells over images and the like).
    input_rank = None

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        from danlu.layers.recurrent.stacked import StackedRNNCells

        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        check_cell(cell, "cell")
        flags = [_check_bool(name, value) for name, value in (
            ("return_sequences", return_sequences), ("return_state", return_state), ("go_backwards", go_backwards),
            ("stateful", stateful), ("unroll", unroll), ("zero_output_for_mask", zero_output_for_mask))]
        build_shape = pop_build_arguments(kwargs)
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences, self.return_state, self.go_backwards = flags[:3]
        self.stateful, self.unroll, self.zero_output_for_mask = flags[3:]
        self.use_cudnn = "auto"
        self._state_structure = None  # stateful: the nesting of the stored states
        # Whether the cell is a built-in one whose step is its own (not overridden).
        self._builtin_cell = isinstance(cell, RecurrentCell) and type(cell).call is RecurrentCell.call
        if build_shape is not None:
            self.input_shape_arg = build_shape[1:]
            self.build_from_shape(build_shape)

    @property
    def state_size(self) -> list:
        size = self.cell.state_size
        return list(size) if isinstance(size, (list, tuple)) else [size]

    @property
    def output_size(self) -> int:
        size = getattr(self.cell, "output_size", None)
        return size if size is not None else flat_first(self.state_size)

    # --- Building ------------------------------------------------------------------------------

    def build(self, sequences_shape):
        check_rank(self, sequences_shape)
        step_shape = (sequences_shape[0], *sequences_shape[2:])
        if isinstance(self.cell, Layer):
            self.cell.build_from_shape(step_shape)
        if self.stateful and sequences_shape[0] is not None:
            self._create_states(sequences_shape[0])

    def get_initial_state(self, batch_size):
        """The zero states (nested as the cell's ``state_size``), or the cell's own."""
        make = getattr(self.cell, "get_initial_state", None)
        if make is not None:
            states = make(batch_size=batch_size)
            return list(states) if isinstance(states, (list, tuple)) else [states]
        return [torch.zeros(batch_size, size) for size in self.state_size]

    # --- Stateful ------------------------------------------------------------------------------

    def _create_states(self, batch_size, like=None):
        initial = self.get_initial_state(batch_size)
        self._state_structure = initial
        for i, value in enumerate(loop.flatten(initial)):
            value = value if like is None else value.to(device=like.device, dtype=like.dtype)
            self.register_buffer(f"rnn_state_{i}", value, persistent=False)

    def _stored_states(self) -> list:
        return [self._buffers[f"rnn_state_{i}"] for i in range(len(loop.flatten(self._state_structure)))]

    @property
    def states(self):
        """A stateful layer's current states (nested as the cell's), else None."""
        if self._state_structure is None:
            return None
        return loop.pack_as(self._state_structure, self._stored_states())

    def reset_states(self, states=None):
        """Zero the stored states of a stateful layer (tf.keras 2.x: or set them to ``states``)."""
        if not self.stateful:
            raise AttributeError(f"Layer {self.name!r} is not stateful: reset_states needs stateful=True.")
        if self._state_structure is None:
            return
        current = self._stored_states()
        values = [None] * len(current) if states is None else loop.flatten(states)
        if len(values) != len(current):
            raise ValueError(f"reset_states on {self.name!r} received {len(values)} states; the layer has {len(current)}.")
        for i, (old, new) in enumerate(zip(current, values)):
            new = torch.zeros_like(old) if new is None else as_tensor(new, old.dtype, old.device)
            if tuple(new.shape) != tuple(old.shape):
                raise ValueError(f"reset_states on {self.name!r}: state {i} has shape {tuple(new.shape)}; expected {tuple(old.shape)}.")
            self._buffers[f"rnn_state_{i}"] = new

    reset_state = reset_states

    # --- Calling -------------------------------------------------------------------------------

    def call(self, sequences, initial_state=None, mask=None, training=None):
        cell = self._modules.get("cell", self.__dict__.get("cell"))
        builtin = self.__dict__["_builtin_cell"]
        if not sequences.is_floating_point():
            sequences = sequences.to(self.dtype_policy.torch_compute_dtype)
        check_rank(self, sequences.shape)
        if sequences.shape[1] == 0:
            raise ValueError(f"{type(self).__name__} needs at least one timestep; received inputs of shape {tuple(sequences.shape)}.")
        if builtin:
            cell.check_sequences(self.name, sequences)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if mask is not None:
            mask = as_tensor(mask, device=sequences.device).to(torch.bool)
            if tuple(mask.shape) != tuple(sequences.shape[:2]):
                raise ValueError(f"{self.name}: the mask has shape {tuple(mask.shape)}; expected (batch, timesteps) = "
                                 f"{tuple(sequences.shape[:2])}.")
        structure = self._initial_states(sequences, initial_state, builtin)
        try:
            last, outputs, final = self._run(cell, builtin, sequences, loop.flatten(structure), structure, mask,
                                             bool(training))
        finally:
            reset_dropout_masks(cell)
        if self.stateful and not _is_fake(last):
            for i, value in enumerate(final):
                self._buffers[f"rnn_state_{i}"] = value.detach()
        output = outputs if self.return_sequences else last
        if self.return_state:
            return (output, *loop.pack_as(structure, final))
        return output

    def _initial_states(self, sequences, initial_state, builtin):
        batch = sequences.shape[0]
        if initial_state is None and not self.stateful and builtin:  # the common case, kept short
            return self._modules["cell"].zero_states_like(sequences)
        if initial_state is None and self.stateful and not _is_fake(sequences):
            if self._state_structure is None:
                self._create_states(batch, like=sequences)
            stored = self._stored_states()
            if stored and stored[0].shape[0] != batch:
                raise ValueError(f"Stateful layer {self.name!r} holds states for batches of {stored[0].shape[0]}; "
                                 f"received a batch of {batch}. Stateful layers need the same batch size at every call.")
            return self.states
        if initial_state is None:
            states = self.get_initial_state(batch)
        else:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            expected = len(loop.flatten(self.get_initial_state(1)))
            if len(loop.flatten(states)) != expected:
                raise ValueError(f"{self.name}: initial_state has {len(loop.flatten(states))} tensors; the cell has "
                                 f"{expected} states (state_size={self.cell.state_size}).")
        return loop.pack_as(states, [as_tensor(s, sequences.dtype, sequences.device) for s in loop.flatten(states)])

    def _run(self, cell, builtin, sequences, states, structure, mask, training):
        if builtin:
            fused_run = self._try_fused(cell, sequences, states, mask, training)
            if fused_run is not None:
                return fused_run
        if self.use_cudnn is True:
            raise ValueError(f"{self.name}: use_cudnn=True, but torch's fused kernel cannot compute this configuration "
                             "(activations, reset_after, recurrent dropout or a mask that is not one run per sequence); "
                             "pass use_cudnn='auto'.")
        options = dict(mask=mask, go_backwards=self.go_backwards, return_sequences=self.return_sequences,
                       zero_output_for_mask=self.zero_output_for_mask)
        timesteps = sequences.shape[1]
        if builtin:
            masks = cell.get_dropout_mask(sequences[:, 0]) if training and cell.dropout else None
            if masks is not None:
                masks = masks[:, None] if isinstance(masks, torch.Tensor) else [m[:, None] for m in masks]
            recurrent = cell.get_recurrent_dropout_mask(states[0]) if training and cell.recurrent_dropout else None
            projected = cell.project_inputs(sequences, masks)
            return loop.run_steps(lambda t, s: cell.recurrent_step(projected[:, t], s, recurrent), timesteps, states, **options)

        def step(t, flat):
            output, new = call_cell(cell, sequences[:, t], loop.pack_as(structure, flat), training)
            return output, loop.flatten(new)

        return loop.run_steps(step, timesteps, states, **options)

    def _try_fused(self, cell, sequences, states, mask, training):
        if self.use_cudnn is False or (training and cell.recurrent_dropout):
            return None
        dropout = cell.get_dropout_mask(sequences[:, 0]) if training and cell.dropout else None
        spec = cell.fused_parameters()
        if spec is None or isinstance(dropout, list):  # implementation=1: one mask per gate, in the loop
            return None
        runs = None
        if mask is not None:
            if _is_fake(mask):
                return None
            mask = mask.flip(1) if self.go_backwards else mask  # in processing order
            runs = fused.contiguous_runs(mask)
            if runs is None:
                return None
        inputs = sequences if dropout is None else sequences * dropout[:, None]
        kind, params, has_biases = spec
        return fused.run_fused(kind, params, has_biases, inputs, states, mask, runs, go_backwards=self.go_backwards,
                               return_sequences=self.return_sequences, zero_output_for_mask=self.zero_output_for_mask)

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    # --- Configuration -------------------------------------------------------------------------

    def get_config(self):
        config = Layer.get_config(self)
        config["cell"] = self.cell
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cell = config.pop("cell")
        if isinstance(cell, (list, tuple)):
            return cls([layer_from(c, custom_objects) for c in cell], **config)
        return cls(layer_from(cell, custom_objects), **config)


class CellRNN(RNN):
    """A layer made of one built-in cell (SimpleRNN, LSTM, GRU): ``Layer(units, **arguments)``
    gives the cell its arguments and the layer the rest; the cell's settings read through
    (``layer.units``, ``layer.activation``, ...) and `get_config` is flat, as Keras'."""

    cell_class = RecurrentCell
    cell_name = "cell"
    takes_use_cudnn = False
    input_rank = 3

    #: The cell's leading positional arguments, given to the layer first.
    cell_positional = ("units",)

    def __init__(self, units, **kwargs):
        self._init_cell_and_layer((units,), kwargs)

    def _init_cell_and_layer(self, positional, kwargs):
        cell_arguments = {name: kwargs.pop(name) for name in self.cell_argument_names() if name in kwargs}
        use_cudnn = kwargs.pop("use_cudnn", "auto") if self.takes_use_cudnn else "auto"
        if use_cudnn not in ("auto", True, False):
            raise ValueError(f"use_cudnn must be 'auto', True or False; received use_cudnn={use_cudnn!r}.")
        cell = self.cell_class(*positional, name=self.cell_name, dtype=kwargs.get("dtype"),
                               trainable=kwargs.get("trainable", True), **cell_arguments)
        layer_arguments = {name: kwargs.pop(name) for name in ("return_sequences", "return_state", "go_backwards", "stateful",
                                                             "unroll", "zero_output_for_mask") if name in kwargs}
        build_shape = pop_build_arguments(kwargs)
        RNN.__init__(self, cell, **layer_arguments, **kwargs)
        self.use_cudnn = use_cudnn
        if build_shape is not None:
            self.input_shape_arg = build_shape[1:]
            self.build_from_shape(build_shape)

    @classmethod
    def cell_argument_names(cls) -> list[str]:
        parameters = inspect.signature(cls.cell_class.__init__).parameters
        leading = ("self", "rank", *cls.cell_positional)
        return [n for n, p in parameters.items() if n not in leading and p.kind is p.POSITIONAL_OR_KEYWORD]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in [*cls.cell_positional, *cls.cell_argument_names()]:  # the cell's settings: layer.units, ...
            if not hasattr(cls, name):
                setattr(cls, name, property(lambda self, name=name: getattr(self._modules["cell"], name)))

    def get_config(self):
        config = Layer.get_config(self)
        cell_config = self.cell.get_config()
        for name in ("name", "dtype", "trainable"):
            cell_config.pop(name, None)
        config.update(cell_config)
        config.update(return_sequences=self.return_sequences, return_state=self.return_state,
                      go_backwards=self.go_backwards, stateful=self.stateful, unroll=self.unroll,
                      zero_output_for_mask=self.zero_output_for_mask)
        if self.takes_use_cudnn:
            config["use_cudnn"] = self.use_cudnn
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


# --- Helpers ---------------------------------------------------------------------------------------


def check_cell(cell, argument):
    if not callable(getattr(cell, "call", None)):
        raise ValueError(f"{argument} must have a call(inputs, states) method; received {argument}={cell!r}.")
    size = getattr(cell, "state_size", None)
    if size is None or not isinstance(size, (int, list, tuple)) or isinstance(size, bool):
        raise ValueError(f"{argument} must have a state_size attribute (an int, or a list of ints, one per state); "
                         f"received {argument}={cell!r} with state_size={size!r}.")


def check_rank(layer, shape):
    rank, expected = len(shape), layer.input_rank
    if (expected is not None and rank != expected) or rank < 3:
        wanted = f"rank {expected}" if expected is not None else "rank >= 3"
        layout = "(batch, timesteps, features)" if expected == 3 else "(batch, timesteps, ...)"
        raise ValueError(f"{type(layer).__name__} {layer.name!r} expects inputs of {wanted}, {layout}; "
                         f"received shape {tuple(shape)}.")


def flat_first(sizes):
    first = sizes[0]
    return flat_first(first) if isinstance(first, (list, tuple)) else first


def call_cell(cell, inputs, states, training):
    """``cell(inputs, states)`` (a danlu layer takes ``training`` from its mode); the new
    states as a list."""
    if isinstance(cell, torch.nn.Module):
        output, new = cell(inputs, states)
    else:
        takes_training = "training" in inspect.signature(cell.call).parameters
        output, new = cell.call(inputs, states, training=training) if takes_training else cell.call(inputs, states)
    return output, (list(new) if isinstance(new, (list, tuple)) else [new])


def _is_fake(tensor) -> bool:
    from torch._subclasses.fake_tensor import FakeTensor

    return isinstance(tensor, FakeTensor)


def symbolic_or_fake(tensor) -> bool:
    """Whether ``tensor`` has no values to read (a fake tensor of shape inference)."""
    return not isinstance(tensor, torch.Tensor) or _is_fake(tensor)
