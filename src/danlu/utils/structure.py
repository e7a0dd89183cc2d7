"""The ``(x, y, sample_weight)`` convention of ``fit``'s batches, both ways."""

from __future__ import annotations


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` from a batch given as ``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)``, with ``None`` for what is missing.

    Keras' ``keras.utils.unpack_x_y_sample_weight(data)``, for overriding ``train_step`` /
    ``test_step`` / ``predict_step``. A list counts as a tuple; anything else (a tensor, a
    dict) is ``x`` alone. A tuple of any other length raises ``ValueError``.
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if 1 <= len(data) <= 3:
        return tuple(data) + (None,) * (3 - len(data))
    raise ValueError(
        f"data must be x, (x,), (x, y) or (x, y, sample_weight); received a tuple of {len(data)} elements: {data!r}."
    )


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The batch ``fit`` takes: ``x`` alone when there is no ``y`` (wrapped as ``(x,)`` when
    ``x`` is itself a tuple or list, so that it is not read as ``(x, y)``), else ``(x, y)``,
    or ``(x, y, sample_weight)``.

    Keras' ``keras.utils.pack_x_y_sample_weight(x, y=None, sample_weight=None)``; as there,
    ``sample_weight`` without ``y`` is dropped.
    """
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return x, y
    return x, y, sample_weight
