"""Dtypes as Keras spells them: strings (``"float32"``, ``"bfloat16"``, ...), torch dtypes,
numpy dtypes; read back as Keras' strings."""

from __future__ import annotations

import numpy as np
import torch

from danlu._identifiers import closest_name_hint

#: Keras' dtype names and the torch dtypes they mean.
DTYPES = {
    "float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64,
    "int8": torch.int8, "int16": torch.int16, "int32": torch.int32, "int64": torch.int64,
    "uint8": torch.uint8, "uint16": torch.uint16, "uint32": torch.uint32, "uint64": torch.uint64,
    "bool": torch.bool, "complex64": torch.complex64, "complex128": torch.complex128,
}
#: Other spellings Keras and numpy accept.
ALIASES = {"float": "float32", "double": "float64", "half": "float16", "int": "int64", "bool_": "bool"}
NAMES = {dtype: name for name, dtype in DTYPES.items()}


def standardize_dtype(dtype, argument: str = "dtype", floating: bool = False) -> torch.dtype | None:
    """The torch dtype for ``dtype`` (a Keras / numpy name, a torch or numpy dtype, a numpy
    scalar type), or ``None`` for ``None``. ``floating=True`` accepts only floating dtypes.

    Unknown names raise ``ValueError`` naming ``argument``, the value and the closest valid name."""
    if dtype is None:
        return None
    if isinstance(dtype, torch.dtype):
        result = dtype
    else:
        name = dtype
        if not isinstance(dtype, str):
            try:
                name = np.dtype(dtype).name
            except TypeError:
                raise TypeError(
                    f"{argument} must be a dtype name such as 'float32', a torch.dtype or a numpy dtype; "
                    f"received {argument}={dtype!r}."
                ) from None
        name = ALIASES.get(name.removeprefix("torch."), name.removeprefix("torch."))
        if name not in DTYPES:
            raise ValueError(
                f"Unknown {argument}={dtype!r}.{closest_name_hint(str(dtype), DTYPES)} "
                f"Valid names: {', '.join(DTYPES)}."
            )
        result = DTYPES[name]
    if floating and not result.is_floating_point:
        raise ValueError(
            f"{argument} must be a floating dtype (float16, bfloat16, float32, float64); received {argument}={dtype!r}."
        )
    return result


def dtype_name(dtype) -> str | None:
    """Keras' name of a dtype: ``torch.float32`` -> ``"float32"``."""
    if dtype is None:
        return None
    dtype = standardize_dtype(dtype)
    return NAMES.get(dtype, str(dtype).removeprefix("torch."))
