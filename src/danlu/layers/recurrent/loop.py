"""The step loop with Keras' masking rules (``keras.backend.rnn`` on its torch backend).

Steps run in time order, or reversed with ``go_backwards`` (outputs then come in processing
order, as Keras returns them). At a masked step (mask False for a sample) the sample keeps its
previous states, and its output is the previous step's output (zeros before its first valid
step), or zeros with ``zero_output_for_mask``. ``last_output`` is the output of the last step
processed, under the same rule.
"""

from __future__ import annotations

import torch


def flatten(structure) -> list:
    """The tensors of a nested list / tuple of states, in order."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack_as(structure, flat):
    """Inverse of `flatten`: ``flat`` arranged as ``structure``."""
    leaves = iter(flat)

    def pack(item):
        if isinstance(item, (list, tuple)):
            return [pack(i) for i in item]
        return next(leaves)

    return pack(structure)


def _batch_mask(mask_t, like):
    """A ``(batch,)`` mask shaped to broadcast against ``like``."""
    return mask_t.view(mask_t.shape[0], *([1] * (like.dim() - 1)))


def run_steps(step, timesteps, initial_states, mask=None, go_backwards=False, return_sequences=False,
              zero_output_for_mask=False):
    """Run ``step(t, states) -> (output, new_states)`` over ``timesteps`` steps.

    ``initial_states`` and the states ``step`` returns are flat lists of tensors; ``mask`` is a
    bool ``(batch, timesteps)`` tensor or None. Returns ``(last_output, outputs, states)``,
    ``outputs`` ``(batch, timesteps, ...)`` in processing order (None unless
    ``return_sequences``)."""
    states = list(initial_states)
    outputs, previous = [], None
    order = range(timesteps - 1, -1, -1) if go_backwards else range(timesteps)
    for t in order:
        output, new_states = step(t, states)
        if mask is not None:
            mask_t = mask[:, t]
            if zero_output_for_mask or previous is None:
                fallback = torch.zeros_like(output)
            else:
                fallback = previous
            output = torch.where(_batch_mask(mask_t, output), output, fallback)
            new_states = [torch.where(_batch_mask(mask_t, new), new, old) for new, old in zip(new_states, states)]
            previous = output
        states = list(new_states)
        if return_sequences:
            outputs.append(output)
    return output, (torch.stack(outputs, dim=1) if return_sequences else None), states
