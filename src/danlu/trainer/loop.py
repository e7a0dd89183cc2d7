"""The epoch loops behind ``fit``, ``evaluate`` and ``predict``.

The per-step work is the model's ``train_step`` / ``test_step`` / ``predict_step``; this
module orders epochs, validation, callbacks and the loop's progress. Nothing here reads a
value back from the device per step: logs are computed when a callback or a log asks.

Under data parallelism (the trainer's strategy, see `danlu.trainer.strategy`) the data is
sharded per process, each train step's loss is weighted by the process' share of the global
batch, and the metrics are combined across processes once, when a loop's result is read
(epoch logs, validation and ``evaluate`` results are global on every process; the values
batch-level callbacks read are the process' own running values).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, MutableMapping

import numpy as np
import torch

from danlu._validation import check_positive_int
from danlu.callbacks import CallbackList, History, ProgbarLogger
from danlu.trainer.checks import checked_first_step
from danlu.trainer.data import (
    ArrayData,
    adapt,
    check_class_weight,
    class_weights_to_sample_weights,
    unpack,
)


class LazyLogs(MutableMapping):
    """Logs whose values are the metrics' results, computed (and read from the device) only
    when looked up; entries a step or a callback sets are kept alongside."""

    def __init__(self, metrics):
        self._metrics = {m.name: m for m in metrics}
        self._set = {}

    def __getitem__(self, key):
        if key in self._set:
            return _to_python(self._set[key])
        return _to_python(self._metrics[key].result())

    def __setitem__(self, key, value):
        self._set[key] = value

    def __delitem__(self, key):
        if key in self._set:
            del self._set[key]
        else:
            raise KeyError(key)

    def __iter__(self):
        return iter([*self._metrics, *(k for k in self._set if k not in self._metrics)])

    def __len__(self):
        return len(set(self._metrics) | set(self._set))


def _to_python(value):
    """A metric or step value as a Python float (a list for vector results)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return float(value) if value.ndim == 0 else value.tolist()
    if isinstance(value, np.ndarray):
        return float(value) if value.ndim == 0 else value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return float(value)
    return value


def results(metrics) -> dict:
    """Every metric's value as a Python float (or list, for vector results)."""
    return {metric.name: _to_python(metric.result()) for metric in metrics}


def loop_logs(model, returned, reduce=False) -> dict:
    """The logs at the end of a loop, as Keras makes them: the metrics' results, unless the
    last step returned logs of its own with other names (a custom ``train_step``), which are
    then used; keys sorted (Keras' order). ``reduce``: first combine the metrics of every
    process (the end of a loop: every process calls it)."""
    strategy = model.trainer.strategy if reduce and model.trainer is not None else None
    if strategy is not None:
        strategy.reduce_metrics(model.metrics)
    metric_logs = results(model.metrics)
    if isinstance(returned, Mapping) and not isinstance(returned, LazyLogs) and set(returned) != set(metric_logs):
        logs = {k: _to_python(v) for k, v in returned.items()}
        if strategy is not None:
            logs = strategy.reduce_logs(logs)
    else:
        logs = metric_logs
        if isinstance(returned, LazyLogs):
            logs.update({k: returned[k] for k in returned._set})
    return dict(sorted(logs.items()))


def step_logs(returned, default):
    """What batch callbacks see after a step: the step's own dict (values read as Python
    floats when looked up), or the lazy metric logs."""
    if returned is None or returned is default or not isinstance(returned, Mapping) or isinstance(returned, LazyLogs):
        return default if not isinstance(returned, LazyLogs) else returned
    logs = LazyLogs([])
    logs._set = dict(returned)
    return logs


def resolve_verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto'; received verbose={verbose!r}.")
    return verbose


def make_callbacks(model, callbacks, verbose, history=None, deferred=None, **params):
    """The user's callbacks, then `History`, then the progress bar (Keras' order: both see
    what earlier callbacks add to the logs, such as "learning_rate"). ``deferred``: the
    trainer's queue of actions run after each hook (``fit``)."""
    callbacks = list(callbacks or [])
    if history is not None and not any(isinstance(c, History) for c in callbacks):
        callbacks.append(history)
    if verbose and not any(isinstance(c, ProgbarLogger) for c in callbacks):
        callbacks.append(ProgbarLogger())
    return CallbackList(callbacks, model=model, deferred=deferred, verbose=verbose, **params)


def fit(trainer, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
        validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
        steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
    """Keras' ``fit`` over the trainer's model (arguments checked before anything runs)."""
    model = trainer.model
    verbose = resolve_verbose(verbose)
    batch_size = 32 if batch_size is None else batch_size
    check_positive_int("batch_size", batch_size)
    strategy = trainer.strategy
    strategy.check_batch_size(batch_size)
    if validation_batch_size is not None:
        strategy.check_batch_size(validation_batch_size, "validation_batch_size")
    check_positive_int("epochs", epochs)
    check_positive_int("steps_per_epoch", steps_per_epoch, allow_none=True)
    check_positive_int("validation_freq", validation_freq)
    if not (isinstance(validation_split, (int, float)) and 0.0 <= validation_split < 1.0):
        raise ValueError(f"validation_split must be a float in [0, 1); received validation_split={validation_split!r}.")
    if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, int) or not 0 <= initial_epoch < epochs:
        raise ValueError(f"initial_epoch must be an int in [0, epochs={epochs}); received initial_epoch={initial_epoch!r}.")
    if class_weight is not None and y is None:
        raise ValueError("class_weight needs in-memory labels y.")

    device = trainer.device
    data = trainer.conform(adapt(x, y, sample_weight, batch_size, shuffle, device))
    if class_weight is not None:
        check_class_weight(class_weight, data.y)  # against every label, validation's included
    validation = None
    if validation_split and validation_data is None:  # Keras: validation_data, when given, wins
        if not isinstance(data, ArrayData):
            raise ValueError("validation_split needs in-memory arrays; pass validation_data for a Dataset or generator.")
        data, validation = data.split(validation_split)
        data.shuffle = shuffle
        validation.shuffle = False
    elif validation_data is not None:
        validation = trainer.conform(validation_adapter(validation_data, validation_batch_size or batch_size, device))
    if class_weight is not None:
        # Keras: class weights weigh the training samples only; validation_split took its
        # share of the raw (x, y, sample_weight) above, so val_loss never carries them.
        data.sample_weight = class_weights_to_sample_weights(class_weight, data.y, data.sample_weight)
    if validation is not None and validation_batch_size is not None and isinstance(validation, ArrayData):
        validation.batch_size = validation_batch_size
    data, validation = strategy.shard(data), strategy.shard(validation)

    first = data.first_batch()
    if first is None:
        raise ValueError("fit received no data: x has no samples.")
    trainer.prepare(*unpack(first), data=data)

    steps = steps_per_epoch or data.steps
    progress = trainer.progress
    progress.start(initial_epoch, seed=strategy.shared_seed(int(torch.randint(0, 2**62, (1,)).item())))
    history = next((c for c in callbacks or [] if isinstance(c, History)), None) or History()
    callback_list = make_callbacks(model, callbacks, verbose, history=history, deferred=trainer.deferred, epochs=epochs,
                                   steps=steps)
    model.stop_training = False
    epoch_logs = {}
    trainer.callbacks = callback_list.callbacks  # the run's callbacks: their states are part of a backup
    try:
        with trainer.label_checks_done():
            callback_list.call("on_train_begin", {})
            epoch_logs = run_epochs(trainer, data, validation, epochs, initial_epoch, steps, steps_per_epoch,
                                    validation_steps, validation_freq, callback_list)
        callback_list.call("on_train_end", epoch_logs)
    finally:
        trainer.callbacks, trainer.resumed_within_epoch = None, None
        trainer.deferred.clear()
    model.eval()
    if trainer.optimizer is not None:
        trainer.optimizer.finalize_variable_values(None)
    model.history = history
    return history


def run_epochs(trainer, data, validation, epochs, initial_epoch, steps, steps_per_epoch, validation_steps,
               validation_freq, callback_list) -> dict:
    """The epochs of a ``fit``, from where a restored backup resumes (a run restored after
    its ``stop_training`` was set runs none); returns the last epoch's logs."""
    model, progress = trainer.model, trainer.progress
    epoch_logs = {}
    start_epoch, start_step, generator_state = progress.take_resume_point() or (initial_epoch, 0, None)
    if model.stop_training:
        return epoch_logs
    stream = None
    for epoch in range(start_epoch, epochs):
        resuming = epoch == start_epoch and generator_state is not None
        progress.begin_epoch(epoch, start_step if resuming else 0, generator_state if resuming else None)
        stream, returned = train_epoch(trainer, data, steps, steps_per_epoch, callback_list, stream)
        progress.finish_epoch()
        epoch_logs = loop_logs(model, returned, reduce=True)
        if validation is not None and (epoch + 1) % validation_freq == 0:
            val_logs = run_evaluation(trainer, validation, validation_steps, callback_list)
            epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            epoch_logs = dict(sorted(epoch_logs.items()))
        callback_list.call("on_epoch_end", epoch, epoch_logs)
        if model.stop_training:
            break
    return epoch_logs

def train_epoch(trainer, data, steps, steps_per_epoch, callback_list, stream):
    """One epoch of ``train_step`` calls, from the progress' step (when resuming, the
    shuffling generator was set to its state at the epoch's start). Returns the batch
    stream and what the last step returned."""
    model, progress = trainer.model, trainer.progress
    trainer.begin_loop()
    model.train()
    callback_list.call("on_epoch_begin", progress.epoch, {})
    if trainer.resumed_within_epoch is not None:  # a backup made inside this epoch: continue from it exactly
        trainer.restore_within_epoch()
    logs = model.step_logs()
    batch_begin, batch_end = callback_list.has("on_train_batch_begin"), callback_list.has("on_train_batch_end")
    execution = trainer.steps_per_execution
    step = progress.step
    if stream is None or isinstance(data, ArrayData) or data.reiterable:
        stream = iter(data.batches(progress.generator, start=step))
    first_call_step = step == 0 and progress.epoch == progress.first_epoch
    train_step, step_end = trainer.train_step, trainer.strategy.step_end
    sharded = data if getattr(data, "sharded", False) else None
    returned = None
    while steps is None or step < steps:
        batch = next(stream, None)
        if batch is None and steps_per_epoch is not None and isinstance(data, ArrayData):
            stream = iter(data.batches(progress.generator))  # Keras: steps_per_epoch may span passes over the data
            batch = next(stream, None)
        if batch is None:
            if step == 0:
                warnings.warn("The data ran out before this epoch started; stopping training.", stacklevel=3)
                model.stop_training = True
            break
        if batch_begin and step % execution == 0:
            callback_list.call("on_train_batch_begin", step, {})
        if sharded is not None:
            trainer.loss_share = trainer.share_for(sharded.share)
        if first_call_step:
            returned = checked_first_step(train_step, model, trainer.move(batch))
            first_call_step = False
        else:
            returned = train_step(trainer.move(batch))
        if step_end is not None:
            step_end()
        step += 1
        progress.finish_step()
        if batch_end and (step % execution == 0 or step == steps):
            callback_list.call("on_train_batch_end", step - 1, step_logs(returned, logs))
        if model.stop_training:
            break
    if not callback_list.params.get("steps"):
        callback_list.params["steps"] = step
    return stream, returned


def validation_adapter(validation_data, batch_size, device):
    if isinstance(validation_data, (tuple, list)) and 2 <= len(validation_data) <= 3:
        return adapt(*validation_data, batch_size=batch_size, shuffle=False, device=device)
    if isinstance(validation_data, (tuple, list)):
        raise ValueError(f"validation_data must be (x_val, y_val) or (x_val, y_val, sample_weight_val); received {len(validation_data)} items.")
    return adapt(validation_data, batch_size=batch_size, shuffle=False, device=device)


def run_evaluation(trainer, data, steps, callback_list):
    """One pass of ``test_step`` over ``data``; returns the logs (Python floats)."""
    model = trainer.model
    trainer.begin_loop()
    to_inference_mode(model)
    callback_list.call("on_test_begin", {})
    batch_begin, batch_end = callback_list.has("on_test_batch_begin"), callback_list.has("on_test_batch_end")
    logs = model.step_logs()
    test_step, moved = model.test_step, already_on_device(trainer, data)
    returned = None
    with torch.no_grad():
        for step, batch in enumerate(data.batches()):
            if steps is not None and step >= steps:
                break
            if batch_begin:
                callback_list.call("on_test_batch_begin", step, {})
            if not moved:
                batch = trainer.move(batch)
            returned = test_step(batch) if step else checked_first_step(test_step, model, batch)
            if batch_end:
                callback_list.call("on_test_batch_end", step, step_logs(returned, logs))
    final = loop_logs(model, returned, reduce=True)
    callback_list.call("on_test_end", final)
    return final


def evaluate(trainer, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None, callbacks=None,
             return_dict=False):
    """Keras' ``evaluate``: the loss and metrics over the data."""
    verbose = resolve_verbose(verbose)
    batch_size = 32 if batch_size is None else batch_size
    check_positive_int("batch_size", batch_size)
    check_positive_int("steps", steps, allow_none=True)
    trainer.strategy.check_batch_size(batch_size)
    data = trainer.strategy.shard(trainer.conform(adapt(x, y, sample_weight, batch_size, False, trainer.device)))
    first = data.first_batch()
    if first is None:
        raise ValueError("evaluate received no data: x has no samples.")
    trainer.prepare(*unpack(first), data=data)
    callback_list = make_callbacks(trainer.model, callbacks, verbose, steps=steps or getattr(data, "steps", None))
    with trainer.label_checks_done():
        logs = run_evaluation(trainer, data, steps, callback_list)
    return logs if return_dict else ordered_values(trainer.model, logs)


def ordered_values(model, logs):
    """Keras' list form of the logs: the metrics in `model.metrics` order (single output;
    with several outputs the compiled metrics' logged names are prefixed, so, as Keras, they
    come after the loss and the per-output losses, sorted); a scalar when there is one."""
    trainer = model.trainer
    compiled = trainer.compiled_metrics if trainer is not None else None
    several = compiled is not None and len(getattr(compiled, "names", ())) > 1
    skip = {id(m) for m in compiled.metrics} if several else set()
    names = [m.name for m in model.metrics if id(m) not in skip]
    values = [logs[n] for n in names if n in logs] + [logs[k] for k in sorted(logs) if k not in names]
    return values[0] if len(values) == 1 else values


def predict(trainer, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
    """Keras' ``predict``: the model's outputs as numpy arrays, concatenated over batches."""
    model = trainer.model
    verbose = resolve_verbose(verbose)
    batch_size = 32 if batch_size is None else batch_size
    check_positive_int("batch_size", batch_size)
    check_positive_int("steps", steps, allow_none=True)
    trainer.strategy.check_batch_size(batch_size)
    device = trainer.device
    data = trainer.strategy.shard(trainer.conform(adapt(x, None, None, batch_size, False, device)))
    moved = already_on_device(trainer, data)
    callback_list = make_callbacks(model, callbacks, verbose, steps=steps or getattr(data, "steps", None))
    to_inference_mode(model)
    callback_list.call("on_predict_begin", {})
    outputs = []
    batch_begin, batch_end = callback_list.has("on_predict_batch_begin"), callback_list.has("on_predict_batch_end")
    predict_step = model.predict_step
    with torch.no_grad():
        for step, batch in enumerate(data.batches()):
            if steps is not None and step >= steps:
                break
            if batch_begin:
                callback_list.call("on_predict_batch_begin", step, {})
            if not moved:
                batch = trainer.move(batch)
            outputs.append(predict_step(batch) if step else checked_first_step(predict_step, model, batch))
            if batch_end:
                callback_list.call("on_predict_batch_end", step, {"outputs": outputs[-1]})
    callback_list.call("on_predict_end", {})
    if not outputs:
        raise ValueError("predict received no data: x has no samples.")
    return concatenate_outputs(trainer.strategy.gather_batches(outputs))


def concatenate_outputs(outputs):
    """Concatenate per-batch outputs along the batch axis into numpy arrays (same structure)."""
    first = outputs[0]
    if isinstance(first, Mapping):
        return {k: concatenate_outputs([o[k] for o in outputs]) for k in first}
    if isinstance(first, (tuple, list)):
        return type(first)(concatenate_outputs([o[i] for o in outputs]) for i in range(len(first)))
    if first.device.type == "cpu" and all(o.device == first.device and o.dtype == first.dtype for o in outputs):
        # On the host already: one concatenation, then one cast (half -> float32). Device batches
        # are copied one by one below, so the device never holds the outputs twice.
        joined = torch.cat(outputs).detach()
        return (joined.float() if joined.dtype in (torch.float16, torch.bfloat16) else joined).numpy()
    return torch.cat([o.detach().to("cpu", torch.float32 if o.dtype in (torch.float16, torch.bfloat16) else o.dtype) for o in outputs]).numpy()


def already_on_device(trainer, data) -> bool:
    """Whether the batches of ``data`` need no move: the run is on the CPU, or the data is in
    memory (`adapt` moved it to the device once)."""
    return trainer.device.type == "cpu" or isinstance(data, ArrayData)


def to_inference_mode(model) -> None:
    """``model.eval()``, skipped when no module inside is in training mode and none has its
    own ``train``: the check is one walk over the modules, setting the mode is a slower one
    (danlu layers start in inference mode and ``fit`` ends in it)."""
    train = torch.nn.Module.train
    if any(module.training or type(module).train is not train for module in model.modules()):
        model.eval()
