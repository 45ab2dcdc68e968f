"""The playground in Jupyter, JupyterLab, VS Code and Colab: :class:`Playground`, an anywidget.

Needs the ``notebook`` extra (``pip install "torchground[notebook]"``); without anywidget,
importing this says which extra to install.
"""

from torchground.errors import TorchgroundError

try:
    import anywidget  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    raise TorchgroundError("notebook.anywidget_missing") from None

from torchground.notebook.playground import Playground  # noqa: E402

__all__ = ["Playground"]
