"""TensorFlow Playground links at the run level: link → spec, spec → link, a link's data and weights.

:func:`open_link` gives everything TensorFlow Playground has once a link is open: the
spec (``training_loop = "tf-playground"``), the training and test points in its order,
and the network with its initial weights. :func:`link_of` hands a spec back out as a
link, or names each setting TensorFlow Playground cannot show.

Example:
    >>> url = "https://playground.tensorflow.org/#networkShape=4,2&seed=0.80000"
    >>> opened = open_link(url)
    >>> opened.spec.training_loop, opened.spec.tf_playground_seed, opened.data.train.n
    ('tf-playground', '0.80000', 250)
    >>> opened.model.layer1.weight[0, 0].item()
    -0.4555281382877764
    >>> link_of(opened.spec).startswith("https://playground.tensorflow.org/#activation=tanh&")
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from torchground.data.datasets import Splits
from torchground.data.tfpg_link import LinkError, format_link, parse_link
from torchground.data.tfpg_random import fresh_seed
from torchground.data.tfpg_spec import PARAM_OF_FIELD, link_settings, spec_fields
from torchground.errors import SpecError, TorchgroundError
from torchground.i18n import Text
from torchground.model import PlaygroundNet, build_model
from torchground.spec import Spec
from torchground.train.run import make_data

__all__ = ["OpenedLink", "spec_from_link", "link_of", "open_link", "playground_data"]


def spec_from_link(link: str, **overrides: Any) -> tuple[Spec, list[Text]]:
    """The spec of a TensorFlow Playground link, with ``overrides`` applied, and notes for the user.

    A link without a seed gets a fresh one, as TensorFlow Playground does; the notes say
    which (and that cosX/cosY are ignored, or that inputs are hidden, when so).

    Raises:
        LinkError: unknown or malformed parameters, or a value the spec cannot take
            (named by its link parameter).
    """
    fields, notes = spec_fields(parse_link(link))
    if fields["tf_playground_seed"] is None:
        fields["tf_playground_seed"] = fresh_seed()
        notes.insert(0, Text("tfpg.note.fresh_seed", seed=fields["tf_playground_seed"]))
    fields.update(overrides)
    try:
        return Spec(**fields), notes
    except SpecError as exc:
        field = exc.params.get("field")
        if field in PARAM_OF_FIELD and field not in overrides:
            raise LinkError("tfpg.spec_refused", param=PARAM_OF_FIELD[field], reason=Text(exc.key, **exc.params)) from None
        raise


def link_of(spec: Spec) -> str:
    """The TensorFlow Playground link of ``spec``.

    Raises:
        TorchgroundError: ``tfpg.cannot_show``, naming every setting TensorFlow
            Playground cannot show (one per line).
    """
    settings, reasons = link_settings(spec.to_dict(), spec.n_train)
    if settings is None:
        raise TorchgroundError("tfpg.cannot_show", reasons=_Lines(reasons))
    return format_link(settings)


class _Lines(Text):
    """Messages joined by newlines, rendered in the language the whole message is asked in."""

    __slots__ = ("items",)

    def __init__(self, items: list[Text]) -> None:
        super().__init__("tfpg.cannot.item")
        self.items = items

    def render(self, lang: str | None = None) -> str:
        return "\n".join(item.render(lang) for item in self.items)


def playground_data(spec: Spec) -> Splits:
    """The data of a spec with ``tf_playground_seed``: TensorFlow Playground's points in its
    order, split as the spec says (training first, as there)."""
    if spec.tf_playground_seed is None:
        raise ValueError("the spec has no tf_playground_seed")
    return make_data(spec)


@dataclass(frozen=True)
class OpenedLink:
    """A TensorFlow Playground link, opened.

    Attributes:
        spec: its spec.
        data: its training and test points (``val`` empty), in its order.
        model: the network with TensorFlow Playground's initial weights.
        notes: what the user should know (a fresh seed, ignored parameters).
    """

    spec: Spec
    data: Splits
    model: PlaygroundNet
    notes: list[Text]

    def initial_weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(weight (out, in), bias (out,))`` per layer, as float64 arrays."""
        return [
            (layer.weight.detach().cpu().double().numpy(), layer.bias.detach().cpu().double().numpy())
            for layer in self.model.linear_layers()
        ]


def open_link(link: str, **overrides: Any) -> OpenedLink:
    """Open a TensorFlow Playground link: its spec, data and initial network (see module docstring)."""
    spec, notes = spec_from_link(link, **overrides)
    return OpenedLink(spec, playground_data(spec), build_model(spec), notes)
