"""A tutorial beyond the curriculum: a TensorFlow Playground link, opened in PyTorch exactly.

:func:`torchground.train.tfpg_run.open_link` reads a link (every setting, its seed
included) into a spec with TensorFlow Playground's own training loop, the same points and
the same initial weights; :func:`torchground.train` trains it with TensorFlow Playground's
numbers; the spec goes back to a link and out as a script. It runs like a lesson (the code
shown is the code run, comments in the reader's language) and is published as the notebooks
``examples/<lang>/tf-playground.ipynb``.

Example:
    >>> result = tf_playground(lang="en", epochs=2)
    >>> result.step(1).values["spec"].training_loop, result.step(3).values["run"].history.epochs
    ('tf-playground', 2)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from torchground.lessons.steps import Lesson, LessonResult, Step, run_lesson

__all__ = ["TF_PLAYGROUND", "tf_playground", "DEFAULT_EPOCHS"]

_OPEN = '''\
from torchground.train.tfpg_run import open_link

# «open_1»
LINK = ("https://playground.tensorflow.org/#activation=tanh&batchSize=10"
        "&dataset=circle&learningRate=0.03&networkShape=4,2&seed=0.80000"
        "&percTrainData=50")
# «open_2»
opened = open_link(LINK, epochs=$epochs)
spec = opened.spec
print(spec.training_loop, spec.tf_playground_seed, spec.hidden)
print(spec.batch_size, spec.lr, spec.dtype)  # «open_3»
print(opened.model)  # «open_4»
'''

_DATA = '''\
train_points = opened.data.train.points  # «data_1»
test_points = opened.data.test.points
print(len(train_points), len(test_points))
print(train_points[:2])  # «data_2»
# «data_3»
weights, biases = opened.initial_weights()[0]
print(weights.round(4))
'''

_TRAIN = '''\
from torchground import train

run = train(spec)  # «train_1»
for row in run.history.rows[::5]:
    train_loss, test_loss = row["train_loss"], row["test_loss"]
    print(row["epoch"], round(train_loss, 4), round(test_loss, 4))
'''

_BACK = '''\
from pathlib import Path
from torchground.codegen import to_script
from torchground.train.tfpg_run import link_of

link = link_of(spec)  # «back_1»
print(link[:60])
# «back_3»
print(open_link(link, epochs=spec.epochs).spec == spec)
script = to_script(spec, lang=$lang)  # «back_2»
out_dir = Path($out_dir)
out_dir.mkdir(parents=True, exist_ok=True)
(out_dir / "tf-playground.py").write_text(script, encoding="utf-8")
print(script.splitlines()[0])
'''

TF_PLAYGROUND = Lesson(
    5,
    "lessons.tfpg",
    (
        Step("lessons.tfpg.open", _OPEN, ("opened", "spec", "LINK")),
        Step("lessons.tfpg.data", _DATA, ("train_points", "test_points", "weights")),
        Step("lessons.tfpg.train", _TRAIN, ("run",)),
        Step("lessons.tfpg.back", _BACK, ("link", "script")),
    ),
)

#: Epochs the tutorial trains.
DEFAULT_EPOCHS = 20


def tf_playground(
    step: int | None = None,
    lang: str | None = None,
    epochs: int = DEFAULT_EPOCHS,
    out_dir: str | os.PathLike[str] | None = None,
) -> LessonResult:
    """Run the TensorFlow Playground tutorial; ``out_dir`` (default: a new temporary folder) gets the script."""
    folder = out_dir if out_dir is not None else tempfile.mkdtemp(prefix="torchground-tfpg-")
    return run_lesson(TF_PLAYGROUND, step, lang, {"out_dir": str(Path(folder)), "epochs": epochs})
