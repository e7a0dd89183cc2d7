"""Strategies in one process (no launcher: a world of one), their scope, and bad input: clear
errors before anything runs. (Runs in several processes are in test_training.py.)"""

import numpy as np
import pytest
import torch

import danlu
from danlu import distribute, layers
from danlu.distribute import environment


def classifier():
    return danlu.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3)])


def data(n=40):
    x = np.random.default_rng(0).normal(size=(n, 5)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


@pytest.mark.parametrize("make", [distribute.DataParallel, distribute.ShardedDataParallel])
def test_without_a_launcher_a_strategy_is_one_process_and_trains_as_one(make, tmp_path):
    strategy = make()
    assert (strategy.world_size, strategy.rank, strategy.is_chief, strategy.distributed) == (1, 0, True, False)
    x, y = data()
    with strategy.scope():
        torch.manual_seed(0)
        model = classifier()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc"])
    assert distribute.get_strategy().world_size == 1 and model.trainer.strategy is strategy
    torch.manual_seed(1)
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    torch.manual_seed(0)
    plain = classifier()
    plain.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc"])
    torch.manual_seed(1)
    assert plain.fit(x, y, batch_size=8, epochs=2, verbose=0).history == history
    model.save_weights(tmp_path / "w.weights.h5")
    plain.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(model.weights, plain.weights):
        assert torch.equal(a, b)


def test_a_scope_cannot_be_entered_twice_or_inside_another():
    strategy, other = distribute.DataParallel(), distribute.DataParallel()
    with strategy.scope():
        with pytest.raises(RuntimeError, match="entered twice or nested"), strategy.scope():
            pass
        with pytest.raises(RuntimeError, match="Another strategy's scope is already open"), other.scope():
            pass
    with strategy.scope():  # one after the other is fine
        pass


def test_a_model_created_or_built_outside_the_scope_is_refused_at_compile():
    strategy = distribute.DataParallel()
    outside = classifier()
    with strategy.scope(), pytest.raises(ValueError, match="created outside .* scope and compiled inside"):
        outside.compile(optimizer="sgd", loss="mse")
    with strategy.scope():
        inside = classifier()
    inside(torch.zeros(2, 5))  # builds its weights outside the scope
    with strategy.scope(), pytest.raises(ValueError, match="weights built outside"):
        inside.compile(optimizer="sgd", loss="mse")
    with strategy.scope():
        made = classifier()
    made.compile(optimizer="sgd", loss="mse")  # compiled outside: the strategy it was made in
    assert made.trainer.strategy is strategy


def test_nccl_on_a_machine_without_gpus_is_refused():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match="backend='nccl' needs CUDA GPUs.*backend='gloo'"):
        distribute.DataParallel(backend="nccl")
    with pytest.raises(ValueError, match="Did you mean"):
        distribute.DataParallel(backend="glo")
    with pytest.raises(ValueError, match="timeout must be"):
        distribute.DataParallel(timeout=0)


def test_a_global_batch_smaller_than_the_number_of_processes_is_refused():
    strategy = distribute.DataParallel()
    strategy.world_size, strategy.distributed = 4, True  # as if launched with 4 processes
    with strategy.scope():
        model = classifier()
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = data()
    with pytest.raises(ValueError, match="batch_size=3 is the global batch, shared by the 4 processes"):
        model.fit(x, y, batch_size=3, verbose=0)
    with pytest.raises(ValueError, match="validation_batch_size=2"):
        model.fit(x, y, batch_size=8, validation_data=(x, y), validation_batch_size=2, verbose=0)
    with pytest.raises(ValueError, match="batch_size=1 is the global batch"):
        model.predict(x, batch_size=1, verbose=0)


def test_tpus_need_torch_xla_and_say_so():
    pytest.importorskip("torch")
    try:
        import torch_xla  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("torch_xla is installed here")
    with pytest.raises(ImportError, match="TPUStrategy needs the torch_xla package"):
        distribute.TPUStrategy()
    model = classifier()
    with pytest.raises(ImportError, match="device='xla' needs the torch_xla package"):
        model.compile(optimizer="sgd", loss="mse", device="xla")


def test_launch_checks_its_arguments():
    with pytest.raises(ValueError, match="num_processes must be a positive int"):
        distribute.launch(print, num_processes=0)
    with pytest.raises(TypeError, match="needs a callable"):
        distribute.launch("train.py", num_processes=2)


def test_slurm_variables_become_torchrun_ones():
    env = {"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1", "SLURM_JOB_NODELIST": "gpu[03-04,07],cpu1"}
    environment.slurm_to_torchrun(env)
    assert (env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"], env["MASTER_ADDR"], env["MASTER_PORT"]) == (
        "5", "8", "1", "gpu03", "29500")
    single = {"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}
    environment.slurm_to_torchrun(single)
    assert "RANK" not in single
    assert environment.first_host("node7") == "node7"


def test_devices_pick_one_device_per_process():
    assert environment.resolve_device("cpu", 3) == torch.device("cpu")
    assert environment.resolve_device(["cpu", "cpu"], 1) == torch.device("cpu")
    with pytest.raises(ValueError, match="one device per process"):
        environment.resolve_device(["cpu"], 1)


def test_unused_weights_are_found_once_so_ddp_looks_for_them_only_when_needed():
    from danlu.distribute.data_parallel import unused_parameters

    class TwoHeads(danlu.Model):
        def __init__(self):
            super().__init__()
            self.used, self.unused = layers.Dense(3), layers.Dense(3)

        def call(self, x):
            return self.used(x)

    model = TwoHeads()
    model.unused(torch.zeros(1, 5))
    model.example_input = torch.zeros(1, 5)
    model(model.example_input)
    assert unused_parameters(model) == ["unused.weight", "unused.bias"]
    plain = classifier()
    plain.example_input = torch.zeros(1, 5)
    plain(plain.example_input)
    assert unused_parameters(plain) == [] and not plain.training
