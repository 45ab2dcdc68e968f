"""The intra-op thread rule (train/threads.py): the counts it gives, that only sizes and
cores decide them, that both engines use it, the override, and that the stacked engine's
results are bitwise the same whatever the count."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from torchground.cli import main
from torchground.engine import StackedGroup
from torchground.errors import TorchgroundError
from torchground.spec import Spec
from torchground.train import Trainer, threads
from torchground.train.callbacks import Callback
from torchground.train.threads import ENV, GRAIN, MAX_THREADS, forced, rule, threads_for

G = GRAIN


@pytest.mark.parametrize(
    "work, cores, expected",
    [
        (0, 2, 1), (1, 2, 1), (G - 1, 2, 1), (G, 2, 1), (2 * G - 1, 2, 1), (2 * G, 2, 2), (10**12, 2, 2),
        (2 * G, 1, 1), (10**12, 1, 1),
        (3 * G, 16, 3), (16 * G, 16, 16), (17 * G, 16, 16), (7 * G + 5, 8, 7),
        # the playground's sizes: 1024 models 2-8-8-1, batch 10, 250 points -> one thread
        (1024 * 10 * 8, 2, 1), (1024 * 250 * 8, 2, 1), (1024 * 250 * 8, 64, 1),
        # 10^5 models, fused epoch over 250 points -> split on a machine with many cores
        (100_000 * 250 * 8, 2, 2), (100_000 * 250 * 8, 16, 5),
        # the eager trainer: 250 rows x widest layer 8 -> one thread
        (250 * 8, 16, 1),
    ],
)
def test_rule(work, cores, expected):
    assert rule(work, cores) == expected


def test_rule_is_monotone_and_bounded():
    for c in (1, 2, 3, 8, 64):
        counts = [rule(w, c) for w in range(0, 80 * G, G // 3)]
        assert counts == sorted(counts)
        assert min(counts) == 1 and max(counts) == min(c, 79)


def test_count_depends_on_sizes_and_cores_only(monkeypatch):
    """No timing, no load: a loaded machine gets the same count as an idle one."""
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(threads, "cores", lambda: 4)
    counts = []
    for load in ((0.0, 0.0, 0.0), (50.0, 50.0, 50.0)):
        monkeypatch.setattr(os, "getloadavg", lambda load=load: load)
        counts.append([threads_for(w) for w in (10, G, 2 * G, 3 * G, 100 * G)])
    assert counts[0] == counts[1] == [1, 1, 2, 3, 4]
    assert threads_for(100 * G, "cuda") is None


def test_cores_follow_the_affinity(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert threads.cores() == 3


@pytest.mark.parametrize("value, expected", [("", None), ("auto", None), (" Auto ", None), ("1", 1), ("3", 3), (str(MAX_THREADS), MAX_THREADS)])
def test_override(value, expected, monkeypatch):
    assert forced({ENV: value}) == expected
    monkeypatch.setenv(ENV, value)
    assert threads_for(10) == (expected if expected is not None else 1)


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", str(MAX_THREADS + 1), "２"])
def test_bad_override_is_refused_by_name(value):
    with pytest.raises(TorchgroundError) as err:
        forced({ENV: value})
    assert err.value.key == "threads.bad_env"
    assert ENV in err.value.message("en") and value in err.value.message("en") and "auto" in err.value.message("en")


def test_cli_refuses_a_bad_override_before_writing(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, "many")
    out = tmp_path / "run"
    code = main(["train", "--epochs", "1", "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    assert ENV in err and "many" in err
    assert not out.exists()


def test_cli_refuses_a_bad_override_in_the_language_asked_for(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, "0")
    assert main(["--lang", "ja", "train", "--epochs", "1", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "スレッド数" in err and f"{ENV}=0" in err
    assert not (tmp_path / "run").exists()


class _Seen(Callback):
    def __init__(self) -> None:
        self.threads: list[int] = []

    def on_epoch_end(self, trainer, row) -> None:
        self.threads.append(torch.get_num_threads())


def test_trainer_runs_with_the_rules_count(monkeypatch):
    """The trainer's count is the rule's for rows x widest layer (forced here by the override)."""
    before = torch.get_num_threads()
    for env, expected in ((None, 1), ("2", 2)):
        if env is None:
            monkeypatch.delenv(ENV, raising=False)
        else:
            monkeypatch.setenv(ENV, env)
        seen = _Seen()
        Trainer(Spec(epochs=2), callbacks=[seen]).fit()
        assert seen.threads == [expected, expected]
        assert torch.get_num_threads() == before  # restored afterwards


@pytest.mark.parametrize("batch, grain, expected", [(15, 22, 2), (5, 22, 1), (15, 23, 1), ("full", 23, 2)])
def test_trainer_work_is_batch_rows_times_widest_layer(batch, grain, expected, monkeypatch):
    """Batch 15 x widest layer 3 = 45 elements a step's operation: two threads of at least 22, not 23."""
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(threads, "GRAIN", grain)
    monkeypatch.setattr(threads, "cores", lambda: 2)
    seen = _Seen()
    Trainer(Spec(epochs=1, hidden=(3, 2), batch_size=batch, n_samples=60), callbacks=[seen]).fit()
    assert seen.threads == [expected]


@pytest.mark.parametrize("compile, grain, models, others, steps, kernel", [
    (False, 4 * 10 * 8, 8, 0, 2, None), (False, 4 * 10 * 8 + 1, 8, 0, 1, None),
    (True, 4 * 10 * 8, 8, 0, 2, 1), (True, 4 * 10 * 8 + 1, 8, 0, 1, 1),
    (True, 10**9, 128, 0, 1, 2), (True, 10**9, 128, 1, 1, 1), (True, 10**9, 127, 0, 1, 1),
], ids=["eager-2", "eager-1", "fused-small-2", "fused-small-1", "fused-idle", "fused-busy", "fused-too-few"])
def test_stacked_work_is_per_operation_or_per_fused_epoch(compile, grain, models, others, steps, kernel, monkeypatch):
    """Models 2-8-8-1, batch 10, 30 training points: the group's operations (eager steps, the
    first epoch's check, bookkeeping) split by models x 10 x 8 elements an operation; the fused
    kernel's epoch (one call, results independent of the count) takes the free cores, from
    twice the models a thread takes (native.MIN_MODELS_PER_THREAD) up."""
    from torchground.engine.kernels import native

    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(threads, "GRAIN", grain)
    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.setattr(threads, "others_running", lambda: others)
    monkeypatch.setattr(threads, "_reading", [-1.0, 0.0])
    assert native.MIN_MODELS_PER_THREAD == 64
    calls: list[int] = []

    def in_kernel(n):
        calls.append(n)
        return threads.intra_op_threads(n)

    monkeypatch.setattr(native, "intra_op_threads", in_kernel)
    specs = [Spec(hidden=(8, 8), batch_size=10, epochs=2, n_samples=60, init_seed=i) for i in range(models)]
    seen: list[int] = []
    group = StackedGroup(specs, compile=compile)
    group.run(progress=lambda e, n: seen.append(torch.get_num_threads()))
    assert seen == [steps, steps]
    if kernel is None:
        assert calls == [] and group.path == "eager"
    else:
        assert group.path == "fused" and calls and set(calls) == {kernel}


def _group_run(compile: bool) -> tuple[list[int], np.ndarray, np.ndarray, str]:
    # 512 models: the eager steps' operations (512 x 10 x 8) are above torch's own grain
    # and the fused kernel spreads 512 models over threads, so two threads do split the work.
    specs = [Spec(hidden=(8, 8), batch_size=10, epochs=2, n_samples=120, init_seed=i, lr=0.003 * (1 + i % 7), shuffle_seed=i % 3) for i in range(512)]
    seen: list[int] = []
    group = StackedGroup(specs, compile=compile)
    results = group.run(progress=lambda e, n: seen.append(torch.get_num_threads()))
    rows = np.stack([r.metrics for r in results])
    params = np.stack([np.asarray(r.params) for r in results])
    return seen, rows, params, group.path


@pytest.mark.slow
@pytest.mark.parametrize("compile", [False, True], ids=["eager", "fused"])
def test_stacked_results_do_not_depend_on_the_thread_count(compile, monkeypatch):
    runs = {}
    for env in ("1", "2", None):
        if env is None:
            monkeypatch.delenv(ENV, raising=False)
        else:
            monkeypatch.setenv(ENV, env)
        runs[env] = _group_run(compile)
    assert runs["1"][0] == [1, 1] and runs["2"][0] == [2, 2]
    assert runs[None][0] == [1, 1]  # the rule: 512 models of this size take one thread
    assert {run[3] for run in runs.values()} == {"fused" if compile else "eager"}
    for env in ("2", None):
        np.testing.assert_array_equal(runs[env][1], runs["1"][1])  # every history row, bitwise
        np.testing.assert_array_equal(runs[env][2], runs["1"][2])  # every final weight, bitwise


@pytest.mark.parametrize("ours, machine, others, expected", [
    (4, 4, (0, 1, 3, 4, 50), [4, 3, 1, 1, 1]),
    # confined to 2 of 16 cores: busy cores elsewhere do not take its threads away
    (2, 16, (0, 10, 14, 15, 40), [2, 2, 2, 1, 1]),
], ids=["whole-machine", "confined"])
def test_kernel_threads_take_the_idle_cores_up_to_ours(ours, machine, others, expected, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(threads, "cores", lambda: ours)
    monkeypatch.setattr(os, "cpu_count", lambda: machine)
    got = []
    for n in others:
        monkeypatch.setattr(threads, "_reading", [-1.0, 0.0])
        monkeypatch.setattr(threads, "others_running", lambda n=n: n)
        got.append(threads.kernel_threads())
    assert got == expected


def test_kernel_threads_look_only_where_work_splits_and_obey_the_override(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(threads, "others_running", lambda: pytest.fail("work that cannot be split must not look"))
    assert threads.kernel_threads(splittable=False) == 1
    monkeypatch.setenv(ENV, "3")
    assert threads.kernel_threads() == 3 and threads.kernel_threads(splittable=False) == 3


def test_others_running_reads_the_runnable_count_less_our_own(tmp_path, monkeypatch):
    (tmp_path / "loadavg").write_text("0.52 0.61 0.70 5/412 9981\n")
    states = {"101": "R", "102": "S", "103": "R", "104": "D"}
    for tid, state in states.items():
        (tmp_path / "task" / tid).mkdir(parents=True)
        # a thread name may hold ") R", so the state is read after the last ")"
        (tmp_path / "task" / tid / "stat").write_text(f"{tid} (pt ) R main) {state} 1 2 3\n")
    monkeypatch.setattr(threads, "LOADAVG", str(tmp_path / "loadavg"))
    monkeypatch.setattr(threads, "TASKS", str(tmp_path / "task"))
    assert threads.others_running() == 5 - 2
    (tmp_path / "loadavg").write_text("garbage\n")
    assert threads.others_running() == 0  # unreadable: as if idle
    monkeypatch.setattr(threads, "LOADAVG", str(tmp_path / "missing"))
    assert threads.others_running() == 0


@pytest.mark.skipif(not os.path.exists("/proc/loadavg"), reason="Linux's /proc")
def test_others_running_sees_another_busy_process():
    import subprocess
    import sys

    hogs = [subprocess.Popen([sys.executable, "-c", "print('go', flush=True)\nwhile True: pass"], stdout=subprocess.PIPE, text=True)
            for _ in range(3)]
    try:
        assert all(h.stdout is not None and h.stdout.readline() == "go\n" for h in hogs)
        assert threads.others_running() >= 3  # spinning processes are always runnable
    finally:
        for h in hogs:
            h.kill()
            h.wait()

