"""`Bidirectional`: a recurrent layer run forwards and backwards over the sequence, merged."""

from __future__ import annotations

import torch

from danlu._identifiers import unknown_identifier_error
from danlu.layers.base import Layer
from danlu.layers.recurrent import fused
from danlu.layers.recurrent.rnn import RNN, layer_from, pop_build_arguments, symbolic_or_fake

#: How the two directions' outputs combine (None: both, as a pair).
MERGE_MODES = {
    "concat": lambda y, y_rev: torch.cat([y, y_rev], dim=-1),
    "sum": lambda y, y_rev: y + y_rev,
    "mul": lambda y, y_rev: y * y_rev,
    "ave": lambda y, y_rev: (y + y_rev) / 2,
}
_SHARED = ("stateful", "return_sequences", "return_state")


class Bidirectional(Layer):
    """``Bidirectional(layer, merge_mode="concat", weights=None, backward_layer=None)`` (Keras 3.15).

    The forward layer is a fresh copy of ``layer`` (its configuration, new weights) named
    ``forward_<name>``; the backward layer is ``backward_layer`` or a copy of ``layer`` with
    ``go_backwards`` flipped, named ``backward_<name>``. Both see the same inputs (and mask);
    the backward outputs are flipped back to time order when ``return_sequences``, then merged:
    ``concat`` (last axis), ``sum``, ``mul``, ``ave`` or None (the pair ``(y, y_rev)``). With
    ``return_state`` the result is followed by the forward layer's states, then the backward
    layer's. ``initial_state`` is split in halves (forward, backward). As in Keras, a wrapped
    RNN with ``return_sequences`` zeroes its outputs at masked steps. Weights: the forward
    layer's, then the backward layer's; ``weights=`` sets them once built. (Keras 3 gives the
    copied backward layer ``go_backwards=True`` even when ``layer`` already goes backwards,
    which then fails its own check; danlu flips it, as tf.keras did.)
    """

    supports_masking = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        for argument, value in (("layer", layer), ("backward_layer", backward_layer)):
            if value is None and argument == "backward_layer":
                continue
            if not isinstance(value, Layer) or not all(hasattr(value, a) for a in ("go_backwards", *_SHARED)):
                raise ValueError(f"Bidirectional's {argument} must be a recurrent danlu layer (an RNN, LSTM, GRU, ...); "
                                 f"received {argument}={value!r}.")
        if merge_mode is not None and (not isinstance(merge_mode, str) or merge_mode not in MERGE_MODES):
            raise unknown_identifier_error("merge_mode", str(merge_mode), [*MERGE_MODES, "None"])
        build_shape = pop_build_arguments(kwargs)
        super().__init__(**kwargs)
        config = layer.get_config()
        self.forward_layer = type(layer).from_config({**config, "name": f"forward_{layer.name.removeprefix('forward_')}"})
        if backward_layer is None:
            backward_layer = type(layer).from_config({**config, "go_backwards": not layer.go_backwards,
                                                      "name": f"backward_{layer.name.removeprefix('backward_')}"})
        self.backward_layer = backward_layer
        self._check_directions()
        for direction in (self.forward_layer, self.backward_layer):
            if hasattr(direction, "zero_output_for_mask"):
                direction.zero_output_for_mask = direction.return_sequences
        self.merge_mode = merge_mode
        self.stateful, self.return_sequences, self.return_state = (getattr(layer, a) for a in _SHARED)
        self._initial_weights = None if weights is None else list(weights)
        if build_shape is not None:
            self.input_shape_arg = build_shape[1:]
            self.build_from_shape(build_shape)

    def _check_directions(self):
        forward, backward = self.forward_layer, self.backward_layer
        if forward.go_backwards == backward.go_backwards:
            raise ValueError(f"Bidirectional: the forward and backward layers need different go_backwards; both have "
                             f"go_backwards={forward.go_backwards}.")
        for attribute in _SHARED:
            if getattr(forward, attribute) != getattr(backward, attribute):
                raise ValueError(f"Bidirectional: the forward and backward layers need the same {attribute}; received "
                                 f"{getattr(forward, attribute)} (forward) and {getattr(backward, attribute)} (backward).")

    def build(self, sequences_shape):
        self.forward_layer.build_from_shape(tuple(sequences_shape))
        self.backward_layer.build_from_shape(tuple(sequences_shape))
        if self._initial_weights is not None:
            weights, self._initial_weights = self._initial_weights, None
            self.set_weights(weights)

    def call(self, sequences, initial_state=None, mask=None):
        forward_state = backward_state = None
        if initial_state is not None:
            initial_state = list(initial_state)
            half = len(initial_state) // 2
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        fused_result = self._call_fused(sequences, forward_state, backward_state, mask)
        if fused_result is not None:
            return fused_result
        y = self.forward_layer(sequences, initial_state=forward_state, mask=mask)
        y_rev = self.backward_layer(sequences, initial_state=backward_state, mask=mask)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev.flip(1)
        return self._merge(y, y_rev, states)

    def _merge(self, y, y_rev, states, merged=None):
        if self.merge_mode is None:
            return (y, y_rev, *states) if self.return_state else (y, y_rev)
        output = merged if merged is not None else MERGE_MODES[self.merge_mode](y, y_rev)
        return (output, *states) if self.return_state else output

    def _call_fused(self, sequences, forward_state, backward_state, mask):
        """Both directions in one torch kernel call (cuDNN runs them together on GPUs) when
        the two layers are built-in RNNs torch fuses alike and nothing else needs the separate
        calls (no active dropout, no stateful states, no activity regularizer, no mask or a
        right-padded one); else None."""
        forward, backward = self.forward_layer, self.backward_layer
        if not (isinstance(forward, RNN) and isinstance(backward, RNN)) or self.stateful:
            return None
        if not (forward.__dict__["_builtin_cell"] and backward.__dict__["_builtin_cell"]) or forward.go_backwards:
            return None
        if forward.use_cudnn is False or backward.use_cudnn is False or forward.activity_regularizer or backward.activity_regularizer:
            return None
        if sequences.dim() != 3 or not sequences.is_floating_point():
            return None
        cells = (forward.cell, backward.cell)
        if self.training and any(c.dropout or c.recurrent_dropout for c in cells):
            return None
        if type(cells[0]) is not type(cells[1]) or cells[0].units != cells[1].units:
            return None
        specs = [c.fused_parameters() for c in cells]
        if specs[0] is None or specs[1] is None or specs[0][0] != specs[1][0] or specs[0][2] != specs[1][2]:
            return None
        if any(sequences.shape[-1] != c.weight_ih.shape[1] for c in cells):
            return None
        runs = None
        if mask is not None:
            if isinstance(mask, (list, tuple)) or symbolic_or_fake(mask) or tuple(mask.shape) != tuple(sequences.shape[:2]):
                return None
            if any(layer.zero_output_for_mask != layer.return_sequences for layer in (forward, backward)):
                return None
            runs = fused.contiguous_runs(mask.to(torch.bool))
            if runs is None or runs.shifted:
                return None
            runs = None if runs.full else runs
        units = cells[0].units
        states = [None, None]
        if forward_state is not None or backward_state is not None:
            states = [forward._initial_states(sequences, forward_state, forward.__dict__["_builtin_cell"]),
                      backward._initial_states(sequences, backward_state, backward.__dict__["_builtin_cell"])]
        kind, has_biases = specs[0][0], specs[0][2]
        outputs, forward_final, backward_final = fused.run_bidirectional(
            kind, specs[0][1] + specs[1][1], has_biases, sequences, states[0], states[1], runs)
        if self.return_sequences:
            y, y_rev = outputs[..., :units], outputs[..., units:]
        elif runs is None:
            y, y_rev = outputs[:, -1, :units], outputs[:, 0, units:]
        else:  # the last outputs of the runs; zeros for samples without a valid step
            valid = (runs.lengths > 0)[:, None]
            y, y_rev = (torch.where(valid, s[0], torch.zeros_like(s[0])) for s in (forward_final, backward_final))
        result_states = (*forward_final, *backward_final) if self.return_state else ()
        concatenated = outputs if self.return_sequences and self.merge_mode == "concat" else None
        return self._merge(y, y_rev, result_states, concatenated)

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        masks = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            states = len(self.forward_layer.state_size) + len(self.backward_layer.state_size)
            return masks + [None] * states
        return masks if self.merge_mode is None else output_mask

    @property
    def states(self):
        forward, backward = self.forward_layer.states, self.backward_layer.states
        if forward and backward:
            return tuple(forward) + tuple(backward)
        return None

    def reset_states(self, states=None):
        if not self.stateful:
            raise AttributeError(f"Layer {self.name!r} is not stateful: reset_states needs stateful=True.")
        if states is None:
            self.forward_layer.reset_states()
            self.backward_layer.reset_states()
            return
        states = list(states)
        half = len(states) // 2
        self.forward_layer.reset_states(states[:half])
        self.backward_layer.reset_states(states[half:])

    reset_state = reset_states

    def get_config(self):
        config = Layer.get_config(self)
        config.pop("weights", None)
        config.update(layer=self.forward_layer, backward_layer=self.backward_layer, merge_mode=self.merge_mode)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["layer"] = layer_from(config["layer"], custom_objects)
        if config.get("backward_layer") is not None:
            config["backward_layer"] = layer_from(config["backward_layer"], custom_objects)
        return cls(**config)
