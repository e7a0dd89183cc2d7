"""Checks of hyperparameters at the boundary, with messages that name the argument."""

from __future__ import annotations

import math

import numpy as np


def check_number(name, value, low=None, high=None, low_open=False, high_open=False, allow_none=False):
    """Raise ``ValueError`` unless ``value`` is a finite real number in the given range."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; received {name}={value!r}.")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left, right = ("(" if low_open else "["), (")" if high_open else "]")
        bounds = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise ValueError(f"{name} must be in {bounds}; received {name}={value!r}.")


def check_int(name, value, low=None, allow_none=False, message=None):
    """Raise ``ValueError`` unless ``value`` is an int (numpy ints too; not a bool) >= ``low``."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (low is not None and value < low):
        expected = message or ("an int" if low is None else f"an int >= {low}")
        raise ValueError(f"{name} must be {expected}; received {name}={value!r}.")


def check_positive_int(name, value, allow_none=False, message="a positive int"):
    """Raise ``ValueError`` unless ``value`` is an int >= 1 (or None when ``allow_none``)."""
    check_int(name, value, low=1, allow_none=allow_none, message=message)
