"""`Metric` and the reduction metrics, under the module name other packages import them by
(``from danlu.metrics.base import Mean``). The code lives in `metric` and `reduction`."""

from danlu.metrics.metric import Metric, metric_dtype
from danlu.metrics.reduction import Mean, MeanMetricWrapper, Sum, divide_no_nan, reduce_to_samplewise_values

__all__ = ["Mean", "MeanMetricWrapper", "Metric", "Sum", "divide_no_nan", "metric_dtype", "reduce_to_samplewise_values"]
