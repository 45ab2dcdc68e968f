"""Use a trained run elsewhere: load it in Python, predict points, export it to ONNX.

* :func:`load_run` — a run folder → :class:`LoadedRun` (the spec, the trained model, its
  history and summary); ``LoadedRun.predictor()`` is a module taking raw points.
* :func:`predict_points` / :func:`predict_csv` — outputs (or class probabilities) and
  predicted labels for points in the data's own coordinates.
* :func:`export_onnx` — an ONNX graph (``torch.onnx.export(..., dynamo=True)``) that
  takes float32 points (N, 2) and gives (N, 1) outputs or (N, K) class probabilities.
"""

from torchground.deploy.loaded import LoadedRun, Predictor, load_run
from torchground.deploy.onnx_export import export_onnx
from torchground.deploy.predict import predict_csv, predict_points

__all__ = ["LoadedRun", "Predictor", "load_run", "predict_points", "predict_csv", "export_onnx"]
