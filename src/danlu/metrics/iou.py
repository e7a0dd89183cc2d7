"""Intersection over union from a confusion matrix: IoU, MeanIoU, BinaryIoU, OneHotIoU,
OneHotMeanIoU.

The state is the weighted confusion matrix ``M`` (``total_confusion_matrix``, shape
``(C, C)``, rows the true class and columns the predicted one, summed over replicas). Per
class ``c``:

    IoU_c = M_cc / (sum_k M_kc + sum_k M_ck - M_cc + eps)                  (eps = 1e-7)

and the result is the mean of ``IoU_c`` over the ``target_class_ids`` whose denominator is
nonzero (classes never seen nor predicted are left out), ``/ (count + eps)``; 0 if none.
Class ids outside ``[0, C)`` and labels equal to ``ignore_class`` are left out. Inputs of any
rank are flattened; ``sample_weight`` may have the labels' shape or one weight per sample
(shape ``(batch,)``, spread over the sample's values: Keras fails there unless the inputs
are 1-D).

As in Keras the state's dtype defaults to "int32" (``dtype=None``): labels, predictions and
``sample_weight`` are converted to it, so fractional weights are truncated (Keras warns and
so does danlu; pass ``dtype="float32"`` for fractional weights). The result is float32.
"""

from __future__ import annotations

import warnings

import torch

from danlu._validation import check_number, check_positive_int

from danlu._tensors import as_tensor
from danlu.metrics.metric import Metric

EPSILON = 1e-7


class _IoUBase(Metric):
    """The confusion-matrix state and its update (Keras' ``_IoUBase``)."""

    _direction = "up"

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True, sparse_y_pred=True,
                 axis=-1):
        super().__init__(name=name, dtype=dtype or "int32")
        check_positive_int("num_classes", num_classes)
        self.num_classes, self.ignore_class = int(num_classes), ignore_class
        self.sparse_y_true, self.sparse_y_pred, self.axis = sparse_y_true, sparse_y_pred, axis
        self.total_cm = self.add_variable(
            (self.num_classes, self.num_classes), "zeros", dtype=self._dtype, name="total_confusion_matrix"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = as_tensor(y_pred).detach()
        y_true = as_tensor(y_true, device=y_pred.device).detach()
        self._to_device(y_pred.device)
        if not self.sparse_y_true:
            y_true = y_true.argmax(dim=self.axis)
        if not self.sparse_y_pred:
            y_pred = y_pred.argmax(dim=self.axis)
        if sample_weight is None:
            weight = torch.ones((), dtype=self._dtype, device=y_pred.device)
        else:
            weight = as_tensor(sample_weight, device=y_pred.device).detach()
            if weight.is_floating_point() and not self._dtype.is_floating_point:
                warnings.warn(
                    "You are passing weight as `float`, but dtype is `int`. This may result in an incorrect weight due "
                    "to type casting. Consider using integer weights.", stacklevel=2,
                )
            weight = weight.to(self._dtype)
            if 0 < weight.ndim < y_true.ndim and tuple(weight.shape) == tuple(y_true.shape[: weight.ndim]):
                weight = weight.reshape(tuple(weight.shape) + (1,) * (y_true.ndim - weight.ndim))  # one per sample
            weight = torch.broadcast_to(weight, y_true.shape) if weight.ndim else weight
        y_true, y_pred = y_true.to(self._dtype).reshape(-1), y_pred.to(self._dtype).reshape(-1)
        weight = torch.broadcast_to(weight.reshape(-1) if weight.ndim else weight, y_true.shape)
        in_range = (y_true >= 0) & (y_true < self.num_classes) & (y_pred >= 0) & (y_pred < self.num_classes)
        if self.ignore_class is not None:
            in_range &= y_true != self.ignore_class
        y_true, y_pred = torch.where(in_range, y_true, 0).long(), torch.where(in_range, y_pred, 0).long()
        weight = torch.where(in_range, weight, 0).to(self._dtype)
        cells = torch.zeros(self.num_classes * self.num_classes, dtype=self._dtype, device=y_pred.device)
        cells.index_add_(0, y_true * self.num_classes + y_pred, weight)
        self.total_cm += cells.reshape(self.num_classes, self.num_classes)


class IoU(_IoUBase):
    """Mean IoU over ``target_class_ids`` (see the module docstring).

    ``sparse_y_true`` / ``sparse_y_pred``: class ids (True) or scores to take the ``argmax``
    of over ``axis`` (False). Keras' defaults: ``name=None`` ("io_u"), ``dtype=None``
    ("int32" state), ``ignore_class=None``, ``sparse_y_true=True``, ``sparse_y_pred=True``,
    ``axis=-1``."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis)
        target_class_ids = list(target_class_ids)
        if max(target_class_ids) >= self.num_classes:
            raise ValueError(
                f"Target class id {max(target_class_ids)} is out of range, which is [0, {self.num_classes})."
            )
        self.target_class_ids = target_class_ids
        self._target_index = torch.tensor(target_class_ids, dtype=torch.long)

    def _move_constants(self, device):
        self._target_index = self._target_index.to(device)

    def result(self):
        matrix = self.total_cm.detach()
        true_positives = torch.diagonal(matrix)
        denominator = (matrix.sum(0).to(self._dtype) + matrix.sum(1).to(self._dtype) - true_positives)
        index = self._target_index.to(matrix.device)
        true_positives = true_positives[index].float()
        denominator = denominator[index].float()
        valid = denominator > 1e-9
        iou = torch.where(valid, true_positives / (denominator + EPSILON), 0.0)
        return iou.sum() / (valid.float().sum() + EPSILON)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class BinaryIoU(IoU):
    """IoU of two classes, predicting class 1 where ``y_pred >= threshold`` (labels are
    converted to the state's dtype: with the default "int32", 0.7 counts as class 0).
    Keras' defaults: ``target_class_ids=(0, 1)``, ``threshold=0.5``, ``name=None``
    ("binary_io_u")."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        check_number("threshold", threshold)
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = as_tensor(y_pred).detach().float()
        y_true = as_tensor(y_true, device=y_pred.device).detach().to(self._dtype)
        super().update_state(y_true, (y_pred >= self.threshold).to(self._dtype), sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}


class MeanIoU(IoU):
    """IoU averaged over all ``num_classes`` classes. Keras' defaults as `IoU`
    (``name=None``: "mean_io_u")."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True, sparse_y_pred=True,
                 axis=-1):
        check_positive_int("num_classes", num_classes)
        super().__init__(num_classes, list(range(int(num_classes))), name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotIoU(IoU):
    """`IoU` for one-hot labels (``argmax`` over ``axis``); predictions are scores unless
    ``sparse_y_pred=True``. Keras' defaults: ``sparse_y_pred=False``, ``axis=-1``."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_pred=False,
                 axis=-1):
        super().__init__(num_classes, target_class_ids, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "target_class_ids": self.target_class_ids, "name": self.name,
                "dtype": self.dtype, "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}


class OneHotMeanIoU(MeanIoU):
    """`MeanIoU` for one-hot labels; predictions are scores unless ``sparse_y_pred=True``.
    Keras' defaults: ``sparse_y_pred=False``, ``axis=-1``."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}
