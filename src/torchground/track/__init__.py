"""Follow training in the tools people already use.

* :class:`Tracker` — the callback to subclass for any experiment tracker (MLflow, Weights
  & Biases, a CSV file, …): it hands you the spec once, each epoch's metrics and learning
  rate, and the final figures.
* :class:`TensorBoardTracker` — ``torch.utils.tensorboard`` (the ``tensorboard`` extra):
  per-epoch losses, metrics and learning rate, weight histograms, the decision-boundary
  picture every N epochs, the model graph, hparams. ``train --tensorboard DIR``.
* :func:`write_sweep` — a sweep's models, one TensorBoard run each, with their hparams.
  ``sweep --tensorboard DIR``.
"""

from torchground.track.tensorboard import TensorBoardTracker, write_sweep
from torchground.track.tracker import Tracker, hparams_of

__all__ = ["Tracker", "TensorBoardTracker", "write_sweep", "hparams_of"]
