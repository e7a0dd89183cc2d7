"""Mixed precision (Keras 3's ``keras.mixed_precision``): dtype policies."""

from danlu.mixed_precision.policy import DTypePolicy, Policy, get, global_policy, set_global_policy

__all__ = ["DTypePolicy", "Policy", "get", "global_policy", "set_global_policy"]
