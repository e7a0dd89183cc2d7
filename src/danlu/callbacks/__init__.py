"""Keras callbacks: the `Callback` base with Keras' hooks and the built-in callbacks."""

from danlu.callbacks.base import Callback, CallbackList
from danlu.callbacks.history import History
from danlu.callbacks.lambda_callback import LambdaCallback
from danlu.callbacks.progbar import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "LambdaCallback", "ProgbarLogger"]
