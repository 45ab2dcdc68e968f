"""Training, the readable way: the eager trainer and what every engine shares.

* :mod:`~torchground.train.trainer` — :class:`Trainer` and :func:`train`, the
  curriculum's train-step / valid-step inside fit → epoch → step.
* :mod:`~torchground.train.run` — the run-level helpers both engines use (data, tensors,
  device, optimiser, loss, :class:`Run`, the summary).
* :mod:`~torchground.train.callbacks`, :mod:`~torchground.train.history`,
  :mod:`~torchground.train.metrics`, :mod:`~torchground.train.rundir` (run folders).
"""

from torchground.train.callbacks import Callback, EarlyStopping
from torchground.train.history import History
from torchground.train.run import (
    Run,
    build_loss,
    build_optimizer,
    divergence_message,
    intra_op_threads,
    make_data,
    resolve_device,
    summarize,
    to_tensors,
)
from torchground.train.trainer import Trainer, train

__all__ = [
    "Trainer", "train", "Run", "History", "Callback", "EarlyStopping",
    "make_data", "to_tensors", "resolve_device", "build_optimizer", "build_loss", "intra_op_threads", "summarize",
    "divergence_message",
]
