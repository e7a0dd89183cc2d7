"""`Discretization`: bucket numbers by bin boundaries, given or adapted from quantiles."""

from __future__ import annotations

import numpy as np
import torch

from danlu._identifiers import unknown_identifier_error
from danlu._tensors import as_tensor
from danlu._validation import check_int, check_number
from danlu.layers.preprocessing import _encoding
from danlu.layers.preprocessing._base import PreprocessingLayer
from danlu.layers.preprocessing._inputs import adapt_batches


class Discretization(PreprocessingLayer):
    """Map each value ``x`` to the index ``i`` of its bin,
    ``bin_boundaries[i - 1] <= x < bin_boundaries[i]`` (``len(bin_boundaries) + 1`` bins),
    then encode it by ``output_mode``.

    Keras 3.15's arguments and defaults: ``bin_boundaries=None`` or ``num_bins=None`` (one of
    them; ``num_bins`` needs ``adapt``), ``epsilon=0.01`` (the quantile summary's error
    tolerance), ``output_mode="int"`` (int32 indices; ``"one_hot"``, ``"multi_hot"``,
    ``"count"``: float32, see `_encoding`), ``sparse=False`` (``True`` is rejected: torch
    layers return dense tensors, as Keras' torch backend).

    ``adapt(data)`` estimates ``num_bins`` quantiles with Keras' algorithm (each batch is
    summarized by about ``1 / epsilon`` weighted points, summaries are merged and compressed,
    the boundaries are interpolated from the cumulative weights), so the boundaries equal
    Keras' for the same batches. Floating inputs are compared in float32 (Keras' compute
    dtype), integers exactly. The boundaries are a buffer (``state_dict``) and in
    ``get_config()`` (as Keras saves them).
    """

    resizable_state = ("bin_boundaries",)

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False, **kwargs):
        if sparse:
            raise ValueError("sparse=True is not supported: danlu's preprocessing layers return dense tensors (as Keras on torch).")
        if output_mode not in _encoding.OUTPUT_MODES:
            raise unknown_identifier_error("output_mode", str(output_mode), _encoding.OUTPUT_MODES)
        if (num_bins is None) == (bin_boundaries is None):
            raise ValueError(f"Give exactly one of bin_boundaries and num_bins; received bin_boundaries={bin_boundaries!r}, "
                             f"num_bins={num_bins!r}.")
        check_int("num_bins", num_bins, low=1, allow_none=True)
        check_number("epsilon", epsilon, low=0, low_open=True, high=1)
        self.num_bins, self.epsilon, self.output_mode, self.sparse = num_bins, epsilon, output_mode, sparse
        super().__init__(**kwargs)
        self._boundary_list = None if bin_boundaries is None else _check_boundaries(bin_boundaries)
        self.register_buffer("bin_boundaries", torch.tensor(self._boundary_list or [], dtype=torch.float32))

    @property
    def output_dtype(self):
        return torch.int32 if self.output_mode == "int" else None

    def set_bin_boundaries(self, bin_boundaries) -> None:
        """Replace the boundaries (a sorted list of numbers)."""
        self._boundary_list = _check_boundaries(bin_boundaries)
        self.set_state("bin_boundaries", torch.tensor(self._boundary_list, dtype=torch.float32))

    def state_loaded(self):
        loaded = self.bin_boundaries.tolist()
        if self._boundary_list is None and not loaded:
            return  # an unadapted layer's empty state
        if self._boundary_list is None or torch.tensor(self._boundary_list, dtype=torch.float32).tolist() != loaded:
            self._boundary_list = loaded

    # --- adapt --------------------------------------------------------------------------------

    def adapt(self, data, steps=None):
        """Compute ``num_bins`` quantile boundaries of ``data`` (an array, a tensor, a list of
        numbers, or an iterable of batches: each batch is summarized, then merged)."""
        if self.num_bins is None:
            raise ValueError("This Discretization was given bin_boundaries; create it with num_bins to adapt it.")
        batches, _ = adapt_batches(data, steps)
        summary = np.zeros((2, 0), dtype=np.float32)
        seen = False
        for batch in batches:
            values = batch.detach().cpu().numpy() if isinstance(batch, torch.Tensor) else np.asarray(batch)
            if values.dtype.kind not in "biuf":
                raise TypeError(f"Discretization.adapt() takes numbers; received an array of {values.dtype}.")
            summary = merge_summaries(summarize(values.astype(np.float32), self.epsilon), summary, self.epsilon)
            seen = True
        if not seen:
            raise ValueError("Discretization.adapt() received an iterable without batches.")
        self.set_bin_boundaries(compress_summary(summary, 1.0 / self.num_bins)[0, :-1].tolist())

    # --- call ---------------------------------------------------------------------------------

    def call(self, inputs):
        if self._boundary_list is None:
            raise ValueError(f"Discretization {self.name!r} has no bin boundaries: pass bin_boundaries or call adapt() first.")
        x = as_tensor(inputs)
        if x.dtype.is_floating_point:
            x, boundaries = x.to(torch.float32), self.bin_boundaries
        else:  # compare integers exactly
            x, boundaries = x.to(torch.float64), self.bin_boundaries.to(torch.float64)
        indices = torch.bucketize(x, boundaries.to(x.device), right=True)
        if self.output_mode == "int":
            return indices.to(torch.int32)
        return _encoding.encode(indices, self.output_mode, self.bin_boundaries.numel() + 1, self.dtype_policy.torch_compute_dtype)

    def compute_output_shape(self, input_shape):
        return _encoding.encoded_shape(input_shape, self.output_mode, self.bin_boundaries.numel() + 1)

    def get_config(self):
        config = super().get_config()
        config["bin_boundaries"] = None if self._boundary_list is None else list(self._boundary_list)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        boundaries = config.get("bin_boundaries")
        if boundaries is not None and config.get("num_bins") is not None:  # an adapted layer
            del config["bin_boundaries"]
            layer = cls(**config)
            layer.set_bin_boundaries(boundaries)
            return layer
        return cls(**config)


def _check_boundaries(boundaries):
    values = np.asarray(boundaries, dtype=np.float64).reshape(-1) if len(np.shape(boundaries)) <= 1 else None
    if values is None:
        raise ValueError(f"bin_boundaries must be a flat list of numbers; received shape {np.shape(boundaries)}.")
    if np.any(np.diff(values) < 0):
        raise ValueError(f"bin_boundaries must be sorted in increasing order; received {list(boundaries)!r}.")
    return values.tolist()


# --- Keras' quantile summaries (numpy, float32): row 0 the values, row 1 their weights --------


def summarize(values: np.ndarray, epsilon: float) -> np.ndarray:
    """About ``1 / epsilon`` evenly spaced order statistics of ``values``, each weighted by
    the number of values it stands for (all values, weight 1, when there are fewer)."""
    ordered = np.sort(values.reshape(-1))
    step = max(ordered.size / (1.0 / epsilon), 1)
    picked = ordered[int(step - 1):: int(step)]
    return np.stack([picked, np.ones_like(picked) * step])


def merge_summaries(first: np.ndarray, second: np.ndarray, epsilon: float) -> np.ndarray:
    merged = np.concatenate((first, second), axis=1)
    return compress_summary(merged[:, np.argsort(merged[0])], epsilon)


def compress_summary(summary: np.ndarray, epsilon: float) -> np.ndarray:
    """Re-sample ``summary`` at the cumulative-weight fractions ``epsilon, 2 epsilon, ..., 1``
    (linear interpolation); summaries with fewer than ``1 / epsilon`` points are kept."""
    if summary.shape[1] * epsilon < 1:
        return summary
    fractions = epsilon + np.arange(0.0, 1.0, epsilon)
    cumulative = summary[1].cumsum()
    positions = cumulative / cumulative[-1]
    values = np.interp(fractions, positions, summary[0])
    weights = np.interp(fractions, positions, cumulative)
    weights = weights - np.concatenate((np.array([0]), weights[:-1]))
    return np.stack((values, weights)).astype("float32")
