"""A tutorial beyond the curriculum: your own data, with more than two classes.

Points made with NumPy (three clusters named like the iris species) become a spec with
:func:`torchground.data_spec`, which writes them to a CSV file and reads the problem and
the classes from the labels; :func:`torchground.train` trains it, and the exported script
carries the same points. It runs like a lesson (:func:`~torchground.lessons.steps.run_lesson`:
the code shown is the code run, comments in the reader's language) and is published as the
notebooks ``examples/<lang>/own-data.ipynb``; ``torchground lesson`` keeps to the
curriculum's three lessons.

Example:
    >>> result = own_data(lang="en", epochs=2)
    >>> result.step(2).values["spec"].classes, result.step(3).values["last"]["epoch"]
    (3, 2)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from torchground.lessons.steps import Lesson, LessonResult, Step, run_lesson

__all__ = ["OWN_DATA", "own_data"]

_POINTS = '''\
import numpy as np

rng = np.random.default_rng(0)  # «points_1»
# «points_2»
centres = np.array([[-2.0, -2.0], [2.0, -1.0], [0.0, 2.5]])
points = np.repeat(centres, 40, axis=0) + rng.normal(0.0, 0.8, (120, 2))
# «points_3»
labels = np.repeat(["setosa", "versicolor", "virginica"], 40)
print(points.shape, labels.shape)
print(points[:2], labels[:2])
'''

_SPEC = '''\
from pathlib import Path
from torchground import data_spec

out_dir = Path($out_dir)
csv_path = out_dir / "iris-like.csv"
# «spec_1»
spec = data_spec((points, labels), save_as=csv_path,
                 hidden=(8,), lr=0.1, epochs=$epochs)
print(spec.problem, spec.classes, spec.class_names)  # «spec_2»
print(spec.loss)  # «spec_3»
print(csv_path.read_text().splitlines()[:3])  # «spec_4»
'''

_TRAIN = '''\
from torchground import train

run = train(spec)  # «train_1»
last = run.history.rows[-1]
print(last["epoch"], round(last["train_loss"], 4), last["val_acc"])
print(run.model.layer_out)  # «train_2»
'''

_EXPORT = '''\
from torchground.codegen import to_script

script = to_script(spec, lang=$lang)  # «export_1»
(out_dir / "iris-like.py").write_text(script, encoding="utf-8")
print(script.splitlines()[0])
print(len(script.splitlines()))  # «export_2»
'''

OWN_DATA = Lesson(
    4,
    "lessons.own",
    (
        Step("lessons.own.points", _POINTS, ("points", "labels")),
        Step("lessons.own.spec", _SPEC, ("spec", "csv_path")),
        Step("lessons.own.train", _TRAIN, ("run", "last")),
        Step("lessons.own.export", _EXPORT, ("script",)),
    ),
)

#: Epochs the tutorial trains.
DEFAULT_EPOCHS = 30


def own_data(
    step: int | None = None,
    lang: str | None = None,
    epochs: int = DEFAULT_EPOCHS,
    out_dir: str | os.PathLike[str] | None = None,
) -> LessonResult:
    """Run the own-data tutorial; ``out_dir`` gets the CSV file and the exported script.

    Default ``out_dir``: a new temporary folder.
    """
    folder = out_dir if out_dir is not None else tempfile.mkdtemp(prefix="torchground-own-data-")
    return run_lesson(OWN_DATA, step, lang, {"out_dir": str(Path(folder)), "epochs": epochs})
