"""Keras' recurrent semantics on torch's fused kernels (``torch._VF.lstm`` / ``gru`` /
``rnn_tanh`` / ``rnn_relu``: cuDNN on GPUs, oneDNN or ATen on CPUs).

Without a mask the kernel runs the whole (possibly reversed) sequence. Under a mask whose valid
steps form one run per sample — right-padded or left-padded sequences, the common case — the
result equals Keras' step loop (`loop.run_steps`): each run is shifted to the front, the
samples go through the kernel as packed sequences of their run lengths, and the outputs are
laid back where Keras puts them (zeros before the run, the run's last output after it, or
zeros there with ``zero_output_for_mask``); states are those at the end of the run (the
initial ones for a sample with no valid step). Any other mask takes the step loop.

Choosing the path reads the mask once on the host (one transfer per call, as packed sequences
need their lengths on the CPU anyway).
"""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


class Runs:
    """Where each sample's valid steps lie: ``starts`` and ``lengths`` (``(batch,)`` on the
    mask's device), ``lengths_cpu`` for packing, ``shifted`` when some run starts late, ``full``
    when every step is valid (the mask changes nothing)."""

    def __init__(self, starts, lengths, lengths_cpu, shifted, full):
        self.starts, self.lengths, self.lengths_cpu, self.shifted, self.full = starts, lengths, lengths_cpu, shifted, full


def contiguous_runs(mask):
    """`Runs` of a bool ``(batch, timesteps)`` mask whose True entries form one contiguous run
    per row (or none), else None."""
    batch, timesteps = mask.shape
    lengths = mask.sum(dim=1)
    starts = mask.to(torch.int8).argmax(dim=1)  # the first True (0 for an empty row)
    positions = torch.arange(timesteps, device=mask.device)
    runs = (positions >= starts[:, None]) & (positions < (starts + lengths)[:, None])
    host = torch.cat([(runs == mask).all().view(1), lengths, starts]).to(torch.int64).cpu()
    if not bool(host[0]):
        return None
    lengths_cpu = host[1: batch + 1]
    return Runs(starts, lengths, lengths_cpu, bool(host[batch + 1:].any()), bool((lengths_cpu == timesteps).all()))


def _call_kernel(kind, data, batch_sizes, states, params, has_biases):
    function = getattr(torch._VF, kind)
    hx = (states[0][None], states[1][None]) if kind == "lstm" else states[0][None]
    train = torch.is_grad_enabled()
    if batch_sizes is None:
        result = function(data, hx, params, has_biases, 1, 0.0, train, False, True)
    else:
        result = function(data, batch_sizes, hx, params, has_biases, 1, 0.0, train, False)
    return result[0], [s[0] for s in result[1:]]


def run_fused(kind, params, has_biases, inputs, initial_states, mask=None, runs=None, go_backwards=False,
              return_sequences=False, zero_output_for_mask=False):
    """``(last_output, outputs, states)`` of the whole sequence, as `loop.run_steps` gives them;
    ``runs`` are the `contiguous_runs` of ``mask`` (already reversed with ``go_backwards``)."""
    if go_backwards:
        inputs = inputs.flip(1)
    if mask is None or runs.full:
        outputs, states = _call_kernel(kind, inputs, None, initial_states, params, has_biases)
        return outputs[:, -1], (outputs if return_sequences else None), states

    batch, timesteps = mask.shape
    positions = torch.arange(timesteps, device=inputs.device)
    if runs.shifted:  # each run to the front
        index = (positions[None] + runs.starts[:, None]).clamp(max=timesteps - 1)
        inputs = inputs.gather(1, index[..., None].expand(-1, -1, inputs.shape[-1]))
    packed = pack_padded_sequence(inputs, runs.lengths_cpu.clamp(min=1), batch_first=True, enforce_sorted=False)
    sorted_states = [s.index_select(0, packed.sorted_indices) for s in initial_states]
    data, final = _call_kernel(kind, packed.data, packed.batch_sizes, sorted_states, params, has_biases)
    padded, _ = pad_packed_sequence(PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices),
                                    batch_first=True, total_length=timesteps)
    final = [s.index_select(0, packed.unsorted_indices) for s in final]
    empty = (runs.lengths == 0)[:, None]
    states = [torch.where(empty, initial, state) for initial, state in zip(initial_states, final)]

    # Keras' output at step t: the run's output t - start inside the run, its last one after
    # it (or zeros with zero_output_for_mask), zeros before it.
    last_in_run = (runs.lengths - 1).clamp(min=0)
    if return_sequences:
        index = torch.minimum((positions[None] - runs.starts[:, None]).clamp(min=0), last_in_run[:, None])
        gathered = padded.gather(1, index[..., None].expand(-1, -1, padded.shape[-1]))
        keep = mask if zero_output_for_mask else (positions[None] >= runs.starts[:, None]) & ~empty
        outputs = torch.where(keep[..., None], gathered, torch.zeros_like(gathered))
        return outputs[:, -1], outputs, states
    last = padded[torch.arange(batch, device=padded.device), last_in_run]
    keep = mask[:, -1:] if zero_output_for_mask else ~empty
    return torch.where(keep, last, torch.zeros_like(last)), None, states


def run_bidirectional(kind, params, has_biases, inputs, forward_states, backward_states, runs=None):
    """Keras' forward layer and ``go_backwards`` layer in one kernel call (torch's
    ``bidirectional=True``; ``params`` the forward then the backward weights), without a mask or
    with a right-padded one (``runs`` not shifted; Keras' backward layer then sees a left-padded
    sequence: each sample's valid steps reversed, which is what torch's reverse direction runs).

    Returns ``(outputs, forward_states, backward_states)``: ``outputs`` ``(batch, timesteps,
    2 * units)`` in time order (the backward half flipped back, as Bidirectional does), zeros at
    masked steps; the states at the end of each direction (the initial ones for a sample with
    no valid step). ``forward_states=None``: zeros for both directions."""
    function = getattr(torch._VF, kind)
    if forward_states is None:  # zeros for both directions
        zeros = inputs.new_zeros((2, inputs.shape[0], params[1].shape[1]))
        hx = [zeros, zeros] if kind == "lstm" else [zeros]
        forward_states = backward_states = [zeros[0]] * len(hx)
    else:
        hx = [torch.stack([f, b]) for f, b in zip(forward_states, backward_states)]
    train = torch.is_grad_enabled()
    if runs is None or runs.full:
        result = function(inputs, tuple(hx) if kind == "lstm" else hx[0], params, has_biases, 1, 0.0, train, True, True)
        return result[0], [s[0] for s in result[1:]], [s[1] for s in result[1:]]
    timesteps = inputs.shape[1]
    packed = pack_padded_sequence(inputs, runs.lengths_cpu.clamp(min=1), batch_first=True, enforce_sorted=False)
    hx = [s.index_select(1, packed.sorted_indices) for s in hx]
    result = function(packed.data, packed.batch_sizes, tuple(hx) if kind == "lstm" else hx[0], params, has_biases, 1,
                      0.0, train, True)
    outputs, _ = pad_packed_sequence(PackedSequence(result[0], packed.batch_sizes, packed.sorted_indices,
                                                    packed.unsorted_indices), batch_first=True, total_length=timesteps)
    final = [s.index_select(1, packed.unsorted_indices) for s in result[1:]]
    empty = runs.lengths == 0
    outputs = torch.where(empty[:, None, None], torch.zeros_like(outputs), outputs)  # the dummy step of empty samples
    forward = [torch.where(empty[:, None], initial, s[0]) for initial, s in zip(forward_states, final)]
    backward = [torch.where(empty[:, None], initial, s[1]) for initial, s in zip(backward_states, final)]
    return outputs, forward, backward
