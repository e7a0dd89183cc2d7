"""Class vectors to one-hot matrices (``to_categorical``) and unit-norm rescaling (``normalize``).

Both keep Keras' two paths: numpy arrays (and lists, for ``to_categorical``) are worked on
with numpy and come back as numpy arrays; torch tensors are worked on with torch and come
back as tensors, as ``keras.utils`` does on its torch backend.
"""

from __future__ import annotations

import numpy as np
import torch

from danlu._tensors import as_tensor
from danlu._validation import check_int

#: ``keras.backend.epsilon()``, the lower bound on the norm of the tensor path of ``normalize``.
EPSILON = 1e-7


class ClassIndexError(ValueError, IndexError):
    """A class index outside ``[0, num_classes)``: a ``ValueError`` at danlu's boundary, and
    an ``IndexError`` as numpy raises inside Keras' ``to_categorical``."""


def to_categorical(x, num_classes=None):
    """One-hot encode integer class indices: ``out[..., c] = 1`` where ``x == c``, else 0.

    Keras' ``keras.utils.to_categorical(x, num_classes=None)``:

    - ``x``: class indices in ``[0, num_classes)`` (array-like: list, numpy array, scalar, or
      a torch tensor). Floats are truncated to integers, as Keras' ``int64`` cast does. A
      trailing axis of size 1 is dropped first, so ``(n, 1)`` labels give ``(n, num_classes)``
      (a 1-D ``x`` of length 1 keeps its axis: ``[1]`` -> ``(1, 2)``).
    - ``num_classes``: the number of classes; ``None`` (or 0, as in Keras) infers
      ``max(x) + 1``.

    Returns ``x.shape (minus a trailing 1) + (num_classes,)``, the class axis last:

    - for numpy / lists / scalars a **float64 numpy array** (Keras' numpy path);
    - for a torch tensor an **int64 tensor** on ``x``'s device (Keras' torch path:
      ``torch.nn.functional.one_hot``); there, as in Keras, a negative index gives a row of
      zeros.

    Where Keras errs, danlu does what it intends (each is a clear ``ValueError``, and the
    out-of-range one is also an ``IndexError`` like numpy's): a tensor with
    ``num_classes=None`` infers the count (Keras' torch path fails inside ``one_hot``); a
    negative index of a numpy input is refused (numpy's indexing would silently mark the
    *last* class); an index ``>= num_classes`` is refused on both paths.

    >>> to_categorical([0, 2, 1])
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    """
    if num_classes is not None:
        check_int("num_classes", num_classes, low=0, message="a positive int or None")
    if isinstance(x, torch.Tensor):
        return _one_hot_tensor(x, num_classes or None)
    try:
        indices = np.array(x, dtype="int64")
    except (TypeError, ValueError) as error:
        raise ValueError(f"to_categorical expects integer class indices; received x={x!r} ({error}).") from None
    shape = indices.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = indices.reshape(-1)
    num_classes = _check_indices(flat, num_classes or None, negative_ok=False, x=x)
    categorical = np.zeros((flat.shape[0], num_classes))
    categorical[np.arange(flat.shape[0]), flat] = 1
    return categorical.reshape(shape + (num_classes,))


def _one_hot_tensor(x: torch.Tensor, num_classes):
    if x.ndim > 1 and x.shape[-1] == 1:
        x = x.reshape(x.shape[:-1])
    x = x.long()
    num_classes = _check_indices(x.detach().cpu().numpy().reshape(-1), num_classes, negative_ok=True, x=x)
    output = torch.nn.functional.one_hot(x.clamp(min=0), num_classes)
    return torch.where((x >= 0).unsqueeze(-1), output, torch.zeros((), dtype=output.dtype, device=output.device))


def _check_indices(flat: np.ndarray, num_classes, negative_ok: bool, x) -> int:
    """``num_classes`` (inferred when ``None``) after checking every index fits it."""
    if num_classes is None:
        if flat.size == 0:
            raise ValueError("to_categorical cannot infer num_classes from an empty x; pass num_classes.")
        num_classes = int(flat.max()) + 1
        if num_classes < 1:
            raise ClassIndexError(f"to_categorical needs class indices >= 0; received x with maximum {int(flat.max())}.")
    if flat.size:
        low, high = int(flat.min()), int(flat.max())
        if high >= num_classes or (low < 0 and not negative_ok):
            bad = high if high >= num_classes else low
            raise ClassIndexError(
                f"to_categorical: class index {bad} is outside [0, {num_classes}) "
                f"(num_classes={num_classes}); pass class indices in range or a larger num_classes."
            )
    return num_classes


def normalize(x, axis=-1, order=2):
    """Rescale ``x`` to unit ``order``-norm along ``axis``: ``x / ||x||_order``.

    Keras' ``keras.utils.normalize(x, axis=-1, order=2)``, with its two paths:

    - **numpy array** in, numpy array out: ``x / norm`` with ``norm =
      np.linalg.norm(x, order, axis)``, and a zero norm replaced by 1 (zero vectors stay
      zero). ``order`` is any order numpy's vector norm takes (``2``, ``1``, ``np.inf``, ...).
      Integer arrays give float64, float arrays keep their dtype.
    - **torch tensor** (or a list, which Keras also sends to its backend) in, tensor out:
      Keras' ``ops.normalize``, ``x / max(norm, epsilon)`` with ``epsilon = 1e-7``; for
      ``order=2`` it is ``x * min(rsqrt(sum(x**2)), 1 / epsilon)``. ``order`` must be an
      int >= 1 and ``axis`` may be an int or a tuple. A 0-d input becomes shape ``(1,)``.

    Where Keras' numpy path errs, danlu does what it intends: the norm is divided out along
    ``axis`` itself, so a 1-D array keeps its shape (Keras returns ``(1, n)``) and
    ``axis=0`` normalizes axis 0 (Keras 3 silently uses the last axis there, which fails or
    mixes rows).
    """
    if isinstance(x, np.ndarray):
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise ValueError(f"normalize of a numpy array takes an int axis; received axis={axis!r}.")
        if not -max(x.ndim, 1) <= axis < max(x.ndim, 1):
            raise ValueError(f"axis={axis} is out of range for an array of rank {x.ndim}.")
        if x.ndim == 0:
            raise ValueError("normalize needs an array of rank >= 1; received a 0-d array.")
        try:
            norm = np.linalg.norm(x, order, axis, keepdims=True)
        except (ValueError, TypeError) as error:
            raise ValueError(f"normalize: invalid order={order!r} for a vector norm ({error}).") from None
        norm = np.where(norm == 0, np.ones((), dtype=norm.dtype), norm)
        return x / norm
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"order must be an int >= 1 for tensors; received order={order!r}.")
    tensor = as_tensor(x)
    if tensor.ndim == 0:
        tensor = tensor.unsqueeze(0)
    dims = tuple(axis) if isinstance(axis, (tuple, list)) else axis
    if order == 2:  # as Keras: the sum of squares in x's dtype, then rsqrt (ints -> float32)
        inverse_norm = torch.rsqrt(tensor.square().sum(dim=dims, keepdim=True))
        return tensor * torch.clamp(inverse_norm, max=1.0 / EPSILON)
    if not tensor.is_floating_point():
        tensor = tensor.float()  # Keras' int -> floatx promotion before the norm
    norm = torch.linalg.norm(tensor, ord=int(order), dim=dims, keepdim=True)
    return tensor / torch.clamp(norm, min=EPSILON)
