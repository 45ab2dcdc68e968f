"""Tests for the cluster work split (chunks, models per task, the report), the node build
turn and the ray backend's checks that need no cluster."""

from __future__ import annotations

import fcntl
import importlib
import socket
import threading

import pytest

from torchground.cli import main
from torchground.engine.sweep.build_turn import BUILD_EPOCHS, build_turn
from torchground.engine.sweep.chunks import (
    MIN_MODELS_PER_TASK,
    TASKS_PER_SLOT,
    TaskRecord,
    cluster_report,
    models_per_task,
    plan_chunks,
)
from torchground.engine.sweep.ray_tasks import Ledger
from torchground.errors import TorchgroundError

importlib.import_module("torchground.cli.sweep_cmd")


@pytest.mark.parametrize("sizes, per_task", [([1], 1), ([10], 3), ([7, 64, 1], 8), ([100], 100), ([101], 100), ([5, 5], 64)])
def test_chunks_cover_every_model_once_in_order_with_near_equal_sizes(sizes, per_task):
    chunks = plan_chunks(sizes, per_task)
    assert [c.id for c in chunks] == list(range(len(chunks)))
    for g, size in enumerate(sizes):
        mine = [c for c in chunks if c.group == g]
        assert [i for c in mine for i in c.index] == list(range(size))
        lengths = [len(c.index) for c in mine]
        assert max(lengths) <= per_task and max(lengths) - min(lengths) <= 1
        assert len(mine) == -(-size // per_task)


def test_plan_refuses_empty_chunks():
    with pytest.raises(ValueError):
        plan_chunks([3], 0)


def test_models_per_task_follows_the_slots():
    big = 10**6
    assert models_per_task(big, slots=10, gpu=False) == big // (10 * TASKS_PER_SLOT)
    assert models_per_task(big, slots=20, gpu=False) == big // (20 * TASKS_PER_SLOT)
    assert models_per_task(big, slots=10, gpu=True) == big // 20
    assert models_per_task(10, slots=10, gpu=False) == MIN_MODELS_PER_TASK["cpu"]
    assert models_per_task(10, slots=10, gpu=True) == MIN_MODELS_PER_TASK["gpu"]
    assert models_per_task(10, slots=0, gpu=False) == MIN_MODELS_PER_TASK["cpu"]  # an empty cluster still plans


def _record(chunk, node, start, end, steps, attempts=None):
    return TaskRecord(chunk, node, "10.0.0." + node[-1], 100 + chunk, start, end, 4, steps, attempts or [{"node": node, "address": "x", "pid": 1}])


def test_cluster_report_counts_tasks_nodes_rates_and_retries():
    records = [
        _record(0, "n1", 0.0, 2.0, 100),
        _record(1, "n1", 1.0, 3.0, 100),  # beside task 0 on n1: n1 was busy 3 s, not 4
        _record(2, "n2", 5.0, 6.0, 50, [{"node": "n1", "address": "a", "pid": 7}, {"node": "n2", "address": "b", "pid": 8}]),
    ]
    report = cluster_report(records, 4, {"CPU": 2.0})
    assert report["tasks"] == 3 and report["models_per_task"] == 4 and report["resources"] == {"CPU": 2.0}
    n1, n2 = report["nodes"]["n1"], report["nodes"]["n2"]
    assert (n1["tasks"], n1["models"], n1["model_steps"], n1["busy_s"], n1["task_s"]) == (2, 8, 200, 3.0, 4.0)
    assert n1["model_steps_per_s"] == pytest.approx(200 / 3, abs=0.1) and n1["task_model_steps_per_s"] == 50.0
    assert n2["model_steps_per_s"] == 50.0 and n2["address"] == "10.0.0.2"
    assert report["retried"] == [{"task": 2, "models": 4, "finished_on": "n2", "attempts": records[2].attempts}]


def test_ledger_keeps_every_attempt():
    ledger = Ledger()
    ledger.started(3, "n1", "a", 11)
    ledger.started(3, "n2", "b", 12)
    assert [a["finished"] for a in ledger.attempts()[3]] == [False, False]
    assert ledger.finished(3, 12) == [{"node": "n1", "address": "a", "pid": 11}, {"node": "n2", "address": "b", "pid": 12}]
    assert [a["finished"] for a in ledger.attempts()[3]] == [False, True]


def _locked(path) -> bool:
    with open(path, "a") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe, fcntl.LOCK_UN)
        return False


def test_build_turn_holds_the_node_lock_through_the_first_epochs(tmp_path):
    folder = tmp_path / "builds"
    with build_turn(folder, "cfg") as progress:
        assert progress is not None and _locked(folder / "cfg.lock")
        progress(BUILD_EPOCHS - 1, 5)
        assert _locked(folder / "cfg.lock") and not (folder / "cfg.built").exists()
        progress(BUILD_EPOCHS, 5)  # built: the others may go
        assert not _locked(folder / "cfg.lock") and (folder / "cfg.built").exists()
    with build_turn(folder, "cfg") as progress:
        assert progress is None  # built on this node already
    with build_turn(folder, "other") as progress:
        progress(1, 1)  # a one-epoch group is built after its only epoch
        assert (folder / "other.built").exists()


def test_build_turn_left_early_passes_the_turn_on(tmp_path):
    folder = tmp_path / "builds"
    with pytest.raises(RuntimeError), build_turn(folder, "cfg"):
        raise RuntimeError("every model diverged, or a build failed")
    assert not _locked(folder / "cfg.lock") and not (folder / "cfg.built").exists()
    entered = []

    def second() -> None:
        with build_turn(folder, "cfg") as progress:
            entered.append(progress)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(timeout=60)
    assert len(entered) == 1 and entered[0] is not None  # the next task builds


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--ray-address", "10.0.0.1:6379"], "--ray-address applies to --backend ray only"),
        (["--models-per-task", "8"], "--models-per-task applies to --backend ray only"),
        (["--backend", "ray", "--models-per-task", "0"], "at least 1, not 0"),
        (["--backend", "ray", "--ray-address", "nohost"], "not host:port"),
    ],
)
def test_cluster_options_mistakes_exit_2(args, needle, tmp_path, capsys):
    assert main(["sweep", "--grid", "lr=0.1", "--epochs", "1", *args, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_an_address_where_nothing_answers_is_refused_at_once(tmp_path, capsys):
    pytest.importorskip("ray")
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["sweep", "--grid", "lr=0.1", "--epochs", "1", "--backend", "ray", "--ray-address", f"127.0.0.1:{port}", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2 and f"No Ray cluster answers at 127.0.0.1:{port}" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_unreachable_message_in_japanese():
    error = TorchgroundError("cluster.unreachable", address="h:1", reason="refused")
    assert "h:1" in error.message("ja") and "ray start --head" in error.message("ja")


def test_packed_results_come_back_whole():
    import pickle

    import numpy as np
    import torch

    from torchground.engine.stacked import StackedGroup
    from torchground.engine.sweep.ray_tasks import pack_results, unpack_results
    from torchground.spec import Spec

    specs = [Spec(epochs=3, n_samples=120, activation="relu", output_activation="identity", lr=lr) for lr in (0.03, 60.0, 0.01)]
    results = StackedGroup(specs).run()
    back = unpack_results(pickle.loads(pickle.dumps(pack_results(results))), specs)
    assert [r.status for r in back] == ["completed", "diverged", "completed"]
    for a, b in zip(results, back):
        assert b.spec is a.spec  # the driver's own specs
        assert (a.status, a.steps, a.message, a.best_epoch) == (b.status, b.steps, b.message, b.best_epoch)
        assert torch.equal(a.params, b.params) and np.array_equal(a.metrics, b.metrics, equal_nan=True)
        assert a.history().rows == b.history().rows
    assert unpack_results(pack_results([]), []) == []


def test_unpacked_arrays_are_writable_copies():
    import numpy as np

    from torchground.engine.stacked import StackedGroup
    from torchground.engine.sweep.ray_tasks import pack_results, unpack_results
    from torchground.spec import Spec

    specs = [Spec(epochs=2, n_samples=60, lr=lr) for lr in (0.01, 0.1)]
    packed = pack_results(StackedGroup(specs).run())
    for array in [packed["_params"], *packed["metrics"]]:
        array.setflags(write=False)  # as Ray's object store hands them over
    back = unpack_results(packed, specs)
    assert all(r.params.numpy().flags.writeable and r.metrics.flags.writeable for r in back)
