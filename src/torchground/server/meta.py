"""The facts the page needs and must not copy: ``GET /api/meta``.

The page learns from here, instead of holding its own copies, which spec fields change
without a rebuild (:attr:`~torchground.train.trainer.Trainer.LIVE_FIELDS`), the view
options it keeps in the URL and their defaults
(:data:`~torchground.server.urlstate.VIEW_DEFAULTS`), the caps the server enforces
(the seed's range from :mod:`torchground.spec`, the sizes from
:mod:`torchground.server.protocol`), and the points of each data set's thumbnail, made by
:func:`~torchground.data.datasets.make_dataset` itself. Nothing here depends on the
language, so the answer is made once.

Example:
    >>> m = meta()
    >>> m["live_fields"], m["caps"]["seed"], m["view_defaults"]["show_train"]
    (['l1', 'l2', 'lr', 'optimizer_args', 'weight_decay'], 4294967295, '1')
    >>> len(m["thumbnails"]["circle"]) == THUMBNAIL_POINTS
    True
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from torchground.data.datasets import DATASETS, make_dataset
from torchground.server.grid_axes import grid_meta
from torchground.server.protocol import MAX_BATCH, MAX_FPS, MAX_LAYERS, MAX_MESSAGE_BYTES, MAX_NEURONS, MAX_SAMPLES
from torchground.server.urlstate import MAX_EDITS, VIEW_DEFAULTS
from torchground.spec import MAX_SEED
from torchground.train import Trainer

__all__ = ["meta", "limits", "thumbnail_points", "THUMBNAIL_POINTS", "THUMBNAIL_SEED"]

#: Points drawn in a data set's thumbnail, and the seed they are made with (no noise).
THUMBNAIL_POINTS = 150
THUMBNAIL_SEED = 7
#: The UI's noise slider goes up to this percentage (the data sets accept it all).
_MAX_NOISE = 50


def limits() -> dict[str, int]:
    """The sizes the page's controls stop at (also in ``/api/options`` as ``limits``)."""
    return {
        "layers": MAX_LAYERS, "neurons": MAX_NEURONS, "batch_size": MAX_BATCH, "noise": _MAX_NOISE,
        "samples": MAX_SAMPLES, "fps": MAX_FPS, "message_bytes": MAX_MESSAGE_BYTES,
    }


def thumbnail_points(name: str) -> list[list[float]]:
    """``[[x1, x2, label], …]`` of data set ``name`` for its thumbnail (2 decimals: a 48-pixel picture)."""
    ds = make_dataset(name, n_samples=THUMBNAIL_POINTS, noise=0, seed=THUMBNAIL_SEED)
    return np.round(np.column_stack([ds.points, ds.labels]), 2).tolist()


@cache
def _meta() -> dict[str, Any]:
    return {
        "live_fields": sorted(Trainer.LIVE_FIELDS),
        "view_defaults": dict(VIEW_DEFAULTS),
        "caps": {"seed": MAX_SEED, "edits": MAX_EDITS, **limits()},
        "thumbnails": {name: thumbnail_points(name) for name in DATASETS},
        "grid": grid_meta(),
    }


def meta() -> dict[str, Any]:
    """What ``GET /api/meta`` answers (a fresh copy; the content is made once)."""
    m = _meta()
    return {**m, "view_defaults": dict(m["view_defaults"]), "caps": dict(m["caps"]), "grid": grid_meta()}
