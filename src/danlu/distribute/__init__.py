"""Training on many devices and machines, on ``torch.distributed`` (tf.distribute's place).

- `DataParallel` (DistributedDataParallel; tf's MirroredStrategy / MultiWorkerMirroredStrategy),
- `ShardedDataParallel` (FSDP2 ``fully_shard``: weights, gradients and optimizer state sharded),
- `TPUStrategy` (torch_xla, where it is installed),
- `launch(fn, num_processes=N)`: N local processes through torch's elastic launcher.

The same script runs on one CPU, one GPU, N GPUs or N machines::

    strategy = danlu.distribute.DataParallel()
    with strategy.scope():
        model = build_model()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc"])
    model.fit(x, y, batch_size=256, epochs=10)      # 256: the global batch

started with ``torchrun --nproc_per_node=8 train.py`` (or ``--nnodes=M --node_rank=R
--rdzv-backend=c10d --rdzv-endpoint=HOST:PORT`` on each of M machines), or ``python train.py``
for one process. ``fit`` matches a single process on the same global batch to float
round-off; logs and results are global on every process; rank 0 alone prints and writes files.
"""

from danlu.distribute.data_parallel import DataParallel
from danlu.distribute.launch import ProcessFailedError, launch
from danlu.distribute.scope import current as get_strategy_in_scope
from danlu.distribute.sharded import ShardedDataParallel
from danlu.distribute.strategy import Strategy
from danlu.distribute.xla import TPUStrategy
from danlu.trainer.strategy import SingleProcess

__all__ = [
    "DataParallel", "ProcessFailedError", "ShardedDataParallel", "SingleProcess", "Strategy", "TPUStrategy",
    "get_strategy", "launch",
]


def get_strategy():
    """The strategy whose scope is open, else the one-process default (tf.distribute.get_strategy)."""
    return get_strategy_in_scope() or SingleProcess()
