"""Training programs run in several processes by the distributed tests (through
`danlu.distribute.launch`, torchrun, or two torchrun "nodes") and in the test process as
the single-process reference. Top-level functions: `launch` pickles them by name.

``run(config)`` trains a small classifier on seeded data and returns (and, with
``config["out"]``, writes per rank) what the tests compare: the final weights, the history,
``evaluate`` and ``predict`` results.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch

DEFAULTS = {
    "strategy": "single", "samples": 96, "batch_size": 16, "epochs": 2, "optimizer": "sgdm", "regularize": False,
    "out": None, "files": False, "timeout": 120.0, "accumulate": None, "loader": False, "die_at": None,
    "die_once_after_epoch": None, "devices": None, "backend": None, "reload": False, "jit_compile": None,
}


def data(samples):
    generator = np.random.default_rng(0)
    x = generator.normal(size=(samples, 6)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int64") + (x[:, 2] > 1).astype("int64")
    return x, y


def make_strategy(name, timeout, devices=None, backend=None):
    from danlu import distribute

    if name == "ddp":
        return distribute.DataParallel(timeout=timeout, devices=devices, backend=backend)
    if name == "fsdp":
        return distribute.ShardedDataParallel(timeout=timeout, min_num_params=50, devices=devices, backend=backend)
    return None


def make_optimizer(name, accumulate):
    from danlu import optimizers

    extra = {"gradient_accumulation_steps": accumulate} if accumulate else {}
    if name == "adam":
        return optimizers.Adam(learning_rate=0.01, **extra)
    if name == "sgdm":
        return optimizers.SGD(learning_rate=0.05, momentum=0.9, **extra)
    raise ValueError(f"no optimizer named {name!r} in this test program")


def build(config):
    import danlu
    from danlu import layers, losses, regularizers

    torch.manual_seed(1)
    regularizer = regularizers.L2(0.01) if config["regularize"] else None
    model = danlu.Sequential([
        layers.Dense(16, activation="relu", kernel_regularizer=regularizer, input_shape=(6,)),
        layers.Dense(3),
    ])
    if config["jit_compile"]:  # the backend's name: "aot_eager" keeps compilation light on a CPU
        from danlu.trainer import compiled

        compiled.BACKEND = config["jit_compile"]
    model.compile(
        optimizer=make_optimizer(config["optimizer"], config["accumulate"]),
        loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["acc"], jit_compile=bool(config["jit_compile"]),
    )
    return model


def die_at(rank, batch):
    """A callback that kills process ``rank`` (no Python exception, no cleanup) at a batch."""
    from danlu import callbacks

    class Die(callbacks.Callback):
        def on_train_batch_end(self, b, logs=None):
            if self.model.trainer.strategy.rank == rank and b == batch:
                os._exit(3)

    return Die()


def die_once_after_epoch(rank, epoch):
    """A callback that kills process ``rank`` after epoch ``epoch`` (its backup written), in
    the first attempt of an elastic run only."""
    from danlu import callbacks

    class DieOnce(callbacks.Callback):
        def on_epoch_end(self, e, logs=None):
            first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"
            if first_attempt and self.model.trainer.strategy.rank == rank and e == epoch:
                os._exit(4)

    return DieOnce()


def run(config):
    config = {**DEFAULTS, **config}
    from danlu import callbacks

    strategy = make_strategy(config["strategy"], config["timeout"], config["devices"], config["backend"])
    if strategy is None:
        model = build(config)
        rank, world = 0, 1
    else:
        with strategy.scope():
            model = build(config)
        rank, world = strategy.rank, strategy.world_size
    x, y = data(config["samples"])
    x_val, y_val = data(37)
    out = config["out"]
    extra = []
    if config["files"] and out:
        extra = [
            callbacks.ModelCheckpoint(os.path.join(out, "ckpt.keras")),
            callbacks.CSVLogger(os.path.join(out, "log.csv")),
            callbacks.BackupAndRestore(os.path.join(out, "backup"), delete_checkpoint=False),
        ]
    if config["die_at"] is not None:
        extra.append(die_at(*config["die_at"]))
    if config["die_once_after_epoch"] is not None:
        extra.append(die_once_after_epoch(*config["die_once_after_epoch"]))
    torch.manual_seed(2)  # the shuffling seed: drawn from here by rank 0 (and shared) or by one process
    if config["loader"]:
        dataset = torch.utils.data.TensorDataset(torch.as_tensor(x), torch.as_tensor(y))
        loader = torch.utils.data.DataLoader(dataset, batch_size=config["batch_size"])  # resharded by index
        history = model.fit(loader, epochs=config["epochs"], verbose=0, validation_data=(x_val, y_val), callbacks=extra)
    else:
        history = model.fit(x, y, batch_size=config["batch_size"], epochs=config["epochs"], verbose=0,
                            validation_data=(x_val, y_val), callbacks=extra)
    evaluation = model.evaluate(x_val, y_val, batch_size=5, verbose=0, return_dict=True)
    predictions = model.predict(x_val, batch_size=6, verbose=0)
    if config["files"] and out:
        model.save_weights(os.path.join(out, "final.weights.h5"))
        model.save(os.path.join(out, "final.keras"))
    weights = [w.detach().cpu().numpy() for w in full_weights(model, strategy)]
    sharded = any(type(p).__name__ == "DTensor" for p in model.parameters())
    reloaded = reload_into_fresh_models(config, x_val, y_val, weights) if config["reload"] else {}
    result = {"weights": weights, "history": history.history, "evaluate": evaluation, "predict": predictions,
              "rank": rank, "world": world, "sharded": sharded}
    if out:
        np.savez(os.path.join(out, f"rank{rank}.npz"), *weights, predict=predictions)
        with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
            json.dump({"history": history.history, "evaluate": evaluation, "world": world, "sharded": sharded,
                       "reloaded": reloaded}, f)
    return result


def reload_into_fresh_models(config, x_val, y_val, weights):
    """Load what this run saved into fresh models of the same strategy (a full weights file,
    and, under sharding, a torch.distributed.checkpoint folder); the largest differences from
    the trained weights."""
    from danlu import distribute

    out, found = config["out"], {}
    sources = [("full", os.path.join(out, "final.weights.h5"), None)]
    if config["strategy"] == "fsdp":
        sharded = distribute.ShardedDataParallel(min_num_params=50, state_dict_type="sharded", timeout=config["timeout"])
        with sharded.scope():
            writer = build(config)
        writer.evaluate(x_val, y_val, verbose=0)  # built and sharded
        writer.load_weights(sources[0][1])
        folder = os.path.join(out, "dcp")
        writer.save_weights(folder)  # every process writes its shards
        sources.append(("sharded_folder", folder, sharded))
    for name, path, strategy in sources:
        strategy = strategy or make_strategy(config["strategy"], config["timeout"])
        with strategy.scope():
            fresh = build(config)
        fresh.evaluate(x_val, y_val, verbose=0)  # built (and sharded) before loading
        fresh.load_weights(path)
        ours = [w.detach().cpu().numpy() for w in full_weights(fresh, strategy)]
        found[name] = max(float(np.abs(a - b).max()) for a, b in zip(ours, weights))
    return found


def full_weights(model, strategy):
    """The whole weights on every process (gathered from the shards under FSDP)."""
    tensors = list(model.state_dict().values())
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:  # pragma: no cover
        return tensors
    return [t.full_tensor() if isinstance(t, DTensor) else t for t in tensors]


def main(argv):
    """``python workloads.py '{"strategy": "ddp", ...}'`` (what torchrun starts)."""
    run(json.loads(argv[1]))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    main(sys.argv)
