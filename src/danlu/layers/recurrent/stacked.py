"""`StackedRNNCells`: several cells acting as one (each cell's output is the next one's input)."""

from __future__ import annotations

import torch

from danlu.layers.base import Layer
from danlu.layers.recurrent.rnn import call_cell, check_cell, layer_from


def _output_size(cell):
    size = getattr(cell, "output_size", None)
    if size is not None:
        return size
    state = cell.state_size
    return state[0] if isinstance(state, (list, tuple)) else state


class StackedRNNCells(Layer):
    """``StackedRNNCells(cells)`` (Keras 3.15): at each step cell ``k`` takes cell ``k - 1``'s
    output; ``state_size`` is the list of the cells' state sizes, the states are a list with one
    entry per cell (that cell's states), ``output_size`` is the last cell's. ``RNN([c1, c2])``
    builds one. Weights: each cell's, in order."""

    def __init__(self, cells, **kwargs):
        cells = list(cells)
        if not cells:
            raise ValueError("StackedRNNCells needs at least one cell; received cells=[].")
        for i, cell in enumerate(cells):
            check_cell(cell, f"cells[{i}]")
        super().__init__(**kwargs)
        self.cells = cells  # a plain list; module cells are registered below, in order
        for i, cell in enumerate(cells):
            if isinstance(cell, torch.nn.Module):
                self.add_module(f"cell_{i}", cell)

    @property
    def state_size(self):
        return [cell.state_size for cell in self.cells]

    @property
    def output_size(self):
        return _output_size(self.cells[-1])

    def build(self, input_shape):
        for cell in self.cells:
            if isinstance(cell, Layer):
                cell.build_from_shape(tuple(input_shape))
            input_shape = (input_shape[0], _output_size(cell))

    def get_initial_state(self, batch_size=None):
        states = []
        for cell in self.cells:
            make = getattr(cell, "get_initial_state", None)
            if make is not None:
                states.append(make(batch_size=batch_size))
            elif isinstance(cell.state_size, int):
                states.append(torch.zeros(batch_size, cell.state_size))
            else:
                states.append([torch.zeros(batch_size, size) for size in cell.state_size])
        return states

    def call(self, inputs, states, training=False):
        new_states = []
        for cell, cell_states in zip(self.cells, states):
            nested = isinstance(cell_states, (list, tuple))
            inputs, returned = call_cell(cell, inputs, list(cell_states) if nested else [cell_states], training)
            new_states.append(returned if nested or len(returned) > 1 else returned[0])
        return inputs, (new_states[0] if len(new_states) == 1 else new_states)

    def get_config(self):
        config = Layer.get_config(self)
        config["cells"] = list(self.cells)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        return cls([layer_from(c, custom_objects) for c in config.pop("cells")], **config)
