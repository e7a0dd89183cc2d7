"""Mixed precision (Keras 3's ``keras.mixed_precision``): dtype policies, and how a layer
call computes under its policy (``torch.autocast`` for the mixed ones)."""

from danlu.mixed_precision.autocast import REGION, cast_floating, half_inputs, layer_call
from danlu.mixed_precision.policy import DTypePolicy, Policy, get, global_policy, set_global_policy

__all__ = [
    "REGION", "DTypePolicy", "Policy", "cast_floating", "get", "global_policy", "half_inputs", "layer_call", "set_global_policy",
]
