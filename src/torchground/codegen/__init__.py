"""Code export: a spec as one self-contained PyTorch script or Jupyter notebook.

The exported code needs torch, numpy and matplotlib only (no torchground) and follows the
curriculum's part 3: Playground data made with NumPy, ``TensorDataset`` + ``DataLoader``,
an explicit ``nn.Module`` subclass, ``model.apply`` for the initial weights, a
``train_step`` / ``valid_step`` pair and an epoch loop that prints one line per epoch,
then the final ``state_dict()`` and a loss plot. Run on the CPU, it reproduces
:func:`torchground.train.trainer.train` of the same spec: the same per-epoch losses and metrics
(the same calls in the same order, so the same numbers).

The sections are built in :mod:`torchground.codegen.parts` from the source text of
:mod:`torchground.codegen.sources`; this module puts them in order, adds the explanations (catalogue keys ``codegen.md.*``) and writes the notebook JSON.

Example:
    >>> from torchground.spec import Spec
    >>> code = to_script(Spec(epochs=5))
    >>> "class Net(nn.Module):" in code and "import torchground" not in code
    True
    >>> compile(code, "train.py", "exec") is not None
    True
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Callable

from torchground.codegen import notebook_json
from torchground.codegen.parts import Parts
from torchground.codegen.tfpg_data import TfPlaygroundData
from torchground.codegen.tfpg_parts import TfPlaygroundParts
from torchground.codegen.sources import display_width
from torchground.errors import TorchgroundError
from torchground.i18n import resolve_language, t
from torchground.spec import Spec

__all__ = ["Section", "EXPORT_KINDS", "sections", "spec_toml", "to_script", "to_notebook", "export"]

#: What ``torchground export`` can write.
EXPORT_KINDS: tuple[str, ...] = ("script", "notebook")

# (section name, builder): the order of the script and of the notebook's cells.
_ORDER: tuple[tuple[str, Callable[[Parts], str]], ...] = (
    ("imports", Parts.imports),
    ("settings", Parts.settings),
    ("data", Parts.data),
    ("features", Parts.features),
    ("model", Parts.model),
    ("init", Parts.init),
    ("optimizer", Parts.optimizer),
    ("steps", Parts.steps),
    ("loop", Parts.loop),
    ("results", Parts.results),
)


@dataclass(frozen=True)
class Section:
    """One step of the exported code: a title, an explanation and the code.

    Args:
        name: the step's name (``"data"``, ``"model"``, …).
        title: its heading in the chosen language.
        text: a short explanation, one sentence per line.
        code: Python source, ending in a newline.
    """

    name: str
    title: str
    text: str
    code: str


def _lang(lang: str | None) -> str:
    # None follows the one language rule (set_language, TORCHGROUND_LANG, the locale)
    return resolve_language(lang, "codegen.bad_lang")


def sections(spec: Spec, lang: str | None = None, notebook: bool = False) -> list[Section]:
    """The exported code of ``spec`` as ordered sections (what the notebook's cells hold).

    Args:
        spec: the experiment.
        lang: language of comments and explanations, "en" or "ja" (default: ``None``,
            the current language, see :mod:`torchground.i18n`).
        notebook: write for a notebook (figures shown inline; default ``False``).

    Raises:
        TorchgroundError: ``lang`` is not available, or the spec names something code
            export cannot write (a registry entry added without its code).

    Example:
        >>> [s.name for s in sections(Spec())][:4]
        ['imports', 'settings', 'data', 'features']
    """
    lang = _lang(lang)
    tf_loop = spec.training_loop == "tf-playground"  # TensorFlow Playground's loop: its own steps and epoch
    kind: type[Parts] = TfPlaygroundParts if tf_loop else Parts
    if spec.tf_playground_seed is not None:  # a link's data and weights: its random stream, in the script
        kind = type("LinkParts", (TfPlaygroundData, kind), {})
    parts = kind(spec, lang, notebook=notebook)
    out = []
    for name, build in _ORDER:
        key = "model_reg" if name == "model" and spec.problem == "regression" else name
        key = "model_k" if name == "model" and (spec.classes or 0) > 2 else key
        if name == "data" and spec.dataset == "csv":  # your own data: read, not made
            key = "data_csv"
        elif name == "data" and (spec.classes or 0) > 2:
            key = "data_k"
        if tf_loop and name in ("optimizer", "steps", "loop"):
            key = f"{name}_tfpg"
        elif spec.tf_playground_seed is not None and name == "data":
            key = "data_tfpg"
        text = t(f"codegen.md.{key}", lang, dataset=spec.dataset, classes=spec.classes)
        out.append(Section(name, t(f"codegen.title.{name}", lang), text, getattr(parts, build.__name__)()))  # a subclass's own
    return out


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + items + " }" if items else "{}"
    return repr(value)


def spec_toml(spec: Spec) -> str:
    """The spec as compact TOML, one setting per line (``None`` left out, as TOML has no null).

    ``Spec.from_toml`` reads it back to an equal spec.

    >>> print(spec_toml(Spec()).splitlines()[1])
    dataset = "circle"
    >>> Spec.from_toml(spec_toml(Spec(optimizer="adam", optimizer_args={"betas": (0.8, 0.99)}))).optimizer_args
    {'betas': (0.8, 0.99)}
    """
    return "".join(f"{k} = {_toml_value(v)}\n" for k, v in spec.model_dump().items() if v is not None)


def _title(spec: Spec, lang: str) -> str:
    if spec.dataset == "csv":  # your own data file, not a Playground data set
        return t("codegen.c.header_title_csv", lang)
    return t("codegen.c.header_title", lang, dataset=spec.dataset)


def _header(spec: Spec, lang: str) -> str:
    lines = [_title(spec, lang), ""]
    lines += t("codegen.c.header_about", lang).splitlines()
    lines += ["", t("codegen.c.header_spec", lang), ""]
    lines += ["    " + line for line in spec_toml(spec).splitlines()]
    return "".join(f"# {line}".rstrip() + "\n" for line in lines)


def to_script(spec: Spec, lang: str | None = None) -> str:
    """The spec as one self-contained, runnable PyTorch training script.

    The script depends on torch, numpy and matplotlib only, runs on the CPU, and gives the
    same per-epoch losses as :func:`torchground.train.trainer.train` with the same spec. It
    prints one line per epoch (the format of ``torchground train --log-every 1``), the
    final ``state_dict()``, and saves a loss plot (file name in ``LOSS_PLOT`` at the top).
    With the environment variable ``TORCHGROUND_HISTORY_JSON=path`` it also writes its
    per-epoch rows (the keys of torchground's history) to ``path`` as JSON.

    Args:
        spec: the experiment to export.
        lang: language of the comments, "en" or "ja" (default: ``None``: the current
            language, see :mod:`torchground.i18n`).

    Returns:
        Python source text.

    Raises:
        TorchgroundError: ``lang`` is not available, or the spec names something code
            export cannot write.

    Example:
        >>> from torchground.spec import Spec
        >>> code = to_script(Spec(hidden=(4, 2), activation="relu"))
        >>> "class Net(nn.Module):" in code, "self.act1 = nn.ReLU()" in code
        (True, True)
        >>> "def train_step(x, y):" in code and "def valid_step(x, y):" in code
        True
    """
    lang = _lang(lang)
    chunks = [_header(spec, lang)]
    for section in sections(spec, lang):
        comment = "".join(f"# {line}\n" for line in section.text.splitlines())
        rule = "# " + "-" * 4 + f" {section.title} " + "-" * max(4, 80 - display_width(section.title))
        chunks.append(f"{rule}\n{comment}{section.code}")
    return "\n\n".join(chunk.rstrip("\n") + "\n" for chunk in chunks)


def to_notebook(spec: Spec, lang: str | None = None) -> str:
    """The spec as a Jupyter notebook (nbformat 4 JSON): explanation cells, then code cells.

    The code is that of :func:`to_script`, split into one cell per step, each after a
    markdown cell that explains it; figures are shown inline.

    Args:
        spec: the experiment to export.
        lang: language of texts and comments, "en" or "ja" (default: ``None``: the current
            language, see :mod:`torchground.i18n`).

    Returns:
        The notebook as JSON text.

    Example:
        >>> import json
        >>> nb = json.loads(to_notebook(Spec()))
        >>> nb["nbformat"], [c["cell_type"] for c in nb["cells"]][:3]
        (4, ['markdown', 'markdown', 'code'])
    """
    lang = _lang(lang)
    intro = "# " + _title(spec, lang) + "\n\n"
    intro += t("codegen.md.intro", lang) + "\n\n```toml\n" + spec_toml(spec) + "```"
    cells = [notebook_json.cell("markdown", 0, intro)]
    for i, section in enumerate(sections(spec, lang, notebook=True), start=1):
        cells.append(notebook_json.cell("markdown", i, f"## {i}. {section.title}\n\n{section.text}"))
        cells.append(notebook_json.cell("code", i, section.code))
    return notebook_json.dumps(cells)


def export(spec: Spec, kind: str, lang: str | None = None) -> str:
    """:func:`to_script` or :func:`to_notebook` by name (``kind`` in :data:`EXPORT_KINDS`).

    >>> export(Spec(), "slides")
    Traceback (most recent call last):
    ...
    torchground.errors.TorchgroundError: export slides: not available. Allowed: script, notebook
    """
    if kind == "script":
        return to_script(spec, lang)
    if kind == "notebook":
        return to_notebook(spec, lang)
    raise TorchgroundError("codegen.bad_kind", value=kind, allowed=", ".join(EXPORT_KINDS))
