"""torchground: a neural-network playground in which every model is real PyTorch.

The Python API in five names:

    >>> import torchground as tg
    >>> spec = tg.Spec(epochs=5)                    # the curriculum's recipe, 5 epochs
    >>> data = tg.make_dataset("circle", seed=0)    # 500 Playground points
    >>> model = tg.build_model(spec)                 # 2-3-3-1 tanh network
    >>> run = tg.train(spec)                         # history, model, data, summary
    >>> run.history.epochs, run.summary["status"]
    (5, 'completed')
"""

import signal as _signal
import sys as _sys

_early_interrupts: list[int] = []


def _defer_interrupt(signum: int, frame: object) -> None:
    _early_interrupts.append(signum)


def _resume_interrupts() -> None:
    """For the command line: Ctrl-C while the package (and torch) was being imported is held
    (an interrupt inside torch's import aborts the process); the command calls this first:
    the usual handling is back, and a held Ctrl-C is raised now, where it is answered cleanly."""
    if _signal.getsignal(_signal.SIGINT) is _defer_interrupt:
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    if _early_interrupts:
        _early_interrupts.clear()
        raise KeyboardInterrupt


if _sys.argv[:1] and (_sys.argv[0] == "-m" or _sys.argv[0].replace("\\", "/").rsplit("/", 1)[-1] == "torchground"):
    _signal.signal(_signal.SIGINT, _defer_interrupt)

from torchground.data.datasets import (  # noqa: E402
    DATASETS,
    Dataset,
    Splits,
    make_dataset,
    split_dataset,
)
from torchground.data.features import FEATURES, feature_matrix
from torchground.errors import DataError, RegistryError, SpecError, TorchgroundError
from torchground.model import Discretize, PlaygroundNet, build_model, discretize
from torchground.registry import ACTIVATIONS, INITS, LOSSES, OPTIMIZERS
from torchground.spec import PRESETS, Spec
from torchground.train import Run, Trainer, make_data, train
from torchground.train.callbacks import Callback, EarlyStopping
from torchground.train.history import History
from torchground.train.own_data import data_spec
from torchground.train.tfpg_run import link_of, open_link

__version__ = "0.1.0"


def load_run(path: str) -> "LoadedRun":  # noqa: F821
    """Load a run folder: its spec, its trained model, its history (see :mod:`torchground.deploy`)."""
    from torchground.deploy import load_run as _load_run

    return _load_run(path)


def __getattr__(name: str) -> object:
    """``tg.Playground``, the notebook widget, is imported on first use: it needs the
    ``notebook`` extra (anywidget), which the rest of the package does not."""
    if name == "Playground":
        from torchground.notebook import Playground

        return Playground
    raise AttributeError(f"module 'torchground' has no attribute {name!r}")


__all__ = [
    "Spec", "PRESETS",
    "make_dataset", "split_dataset", "make_data", "Dataset", "Splits", "DATASETS",
    "FEATURES", "feature_matrix",
    "build_model", "PlaygroundNet", "discretize", "Discretize",
    "train", "Trainer", "Run", "History", "Callback", "EarlyStopping", "data_spec", "open_link", "link_of",
    "ACTIVATIONS", "LOSSES", "OPTIMIZERS", "INITS",
    "TorchgroundError", "SpecError", "DataError", "RegistryError",
    "load_run", "Playground", "__version__",
]
