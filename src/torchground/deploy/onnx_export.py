"""ONNX export of a trained run: raw points (N, 2) float32 → outputs (N, 1) or probabilities (N, K).

Made with ``torch.onnx.export(..., dynamo=True)`` (the ``onnx`` extra: onnx, onnxscript)
from :class:`~torchground.deploy.loaded.Predictor`, so standardisation and features are in
the graph and any runtime can use the model on points as they are in the data. The batch
dimension is dynamic. Written atomically.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import torch

from torchground.atomic import atomic_path
from torchground.deploy.loaded import LoadedRun, n_classes
from torchground.errors import TorchgroundError

__all__ = ["export_onnx", "INPUT", "OUTPUT"]

INPUT, OUTPUT = "points", "output"


def export_onnx(run: LoadedRun, out: str | Path) -> Path:
    """Write ``run``'s model as ONNX to ``out``; returns the path.

    Raises:
        TorchgroundError: ``deploy.onnx_missing`` without the ``onnx`` extra installed.
    """
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise TorchgroundError("deploy.onnx_missing") from None
    module = run.predictor().float()
    example = torch.zeros(4, 2, dtype=torch.float32)
    output = OUTPUT if n_classes(run.spec) <= 2 else "probabilities"
    out = Path(out)
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    with atomic_path(out) as tmp, warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        quiet.setLevel(logging.ERROR)  # the exporter's notes (e.g. torchvision absent) are not the user's business
        program = torch.onnx.export(
            module, (example,), input_names=[INPUT], output_names=[output],
            dynamic_shapes=({0: torch.export.Dim("n", min=1)},), dynamo=True, external_data=False,
        )
        program.save(str(tmp))
        quiet.setLevel(level)
    return out
