"""Keras callbacks: the `Callback` base with Keras' hooks and the built-in callbacks."""

from danlu.callbacks.backup_and_restore import BackupAndRestore
from danlu.callbacks.base import Callback, CallbackList
from danlu.callbacks.early_stopping import EarlyStopping
from danlu.callbacks.history import History
from danlu.callbacks.lambda_callback import LambdaCallback
from danlu.callbacks.learning_rate import LearningRateScheduler, ReduceLROnPlateau
from danlu.callbacks.model_checkpoint import ModelCheckpoint
from danlu.callbacks.monitor import MonitorCallback
from danlu.callbacks.progbar import ProgbarLogger
from danlu.callbacks.remote_monitor import RemoteMonitor
from danlu.callbacks.simple import CSVLogger, SwapEMAWeights, TerminateOnNaN
from danlu.callbacks.tensorboard import TensorBoard

__all__ = [
    "BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback",
    "LearningRateScheduler", "ModelCheckpoint", "MonitorCallback", "ProgbarLogger", "ReduceLROnPlateau", "RemoteMonitor",
    "SwapEMAWeights", "TensorBoard", "TerminateOnNaN",
]
