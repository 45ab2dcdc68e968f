"""The ``ray`` backend: groups cut into chunks, each chunk a Ray task, on a local instance or a cluster.

Where: ``address`` (the CLI's ``--ray-address``), else ``$RAY_ADDRESS``, names a running
cluster to join (``host:port`` of its head, or ``ray://host:port``); without either a
local Ray instance is started for the sweep and stopped after it. If the driver is
already connected (``ray.init`` called by the caller), that connection is used. A cluster
with token authentication is joined as Ray does it: ``RAY_AUTH_MODE=token`` with the
token in ``RAY_AUTH_TOKEN``, in the file ``RAY_AUTH_TOKEN_PATH`` or in
``~/.ray/auth_token`` (``ray get-auth-token`` prints the head's).

What: each group is cut into chunks (:func:`~torchground.engine.sweep.chunks.plan_chunks`)
of ``models_per_task`` models, by default chosen from the cluster's CPUs, or its GPUs for
CUDA specs (:func:`~torchground.engine.sweep.chunks.models_per_task`); each chunk is a task
(:func:`~torchground.engine.sweep.ray_tasks.run_chunk`) asking for one CPU, or one GPU for
``device`` ``cuda`` (``auto`` runs on CPUs), spread over the nodes. Results come back as tasks finish (``done`` is told, for the progress
bar) and are the local backend's, model for model. A task whose worker or node dies is run
again by Ray, up to ``max_retries`` times; :attr:`RayBackend.report` (the ``cluster`` part
of ``summary.json``) names the retried chunks, the tasks and the nodes that ran them.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any, Sequence

from torchground.engine.stacked import ModelResult
from torchground.engine.sweep.backends import Backend, Progress, import_ray
from torchground.engine.sweep.chunks import (
    TaskRecord,
    cluster_report,
    models_per_task,
    plan_chunks,
)
from torchground.engine.sweep.ray_tasks import Ledger, run_chunk, unpack_results
from torchground.errors import TorchgroundError
from torchground.spec import Spec

__all__ = ["RayBackend", "MAX_RETRIES", "CONNECT_TIMEOUT_S"]

#: Times Ray runs a task again after its worker or node died.
MAX_RETRIES = 3
#: Seconds to wait for the head's port to answer before giving up on an address.
CONNECT_TIMEOUT_S = 10.0


def _uses_gpu(specs: Sequence[Spec]) -> bool:
    return any(s.device.startswith("cuda") for s in specs)


def _check_reachable(address: str) -> None:
    """Refuse quickly an address whose head does not answer (Ray itself would wait for minutes)."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise TorchgroundError("cluster.bad_address", address=address)
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise TorchgroundError("cluster.unreachable", address=address, reason=str(exc)) from None


def _reason(exc: BaseException) -> str:
    """What went wrong in a task: the task's own exception (type and message), else Ray's first line."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {str(cause).strip()[:500]}"
    lines = str(exc).strip().splitlines()
    return lines[-1][:500] if lines else type(exc).__name__


class RayBackend(Backend):
    """Chunks of groups as Ray tasks (see the module docstring).

    Args:
        compile, fused: as for every backend (fused kernels, built once per node).
        address: a running cluster's address; default ``$RAY_ADDRESS``, else a local instance.
        models_per_task: models per chunk; default from the cluster's CPUs or GPUs.
        max_retries: Ray's retries of a task whose worker or node died.
        init_args: more ``ray.init`` arguments (``num_cpus`` for a local instance, ...).
    """

    name = "ray"

    def __init__(
        self, compile: bool = False, address: str | None = None, models_per_task: int | None = None,
        max_retries: int = MAX_RETRIES, fused: bool = True, **init_args: Any,
    ) -> None:
        super().__init__(compile, fused)
        if models_per_task is not None and models_per_task < 1:
            raise TorchgroundError("cluster.bad_models_per_task", value=models_per_task)
        self.address = address
        self.models_per_task = models_per_task
        self.max_retries = max_retries
        self.init_args = init_args
        #: The ledger actor's name while a sweep runs (``ray.get_actor(name, namespace=...)``).
        self.ledger_name = f"torchground-ledger-{uuid.uuid4().hex[:12]}"

    def _connect(self, ray: Any) -> bool:
        """Join or start Ray unless connected; whether this call did (and so disconnects after)."""
        if ray.is_initialized():
            return False
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        options = {"log_to_driver": False, **self.init_args}
        if address:
            _check_reachable(address)
            try:
                ray.init(address=address, **options)
            except (ConnectionError, ray.exceptions.AuthenticationError) as exc:
                raise TorchgroundError("cluster.connect_failed", address=address, reason=str(exc).strip()) from None
        else:
            ray.init(address="local", **{"include_dashboard": False, **options})
        return True

    def run(self, groups: Sequence[Sequence[Spec]], done: Progress) -> list[list[ModelResult]]:
        ray = import_ray()
        connected = self._connect(ray)
        try:
            return self._run(ray, groups, done)
        finally:
            if connected:
                ray.shutdown()

    def _run(self, ray: Any, groups: Sequence[Sequence[Spec]], done: Progress) -> list[list[ModelResult]]:
        gpu = any(_uses_gpu(g) for g in groups)
        resources = {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}
        slots = int(resources.get("GPU" if gpu else "CPU", 0))
        if gpu and slots == 0:
            raise TorchgroundError("cluster.no_gpu")
        total = sum(len(g) for g in groups)
        per_task = self.models_per_task or models_per_task(total, slots, gpu)
        chunks = plan_chunks([len(g) for g in groups], per_task)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = ray.get_runtime_context().get_node_id()  # the ledger lives beside the driver
        ledger = ray.remote(Ledger).options(
            name=self.ledger_name, num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=True),
        ).remote()
        task = ray.remote(run_chunk)
        refs = []
        for chunk in chunks:
            specs = [groups[chunk.group][i] for i in chunk.index]
            need = {"num_gpus": 1, "num_cpus": 1} if _uses_gpu(specs) else {"num_cpus": 1}
            refs.append(task.options(name=f"torchground-chunk-{chunk.id}", max_retries=self.max_retries, retry_exceptions=False,
                                     scheduling_strategy="SPREAD", **need).remote(specs, self.compile, chunk.id, ledger, self.fused))
        index = {ref: n for n, ref in enumerate(refs)}
        results: list[list[ModelResult | None]] = [[None] * len(g) for g in groups]
        records: list[TaskRecord] = []
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    chunk = chunks[index[ref]]
                    try:
                        packed, record = ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        raise TorchgroundError("cluster.task_failed", task=chunk.id, models=len(chunk.index), reason=_reason(exc)) from None
                    specs = [groups[chunk.group][i] for i in chunk.index]
                    for i, r in zip(chunk.index, unpack_results(packed, specs)):
                        results[chunk.group][i] = r
                    records.append(record)
                    done(len(chunk.index))
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            ray.kill(ledger)
        self.report = cluster_report(records, per_task, resources)
        return [[r for r in group if r is not None] for group in results]
