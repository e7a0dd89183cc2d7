"""Resolving string identifiers, with errors that name the closest valid one."""

from __future__ import annotations

import difflib
import re
from typing import Iterable


def closest_name_hint(name: str, valid: Iterable[str]) -> str:
    """Return ' Did you mean "x"?' for the closest valid name, or '' when none is close."""
    valid = list(valid)
    lowered = {}
    for v in sorted(valid, key=lambda v: v != v.lower()):  # prefer the lower-case spelling
        lowered.setdefault(v.lower(), v)
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
    return f' Did you mean "{lowered[match[0]]}"?' if match else ""


def unknown_identifier_error(argument: str, name: str, valid: Iterable[str]) -> ValueError:
    """A ValueError naming the argument, the unknown value, the closest and all valid names."""
    valid = sorted(set(valid), key=str.lower)
    return ValueError(
        f"Unknown {argument} identifier {name!r}.{closest_name_hint(name, valid)} "
        f"Valid names: {', '.join(valid)}."
    )


def snake_case(name: str) -> str:
    """Keras' ``to_snake_case``: ``Conv2D`` -> ``conv2d``, ``MaxPooling2D`` -> ``max_pooling2d``,
    ``BinaryCrossentropy`` -> ``binary_crossentropy``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


_NAME_COUNTS: dict[str, int] = {}


def unique_name(base: str) -> str:
    """Keras' automatic names: ``dense``, ``dense_1``, ``dense_2``, ... (per base name, for
    the whole process)."""
    count = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = count + 1
    return base if count == 0 else f"{base}_{count}"
