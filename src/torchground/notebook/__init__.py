"""The playground in Jupyter, JupyterLab, VS Code and Colab: :class:`Playground`, an anywidget.

Needs anywidget and httpx: the ``notebook`` extra (``pip install "torchground[notebook]"``;
in Colab, which keeps its own Jupyter packages, ``pip install torchground anywidget httpx``);
without them, importing this says what to install.
"""

from torchground.errors import TorchgroundError

try:
    import anywidget  # noqa: F401
    import httpx  # noqa: F401  (the page's /api requests are answered through it)
except ImportError:  # pragma: no cover - depends on the environment
    raise TorchgroundError("notebook.anywidget_missing") from None

from torchground.notebook.playground import Playground  # noqa: E402

__all__ = ["Playground"]
